package detect

import (
	"math"
	"math/bits"
)

// hlcBlocks holds the HLCs of the window's transactions (strictly
// increasing) in 32 bits each: by block of every sequence numbers (block b
// holds those of b*every to b*every+every-1), the HLC of the first
// transaction added to the block (base), and by transaction its HLC less
// its block's base. A transaction more than 2^32 past its block's base (an
// HLC's 2^32 is 65 s: own transactions that far apart inside a block of
// 64) keeps its HLC in a map instead. A search of the HLCs searches the
// bases (a window of 100,000 has ~1,600: in the caches), then the 32-bit
// offsets of one block (4 cache lines, touched at once: one miss of
// latency). 4.1 bytes a transaction, where an array of the HLCs and its
// samples took 8.1.
type hlcBlocks struct {
	base  []uint64          // by block, from block first on
	first uint64            // the block of base[0]
	d     []uint32          // by index in the window: the HLC less its block's base, or hlcWide
	wide  map[uint64]uint64 // by sequence number: the HLCs of d hlcWide
	every uint64            // block size: sampleEvery (tests set less)
	limit uint64            // an offset of at least limit goes to wide: hlcWide (tests set less)
	sink  uint64            // what the touches of firstAbove read, so that the reads stay
}

const hlcWide = math.MaxUint32

// sampleEvery is the size of the blocks of hlcBlocks, in sequence numbers.
const sampleEvery = 64

func newHLCBlocks() hlcBlocks { return hlcBlocks{every: sampleEvery, limit: hlcWide} }

// add records HLC x of sequence number seq, the one after the newest (or
// any, in an empty window).
func (h *hlcBlocks) add(seq, x uint64) {
	b := seq / h.every
	if len(h.base) == 0 {
		h.first = b
	}
	if b >= h.first+uint64(len(h.base)) {
		h.base = append(h.base, x)
	}
	if d := x - h.base[b-h.first]; d < h.limit {
		h.d = append(h.d, uint32(d))
		return
	}
	if h.wide == nil {
		h.wide = make(map[uint64]uint64)
	}
	h.wide[seq] = x
	h.d = append(h.d, hlcWide)
}

// at returns the HLC of index i in the window, of sequence number seq.
func (h *hlcBlocks) at(i int, seq uint64) uint64 {
	if d := h.d[i]; d != hlcWide {
		return h.base[seq/h.every-h.first] + uint64(d)
	}
	return h.wide[seq]
}

// dropFront drops the first n transactions of the window, of sequence
// numbers from base.
func (h *hlcBlocks) dropFront(n int, base uint64) {
	if len(h.wide) > 0 {
		for i := range n {
			if h.d[i] == hlcWide {
				delete(h.wide, base+uint64(i))
			}
		}
	}
	h.d = h.d[n:]
	if len(h.d) == 0 {
		h.reset()
		return
	}
	k := (base+uint64(n))/h.every - h.first // the block of the new first transaction
	h.base, h.first = h.base[k:], h.first+k
}

// dropBack keeps the first n transactions of the window, of sequence
// numbers from base.
func (h *hlcBlocks) dropBack(n int, base uint64) {
	if len(h.wide) > 0 {
		for i := n; i < len(h.d); i++ {
			if h.d[i] == hlcWide {
				delete(h.wide, base+uint64(i))
			}
		}
	}
	h.d = h.d[:n]
	if n == 0 {
		h.reset()
		return
	}
	h.base = h.base[:(base+uint64(n)-1)/h.every-h.first+1]
}

func (h *hlcBlocks) reset() {
	h.base, h.d, h.first = nil, nil, 0
	if len(h.wide) == 0 {
		h.wide = nil
	}
}

// firstAbove returns the first index of the window, whose sequence numbers
// start at base, with an HLC above x, or the window's length.
func (h *hlcBlocks) firstAbove(base, x uint64) int {
	lo, hi, t := h.blockAbove(base, x)
	h.sink += t
	return h.firstAboveIn(lo, hi, base, x)
}

// blockAbove is the first stage of firstAbove: it returns the indexes
// [lo, hi) that hold the answer (those of a block, or the window's length
// alone), and what it read of their offsets: a touch of their cache lines,
// whose misses overlap (Window.witnesses runs it with the other lookups'
// first stage).
func (h *hlcBlocks) blockAbove(base, x uint64) (lo, hi int, touched uint64) {
	// kb: the first block with a base above x. The answer is in the block
	// before it (if any) or is kb's first transaction (if any).
	kl := firstPastU64(h.base, x)
	start := func(k int) int { // the index of block k's first transaction
		return int(max(base, (h.first+uint64(k))*h.every) - base)
	}
	lo, hi = 0, len(h.d)
	if kl < len(h.base) {
		hi = start(kl)
	}
	if kl > 0 {
		lo = start(kl - 1)
	}
	for i := lo; i < hi; i += 16 {
		touched += uint64(h.d[i])
	}
	return lo, hi, touched
}

// firstAboveIn is the last stage of firstAbove: the search of [lo, hi)
// (from blockAbove) for the first index with an HLC above x.
func (h *hlcBlocks) firstAboveIn(lo, hi int, base, x uint64) int {
	// A binary search whose steps choose the next half without a branch
	// (see okey.lessBit).
	n := hi - lo
	for n > 1 {
		half := n >> 1
		m := lo + half
		_, past := bits.Sub64(x, h.at(m, base+uint64(m)), 0)
		lo += half & int(past-1)
		n -= half
	}
	if n == 1 {
		_, past := bits.Sub64(x, h.at(lo, base+uint64(lo)), 0)
		lo += int(1 - past)
	}
	return lo
}
