package detect

import (
	"cmp"
	"fmt"
	"hash/maphash"
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
//   - keys: for each key's 64-bit hash (keyTable), the own transactions that
//     Set/Delete it, that only Add to it, and that point-read it, each list
//     in OSeq order so that a run is a sub-slice found by binary search. A
//     point key of t costs one probe of the table and a binary search per
//     list, whatever the window size.
//   - writes: every (own transaction, written key) as a point in an interval
//     tree of order keys (see okey), asked for the points inside each range
//     t read (use check, phantoms).
//   - ranges: every range an own transaction read, as a span of order keys
//     in an interval tree, asked for the spans holding each key t wrote
//     (mirror use check, phantoms).
//
// The interval trees cost O(log n + answers) and skip subtrees whose OSeqs
// lie outside the run asked for, so own writes inside a wide range of t that
// are clock-after t are not even visited (a B-tree of keys would visit them
// all).
//
// The indexes find every own transaction that conflicts with t, and maybe a
// few that do not: keys sharing a hash share lists, and keys longer than 15
// bytes may share an order key (both rare). Check evaluates Conflict on
// every candidate (conflict, from order keys kept in the entry: the same
// answer, without touching the Txn), keeping those that conflict, with the
// check that fires first and the witness key, so that Check returns exactly
// what a scan of the window would.
type Window struct {
	own    []slot   // in OSeq (= position = clock) order
	hlcs   []uint64 // the HLCs of own, apart for the binary search of Check
	keys   keyTable
	writes intervalTree[*entry]
	ranges intervalTree[*entry]
	seed   maphash.Seed

	lastOSeq uint64   // largest OSeq ever added: OSeqs are never reused
	mark     uint64   // generation for deduplicating candidates in one query
	cands    []*entry // scratch: the candidates of one query
	found    []*entry // scratch: the answer of one tree query
	in       fastTxn  // scratch: the incoming transaction of one query
	hs       []uint64 // scratch: the hashes of its keys
	sink     uint64   // what touch read, so that the reads stay
	collide  bool     // tests: weak hashes, so that keys share lists
}

// slot is one own transaction in the window, with its OSeq inline.
type slot struct {
	oseq uint64
	e    *entry
}

// entry is one own transaction in the window.
type entry struct {
	fastTxn // txn and its order keys, for conflict
	oseq    uint64
	mark    uint64
	points  []itHandle // in w.writes
	ranges  []itHandle // in w.ranges
	inline  [entryKeys]fkey
}

// entryKeys is the number of keys of fastTxn an entry holds inline: ten
// keys and a range.
const entryKeys = 12

// Hit is one own transaction that conflicts with an incoming one: the first
// check that fired and a key that witnesses it (see Conflict).
type Hit struct {
	Own   *Txn
	Check Check
	Key   []byte
}

// NewWindow returns an empty window.
func NewWindow() *Window {
	return &Window{seed: maphash.MakeSeed()}
}

// hash returns the hash of key k in the key table: never 0.
func (w *Window) hash(k []byte) uint64 {
	h := maphash.Bytes(w.seed, k)
	if w.collide {
		h &= 3 << 62
	}
	return h | 1
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
	e := &entry{oseq: o.ID.OSeq}
	e.set(o, e.inline[:])
	w.own = append(w.own, slot{oseq: o.ID.OSeq, e: e})
	w.hlcs = append(w.hlcs, o.HLC)
	eachKey(o, func(key []byte, list int) {
		kl := w.keys.insert(w.hash(key))
		kl[list] = append(kl[list], ref{e.oseq, e})
		if list != listRead {
			e.points = append(e.points, w.writes.insert(pointSpan(key), e.oseq, e))
		}
	})
	for i := range o.Ranges {
		if s, ok := rangeSpan(&o.Ranges[i]); ok {
			e.ranges = append(e.ranges, w.ranges.insert(s, e.oseq, e))
		}
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
		h := w.hash(key)
		kl := w.keys.find(h)
		if kl == nil {
			panic(fmt.Sprintf("detect: window index broken: key %q of %v is not in the key table", key, e.txn.ID))
		}
		l := kl[list]
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
		kl[list] = l
		if kl[listSet] == nil && kl[listAdd] == nil && kl[listRead] == nil {
			w.keys.remove(h)
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
	defer w.done()
	cands := w.candidates(t)
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b *entry) int { return cmp.Compare(a.oseq, b.oseq) })
	w.sink += touch(cands)
	var hits []Hit
	for _, e := range cands {
		if check, key, ok := conflict(&e.fastTxn, &w.in); ok {
			if hits == nil {
				hits = make([]Hit, 0, len(cands))
			}
			hits = append(hits, Hit{Own: e.txn, Check: check, Key: key})
		}
	}
	return hits
}

// First returns the Hit of Check(t) with the earliest position: the own
// transaction a vassal rolls back to.
func (w *Window) First(t *Txn) (Hit, bool) {
	defer w.done()
	cands := w.candidates(t)
	slices.SortFunc(cands, func(a, b *entry) int { return cmp.Compare(a.oseq, b.oseq) })
	w.sink += touch(cands)
	for _, e := range cands {
		if check, key, ok := conflict(&e.fastTxn, &w.in); ok {
			return Hit{Own: e.txn, Check: check, Key: key}, true
		}
	}
	return Hit{}, false
}

// done lets go of the incoming transaction and the candidates.
func (w *Window) done() {
	clear(w.in.keys)
	w.in.txn = nil
	clear(w.cands)
}

// touch reads the keys of the candidates, in a loop that does nothing else,
// so that their cache misses overlap rather than come one by one in
// conflict.
func touch(cands []*entry) (x uint64) {
	for _, e := range cands {
		if k := e.keys; len(k) > 0 {
			x += k[0].ok.lo + k[len(k)/2].ok.lo + k[len(k)-1].ok.lo
		}
	}
	return x
}

// candidates returns the own transactions in the window that may conflict
// with t, each once, in no particular order: every one that does, and maybe
// a few that do not (when keys share a hash or an order key). The slice is
// scratch space of w.
func (w *Window) candidates(t *Txn) []*entry {
	w.mark++
	w.cands = w.cands[:0]
	if len(w.own) == 0 {
		return nil
	}
	w.in.set(t, w.in.keys)
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

	// The hashes of t's keys, writes then reads, with their slots in the
	// key table touched in a loop that does nothing else (see touch).
	hs := w.hs[:0]
	for _, wr := range t.Writes {
		hs = append(hs, w.hash(wr.Key))
	}
	for _, k := range t.Reads {
		hs = append(hs, w.hash(k))
	}
	w.hs = hs
	w.sink += w.keys.touch(hs)

	for x, wr := range t.Writes {
		if kl := w.keys.find(hs[x]); kl != nil {
			// update: own Set/Delete of the key, and own Add unless t's
			// write is an Add too.
			w.addRun(kl[listSet], unseen, math.MaxUint64)
			if !wr.Add {
				w.addRun(kl[listAdd], unseen, math.MaxUint64)
			}
			// mirror use, point reads.
			w.addRun(kl[listRead], mirrorAfter, math.MaxUint64)
		}
		// mirror use, own ranges holding the key (phantoms).
		q := span{w.in.keys[x].ok, w.in.keys[x].ok}
		w.found = w.ranges.overlapping(&q, mirrorAfter, math.MaxUint64, w.found[:0])
		w.addAll(w.found)
	}
	if useUpTo > unseen {
		// use, point reads.
		for _, h := range hs[len(t.Writes):] {
			if kl := w.keys.find(h); kl != nil {
				w.addRun(kl[listSet], unseen, useUpTo)
				w.addRun(kl[listAdd], unseen, useUpTo)
			}
		}
		// use, own writes inside t's ranges (phantoms).
		for g := w.in.ranges(); len(g) > 0; g = g[2:] {
			if q := (span{g[0].ok, g[1].ok}); !q.hi.less(q.lo) {
				w.found = w.writes.overlapping(&q, unseen, useUpTo, w.found[:0])
				w.addAll(w.found)
			}
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
