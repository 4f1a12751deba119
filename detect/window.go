package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Window indexes the own transactions the peer has not yet seen (DESIGN.md
// section 5), so that an incoming peer transaction is checked against them
// without a scan.
//
// Own transactions are kept in OSeq order, which is also position and clock
// order (Add enforces it). For an incoming t that splits the window's OSeqs
// above t.PeerSeen into runs: those clock-before t (the use check applies),
// at most one with t's exact clock (same origin: only the update check
// applies), and those clock-after t (the mirror use check applies). Each run
// is a range of OSeqs, found by binary search, and every index below is
// asked for a range of OSeqs:
//
//   - keys: for each key, the own transactions that Set/Delete it, that only
//     Add to it, and that point-read it, each list in OSeq order so that a
//     run is a sub-slice found by binary search. A point key of t costs one
//     map lookup and a binary search per list, whatever the window size.
//   - writes: every (own transaction, written key) as a point in an interval
//     tree, asked for the points inside each range t read (use check,
//     phantoms).
//   - ranges: every range an own transaction read, in an interval tree,
//     asked for the ranges holding each key t wrote (mirror use check,
//     phantoms).
//
// The interval trees cost O(log n + answers) and skip subtrees whose OSeqs
// lie outside the run asked for, so own writes inside a wide range of t that
// are clock-after t are not even visited (a B-tree of keys would visit them
// all).
//
// Every own transaction found conflicts with t by construction; Check then
// calls Conflict on it for the check that fires first and the witness key,
// so that Check returns exactly what a scan of the window would.
type Window struct {
	own    []slot   // in OSeq (= position = clock) order
	hlcs   []uint64 // the HLCs of own, apart for the binary search of Check
	keys   map[string]*keyIndex
	writes intervalTree[*entry]
	ranges intervalTree[*entry]

	lastOSeq uint64   // largest OSeq ever added: OSeqs are never reused
	mark     uint64   // generation for deduplicating candidates in one query
	cands    []*entry // scratch: the candidates of one query
	found    []*entry // scratch: the answer of one tree query
}

// slot is one own transaction in the window, with its OSeq inline.
type slot struct {
	oseq uint64
	e    *entry
}

// entry is one own transaction in the window.
type entry struct {
	txn    *Txn
	oseq   uint64
	mark   uint64
	points []itHandle // in w.writes
	ranges []itHandle // in w.ranges
}

// keyIndex lists the own transactions in the window touching one key, each
// list in OSeq order. (The map holds pointers: with the lists inline, its
// slots are four times larger and lookups miss the caches more.)
type keyIndex struct {
	key   string
	lists [3][]ref
}

// The lists of a keyIndex.
const (
	listSet  = iota // transactions that Set or Delete the key (and maybe Add to it)
	listAdd         // transactions whose only writes to the key are Adds
	listRead        // transactions that point-read the key
)

// ref is an entry in a key list, with its OSeq inline for the binary search.
type ref struct {
	oseq uint64
	e    *entry
}

// Hit is one own transaction that conflicts with an incoming one: the first
// check that fired and a key that witnesses it (see Conflict).
type Hit struct {
	Own   *Txn
	Check Check
	Key   []byte
}

// NewWindow returns an empty window.
func NewWindow() *Window {
	return &Window{keys: make(map[string]*keyIndex)}
}

// Len returns the number of own transactions in the window.
func (w *Window) Len() int { return len(w.own) }

// Add adds own transaction o. Own transactions must come in strictly
// increasing OSeq order (over the window's whole life: OSeqs are never
// reused), and in strictly increasing position and clock order relative to
// the newest one in the window; Add panics otherwise, with the values. The
// window keeps o: do not modify it afterwards.
func (w *Window) Add(o *Txn) {
	if o.ID.OSeq <= w.lastOSeq {
		panic(fmt.Sprintf("detect: Window.Add(%v): OSeq %d is not above the last one added, %d", o.ID, o.ID.OSeq, w.lastOSeq))
	}
	if n := len(w.own); n > 0 {
		last := w.own[n-1].e.txn
		if o.Pos <= last.Pos {
			panic(fmt.Sprintf("detect: Window.Add(%v): position %d is not above %d, the position of %v", o.ID, o.Pos, last.Pos, last.ID))
		}
		if !last.Before(o) {
			panic(fmt.Sprintf("detect: Window.Add(%v): clock (%d, %q) is not after (%d, %q) of %v", o.ID, o.HLC, o.ID.Origin, last.HLC, last.ID.Origin, last.ID))
		}
	}
	w.lastOSeq = o.ID.OSeq
	e := &entry{txn: o, oseq: o.ID.OSeq}
	w.own = append(w.own, slot{oseq: o.ID.OSeq, e: e})
	w.hlcs = append(w.hlcs, o.HLC)
	eachKey(o, func(key []byte, list int) {
		ki := w.keys[string(key)]
		if ki == nil {
			ki = &keyIndex{key: string(key)}
			w.keys[ki.key] = ki
		}
		ki.lists[list] = append(ki.lists[list], ref{e.oseq, e})
		if list != listRead {
			e.points = append(e.points, w.writes.insert(pointInterval(key), e.oseq, e))
		}
	})
	for i := range o.Ranges {
		e.ranges = append(e.ranges, w.ranges.insert(rangeInterval(&o.Ranges[i]), e.oseq, e))
	}
}

// eachKey calls fn once for each key o writes, with listSet if any write to
// it is not an Add and listAdd otherwise, and once for each key o point-reads,
// with listRead.
func eachKey(o *Txn, fn func(key []byte, list int)) {
	for i, wr := range o.Writes {
		if slices.ContainsFunc(o.Writes[:i], func(x Write) bool { return string(x.Key) == string(wr.Key) }) {
			continue
		}
		list := listAdd
		if slices.ContainsFunc(o.Writes[i:], func(x Write) bool { return !x.Add && string(x.Key) == string(wr.Key) }) {
			list = listSet
		}
		fn(wr.Key, list)
	}
	for i, k := range o.Reads {
		if !slices.ContainsFunc(o.Reads[:i], func(x []byte) bool { return string(x) == string(k) }) {
			fn(k, listRead)
		}
	}
}

// Prune drops the own transactions with OSeq <= watermark: the peer has
// applied them. See the package doc for which watermarks are safe.
func (w *Window) Prune(watermark uint64) {
	n := 0
	for n < len(w.own) && w.own[n].oseq <= watermark {
		w.remove(w.own[n].e, true)
		w.own[n] = slot{}
		n++
	}
	w.own, w.hlcs = w.own[n:], w.hlcs[n:]
}

// TruncateFrom drops the own transactions at positions >= pos: a rollback
// removed them from the journal.
func (w *Window) TruncateFrom(pos uint64) {
	n := len(w.own)
	for n > 0 && w.own[n-1].e.txn.Pos >= pos {
		n--
		w.remove(w.own[n].e, false)
		w.own[n] = slot{}
	}
	w.own, w.hlcs = w.own[:n], w.hlcs[:n]
}

// remove takes e out of every index. e is the oldest transaction in the
// window (front) or the newest (!front), so it is at that end of each of its
// lists.
func (w *Window) remove(e *entry, front bool) {
	eachKey(e.txn, func(key []byte, list int) {
		ki := w.keys[string(key)]
		l := ki.lists[list]
		switch {
		case front && len(l) > 0 && l[0].e == e:
			l[0] = ref{}
			l = l[1:]
		case !front && len(l) > 0 && l[len(l)-1].e == e:
			l[len(l)-1] = ref{}
			l = l[:len(l)-1]
		default:
			panic(fmt.Sprintf("detect: window index broken: %v is not at the end of list %d of key %q", e.txn.ID, list, key))
		}
		if len(l) == 0 {
			l = nil // let the backing array go
		}
		ki.lists[list] = l
		if ki.lists[listSet] == nil && ki.lists[listAdd] == nil && ki.lists[listRead] == nil {
			delete(w.keys, ki.key)
		}
	})
	for _, h := range e.points {
		w.writes.delete(h)
	}
	for _, h := range e.ranges {
		w.ranges.delete(h)
	}
}

// Check returns one Hit for every own transaction o in the window with
// o.ID.OSeq > t.PeerSeen that conflicts with t, with the first check that
// fires for the pair and its witness key (as Conflict(o, t) returns them),
// sorted by o.Pos ascending.
func (w *Window) Check(t *Txn) []Hit {
	cands := w.candidates(t)
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b *entry) int { return cmp.Compare(a.oseq, b.oseq) })
	hits := make([]Hit, len(cands))
	for i, e := range cands {
		hits[i] = hit(e, t)
	}
	return hits
}

// First returns the Hit of Check(t) with the earliest position: the own
// transaction a vassal rolls back to.
func (w *Window) First(t *Txn) (Hit, bool) {
	var first *entry
	for _, e := range w.candidates(t) {
		if first == nil || e.oseq < first.oseq {
			first = e
		}
	}
	if first == nil {
		return Hit{}, false
	}
	return hit(first, t), true
}

func hit(e *entry, t *Txn) Hit {
	check, key, ok := Conflict(e.txn, t)
	if !ok {
		panic(fmt.Sprintf("detect: window index broken: it found own %v for incoming %v, but they do not conflict", e.txn.ID, t.ID))
	}
	return Hit{Own: e.txn, Check: check, Key: key}
}

// candidates returns the own transactions in the window that conflict with
// t, each once, in no particular order. The slice is scratch space of w.
func (w *Window) candidates(t *Txn) []*entry {
	w.mark++
	w.cands = w.cands[:0]
	if len(w.own) == 0 {
		return nil
	}
	// The runs of OSeqs, as (after, upTo]: the unseen ones, (unseen, max];
	// those clock-before t, (unseen, useUpTo]; those clock-after t,
	// (mirrorAfter, max].
	i := sort.Search(len(w.own), func(i int) bool { return !w.before(i, t) })
	j := i // own clocks strictly increase: at most one is neither before nor after t
	if j < len(w.own) && !w.after(j, t) {
		j++
	}
	unseen := t.PeerSeen
	useUpTo := uint64(0)
	if i > 0 {
		useUpTo = w.own[i-1].oseq
	}
	mirrorAfter := uint64(math.MaxUint64)
	if j < len(w.own) {
		mirrorAfter = max(unseen, w.own[j].oseq-1)
	}

	for _, wr := range t.Writes {
		if ki := w.keys[string(wr.Key)]; ki != nil {
			// update: own Set/Delete of the key, and own Add unless t's
			// write is an Add too.
			w.addRun(ki.lists[listSet], unseen, math.MaxUint64)
			if !wr.Add {
				w.addRun(ki.lists[listAdd], unseen, math.MaxUint64)
			}
			// mirror use, point reads.
			w.addRun(ki.lists[listRead], mirrorAfter, math.MaxUint64)
		}
		// mirror use, own ranges holding the key (phantoms).
		q := pointInterval(wr.Key)
		w.found = w.ranges.overlapping(&q, mirrorAfter, math.MaxUint64, w.found[:0])
		w.addAll(w.found)
	}
	if useUpTo > unseen {
		// use, point reads.
		for _, k := range t.Reads {
			if ki := w.keys[string(k)]; ki != nil {
				w.addRun(ki.lists[listSet], unseen, useUpTo)
				w.addRun(ki.lists[listAdd], unseen, useUpTo)
			}
		}
		// use, own writes inside t's ranges (phantoms).
		for r := range t.Ranges {
			q := rangeInterval(&t.Ranges[r])
			w.found = w.writes.overlapping(&q, unseen, useUpTo, w.found[:0])
			w.addAll(w.found)
		}
	}
	clear(w.found) // let removed entries go
	return w.cands
}

// before reports whether own transaction i is clock-before t.
func (w *Window) before(i int, t *Txn) bool {
	return w.hlcs[i] < t.HLC || w.hlcs[i] == t.HLC && w.own[i].e.txn.ID.Origin < t.ID.Origin
}

// after reports whether own transaction i is clock-after t.
func (w *Window) after(i int, t *Txn) bool {
	return w.hlcs[i] > t.HLC || w.hlcs[i] == t.HLC && w.own[i].e.txn.ID.Origin > t.ID.Origin
}

// addRun adds the entries of l (in OSeq order) with OSeq in (after, upTo].
func (w *Window) addRun(l []ref, after, upTo uint64) {
	i := sort.Search(len(l), func(i int) bool { return l[i].oseq > after })
	for ; i < len(l) && l[i].oseq <= upTo; i++ {
		w.add(l[i].e)
	}
}

func (w *Window) addAll(es []*entry) {
	for _, e := range es {
		w.add(e)
	}
}

// add adds e to the candidates unless it is one already.
func (w *Window) add(e *entry) {
	if e.mark != w.mark {
		e.mark = w.mark
		w.cands = append(w.cands, e)
	}
}
