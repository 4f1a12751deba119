package engine

import (
	"slices"
	"sort"

	"github.com/liege-db/liege/journal"
)

// lostIndex finds the lost transaction file holding an own transaction a
// rollback removed (Locate). It keeps each file's TxIDs as sorted OSeqs
// per origin rather than one map entry per TxID: a rollback of 500,000 own
// transactions spent 0.18 s in map inserts on the driver's goroutine, the
// only one running by then; appending sorted OSeqs is a copy.
type lostIndex struct {
	files []lostFileIDs // in the order added: a later file wins a TxID
}

type lostFileIDs struct {
	path  string
	oseqs map[string][]uint64 // origin to its OSeqs in the file, sorted
}

// add records ids as held by the lost transaction file path.
func (x *lostIndex) add(path string, ids []journal.TxID) {
	if len(ids) == 0 {
		return
	}
	f := lostFileIDs{path: path, oseqs: map[string][]uint64{}}
	for _, id := range ids {
		f.oseqs[id.Origin] = append(f.oseqs[id.Origin], id.OSeq)
	}
	for o, s := range f.oseqs {
		if !slices.IsSorted(s) {
			slices.Sort(s)
		}
		f.oseqs[o] = slices.Compact(s)
	}
	x.files = append(x.files, f)
}

// find returns the lost transaction file holding id, or "".
func (x *lostIndex) find(id journal.TxID) string {
	for i := len(x.files) - 1; i >= 0; i-- {
		s := x.files[i].oseqs[id.Origin]
		j := sort.Search(len(s), func(j int) bool { return s[j] >= id.OSeq })
		if j < len(s) && s[j] == id.OSeq {
			return x.files[i].path
		}
	}
	return ""
}

// remove forgets the TxIDs of the file path.
func (x *lostIndex) remove(path string) {
	x.files = slices.DeleteFunc(x.files, func(f lostFileIDs) bool { return f.path == path })
}

// empty reports whether no TxID is indexed.
func (x *lostIndex) empty() bool { return len(x.files) == 0 }

// each calls fn on every TxID indexed with the file find returns for it.
func (x *lostIndex) each(fn func(id journal.TxID, path string)) {
	for i, f := range x.files {
		for o, s := range f.oseqs {
			for _, q := range s {
				id := journal.TxID{Origin: o, OSeq: q}
				if x.find(id) == x.files[i].path {
					fn(id, f.path)
				}
			}
		}
	}
}
