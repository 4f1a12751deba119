package engine

import (
	"bytes"
	"fmt"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// swapLimit is the most writes a peer record may have for applyPeer to
// take its before-images with one search of the tree per key (swapImages);
// checking that no key repeats is quadratic, so longer records take the
// two-search path (Get, then Set after the append).
const swapLimit = 16

// swappable reports whether r's writes can be applied while their
// before-images are taken: no key repeats (a key written twice keeps the
// before-image it had before the record, for both writes) and every op is
// one applyPeer applies.
func swappable(r *journal.Record) bool {
	ws := r.Writes
	if len(ws) > swapLimit {
		return false
	}
	for i := range ws {
		switch ws[i].Op {
		case journal.OpSet, journal.OpDelete, journal.OpAdd:
		default:
			return false
		}
		for j := range i {
			if bytes.Equal(ws[i].Key, ws[j].Key) {
				return false
			}
		}
	}
	return true
}

// swapImages is applyPeer's before-images and store writes in one pass
// for a swappable record r: each OpSet and OpDelete searches the tree once
// (Store.Swap, Store.Take) where a Get and a later Set took two; an OpAdd
// still reads, then writes. The writes to journal are appended to loc.
// Since no key repeats, each write finds the key as it was before the
// record, so the before-images and the state after are those of the
// two-pass path. On an error the store is as it was before the record.
//
// An OpSet starts its search from the path the same write (by index) of
// the last record took (peerHints): records of one procedure write the
// same tables in the same order, often near the last key (a rising id),
// where the search compares a couple of items per node instead of
// binary-searching each; a hint that is far off costs about one
// comparison per node.
func (in *Instance) swapImages(r, loc *journal.Record) error {
	ver := r.Version()
	for i := range r.Writes {
		w := &r.Writes[i]
		lw := journal.Write{Key: w.Key, Op: w.Op, Value: w.Value, Delta: w.Delta}
		switch w.Op {
		case journal.OpSet:
			lw.Before, lw.BeforeVersion, _ = in.st.SwapHint(w.Key, w.Value, ver, &in.peerHints[i])
		case journal.OpDelete:
			lw.Before, lw.BeforeVersion, _ = in.st.Take(w.Key)
		case journal.OpAdd:
			cur, curVer, ok := in.st.Get(w.Key)
			var n int64
			if ok {
				var err error
				if n, err = decodeInt(cur); err != nil {
					in.undoPeer(loc)
					return fmt.Errorf("apply peer %v: add to %s, which holds a non-integer here: the instances have diverged", r.TxID(), tuple.Format(w.Key))
				}
				lw.Before = cur
			}
			lw.BeforeVersion = curVer
			lw.Value = encodeInt(n + w.Delta)
			in.st.Set(w.Key, lw.Value, ver.Max(curVer))
		}
		loc.Writes = append(loc.Writes, lw)
	}
	return nil
}

// undoPeer puts back the before-images of the writes swapImages made to
// loc, newest first, when the record is not journaled after all.
func (in *Instance) undoPeer(loc *journal.Record) {
	in.st.Undo(loc)
}
