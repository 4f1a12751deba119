package detect

// sampleEvery is the spacing, in sequence numbers, of the samples of the
// window's OSeqs and HLCs.
const sampleEvery = 64

// samples holds every sampleEvery-th value (by sequence number: those of
// the multiples of sampleEvery) of an increasing array of the window, its
// OSeqs or its HLCs. The samples of a window of 100,000 take 12.5 KB, which
// stays in the caches, so that a search of the array reads one block of
// sampleEvery values of it (8 cache lines, touched at once: one miss of
// latency) after a search of the samples, where a binary search of the
// whole array waits for a miss at each of its last levels in turn.
type samples struct {
	v     []uint64
	first uint64 // the sequence number of v[0]
	every uint64 // the spacing: sampleEvery (tests set less)
	sink  uint64 // what the touches of firstAbove read, so that the reads stay
}

// add records value x of sequence number seq, the next one of the array.
func (s *samples) add(seq, x uint64) {
	if seq%s.every != 0 {
		return
	}
	if len(s.v) == 0 {
		s.first = seq
	}
	s.v = append(s.v, x)
}

// dropBefore drops the samples of sequence numbers below base.
func (s *samples) dropBefore(base uint64) {
	k := 0
	for k < len(s.v) && s.first+uint64(k)*s.every < base {
		k++
	}
	s.v, s.first = s.v[k:], s.first+uint64(k)*s.every
	if len(s.v) == 0 {
		s.v = nil // let the array go
	}
}

// dropAfter drops the samples of sequence numbers above last.
func (s *samples) dropAfter(last uint64) {
	for len(s.v) > 0 && s.first+uint64(len(s.v)-1)*s.every > last {
		s.v = s.v[:len(s.v)-1]
	}
}

// firstAbove returns the first index of a, the array sampled, whose
// sequence numbers start at base, with a value above x, or len(a).
func (s *samples) firstAbove(a []uint64, base, x uint64) int {
	lo, hi := 0, len(a)
	if len(s.v) > 0 {
		// k: the first sample above x. Below it the answer is above the
		// sample before (if any), and at most at sample k (if any).
		kl, kh := 0, len(s.v)
		for kl < kh {
			if m := int(uint(kl+kh) >> 1); s.v[m] > x {
				kh = m
			} else {
				kl = m + 1
			}
		}
		off := int(s.first - base) // of sample 0
		if kl < len(s.v) {
			hi = off + kl*int(s.every)
		}
		if kl > 0 {
			lo = off + (kl-1)*int(s.every) + 1
		}
		var t uint64
		for i := lo; i < hi; i += 8 {
			t += a[i]
		}
		s.sink += t
	}
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); a[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
