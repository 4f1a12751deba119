package detect

import (
	"encoding/binary"
	"math/bits"
)

// rangeRun is a sorted run of spans [lo, hi] with sequence numbers (see
// intervalTree), in (lo, sequence number) order, in records of runBlock
// spans: one record holds everything a stab reads of its block (the lower
// bounds the search ends in, the prefix maximum the walk back tests, the
// upper bounds and sequence numbers the scan tests), so that a stab reads
// one stretch of adjacent cache lines (one memory latency, one page) after
// the fences, where arrays per field cost a line and a page each: ~10
// lines in as many places per stab. (On this project's VM a miss that
// also misses the TLB costs 200-400 ns; the searches of the range run
// were a sixth of Check at window 100,000.)
//
// A record (rrSize bytes, little-endian):
//
//	[0, 4)     hb of the lower bounds: the index in loHis of the high half
//	           of the block's first lower bound (as okeys keeps them)
//	[4, 8)     hb of the upper bounds, in hiHis
//	[8, 10)    hm of the lower bounds: bit j, span j's high half differs
//	           from span j-1's
//	[10, 12)   hm of the upper bounds
//	[16, 32)   the largest upper bound of the spans of the blocks before
//	           this one (prefix maximum; zero in block 0): high half, low
//	           half. Here, not in the block's own record, so that a stab
//	           decides from the record it has whether to walk back to the
//	           one before.
//	[32, 160)  the low halves of the lower bounds
//	[160, 288) the low halves of the upper bounds
//	[288, ...) the sequence numbers less seq0, in 3 bytes each (4 once one
//	           is 2^24 or more: wide)
//
// About 21 bytes a span, as the arrays were. A segment tree of the largest
// upper bound of the blocks under each node (the inner nodes only: a leaf
// is a block, whose spans a scan tests anyway) finds the blocks that reach
// a key when the walk back goes past a few blocks.
type rangeRun struct {
	rec   []byte
	n     int
	wide  bool
	loHis []uint64 // the high halves of the lower bounds, once per stretch
	hiHis []uint64 // those of the upper bounds
	seq0  uint64
	fence fences // of the lower bounds
	// seg.at(j), j from 1 to leaves-1, is the largest upper bound in the
	// blocks under node j: node 1 is the root, node j has children 2j and
	// 2j+1, block b is leaf leaves+b.
	seg    okeys
	leaves int
}

// The offsets of the fields of a record.
const (
	rrHB  = 0
	rrHM  = 8
	rrPM  = 16
	rrLo  = 32
	rrHi  = rrLo + 8*runBlock
	rrSeq = rrHi + 8*runBlock
)

// rrSize returns the size of a record.
func rrSize(wide bool) int {
	if wide {
		return rrSeq + 4*runBlock
	}
	return rrSeq + 3*runBlock
}

// makeRangeRun returns an empty run with room for n spans, of sequence
// numbers from seq0 on.
func makeRangeRun(n int, seq0 uint64) rangeRun {
	return rangeRun{rec: make([]byte, 0, (n+runBlock-1)/runBlock*rrSize(false)), seq0: seq0}
}

func (r *rangeRun) len() int { return r.n }

// record returns the record of block b.
func (r *rangeRun) record(b int) []byte {
	z := rrSize(r.wide)
	return r.rec[b*z : b*z+z : b*z+z]
}

// loIn returns the lower bound of span j of record rec.
func (r *rangeRun) loIn(rec []byte, j int) okey {
	hb, hm := binary.LittleEndian.Uint32(rec[rrHB:]), binary.LittleEndian.Uint16(rec[rrHM:])
	m := hm & uint16(uint32(2)<<j-1)
	return okey{hi: r.loHis[int(hb)+bits.OnesCount16(m)], lo: binary.LittleEndian.Uint64(rec[rrLo+8*j:])}
}

// hiIn returns the upper bound of span j of record rec.
func (r *rangeRun) hiIn(rec []byte, j int) okey {
	hb, hm := binary.LittleEndian.Uint32(rec[rrHB+4:]), binary.LittleEndian.Uint16(rec[rrHM+2:])
	m := hm & uint16(uint32(2)<<j-1)
	return okey{hi: r.hiHis[int(hb)+bits.OnesCount16(m)], lo: binary.LittleEndian.Uint64(rec[rrHi+8*j:])}
}

// seqIn returns the sequence number, less seq0, of span j of record rec.
func (r *rangeRun) seqIn(rec []byte, j int) uint32 {
	if r.wide {
		return binary.LittleEndian.Uint32(rec[rrSeq+4*j:])
	}
	b := rec[rrSeq+3*j : rrSeq+3*j+3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
}

// pmIn returns the prefix maximum of record rec: the largest upper bound
// of the spans of the blocks before it.
func pmIn(rec []byte) okey {
	return okey{hi: binary.LittleEndian.Uint64(rec[rrPM:]), lo: binary.LittleEndian.Uint64(rec[rrPM+8:])}
}

// loAt, hiAt and seqAt return the bounds and the sequence number of span i.
func (r *rangeRun) loAt(i int) okey { return r.loIn(r.record(i/runBlock), i%runBlock) }
func (r *rangeRun) hiAt(i int) okey { return r.hiIn(r.record(i/runBlock), i%runBlock) }
func (r *rangeRun) seqAt(i int) uint64 {
	return r.seq0 + uint64(r.seqIn(r.record(i/runBlock), i%runBlock))
}

// buildRangeRun returns the run of the spans given in order, with
// sequence numbers of seq0 plus seq.
func buildRangeRun(lo, hi []okey, seq []uint32, seq0 uint64) rangeRun {
	r := makeRangeRun(len(lo), seq0)
	for i := range lo {
		r.add(lo[i], hi[i], seq[i])
	}
	r.finish()
	return r
}

// add appends a span [l, h] (l not below the last one's lo) of sequence
// number seq0 plus seq while the run is built.
func (r *rangeRun) add(l, h okey, seq uint32) {
	if seq >= 1<<24 && !r.wide {
		r.widen()
	}
	z, j := rrSize(r.wide), r.n%runBlock
	if j == 0 {
		r.rec = append(r.rec, make([]byte, z)...)
	}
	rec := r.rec[len(r.rec)-z:]
	addHalf(&r.loHis, rec[rrHB:], rec[rrHM:], j, l.hi)
	addHalf(&r.hiHis, rec[rrHB+4:], rec[rrHM+2:], j, h.hi)
	binary.LittleEndian.PutUint64(rec[rrLo+8*j:], l.lo)
	binary.LittleEndian.PutUint64(rec[rrHi+8*j:], h.lo)
	if r.wide {
		binary.LittleEndian.PutUint32(rec[rrSeq+4*j:], seq)
	} else {
		rec[rrSeq+3*j], rec[rrSeq+3*j+1], rec[rrSeq+3*j+2] = byte(seq), byte(seq>>8), byte(seq>>16)
	}
	r.n++
}

// addHalf records high half x of the bound of span j of a record, whose
// hb and hm are at hb and hm, in his (see okeys.add).
func addHalf(his *[]uint64, hb, hm []byte, j int, x uint64) {
	switch {
	case j == 0:
		if len(*his) == 0 || (*his)[len(*his)-1] != x {
			*his = append(*his, x)
		}
		binary.LittleEndian.PutUint32(hb, uint32(len(*his)-1))
	case (*his)[len(*his)-1] != x:
		*his = append(*his, x)
		binary.LittleEndian.PutUint16(hm, binary.LittleEndian.Uint16(hm)|1<<j)
	}
}

// widen makes the records keep sequence numbers in 4 bytes.
func (r *rangeRun) widen() {
	blocks := (r.n + runBlock - 1) / runBlock
	old, z := r.rec, rrSize(true)
	r.rec = make([]byte, blocks*z, cap(old)/rrSize(false)*z+z)
	for b := range blocks {
		o, w := old[b*rrSize(false):], r.rec[b*z:]
		copy(w[:rrSeq], o[:rrSeq])
		for j := range runBlock {
			binary.LittleEndian.PutUint32(w[rrSeq+4*j:], r.seqIn(o, j))
		}
	}
	r.wide = true
}

// finish builds the fences, the prefix maxima and the segment tree of a
// run built by add.
func (r *rangeRun) finish() {
	blocks := (r.n + runBlock - 1) / runBlock
	r.leaves = 1
	for r.leaves < blocks {
		r.leaves *= 2
	}
	seg := make([]okey, 2*r.leaves)
	var pm okey
	for b := range blocks {
		rec := r.record(b)
		for j := range min(runBlock, r.n-b*runBlock) {
			if h := r.hiIn(rec, j); seg[r.leaves+b].less(h) {
				seg[r.leaves+b] = h
			}
		}
		binary.LittleEndian.PutUint64(rec[rrPM:], pm.hi)
		binary.LittleEndian.PutUint64(rec[rrPM+8:], pm.lo)
		if pm.less(seg[r.leaves+b]) {
			pm = seg[r.leaves+b]
		}
		r.fence.f1.add(r.loIn(rec, 0))
	}
	for i := 0; i < r.fence.f1.len(); i += runBlock {
		r.fence.f2 = append(r.fence.f2, r.fence.f1.at(i))
	}
	for j := r.leaves - 1; j > 0; j-- {
		seg[j] = seg[2*j]
		if seg[j].less(seg[2*j+1]) {
			seg[j] = seg[2*j+1]
		}
	}
	r.seg = makeOkeys(r.leaves)
	for _, k := range seg[:r.leaves] {
		r.seg.add(k)
	}
}

// search returns the number of spans starting at or before k: fences.search
// over the lower bounds.
func (r *rangeRun) search(k okey) int {
	f := &r.fence
	b := firstPast(f.f2, 0, len(f.f2), k, true)
	f.sink += f.f1.touchBlock(b)
	b = f.f1.firstPast(max(0, (b-1)*runBlock), min(f.f1.len(), b*runBlock), k, true)
	f.sink += r.touchRecord(b - 1)
	return r.firstPastIn(b-1, k)
}

// touchRecord reads the cache lines of the record of block b (none for b
// -1) and returns what it read (see touchBlock).
func (r *rangeRun) touchRecord(b int) uint64 {
	if b < 0 {
		return 0
	}
	rec := r.record(b)
	var x uint64
	for o := 0; o < len(rec); o += 64 {
		x += uint64(rec[o])
	}
	return x + uint64(rec[len(rec)-1])
}

// firstPastIn returns the index of the first span of block b (or of the
// run, for b -1) whose lower bound is above k, or the index after the
// block: where the search of the fences ends.
func (r *rangeRun) firstPastIn(b int, k okey) int {
	if b < 0 {
		return 0
	}
	rec := r.record(b)
	base, n := 0, min(runBlock, r.n-b*runBlock)
	for n > 1 {
		half := n >> 1
		base += half & int(k.lessBit(r.loIn(rec, base+half))-1)
		n -= half
	}
	if n == 1 {
		base += int(1 - k.lessBit(r.loIn(rec, base)))
	}
	return b*runBlock + base
}

// stab appends to out the ids of the spans holding k with a sequence number
// in (after, upTo].
func (r *rangeRun) stab(k okey, after, upTo uint64, out []uint64) []uint64 {
	if r.n == 0 {
		return out
	}
	return r.stabFrom(r.search(k), k, after, upTo, out)
}

// stabFrom is stab given p, the number of spans starting at or before k.
func (r *rangeRun) stabFrom(p int, k okey, after, upTo uint64, out []uint64) []uint64 {
	// The block of span p-1, then back from it while a span before may
	// reach k: one or two blocks for short spans. Past a few, a wide span
	// earlier on keeps the prefix maximum up, and the segment tree finds
	// the blocks that reach k among the rest.
	if p == 0 {
		return out
	}
	for b, steps := (p-1)/runBlock, 0; ; b, steps = b-1, steps+1 {
		if steps == 4 {
			return r.blocks(1, 0, r.leaves, (b+1)*runBlock, k, after, upTo, out)
		}
		out = r.scan(b, p, k, after, upTo, out)
		if b == 0 || pmIn(r.record(b)).less(k) {
			return out
		}
	}
}

// scan appends the ids of the spans of block b before p that hold k with a
// sequence number in (after, upTo].
func (r *rangeRun) scan(b, p int, k okey, after, upTo uint64, out []uint64) []uint64 {
	rec := r.record(b)
	for j := range min(p, r.n, (b+1)*runBlock) - b*runBlock {
		if s := r.seq0 + uint64(r.seqIn(rec, j)); s > after && s <= upTo && !r.hiIn(rec, j).less(k) {
			out = append(out, treeID(s, idxNone))
		}
	}
	return out
}

// blocks is stab over the blocks of node j, which covers blocks [from,
// from+width), for the spans before p.
func (r *rangeRun) blocks(j, from, width, p int, k okey, after, upTo uint64, out []uint64) []uint64 {
	if from*runBlock >= p {
		return out
	}
	if width == 1 {
		return r.scan(from, p, k, after, upTo, out)
	}
	if r.seg.at(j).less(k) {
		return out
	}
	out = r.blocks(2*j, from, width/2, p, k, after, upTo, out)
	return r.blocks(2*j+1, from+width/2, width/2, p, k, after, upTo, out)
}

// mergeRanges returns the run of the spans of r whose sequence numbers
// keep accepts and of the spans of t, which it empties. Every span kept
// has a sequence number in [seq0, seq0+2^32).
func mergeRanges(r *rangeRun, t *intervalTree[struct{}], keep func(seq uint64) bool, seq0 uint64) rangeRun {
	n := t.len()
	for i := range r.n {
		if keep(r.seqAt(i)) {
			n++
		}
	}
	if n == 0 {
		*t = intervalTree[struct{}]{}
		return rangeRun{}
	}
	out := makeRangeRun(n, seq0)
	i := 0
	add := func(l, h okey, x uint64) {
		s := x >> idxBits
		for ; i < r.n; i++ {
			rl, rs := r.loAt(i), r.seqAt(i)
			if !rl.less(l) && (rl != l || rs >= s) {
				break
			}
			if keep(rs) {
				out.add(rl, r.hiAt(i), uint32(rs-seq0))
			}
		}
		out.add(l, h, uint32(s-seq0))
	}
	t.each(add)
	for ; i < r.n; i++ {
		if rs := r.seqAt(i); keep(rs) {
			out.add(r.loAt(i), r.hiAt(i), uint32(rs-seq0))
		}
	}
	*t = intervalTree[struct{}]{}
	out.finish()
	return out
}
