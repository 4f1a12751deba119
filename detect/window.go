package detect

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/maphash"
	"math"
	"slices"

	"github.com/liege-db/liege/journal"
)

// Window indexes the own transactions the peer has not yet seen (DESIGN.md
// section 5), so that an incoming peer transaction is checked against them
// without a scan.
//
// Own transactions are kept in OSeq order, which is also position and clock
// order (Add enforces it), in arrays by index (a struct of arrays: the
// OSeqs as runs of consecutive ones (oseqRuns), the HLCs in 32-bit
// offsets from a base per block (hlcBlocks) and the Txns apart, so that a
// search reads only what it needs). Each also has a sequence number, its index plus
// the sequence number of the first (base): the indexes below name own
// transactions by it, in 32 bits in the touch table (compared relative to
// base, so it may wrap), in 40 bits in the trees and in 32 bits relative
// to the base of their build in the runs (so a window holds fewer than
// 2^32 own transactions; Add panics past it). For an incoming t the
// window's transactions above t.PeerSeen split into runs of indexes: those
// clock-before t (the use check applies), at most one with t's exact clock
// (same origin: only the update check applies), and those clock-after t
// (the mirror use check applies). Every index is asked for a run:
//
//   - keys: every (own transaction, distinct key it touches) as one 8-byte
//     entry of a hash table (touchTable), with the transaction's roles for
//     the key (point-read, Add, Set/Delete) and the key's index in it. The
//     entries of a key sit in the cluster of its home slot, so a point key
//     of t costs one probe (one cache miss, the misses of t's keys
//     overlapping), whatever the window size. A key touched by many of
//     them (a counter every transaction Adds to) has a list of its own,
//     by role and sequence number, so that it costs a binary search.
//   - writes: every (own transaction, written key) as a point (order key
//     and id; see okey), asked for the points inside each range t read
//     (use check, phantoms).
//   - ranges: every range an own transaction read, as a span of order
//     keys, asked for the spans holding each key t wrote (mirror use
//     check, phantoms).
//
// The points and spans of the older transactions are in sorted arrays
// (pointRun in runs.go, rangeRun in rangerun.go), those of the newest (an eighth of the entries at most) in a
// B+ tree each (pointTree, intervalTree), merged into the runs as they
// grow. The trees cost O(log n + answers) and skip subtrees whose sequence
// numbers lie outside the run asked for; a run costs a search of its
// fences plus the entries inside the key span asked for, and is skipped
// whole when the run of indexes asked for starts after its newest
// transaction. The range tree is asked only for the keys whose place in
// the range run (which the run's search finds anyway) is marked as
// overlapped by one of its spans (rangesIn): most keys go without it.
//
// What an index answers is a witness: an own transaction, the check it
// fires and the key, the very facts Conflict looks for, so Check does not
// evaluate Conflict on candidates (that would read each candidate's Txn,
// its slices and its keys: cache misses). Where an index may answer more
// than the truth, the witness is confirmed with the bytes: an entry of the
// touch table whose tag (24 bits of the key's hash) matches a key of t, and
// keys longer than 15 bytes in the trees and sorted arrays (order keys are
// exact up to 15 bytes). Per own transaction Check keeps the first check in the order of
// Conflict and the smallest key witnessing it, so that it returns exactly
// what a scan of the window calling Conflict would (the property tests
// hold it to that).
type Window struct {
	txns  []*Txn    // in OSeq (= position = clock) order
	oseqs oseqRuns  // the OSeqs of txns
	hlcs  hlcBlocks // the HLCs of txns
	base  uint64    // the sequence number of txns[0]; 1 at first

	keys   touchTable
	writes pointTree              // id: treeID(seq, index in Writes)
	ranges intervalTree[struct{}] // id: treeID(seq, index in Ranges)
	// The writes and ranges of the transactions of sequence numbers up to
	// runSeq are in the runs (see runs.go), the others' in the trees; dead
	// counts the entries of the runs whose transactions left by Prune.
	runW   pointRun
	runR   rangeRun
	runSeq uint64
	dead   int
	// rangesIn has bit p set if a span of the range tree may overlap the
	// keys at or after the lo of span p-1 of the range run and before
	// the lo of span p (p from 0 to runR.len()): a key whose interval
	// has no bit set is in no span of the tree, which the mirror use
	// check then does not ask (see markRange).
	rangesIn bitset
	mergeMin int // merge the trees into the runs from this many entries
	seed     maphash.Seed

	lastOSeq uint64      // largest OSeq ever added: OSeqs are never reused
	wit      []witness   // scratch: the witnesses of one query
	hits     []Hit       // scratch: what Check returns
	in       []tkey      // scratch: the distinct keys of the incoming transaction
	cand     []cand      // scratch: candidate witnesses from the touch table
	found    []uint64    // scratch: the answer of one tree query
	qs       []span      // scratch: the queries of a batch
	tq       []span      // scratch: the queries of the range tree
	tqi      []int       // scratch: their indexes in qs
	ss       []runSearch // scratch: the searches of the runs
	batch    itBatch[struct{}]
	batchOut []itFound
	sink     uint64 // what the touches of cache lines read, so that the reads stay
	collide  bool   // tests: weak hashes, so that keys share tags
	noIdx    bool   // tests: the point run keeps no indexes of keys
}

// witness is an own transaction (by index) that conflicts with the
// incoming one by check, with the key that shows it.
type witness struct {
	off   uint32
	check Check
	key   []byte
}

// tkey is one distinct key of the incoming transaction.
type tkey struct {
	key   []byte
	h     uint64
	write bool // t writes it (then set: by a Set or Delete); else t reads it
	set   bool
}

// cand is an entry of the touch table whose tag matches key ki of the
// incoming transaction and whose roles fire check: a witness once its key
// is confirmed to be the incoming one.
type cand struct {
	off   uint32
	idx   uint32
	roles int
	ki    int
	check Check
	o     *Txn   // w.txns[off]
	key   []byte // o's key idx, unless idxUnknown
	// A candidate of the use check on a range (phantom) instead: rng is
	// the index of the range in t.Ranges, plus 1; idx is the key's index
	// in o.Writes, or idxNone.
	rng int
}

// idxBits is the bits of a tree id that hold the index of a key or range
// in its transaction; the sequence number is above them.
const idxBits = 24

func treeID(seq uint64, i int) uint64 { return seq<<idxBits | uint64(i) }

// Hit is one own transaction that conflicts with an incoming one: the first
// check that fired and a key that witnesses it (see Conflict).
type Hit struct {
	Own   *Txn
	Check Check
	Key   []byte
}

// NewWindow returns an empty window.
func NewWindow() *Window {
	return &Window{seed: maphash.MakeSeed(), base: 1, mergeMin: mergeMin,
		hlcs: newHLCBlocks()}
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
func (w *Window) Len() int { return len(w.txns) }

// Add adds own transaction o. Own transactions must come in strictly
// increasing OSeq order (over the window's whole life: OSeqs are never
// reused), and in strictly increasing position and clock order relative to
// the newest one in the window; Add panics otherwise, with the values. The
// window keeps o: do not modify it afterwards.
func (w *Window) Add(o *Txn) {
	if o.ID.OSeq <= w.lastOSeq {
		panic(fmt.Sprintf("detect: Window.Add(%v): OSeq %d is not above the last one added, %d", o.ID, o.ID.OSeq, w.lastOSeq))
	}
	if n := len(w.txns); n > 0 {
		last := w.txns[n-1]
		if o.Pos <= last.Pos {
			panic(fmt.Sprintf("detect: Window.Add(%v): position %d is not above %d, the position of %v", o.ID, o.Pos, last.Pos, last.ID))
		}
		if !last.Before(o) {
			panic(fmt.Sprintf("detect: Window.Add(%v): clock (%d, %q) is not after (%d, %q) of %v", o.ID, o.HLC, o.ID.Origin, last.HLC, last.ID.Origin, last.ID))
		}
	}
	if uint64(len(w.txns)) >= math.MaxUint32 {
		panic(fmt.Sprintf("detect: Window.Add(%v): the window holds %d transactions, the most it takes", o.ID, len(w.txns)))
	}
	if len(o.Writes)+len(o.Reads) >= idxNone || len(o.Ranges) >= idxNone {
		panic(fmt.Sprintf("detect: Window.Add(%v): %d keys and %d ranges, the window takes fewer than %d of each",
			o.ID, len(o.Writes)+len(o.Reads), len(o.Ranges), idxNone))
	}
	w.lastOSeq = o.ID.OSeq
	seq := w.base + uint64(len(w.txns))
	w.txns = append(w.txns, o)
	w.oseqs.add(seq, o.ID.OSeq)
	w.hlcs.add(seq, o.HLC)
	eachTouch(o, func(key []byte, roles, i int) {
		w.keys.insert(touchEntry(w.hash(key), uint32(seq), roles, i), uint32(w.base))
		if roles&(roleAdd|roleSet) != 0 {
			w.writes.insert(orderKey(key), treeID(seq, i))
		}
	})
	for i := range o.Ranges {
		if s, ok := rangeSpan(&o.Ranges[i]); ok {
			w.ranges.insertID(s, treeID(seq, i), seq, struct{}{})
			w.markRange(s)
		}
	}
	// The trees take at most an eighth of the entries: a merge copies the
	// runs, so each entry is copied about nine times over its life.
	if small := w.writes.len() + w.ranges.len(); small >= w.mergeMin && 8*small >= w.runW.len()+w.runR.len()-w.dead {
		w.merge(seq)
	}
}

// mergeMin is the number of entries in the trees below which they are not
// merged into the runs: a window of up to a few thousand transactions
// stays in the trees, where a query costs less CPU than in a tree and a
// run both (the memory a run saves matters in large windows).
const mergeMin = 32768

// merge moves the entries of the trees into the runs, dropping the dead
// ones; last is the newest sequence number in the window.
func (w *Window) merge(last uint64) {
	live := func(s uint64) bool { return s >= w.base && s <= last }
	w.runW = mergePoints(&w.runW, &w.writes, live, w.base, w.noIdx)
	w.runR = mergeRanges(&w.runR, &w.ranges, live, w.base)
	w.runSeq, w.dead = last, 0
	w.markRanges()
}

// filterRuns drops the entries of the runs of transactions no longer in
// the window (sequence numbers outside [base, last]).
func (w *Window) filterRuns(last uint64) {
	live := func(s uint64) bool { return s >= w.base && s <= last }
	var noW pointTree
	var noR intervalTree[struct{}]
	w.runW = mergePoints(&w.runW, &noW, live, w.base, w.noIdx)
	w.runR = mergeRanges(&w.runR, &noR, live, w.base)
	w.runSeq, w.dead = min(w.runSeq, last), 0
	w.markRanges()
}

// markRanges rebuilds rangesIn for the range run as it is now and the
// spans of the range tree.
func (w *Window) markRanges() {
	w.rangesIn.reset(w.runR.len() + 1)
	w.ranges.each(func(lo, hi okey, _ uint64) { w.markRange(span{lo, hi}) })
}

// markRange sets the bits of rangesIn of the intervals of the range run
// that span s of the range tree overlaps: the intervals of its bounds and
// those in between. (Bits are never cleared when a span leaves the tree:
// a bit set for nothing only costs a query of the tree. A merge starts
// them afresh.)
func (w *Window) markRange(s span) {
	if w.runR.len() == 0 {
		return
	}
	lo, hi := w.runR.search(s.lo), w.runR.search(s.hi)
	for p := lo; p <= hi; p++ {
		w.rangesIn.set(p)
	}
}

// off returns the index in the window of the transaction of sequence
// number seq (low 32 bits).
func (w *Window) off(seq uint32) uint32 { return seq - uint32(w.base) }

// keyAt returns key i (in Writes, then Reads) of the transaction of
// sequence number seq (low 32 bits).
func (w *Window) keyAt(seq, i uint32) []byte {
	return txnKey(w.txns[w.off(seq)], int(i))
}

// txnKey returns key i of o: in o.Writes, then in o.Reads.
func txnKey(o *Txn, i int) []byte {
	if i < len(o.Writes) {
		return o.Writes[i].Key
	}
	return o.Reads[i-len(o.Writes)]
}

// eachTouch calls fn once for each distinct key o touches, writes first,
// with o's roles for it (roleRead | roleAdd | roleSet: roleSet if any write
// to it is not an Add) and i, the index of the key's first occurrence in
// o.Writes, or for a key o only reads, len(o.Writes) plus its index in
// o.Reads.
func eachTouch(o *Txn, fn func(key []byte, roles, i int)) {
	for i, wr := range o.Writes {
		if slices.ContainsFunc(o.Writes[:i], func(x Write) bool { return string(x.Key) == string(wr.Key) }) {
			continue
		}
		roles := roleAdd
		if slices.ContainsFunc(o.Writes[i:], func(x Write) bool { return !x.Add && string(x.Key) == string(wr.Key) }) {
			roles = roleSet
		}
		if slices.ContainsFunc(o.Reads, func(x []byte) bool { return string(x) == string(wr.Key) }) {
			roles |= roleRead
		}
		fn(wr.Key, roles, i)
	}
	for i, k := range o.Reads {
		if !slices.ContainsFunc(o.Reads[:i], func(x []byte) bool { return string(x) == string(k) }) &&
			!slices.ContainsFunc(o.Writes, func(x Write) bool { return string(x.Key) == string(k) }) {
			fn(k, roleRead, len(o.Writes)+i)
		}
	}
}

// Prune drops the own transactions with OSeq <= watermark: the peer has
// applied them. See the package doc for which watermarks are safe.
func (w *Window) Prune(watermark uint64) {
	clear(w.hits) // they may name transactions leaving
	n := 0
	for n < len(w.txns) && w.txns[n].ID.OSeq <= watermark {
		w.remove(w.base+uint64(n), true)
		w.txns[n] = nil
		n++
	}
	w.hlcs.dropFront(n, w.base)
	w.txns = w.txns[n:]
	w.base += uint64(n)
	w.oseqs.dropBefore(w.base)
	if len(w.txns) == 0 {
		w.txns = nil // let the array go
		w.oseqs.reset()
	}
	if 2*w.dead > w.runW.len()+w.runR.len() {
		w.filterRuns(w.base + uint64(len(w.txns)) - 1)
	}
}

// TruncateFrom drops the own transactions at positions >= pos: a rollback
// removed them from the journal.
func (w *Window) TruncateFrom(pos uint64) {
	clear(w.hits) // they may name transactions leaving
	n := len(w.txns)
	for n > 0 && w.txns[n-1].Pos >= pos {
		n--
		w.remove(w.base+uint64(n), false)
		w.txns[n] = nil
	}
	w.txns = w.txns[:n]
	w.hlcs.dropBack(n, w.base)
	if n == 0 {
		w.oseqs.reset()
	} else {
		w.oseqs.dropAfter(w.base + uint64(n) - 1)
	}
	if last := w.base + uint64(n) - 1; w.runSeq > last {
		// The runs hold entries of transactions rolled off, whose
		// sequence numbers the next ones take: a rollback into the runs
		// costs a copy of them.
		w.filterRuns(last)
	}
}

// remove takes the transaction of sequence number seq out of every index.
// It is the oldest transaction in the window (front) or the newest
// (!front): its entries in the runs are left behind (counted dead) or
// filtered out by the caller (TruncateFrom).
func (w *Window) remove(seq uint64, front bool) {
	o := w.txns[seq-w.base]
	eachTouch(o, func(key []byte, roles, i int) {
		if !w.keys.remove(touchEntry(w.hash(key), uint32(seq), roles, i)) {
			panic(fmt.Sprintf("detect: window index broken: key %q of %v is not in the touch table", key, o.ID))
		}
		switch {
		case roles&(roleAdd|roleSet) == 0:
		case seq > w.runSeq:
			w.writes.delete(orderKey(key), treeID(seq, i))
		case front:
			w.dead++ // left in the run, filtered out by sequence number
		}
	})
	for i := range o.Ranges {
		if s, ok := rangeSpan(&o.Ranges[i]); ok {
			switch {
			case seq > w.runSeq:
				w.ranges.delete(itHandle{lo: s.lo, id: treeID(seq, i)})
			case front:
				w.dead++
			}
		}
	}
}

// Check returns one Hit for every own transaction o in the window with
// o.ID.OSeq > t.PeerSeen that conflicts with t, with the first check that
// fires for the pair and its witness key (as Conflict(o, t) returns them,
// the key possibly t's slice of the same bytes), sorted by o.Pos ascending.
//
// The slice is w's: it holds until the next call of Check (or Prune,
// TruncateFrom), which reuses it. (An allocation per Check was a tenth of
// its cost, garbage collection aside.)
func (w *Window) Check(t *Txn) []Hit {
	clear(w.hits) // let the last ones go
	w.hits = w.hits[:0]
	wit := w.witnesses(t)
	defer clear(wit) // let the keys go
	if len(wit) == 0 {
		return nil
	}
	for i := 0; i < len(wit); {
		var h Hit
		h, i = w.hit(wit, i)
		w.hits = append(w.hits, h)
	}
	return w.hits
}

// First returns the Hit of Check(t) with the earliest position: the own
// transaction a vassal rolls back to.
func (w *Window) First(t *Txn) (Hit, bool) {
	wit := w.witnesses(t)
	defer clear(wit)
	if len(wit) == 0 {
		return Hit{}, false
	}
	h, _ := w.hit(wit, 0)
	return h, true
}

// hit returns the Hit of the witnesses from i on of one own transaction,
// sorted as witnesses sorts them, and the index after them.
func (w *Window) hit(wit []witness, i int) (Hit, int) {
	first := &wit[i]
	key := first.key
	j := i + 1
	for ; j < len(wit) && wit[j].off == first.off; j++ {
		if wit[j].check == first.check && bytes.Compare(wit[j].key, key) < 0 {
			key = wit[j].key
		}
	}
	return Hit{Own: w.txns[first.off], Check: first.check, Key: key}, j
}

// witnesses returns every witness of a conflict of t with an own
// transaction in the window, sorted by the transaction's index and then by
// check in the order of Conflict. The slice is scratch space of w.
func (w *Window) witnesses(t *Txn) []witness {
	w.wit = w.wit[:0]
	n := len(w.txns)
	if n == 0 {
		return nil
	}
	// A touch of t's arrays of keys, so that their misses (t may come cold)
	// overlap that of the search of the HLCs.
	var x uint64
	if len(t.Writes) > 0 {
		x += uint64(len(t.Writes[0].Key))
	}
	if len(t.Reads) > 0 {
		x += uint64(len(t.Reads[0]))
	}
	if len(t.Ranges) > 0 {
		x += uint64(len(t.Ranges[0].Lo))
	}
	// The runs of indexes: the unseen ones, [u, n); those clock-before t,
	// [u, useHi); those clock-after t, [mirLo, n). The search of the HLCs
	// that splits them goes in stages with the other lookups (below): its
	// block's cache lines are read with their first stage.
	u := w.firstUnseen(t.PeerSeen)
	if u == n {
		return nil
	}
	var hlo, hhi int
	if t.HLC > 0 {
		var xh uint64
		hlo, hhi, xh = w.hlcs.blockAbove(w.base, t.HLC-1)
		x += xh
	}

	// t's distinct keys, writes then reads, with their hashes.
	in := w.in[:0]
	for i := range t.Writes {
		wr := &t.Writes[i]
		h := w.hash(wr.Key)
		if j := findKey(in, h, wr.Key); j >= 0 {
			in[j].set = in[j].set || !wr.Add
			continue
		}
		in = append(in, tkey{key: wr.Key, h: h, write: true, set: !wr.Add})
	}
	nw := len(in)
	for _, k := range t.Reads {
		if h := w.hash(k); findKey(in[nw:], h, k) < 0 {
			in = append(in, tkey{key: k, h: h})
		}
	}
	w.in = in

	// The phantoms: own ranges holding a key t wrote (mirror use), own
	// writes inside a range t read (use). The searches of the runs go in
	// stages with the lookups of the point keys (below), before the search
	// of the HLCs tells which checks apply: they are set up whenever the
	// runs hold own transactions t has not seen (inRuns), for the mirror
	// use check only if the newest of them is clock-after t (its HLC, read
	// by every Check, is in the caches), and their answers dropped where
	// the check turns out not to apply.
	useAfter := w.base + uint64(u) - 1
	inRuns := useAfter < w.runSeq
	mirRuns := inRuns && w.after(int(w.runSeq-w.base), t)
	mirrorAny := len(t.Writes) > 0 && w.ranges.len()+w.runR.len() > 0
	useAny := len(t.Ranges) > 0 && w.writes.len()+w.runW.len() > 0
	qs, ss := w.qs[:0], w.ss[:0]
	if mirrorAny {
		for i := range in {
			if !in[i].write {
				break // the writes come first
			}
			ok := orderKey(in[i].key)
			qs = append(qs, span{ok, ok})
		}
		if mirRuns && w.runR.len() > 0 {
			for q := range qs {
				ss = append(ss, runSearch{f: &w.runR.fence, rr: &w.runR, k: qs[q].lo, strict: true})
			}
		}
	}
	nm, nq := len(ss), len(qs)
	if useAny {
		for i := range t.Ranges {
			q, ok := rangeSpan(&t.Ranges[i])
			if !ok {
				q = span{maxOkey, okey{}} // empty: skipped below
			}
			qs = append(qs, q)
			if inRuns && w.runW.len() > 0 {
				ss = append(ss, runSearch{f: &w.runW.fence, p: &w.runW.okeys, k: q.lo})
			}
		}
	}
	w.qs, w.ss = qs, ss
	// The lookups go in stages, each a level of memory for every lookup at
	// once, so that the misses of a stage overlap (the latency of a miss,
	// TLB walk included, is most of a Check at window 100,000). Stage by
	// stage, the point keys: home slots, clusters (the candidates), the
	// window's array, the candidates' Txns, their arrays of keys, the
	// keys' bytes (confirm); the searches of the runs: the fences' first
	// level, the runs' blocks, the ends of the searches (the range run's
	// searches end in the records its stabs read); the use check's
	// candidates from the runs, from the third stage on: the window's
	// array, the Txns, their Writes (enough for short keys).
	w.cand = w.cand[:0]
	x += w.touchHomes(in) + searchFences(ss)
	b := 0 // the first own transaction not clock-before t
	if t.HLC > 0 {
		b = w.hlcs.firstAboveIn(hlo, hhi, w.base, t.HLC-1)
	}
	if b < n && w.before(b, t) {
		b++ // own HLCs strictly increase: one at most has t's
	}
	a := b // at most one is neither before nor after t
	if a < n && !w.after(a, t) {
		a++
	}
	useHi, mirLo := max(u, b), max(u, a)
	mirAfter, mirUpTo := w.base+uint64(mirLo)-1, w.base+uint64(n)-1
	useUpTo := w.base + uint64(useHi) - 1
	mirror := mirLo < n && mirrorAny
	use := useHi > u && useAny
	w.probe(in, u, useHi, mirLo)
	x += searchFirstLevel(ss)
	np := len(w.cand) // the point candidates; the use check's come after
	for i := range w.cand {
		w.cand[i].o = w.txns[w.cand[i].off]
	}
	x += searchRuns(ss)
	if use {
		for j := range ss[nm:] {
			x += w.runW.touchFrom(ss[nm+j].i)
		}
	}
	for i := range np {
		x += uint64(len(w.cand[i].o.Writes))
	}
	if use {
		// use: own writes inside a range t read.
		inRuns := nm < len(ss)
		for i := range t.Ranges {
			q := &qs[nq+i]
			if q.hi.less(q.lo) {
				continue
			}
			w.found = w.writes.query(q, useAfter, useUpTo, w.found[:0])
			if inRuns {
				w.found = w.runW.queryFrom(ss[nm+i].i, q, useAfter, useUpTo, w.found)
			}
			for _, id := range w.found {
				off := uint32(id>>idxBits - w.base)
				w.cand = append(w.cand, cand{off: off, idx: uint32(id & (1<<idxBits - 1)), check: CheckUse, rng: i + 1, o: w.txns[off]})
			}
		}
	}
	w.candKeys(0, np)
	for i := np; i < len(w.cand); i++ {
		x += uint64(len(w.cand[i].o.Writes))
	}
	w.sink += x
	if mirror {
		// mirror use: own ranges holding a key t wrote, all at once.
		tq := qs[:nq]
		if nm == nq {
			// The run searches tell which of the keys no span of the
			// tree can hold (rangesIn): those go without the tree's query.
			tq, w.tqi = w.tq[:0], w.tqi[:0]
			for q := range nm {
				if w.rangesIn.has(ss[q].i) {
					tq, w.tqi = append(tq, qs[q]), append(w.tqi, q)
				}
			}
			w.tq = tq
		}
		w.batchOut = w.ranges.overlappingBatch(tq, mirAfter, mirUpTo, &w.batch, w.batchOut[:0])
		if nm == nq {
			for j := range w.batchOut {
				w.batchOut[j].q = w.tqi[w.batchOut[j].q]
			}
		}
		for q := range ss[:nm] {
			w.found = w.runR.stabFrom(ss[q].i, qs[q].lo, mirAfter, mirUpTo, w.found[:0])
			for _, id := range w.found {
				w.batchOut = append(w.batchOut, itFound{q, id})
			}
		}
		for _, f := range w.batchOut {
			off := uint32(f.id>>idxBits - w.base)
			k := in[f.q].key
			if len(k) > 15 && !rangesContain(w.txns[off], int(f.id&(1<<idxBits-1)), k) {
				continue
			}
			w.wit = append(w.wit, witness{off, CheckMirrorUse, k})
		}
	}
	w.candKeys(np, len(w.cand))
	w.confirm(in, t)
	clear(in) // let t's keys go
	if len(w.wit) > 1 {
		slices.SortFunc(w.wit, func(a, b witness) int {
			if c := cmp.Compare(a.off, b.off); c != 0 {
				return c
			}
			return cmp.Compare(a.check, b.check)
		})
	}
	return w.wit
}

// touchHomes reads the home slots of the keys of in in the touch table
// (the first stage of probe) and returns what it read.
func (w *Window) touchHomes(in []tkey) uint64 {
	tt := &w.keys
	if tt.n == 0 {
		return 0
	}
	var x uint64
	last := len(tt.slots) - 1
	for i := range in {
		j := tt.home(in[i].h >> 40)
		x += tt.slots[j] + tt.slots[min(j+4, last)] // a lookup reads ~4 slots
	}
	return x
}

// probe adds to w.cand the candidates of the point keys of the incoming
// transaction, in: for each, the entries of the touch table with its tag
// and an own transaction in the run of a check its roles fire (confirm
// checks them against the key's bytes). touchHomes has read the home
// slots before (with other lookups' first stage), so that their misses
// overlap rather than come one by one.
func (w *Window) probe(in []tkey, u, useHi, mirLo int) {
	tt := &w.keys
	if tt.n == 0 {
		return
	}
	base := uint32(w.base)
	cands := w.cand
	for ki := range in {
		k := &in[ki]
		tag := k.h >> 40
		for j, d := tt.home(tag), 0; ; j, d = tt.next(j), d+1 {
			e := tt.slots[j]
			if e == 0 {
				break
			}
			if ed := tt.dist(j, e); ed != d || touchTag(e) != tag {
				if ed < d {
					break // e's home is past the key's: so are the rest
				}
				continue
			}
			if isMarker(e) { // the key's entries are in a hot list
				cands = w.probeHot(cands, &tt.hot[touchSeq(e)], k, ki, u, useHi, mirLo)
				break
			}
			off := int(touchSeq(e) - base)
			if off < u {
				continue
			}
			roles := touchRoles(e)
			var check Check
			switch {
			case k.write && (roles&roleSet != 0 || roles&roleAdd != 0 && k.set):
				check = CheckUpdate
			case k.write && roles&roleRead != 0 && off >= mirLo:
				check = CheckMirrorUse
			case !k.write && roles&(roleAdd|roleSet) != 0 && off < useHi:
				check = CheckUse
			default:
				continue
			}
			cands = append(cands, cand{off: uint32(off), idx: touchIdx(e), roles: roles, ki: ki, check: check})
		}
	}
	w.cand = cands
}

// probeHot is probe for the key of in[ki], k, whose entries are in hot
// list h: the entries of the classes of roles whose checks k fires, in the
// runs of indexes those checks apply to (see the switch of probe).
func (w *Window) probeHot(cands []cand, h *hotList, k *tkey, ki, u, useHi, mirLo int) []cand {
	n := len(w.txns)
	switch {
	case !k.write:
		for _, c := range [...]int{hotSet, hotAdd, hotAddRead} {
			cands = w.hotCands(cands, h, c, u, useHi, ki, CheckUse)
		}
	case k.set:
		for _, c := range [...]int{hotSet, hotAdd, hotAddRead} {
			cands = w.hotCands(cands, h, c, u, n, ki, CheckUpdate)
		}
		cands = w.hotCands(cands, h, hotRead, mirLo, n, ki, CheckMirrorUse)
	default: // an Add: Adds commute
		cands = w.hotCands(cands, h, hotSet, u, n, ki, CheckUpdate)
		cands = w.hotCands(cands, h, hotAddRead, mirLo, n, ki, CheckMirrorUse)
		cands = w.hotCands(cands, h, hotRead, mirLo, n, ki, CheckMirrorUse)
	}
	return cands
}

// hotCands appends to cands the entries of class c of h whose
// transactions are at indexes [lo, hi), as candidates of check for key ki.
func (w *Window) hotCands(cands []cand, h *hotList, c, lo, hi, ki int, check Check) []cand {
	base := uint32(w.base)
	for _, e := range h.within(c, base, lo, hi) {
		cands = append(cands, cand{off: touchSeq(e) - base, idx: touchIdx(e), roles: touchRoles(e), ki: ki, check: check})
	}
	return cands
}

// candKeys sets the key of the candidates of w.cand from i to j whose key
// index is known, from their transactions' arrays of keys (c.o set): a
// stage of the lookups in witnesses (the keys' bytes are confirm's).
func (w *Window) candKeys(i, j int) {
	for ; i < j; i++ {
		c := &w.cand[i]
		switch {
		case c.rng > 0 && c.idx != idxNone:
			c.key = c.o.Writes[c.idx].Key
		case c.rng == 0 && c.idx != idxUnknown:
			c.key = txnKey(c.o, int(c.idx))
		}
	}
}

// confirm adds the witnesses of the candidates in w.cand, their keys set
// by candKeys: those of the point keys whose keys are t's (in), those of
// the use check on t's ranges with their keys (short keys of a use
// candidate need no bytes: the order keys were exact).
func (w *Window) confirm(in []tkey, t *Txn) {
	cands := w.cand
	var x uint64
	for i := range cands { // the bytes of the point keys, all at once
		if c := &cands[i]; c.rng == 0 && len(c.key) > 0 {
			x += uint64(c.key[0])
		}
	}
	w.sink += x
	for i := range cands {
		c := &cands[i]
		if c.rng > 0 {
			r := &t.Ranges[c.rng-1]
			ok := true
			if c.idx == idxNone {
				c.key, ok = writtenIn(c.o, r)
			}
			if ok && (len(c.key) <= 15 || contains(r, c.key)) {
				w.wit = append(w.wit, witness{c.off, CheckUse, c.key})
			}
		} else if k := in[c.ki].key; confirmed(c, k) {
			w.wit = append(w.wit, witness{c.off, c.check, k})
		}
		c.o, c.key = nil, nil // let them go
	}
}

// rangesContain reports whether range i of o holds key k, or for i
// idxNone (an entry of a run), whether one of o's ranges does: either way
// o read a range holding k.
func rangesContain(o *Txn, i int, k []byte) bool {
	if i != idxNone {
		return contains(&o.Ranges[i], k)
	}
	for j := range o.Ranges {
		if contains(&o.Ranges[j], k) {
			return true
		}
	}
	return false
}

// writtenIn returns the smallest key o writes inside r, if any: the
// witness of an entry of the point run that keeps no index of its key.
// (The run's entry may be any of o's writes with an order key inside r's
// span; the smallest of those inside r is the witness Check keeps all the
// same.)
func writtenIn(o *Txn, r *journal.RangeRead) (key []byte, ok bool) {
	for _, wr := range o.Writes {
		if contains(r, wr.Key) && (!ok || bytes.Compare(wr.Key, key) < 0) {
			key, ok = wr.Key, true
		}
	}
	return key, ok
}

// confirmed reports whether the key of point candidate c is k (or, for an
// entry without a key index, whether c's transaction touches k in the
// roles of the entry: then the witness holds all the same).
func confirmed(c *cand, k []byte) bool {
	if c.idx != idxUnknown {
		return bytes.Equal(c.key, k)
	}
	writes, set, reads := roles(c.o, k)
	r := 0
	if reads {
		r |= roleRead
	}
	switch {
	case set:
		r |= roleSet
	case writes:
		r |= roleAdd
	}
	return r == c.roles
}

// roles reports whether o writes key k (set: by a Set or Delete) and
// whether it point-reads it.
func roles(o *Txn, k []byte) (writes, set, reads bool) {
	for _, wr := range o.Writes {
		if bytes.Equal(wr.Key, k) {
			writes, set = true, set || !wr.Add
		}
	}
	for _, r := range o.Reads {
		if bytes.Equal(r, k) {
			reads = true
		}
	}
	return writes, set, reads
}

// findKey returns the index of key k, of hash h, in ks, or -1.
func findKey(ks []tkey, h uint64, k []byte) int {
	for j := range ks {
		if ks[j].h == h && bytes.Equal(ks[j].key, k) {
			return j
		}
	}
	return -1
}

// firstUnseen returns the index of the first own transaction with an OSeq
// above peerSeen, or Len().
func (w *Window) firstUnseen(peerSeen uint64) int {
	n := uint64(len(w.txns))
	return int(w.oseqs.firstAbove(w.base, w.base+n, peerSeen) - w.base)
}

// before reports whether own transaction i is clock-before t.
func (w *Window) before(i int, t *Txn) bool {
	h := w.hlcs.at(i, w.base+uint64(i))
	return h < t.HLC || h == t.HLC && w.txns[i].ID.Origin < t.ID.Origin
}

// after reports whether own transaction i is clock-after t.
func (w *Window) after(i int, t *Txn) bool {
	h := w.hlcs.at(i, w.base+uint64(i))
	return h > t.HLC || h == t.HLC && w.txns[i].ID.Origin > t.ID.Origin
}
