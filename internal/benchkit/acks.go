package benchkit

import (
	"sync/atomic"
	"time"
)

// ackRingSize is how many acknowledgements an ackTimes holds: the lag
// sampler must take an OSeq before the one ackRingSize later is stored in
// its slot (at 40k txn/s that is a lag of 26 s); an OSeq overwritten first
// gives no lag sample.
const ackRingSize = 1 << 20

// ackTimes is when each OSeq of one instance was acknowledged to its
// caller, written by the callers and read once per OSeq by the lag sampler.
// It replaces a sync.Map, which boxed the key and the time and allocated an
// entry per call (~3% of `liege bench replicate`'s CPU): a slot is one
// word, (microseconds since base + 1) << 24 | the OSeq's low 24 bits,
// written and read atomically, so a reader never pairs one OSeq with
// another's time.
type ackTimes struct {
	base  time.Time
	slots []atomic.Uint64
}

const ackOSeqBits = 24

func newAckTimes(base time.Time) *ackTimes {
	return &ackTimes{base: base, slots: make([]atomic.Uint64, ackRingSize)}
}

// store records that oseq was acknowledged at t (not before base).
func (a *ackTimes) store(oseq uint64, t time.Time) {
	us := uint64(max(t.Sub(a.base), 0)/time.Microsecond) + 1
	a.slots[oseq%ackRingSize].Store(us<<ackOSeqBits | oseq&(1<<ackOSeqBits-1))
}

// take returns when oseq was acknowledged, if it was stored and not
// overwritten since, and clears it.
func (a *ackTimes) take(oseq uint64) (time.Time, bool) {
	s := &a.slots[oseq%ackRingSize]
	v := s.Load()
	if v == 0 || v&(1<<ackOSeqBits-1) != oseq&(1<<ackOSeqBits-1) || !s.CompareAndSwap(v, 0) {
		return time.Time{}, false
	}
	return a.base.Add(time.Duration(v>>ackOSeqBits-1) * time.Microsecond), true
}
