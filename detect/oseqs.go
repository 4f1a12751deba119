package detect

import "math/bits"

// oseqRuns holds the OSeqs of the window's transactions as runs of
// consecutive ones: a transaction of sequence number s in run r has OSeq
// oseq[r] + s - seq[r]. One executor numbers own transactions 1, 2, 3, ...
// (a rollback leaves a gap: the OSeqs of the transactions it removed are
// not reused), so a window holds one run, or a few, where an array of the
// OSeqs took 8 bytes a transaction. A window whose OSeqs all had gaps
// would take 16 bytes a transaction; it is not what the engine does.
type oseqRuns struct {
	seq  []uint64 // the sequence number of the first transaction of each run
	oseq []uint64 // its OSeq
	last uint64   // the OSeq of the newest transaction (if any runs)
}

// add records OSeq x of sequence number s, the one after the newest (or
// any, in an empty window).
func (o *oseqRuns) add(s, x uint64) {
	if n := len(o.seq); n == 0 || x != o.last+1 {
		o.seq, o.oseq = append(o.seq, s), append(o.oseq, x)
	}
	o.last = x
}

// at returns the OSeq of sequence number s, which is in the window.
func (o *oseqRuns) at(s uint64) uint64 {
	r := o.run(s)
	return o.oseq[r] + s - o.seq[r]
}

// run returns the run of sequence number s, at or after the first's start.
func (o *oseqRuns) run(s uint64) int {
	return firstPastU64(o.seq, s) - 1 // the run before the first starting after s
}

// firstPastU64 returns the index of the first element of a (sorted) above
// x, or len(a).
func firstPastU64(a []uint64, x uint64) int {
	// A binary search whose steps choose the next half without a branch
	// (see okey.lessBit).
	base, n := 0, len(a)
	for n > 1 {
		half := n >> 1
		_, past := bits.Sub64(x, a[base+half], 0)
		base += half & int(past-1)
		n -= half
	}
	if n == 1 {
		_, past := bits.Sub64(x, a[base], 0)
		base += int(1 - past)
	}
	return base
}

// dropBefore drops the runs that end before sequence number base, the
// first one left in the window.
func (o *oseqRuns) dropBefore(base uint64) {
	k := 0
	for k+1 < len(o.seq) && o.seq[k+1] <= base {
		k++
	}
	o.seq, o.oseq = o.seq[k:], o.oseq[k:]
}

// dropAfter drops the runs that start after sequence number last, the
// newest one left in the window, which must hold one at least.
func (o *oseqRuns) dropAfter(last uint64) {
	r := o.run(last)
	o.seq, o.oseq = o.seq[:r+1], o.oseq[:r+1]
	o.last = o.oseq[r] + last - o.seq[r]
}

// reset empties o.
func (o *oseqRuns) reset() { *o = oseqRuns{} }

// firstAbove returns the first sequence number in [base, end) whose OSeq
// is above x, or end.
func (o *oseqRuns) firstAbove(base, end, x uint64) uint64 {
	// The first run starting with an OSeq above x: the answer is its start
	// or in the run before it.
	lo := firstPastU64(o.oseq, x)
	s := end
	if lo < len(o.seq) {
		s = o.seq[lo]
	}
	if lo > 0 {
		// OSeq x+1 is in run lo-1 if it is not past the run's end.
		if d, start := x-o.oseq[lo-1], o.seq[lo-1]; d < s-start {
			s = start + d + 1
		}
	}
	return min(max(s, base), end)
}
