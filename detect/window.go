package detect

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
)

// Window indexes the own transactions the peer has not yet seen (DESIGN.md
// section 5), so that an incoming peer transaction is checked against them
// without a scan.
//
// Own transactions are kept in OSeq order, which is also position and clock
// order (Add enforces it), in arrays by index (a struct of arrays: the
// OSeqs, the HLCs and the Txns apart, so that a binary search reads only
// the array it needs). Each also has a sequence number, its index plus the
// sequence number of the first (base): the indexes below name own
// transactions by it, in 32 bits in the key lists (compared relative to
// base, so it may wrap) and in 40 bits in the trees. For an incoming t the
// window's transactions above t.PeerSeen split into runs of indexes: those
// clock-before t (the use check applies), at most one with t's exact clock
// (same origin: only the update check applies), and those clock-after t
// (the mirror use check applies). Every index is asked for a run:
//
//   - keys: for each key's 64-bit hash (keyTable), the own transactions that
//     Set/Delete it, that only Add to it, and that point-read it, each list
//     in order so that a run is a sub-slice found by binary search. A point
//     key of t costs one probe of the table and a binary search per list,
//     whatever the window size.
//   - writes: every (own transaction, written key) as a point in a B+ tree
//     of order keys (see okey and pointTree), asked for the points inside
//     each range t read (use check, phantoms).
//   - ranges: every range an own transaction read, as a span of order keys
//     in an interval tree, asked for the spans holding each key t wrote
//     (mirror use check, phantoms).
//
// The trees cost O(log n + answers) and skip subtrees whose
// sequence numbers lie outside the run asked for, so own writes inside a
// wide range of t that are clock-after t are not even visited.
//
// What an index answers is a witness: an own transaction, the check it
// fires and the key, the very facts Conflict looks for, so Check does not
// evaluate Conflict on candidates (that would read each candidate's Txn,
// its slices and its keys: cache misses). Where an index may answer more
// than the truth, the witness is confirmed with the bytes: a key record
// shared by keys whose hashes collide (mixed, rare) and keys longer than
// 15 bytes in the trees (order keys are exact up to 15 bytes). Per own
// transaction Check keeps the first check in the order of Conflict and the
// smallest key witnessing it, so that it returns exactly what a scan of
// the window calling Conflict would (the property tests hold it to that).
type Window struct {
	txns  []*Txn   // in OSeq (= position = clock) order
	oseqs []uint64 // the OSeqs of txns
	hlcs  []uint64 // the HLCs of txns
	base  uint64   // the sequence number of txns[0]; 1 at first

	keys   keyTable
	writes pointTree              // id: treeID(seq, index in Writes)
	ranges intervalTree[struct{}] // id: treeID(seq, index in Ranges)
	seed   maphash.Seed

	lastOSeq uint64    // largest OSeq ever added: OSeqs are never reused
	wit      []witness // scratch: the witnesses of one query
	in       []tkey    // scratch: the distinct keys of the incoming transaction
	found    []uint64  // scratch: the answer of one tree query
	qs       []span    // scratch: the queries of a batch
	batch    itBatch[struct{}]
	batchOut []itFound
	sink     uint64 // what touch read, so that the reads stay
	collide  bool   // tests: weak hashes, so that keys share records
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
	rec   int  // its key record, or -1
	write bool // t writes it (then set: by a Set or Delete); else t reads it
	set   bool
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
	return &Window{seed: maphash.MakeSeed(), base: 1}
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
	if len(o.Writes)+len(o.Reads) >= 1<<idxBits || len(o.Ranges) >= 1<<idxBits {
		panic(fmt.Sprintf("detect: Window.Add(%v): %d keys and %d ranges, the window takes fewer than %d of each",
			o.ID, len(o.Writes)+len(o.Reads), len(o.Ranges), 1<<idxBits))
	}
	w.lastOSeq = o.ID.OSeq
	seq := w.base + uint64(len(w.txns))
	w.txns = append(w.txns, o)
	w.oseqs = append(w.oseqs, o.ID.OSeq)
	w.hlcs = append(w.hlcs, o.HLC)
	eachKey(o, func(key []byte, list, i int) {
		h := w.hash(key)
		ri, created := w.keys.insert(h)
		r := w.keys.rec(ri)
		switch {
		case created:
			r.ok = orderKey(key)
		case r.mixed:
		case w.oldest(r) == uint32(seq):
			// Only o is in the record: by this key if o writes it and
			// this is its read (eachKey gives writes first, and each key
			// once per kind), else by another key of the same hash.
			r.mixed = list != listRead || !slices.ContainsFunc(o.Writes, func(x Write) bool { return string(x.Key) == string(key) })
		case !w.is(r, key):
			r.mixed = true // another key with the same hash
		}
		w.keys.push(r, list, uint32(seq))
		if list != listRead {
			w.writes.insert(orderKey(key), treeID(seq, i))
		}
	})
	for i := range o.Ranges {
		if s, ok := rangeSpan(&o.Ranges[i]); ok {
			w.ranges.insertID(s, treeID(seq, i), seq, struct{}{})
		}
	}
}

// is reports whether key, of r's hash, is the key of unmixed record r: it
// has the record's order key, and if that is not exact (longer than 15
// bytes), a transaction in the record touches it: every one touches the
// record's key, and one touching another key of the same hash would have
// made the record mixed.
func (w *Window) is(r *keyRec, key []byte) bool {
	if r.ok != orderKey(key) {
		return false
	}
	if len(key) < 16 {
		return true
	}
	writes, _, reads := roles(w.txns[w.off(w.oldest(r))], key)
	return writes || reads
}

// oldest returns the sequence number (low 32 bits) of the oldest
// transaction in non-empty record r.
func (w *Window) oldest(r *keyRec) uint32 {
	first, found := uint32(0), false
	for i := range 3 {
		if l := w.keys.list(r, i); len(l) > 0 && (!found || w.off(l[0]) < w.off(first)) {
			first, found = l[0], true
		}
	}
	return first
}

// off returns the index in the window of the transaction of sequence
// number seq (low 32 bits).
func (w *Window) off(seq uint32) uint32 { return seq - uint32(w.base) }

// keyAt returns key i (in Writes, then Reads) of the transaction of
// sequence number seq (low 32 bits).
func (w *Window) keyAt(seq, i uint32) []byte {
	o := w.txns[w.off(seq)]
	if int(i) < len(o.Writes) {
		return o.Writes[i].Key
	}
	return o.Reads[int(i)-len(o.Writes)]
}

// eachKey calls fn once for each key o writes, with listSet if any write to
// it is not an Add and listAdd otherwise, and once for each key o
// point-reads, with listRead; i is the index of the key's first occurrence
// in o.Writes, or len(o.Writes) plus its index in o.Reads.
func eachKey(o *Txn, fn func(key []byte, list, i int)) {
	for i, wr := range o.Writes {
		if slices.ContainsFunc(o.Writes[:i], func(x Write) bool { return string(x.Key) == string(wr.Key) }) {
			continue
		}
		list := listAdd
		if slices.ContainsFunc(o.Writes[i:], func(x Write) bool { return !x.Add && string(x.Key) == string(wr.Key) }) {
			list = listSet
		}
		fn(wr.Key, list, i)
	}
	for i, k := range o.Reads {
		if !slices.ContainsFunc(o.Reads[:i], func(x []byte) bool { return string(x) == string(k) }) {
			fn(k, listRead, len(o.Writes)+i)
		}
	}
}

// Prune drops the own transactions with OSeq <= watermark: the peer has
// applied them. See the package doc for which watermarks are safe.
func (w *Window) Prune(watermark uint64) {
	n := 0
	for n < len(w.txns) && w.oseqs[n] <= watermark {
		w.remove(w.base+uint64(n), true)
		w.txns[n] = nil
		n++
	}
	w.txns, w.oseqs, w.hlcs = w.txns[n:], w.oseqs[n:], w.hlcs[n:]
	w.base += uint64(n)
	if len(w.txns) == 0 {
		w.txns, w.oseqs, w.hlcs = nil, nil, nil // let the arrays go
	}
}

// TruncateFrom drops the own transactions at positions >= pos: a rollback
// removed them from the journal.
func (w *Window) TruncateFrom(pos uint64) {
	n := len(w.txns)
	for n > 0 && w.txns[n-1].Pos >= pos {
		n--
		w.remove(w.base+uint64(n), false)
		w.txns[n] = nil
	}
	w.txns, w.oseqs, w.hlcs = w.txns[:n], w.oseqs[:n], w.hlcs[:n]
}

// remove takes the transaction of sequence number seq out of every index.
// It is the oldest transaction in the window (front) or the newest
// (!front), so it is at that end of each of its lists.
func (w *Window) remove(seq uint64, front bool) {
	o := w.txns[seq-w.base]
	eachKey(o, func(key []byte, list, i int) {
		h := w.hash(key)
		ri := w.keys.find(h)
		if ri < 0 {
			panic(fmt.Sprintf("detect: window index broken: key %q of %v is not in the key table", key, o.ID))
		}
		r := w.keys.rec(ri)
		if !w.keys.pop(r, list, uint32(seq), front) {
			panic(fmt.Sprintf("detect: window index broken: %v is not at the end of list %d of key %q", o.ID, list, key))
		}
		if list != listRead {
			w.writes.delete(orderKey(key), treeID(seq, i))
		}
		if r.empty() {
			w.keys.remove(h)
		}
	})
	for i := range o.Ranges {
		if s, ok := rangeSpan(&o.Ranges[i]); ok {
			w.ranges.delete(itHandle{lo: s.lo, id: treeID(seq, i)})
		}
	}
}

// Check returns one Hit for every own transaction o in the window with
// o.ID.OSeq > t.PeerSeen that conflicts with t, with the first check that
// fires for the pair and its witness key (as Conflict(o, t) returns them,
// the key possibly t's slice of the same bytes), sorted by o.Pos ascending.
func (w *Window) Check(t *Txn) []Hit {
	wit := w.witnesses(t)
	defer clear(wit) // let the keys go
	if len(wit) == 0 {
		return nil
	}
	n := 1
	for i := 1; i < len(wit); i++ {
		if wit[i].off != wit[i-1].off {
			n++
		}
	}
	hits := make([]Hit, 0, n)
	for i := 0; i < len(wit); {
		var h Hit
		h, i = w.hit(wit, i)
		hits = append(hits, h)
	}
	return hits
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
	// The runs of indexes: the unseen ones, [u, n); those clock-before t,
	// [u, useHi); those clock-after t, [mirLo, n).
	u := sort.Search(n, func(i int) bool { return w.oseqs[i] > t.PeerSeen })
	if u == n {
		return nil
	}
	b := sort.Search(n, func(i int) bool { return !w.before(i, t) })
	a := b // own clocks strictly increase: at most one is neither before nor after t
	if a < n && !w.after(a, t) {
		a++
	}
	useHi, mirLo := max(u, b), max(u, a)

	// t's distinct keys, writes then reads, with their records, their
	// slots in the key table touched in a loop that does nothing else.
	in := w.in[:0]
	for i, wr := range t.Writes {
		if slices.ContainsFunc(t.Writes[:i], func(x Write) bool { return string(x.Key) == string(wr.Key) }) {
			continue
		}
		set := slices.ContainsFunc(t.Writes[i:], func(x Write) bool { return !x.Add && string(x.Key) == string(wr.Key) })
		in = append(in, tkey{key: wr.Key, h: w.hash(wr.Key), write: true, set: set})
	}
	for i, k := range t.Reads {
		if !slices.ContainsFunc(t.Reads[:i], func(x []byte) bool { return string(x) == string(k) }) {
			in = append(in, tkey{key: k, h: w.hash(k)})
		}
	}
	w.in = in
	// The lookups go in stages, each a loop over the keys that does
	// nothing else, so that the cache misses of one stage overlap rather
	// than come one by one: the slots, the records, the lists.
	w.sink += w.keys.touch(in)
	var x uint64
	for i := range in {
		in[i].rec = w.keys.find(in[i].h)
		if in[i].rec >= 0 {
			x += w.keys.rec(in[i].rec).ok.lo
		}
	}
	for i := range in {
		if in[i].rec >= 0 {
			r := w.keys.rec(in[i].rec)
			for j := range 3 { // lists of one are inline
				if r.state[j] == 2 {
					l := w.keys.lists[r.one[j]]
					x += uint64(l[len(l)/2])
				}
			}
		}
	}
	w.sink += x

	for i := range in {
		k := &in[i]
		if k.rec < 0 {
			continue
		}
		r := w.keys.rec(k.rec)
		switch {
		case r.mixed:
			w.mixed(r, k, u, useHi, mirLo)
		case !w.is(r, k.key):
			// Another key with the same hash.
		case k.write:
			// update: own Set/Delete of the key, and own Add unless t's
			// writes to it are Adds too; mirror use: own point reads.
			w.run(w.keys.list(r, listSet), u, n, CheckUpdate, k.key)
			if k.set {
				w.run(w.keys.list(r, listAdd), u, n, CheckUpdate, k.key)
			}
			w.run(w.keys.list(r, listRead), mirLo, n, CheckMirrorUse, k.key)
		case useHi > u:
			// use: own writes of a key t read.
			w.run(w.keys.list(r, listSet), u, useHi, CheckUse, k.key)
			w.run(w.keys.list(r, listAdd), u, useHi, CheckUse, k.key)
		}
	}
	// Phantoms. Tree queries take sequence numbers in (after, upTo].
	if mirLo < n && w.ranges.len() > 0 {
		// mirror use: own ranges holding a key t wrote, all at once.
		qs := w.qs[:0]
		for i := range in {
			if !in[i].write {
				break // the writes come first
			}
			ok := orderKey(in[i].key)
			qs = append(qs, span{ok, ok})
		}
		w.qs = qs
		w.batchOut = w.ranges.overlappingBatch(qs, w.base+uint64(mirLo)-1, w.base+uint64(n)-1, &w.batch, w.batchOut[:0])
		for _, f := range w.batchOut {
			off := uint32(f.id>>idxBits - w.base)
			k := in[f.q].key
			if len(k) > 15 && !contains(&w.txns[off].Ranges[f.id&(1<<idxBits-1)], k) {
				continue
			}
			w.wit = append(w.wit, witness{off, CheckMirrorUse, k})
		}
	}
	if useHi > u && w.writes.len() > 0 {
		// use: own writes inside a range t read.
		for i := range t.Ranges {
			q, ok := rangeSpan(&t.Ranges[i])
			if !ok {
				continue
			}
			w.found = w.writes.query(&q, w.base+uint64(u)-1, w.base+uint64(useHi)-1, w.found[:0])
			for _, id := range w.found {
				off := uint32(id>>idxBits - w.base)
				k := w.txns[off].Writes[id&(1<<idxBits-1)].Key
				if len(k) > 15 && !contains(&t.Ranges[i], k) {
					continue
				}
				w.wit = append(w.wit, witness{off, CheckUse, k})
			}
		}
	}
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

// run adds a witness (check, key) for each transaction of list l with an
// index in [lo, hi).
func (w *Window) run(l []uint32, lo, hi int, check Check, key []byte) {
	base := uint32(w.base)
	i := sort.Search(len(l), func(i int) bool { return int(l[i]-base) >= lo })
	for ; i < len(l) && int(l[i]-base) < hi; i++ {
		w.wit = append(w.wit, witness{l[i] - base, check, key})
	}
}

// mixed adds the witnesses of t's key k from mixed record r, confirming
// each transaction in its lists against its keys (the lists do not say
// which of the keys sharing the record a transaction touches).
func (w *Window) mixed(r *keyRec, k *tkey, u, useHi, mirLo int) {
	base := uint32(w.base)
	for i := range 3 {
		l := w.keys.list(r, i)
		i := sort.Search(len(l), func(i int) bool { return int(l[i]-base) >= u })
		for ; i < len(l); i++ {
			off := int(l[i] - base)
			writes, set, reads := roles(w.txns[off], k.key)
			switch {
			case k.write && writes && (set || k.set):
				w.wit = append(w.wit, witness{uint32(off), CheckUpdate, k.key})
			case k.write && reads && off >= mirLo:
				w.wit = append(w.wit, witness{uint32(off), CheckMirrorUse, k.key})
			case !k.write && writes && off < useHi:
				w.wit = append(w.wit, witness{uint32(off), CheckUse, k.key})
			}
		}
	}
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

// before reports whether own transaction i is clock-before t.
func (w *Window) before(i int, t *Txn) bool {
	return w.hlcs[i] < t.HLC || w.hlcs[i] == t.HLC && w.txns[i].ID.Origin < t.ID.Origin
}

// after reports whether own transaction i is clock-after t.
func (w *Window) after(i int, t *Txn) bool {
	return w.hlcs[i] > t.HLC || w.hlcs[i] == t.HLC && w.txns[i].ID.Origin > t.ID.Origin
}
