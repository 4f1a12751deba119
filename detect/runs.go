package detect

import (
	"encoding/binary"
	"math/bits"
)

// The window keeps the writes and ranges of its older own transactions in
// sorted runs (arrays, rebuilt now and then by a merge) and only those of
// the newer ones in the trees (pointTree, intervalTree), which a merge
// empties. A run is a third to a sixth of the size of a tree of the same
// entries (no slack in half-full nodes, no per-slot summaries) and a query
// reads a few adjacent cache lines of it after a search of a small fence
// array that stays in the caches, where a tree's search reads several
// scattered lines of each cold node. What a run gives up is the sequence
// pruning of the trees' subtrees: it skips nothing inside, so a query
// costs the entries inside its key span, live or not; the window skips a
// run whole when the run asked for lies after everything in it (the common
// case of a peer that has seen all but the newest transactions).

// runBlock is the number of entries per fence key (and per record of the
// range run, rangerun.go).
const runBlock = 16

// fences is a two-level index of a sorted array of order keys a: f1 holds
// a[i*runBlock] (as okeys, compressed as the runs are), f2 holds
// f1[i*runBlock]. f2 is small enough to stay in the caches (every 256th
// key: ~28 KB for 450,000 keys), so a search reads two blocks of 16 order
// keys (2 to 4 cache lines each) out of them, each block touched in full
// in a loop that does nothing else: about two memory latencies, where a
// plain binary search of a run of 450,000 waits for ~8 misses in a row.
type fences struct {
	f1   okeys
	f2   []okey
	sink uint64 // what the touches read, so that the reads stay
}

// search returns the index of the first key of c, the keys of the fences,
// above k (strict) or at least k (!strict), or c.len().
func (f *fences) search(c *okeys, k okey, strict bool) int {
	b := firstPast(f.f2, 0, len(f.f2), k, strict)
	f.sink += f.f1.touchBlock(b)
	b = f.f1.firstPast(max(0, (b-1)*runBlock), min(f.f1.len(), b*runBlock), k, strict)
	f.sink += c.touchBlock(b)
	return c.firstPast(max(0, (b-1)*runBlock), min(c.len(), b*runBlock), k, strict)
}

// runSearch is one search of a sorted run by its fences (fences.search),
// done in stages with other searches by searchAll.
type runSearch struct {
	f      *fences
	p      *okeys    // the run's order keys
	rr     *rangeRun // or the range run's lower bounds (strict: rangeRun.search)
	k      okey
	strict bool
	i      int // the answer (in between: the block of the level searched)
}

// searchAll does every search of ss, a level of the fences at a time for
// all of them: the misses of the searches at one level overlap, where
// searches one after the other would wait for two or three misses each.
// It returns what the touches read (see touchBlock). Window.witnesses
// calls its stages itself, between the stages of its other lookups.
func searchAll(ss []runSearch) uint64 {
	return searchFences(ss) + searchFirstLevel(ss) + searchRuns(ss)
}

// searchFences is the first stage of searchAll: the search of the second
// level of the fences (small: in the caches), and a touch of the block of
// the first level each search goes on in.
func searchFences(ss []runSearch) uint64 {
	var x uint64
	for j := range ss {
		s := &ss[j]
		s.i = firstPast(s.f.f2, 0, len(s.f.f2), s.k, s.strict)
		x += s.f.f1.touchBlock(s.i)
	}
	return x
}

// searchFirstLevel is the second stage of searchAll: the search of the
// block of the first level of the fences, and a touch of the block of the
// run each search ends in.
func searchFirstLevel(ss []runSearch) uint64 {
	var x uint64
	for j := range ss {
		s := &ss[j]
		s.i = s.f.f1.firstPast(max(0, (s.i-1)*runBlock), min(s.f.f1.len(), s.i*runBlock), s.k, s.strict)
		if s.rr != nil {
			x += s.rr.touchRecord(s.i - 1)
		} else {
			x += s.p.touchBlock(s.i)
		}
	}
	return x
}

// searchRuns is the last stage of searchAll: the search of the block of the
// run, which leaves the answer in s.i.
func searchRuns(ss []runSearch) uint64 {
	for j := range ss {
		s := &ss[j]
		if s.rr != nil {
			s.i = s.rr.firstPastIn(s.i-1, s.k)
		} else {
			s.i = s.p.firstPast(max(0, (s.i-1)*runBlock), min(s.p.len(), s.i*runBlock), s.k, s.strict)
		}
	}
	return 0
}

// firstPast returns the first index in [lo, hi) of a key of a above k
// (strict) or at least k, or hi: a binary search without the calls of
// sort.Search, which a small window pays for.
func firstPast(a []okey, lo, hi int, k okey, strict bool) int {
	base, n := lo, hi-lo
	if strict { // the first above k
		for n > 1 {
			half := n >> 1
			base += half & int(k.lessBit(a[base+half])-1)
			n -= half
		}
		if n == 1 {
			base += int(1 - k.lessBit(a[base]))
		}
		return base
	}
	for n > 1 { // the first not below k
		half := n >> 1
		base += half & -int(a[base+half].lessBit(k))
		n -= half
	}
	if n == 1 {
		base += int(a[base].lessBit(k))
	}
	return base
}

// okeys is an array of order keys kept in about half the bytes: the low
// half of each key, and the high halves once each in a row (his). The keys
// of a run share their first 8 bytes in long stretches (a table prefix),
// so a block of runBlock keys names the high half of its first key by its
// index in his (hb) and marks the keys whose high half differs from the
// one before (hm; at counts the marks). About 8.4 bytes a key where 16
// whole. The keys need not be sorted: a key whose high half differs from
// the one before costs 8 bytes more.
type okeys struct {
	lo  []uint64 // by index, the low half of key i
	his []uint64 // the high halves, each once per stretch of keys sharing it
	hb  []uint32 // by block, the index in his of its first key's high half
	hm  []uint16 // by block, bit j: key j's high half differs from key j-1's
}

// makeOkeys returns an empty array with room for n keys.
func makeOkeys(n int) okeys {
	nb := (n + runBlock - 1) / runBlock
	return okeys{lo: make([]uint64, 0, n), hb: make([]uint32, 0, nb), hm: make([]uint16, 0, nb)}
}

func (c *okeys) len() int { return len(c.lo) }

// at returns key i.
func (c *okeys) at(i int) okey {
	b, j := i/runBlock, i%runBlock
	m := c.hm[b] & uint16(uint32(2)<<j-1)
	return okey{hi: c.his[int(c.hb[b])+bits.OnesCount16(m)], lo: c.lo[i]}
}

// touchBlock reads the cache lines of the keys where a search looks for
// the answer over b (in ((b-1)*runBlock, b*runBlock]), and returns what it
// read (to be kept somewhere, so that the reads stay): the loads are
// independent, so their misses overlap, where the binary search after them
// would wait for each.
func (c *okeys) touchBlock(b int) uint64 {
	lo, hi := max(0, (b-1)*runBlock), min(len(c.lo), b*runBlock)
	if lo >= hi {
		return 0
	}
	x := c.his[c.hb[lo/runBlock]] + uint64(c.hm[lo/runBlock])
	for i := lo; i < hi; i += 8 {
		x += c.lo[i]
	}
	return x
}

// firstPast is firstPast of the keys (sorted between lo and hi).
func (c *okeys) firstPast(lo, hi int, k okey, strict bool) int {
	base, n := lo, hi-lo
	if strict { // the first above k
		for n > 1 {
			half := n >> 1
			base += half & int(k.lessBit(c.at(base+half))-1)
			n -= half
		}
		if n == 1 {
			base += int(1 - k.lessBit(c.at(base)))
		}
		return base
	}
	for n > 1 { // the first not below k
		half := n >> 1
		base += half & -int(c.at(base+half).lessBit(k))
		n -= half
	}
	if n == 1 {
		base += int(c.at(base).lessBit(k))
	}
	return base
}

// add appends key k.
func (c *okeys) add(k okey) {
	i := len(c.lo)
	switch {
	case i%runBlock == 0:
		if len(c.his) == 0 || c.his[len(c.his)-1] != k.hi {
			c.his = append(c.his, k.hi)
		}
		c.hb, c.hm = append(c.hb, uint32(len(c.his)-1)), append(c.hm, 0)
	case c.his[len(c.his)-1] != k.hi:
		c.his = append(c.his, k.hi)
		c.hm[len(c.hm)-1] |= 1 << (i % runBlock)
	}
	c.lo = append(c.lo, k.lo)
}

// fences returns the fences of the keys, which are sorted.
func (c *okeys) fences() fences {
	var f fences
	for b := range c.hb {
		f.f1.add(c.at(b * runBlock))
	}
	for i := 0; i < f.f1.len(); i += runBlock {
		f.f2 = append(f.f2, f.f1.at(i))
	}
	return f
}

// all returns the keys (tests).
func (c *okeys) all() []okey {
	a := make([]okey, c.len())
	for i := range a {
		a[i] = c.at(i)
	}
	return a
}

// pointRun is a sorted run of points (order key, sequence number, index
// of the key in the transaction's Writes), in (order key, sequence number)
// order: see pointTree for what the points are.
//
// It keeps the order keys as okeys, the sequence numbers in 32 bits,
// relative to the first sequence number of the window when the run was
// built (the window holds fewer than 2^32 transactions), and the index in
// 8 bits (255: not kept). About 13.5 bytes a point, where 24 bytes with
// whole order keys and tree ids. What it answers are tree ids, with the
// index idxNone where it kept none.
type pointRun struct {
	okeys         // by index, the order key of point i
	seq   runSeqs // by index, the sequence number of point i, less seq0
	idx   []uint8 // by index, the index of the key of point i, or runNoIdx
	seq0  uint64
	fence fences // of the order keys
}

// okAt returns the order key of point i.
func (r *pointRun) okAt(i int) okey { return r.at(i) }

// add appends a point (order key k, not below the last one's, sequence
// number seq0 plus seq, index idx) while the run is built.
func (r *pointRun) add(k okey, seq uint32, idx uint8) {
	r.okeys.add(k)
	r.seq.add(seq)
	r.idx = append(r.idx, idx)
}

// finish builds the fences of a run built by add.
func (r *pointRun) finish() { r.fence = r.fences() }

// idxNone is the index in a tree id from a run that kept none: the window
// takes fewer keys and ranges in a transaction (see Window.Add).
const idxNone = 1<<idxBits - 1

// runNoIdx is the index a point run keeps of a key at index 255 or later.
const runNoIdx = 255

func runIdx(id uint64) uint8 { return uint8(min(id&(1<<idxBits-1), runNoIdx)) }

func (r *pointRun) len() int { return r.seq.len() }

// seqAt returns the sequence number of point i.
func (r *pointRun) seqAt(i int) uint64 { return r.seq0 + uint64(r.seq.at(i)) }

// buildPointRun returns the run of the points given in order, with
// sequence numbers of seq0 plus seq.
func buildPointRun(ok []okey, seq []uint32, idx []uint8, seq0 uint64) pointRun {
	r := pointRun{seq0: seq0}
	for i := range ok {
		r.add(ok[i], seq[i], idx[i])
	}
	r.finish()
	return r
}

// idAt returns the tree id of point i.
func (r *pointRun) idAt(i int) uint64 {
	if x := r.idx[i]; x != runNoIdx {
		return treeID(r.seqAt(i), int(x))
	}
	return treeID(r.seqAt(i), idxNone)
}

// firstAtLeast returns the index of the first point whose order key is at
// least k.
func (r *pointRun) firstAtLeast(k okey) int {
	return r.fence.search(&r.okeys, k, false)
}

// query appends to out the ids of the points with an order key in q and a
// sequence number in (after, upTo].
func (r *pointRun) query(q *span, after, upTo uint64, out []uint64) []uint64 {
	if r.seq.len() == 0 || q.hi.less(q.lo) {
		return out
	}
	return r.queryFrom(r.firstAtLeast(q.lo), q, after, upTo, out)
}

// queryFrom is query given i, the index of the first point whose order key
// is at least q.lo.
func (r *pointRun) queryFrom(i int, q *span, after, upTo uint64, out []uint64) []uint64 {
	for ; i < len(r.lo) && !q.hi.less(r.okAt(i)); i++ {
		if s := r.seqAt(i); s > after && s <= upTo {
			out = append(out, r.idAt(i))
		}
	}
	return out
}

// touchFrom reads the cache lines queryFrom(i, ...) reads first (see
// touchBlock).
func (r *pointRun) touchFrom(i int) uint64 {
	if i >= len(r.lo) {
		return 0
	}
	return r.lo[i] + uint64(r.seq.at(i)) + uint64(r.idx[i])
}

// mergePoints returns the run of the points of r whose sequence numbers
// keep accepts and of the points of t, which it empties. Every point kept
// has a sequence number in [seq0, seq0+2^32). With noIdx (tests) the
// points of t keep no index.
func mergePoints(r *pointRun, t *pointTree, keep func(seq uint64) bool, seq0 uint64, noIdx bool) pointRun {
	n := 0
	for i := range r.seq.len() {
		if keep(r.seqAt(i)) {
			n++
		}
	}
	n += t.len()
	if n == 0 {
		*t = pointTree{}
		return pointRun{}
	}
	out := pointRun{okeys: makeOkeys(n), seq: makeRunSeqs(n), idx: make([]uint8, 0, n), seq0: seq0}
	i := 0
	add := func(k okey, x uint64) {
		s := x >> idxBits
		for ; i < r.seq.len(); i++ {
			rk, rs := r.okAt(i), r.seqAt(i)
			if !rk.less(k) && (rk != k || rs >= s) {
				break
			}
			if keep(rs) {
				out.add(rk, uint32(rs-seq0), r.idx[i])
			}
		}
		j := runIdx(x)
		if noIdx {
			j = runNoIdx
		}
		out.add(k, uint32(s-seq0), j)
	}
	t.each(add)
	for ; i < r.seq.len(); i++ {
		if rs := r.seqAt(i); keep(rs) {
			out.add(r.okAt(i), uint32(rs-seq0), r.idx[i])
		}
	}
	*t = pointTree{}
	out.finish()
	return out
}

// each calls fn on every point of t in order.
func (t *pointTree) each(fn func(ok okey, id uint64)) {
	if t.root != nil {
		t.root.each(t.height, fn)
	}
}

func (n *ptNode) each(level int, fn func(ok okey, id uint64)) {
	for i := 0; i < n.n; i++ {
		if level == 0 {
			fn(n.ok[i], n.id[i])
		} else {
			n.inner.child[i].each(level-1, fn)
		}
	}
}

// each calls fn on every span of t in (lo, id) order.
func (t *intervalTree[V]) each(fn func(lo, hi okey, id uint64)) {
	if t.root != nil {
		t.root.each(t.height, fn)
	}
}

func (n *itNode[V]) each(level int, fn func(lo, hi okey, id uint64)) {
	for i := 0; i < n.n; i++ {
		if level == 0 {
			fn(n.lo[i], n.hi[i], n.id[i])
		} else {
			n.child[i].each(level-1, fn)
		}
	}
}

// runSeqs is the array of the sequence numbers of a run, less the run's
// seq0: in 3 bytes each while they are below 2^24 (a window of fewer than
// 16 million transactions), else in 4.
type runSeqs struct {
	b    []byte
	n    int
	wide bool // 4 bytes each
}

func makeRunSeqs(n int) runSeqs { return runSeqs{b: make([]byte, 0, 3*n)} }

func (s *runSeqs) len() int { return s.n }

// at returns sequence number i.
func (s *runSeqs) at(i int) uint32 {
	if s.wide {
		return binary.LittleEndian.Uint32(s.b[4*i:])
	}
	b := s.b[3*i : 3*i+3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
}

// add appends sequence number x.
func (s *runSeqs) add(x uint32) {
	if x >= 1<<24 && !s.wide {
		w := make([]byte, 0, 4*cap(s.b)/3+4)
		for i := range s.n {
			w = binary.LittleEndian.AppendUint32(w, s.at(i))
		}
		s.b, s.wide = w, true
	}
	if s.wide {
		s.b = binary.LittleEndian.AppendUint32(s.b, x)
	} else {
		s.b = append(s.b, byte(x), byte(x>>8), byte(x>>16))
	}
	s.n++
}

// all returns the sequence numbers (tests).
func (s *runSeqs) all() []uint32 {
	a := make([]uint32, s.n)
	for i := range a {
		a[i] = s.at(i)
	}
	return a
}

// bitset is a set of small integers.
type bitset struct{ w []uint64 }

// reset empties the set and makes room for 0 to n-1.
func (b *bitset) reset(n int) {
	k := (n + 63) / 64
	if cap(b.w) >= k && cap(b.w) <= 2*k {
		b.w = b.w[:k]
		clear(b.w)
		return
	}
	b.w = make([]uint64, k)
}

func (b *bitset) set(i int)      { b.w[i/64] |= 1 << (i % 64) }
func (b *bitset) has(i int) bool { return b.w[i/64]&(1<<(i%64)) != 0 }
