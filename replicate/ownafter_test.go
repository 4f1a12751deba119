package replicate

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// ownAfter with any hint, stale or not, answers as a plain binary search
// of the own list does, as the list grows, is cut back and loses its
// front.
func TestOwnAfterMatchesSearch(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	n := &Node{}
	var next uint64
	hints := make([]int, 4)
	for step := range 20_000 {
		switch r := rng.IntN(100); {
		case r < 60: // commit: OSeqs rise, with gaps (a rolled-back vassal's)
			next += 1 + uint64(rng.IntN(3))
			n.own = append(n.own, own{seq: next})
		case r < 63 && len(n.own) > 0: // a rollback cuts the tail
			n.own = n.own[:rng.IntN(len(n.own))]
		case r < 66 && len(n.own) > 0: // a compaction drops the front
			n.own = n.own[rng.IntN(len(n.own)):]
		}
		o := uint64(rng.IntN(int(next) + 2))
		if rng.IntN(4) == 0 && len(n.own) > 0 {
			o = n.own[rng.IntN(len(n.own))].seq // exactly an own OSeq
		}
		h := &hints[rng.IntN(len(hints))]
		if rng.IntN(50) == 0 {
			*h = rng.IntN(len(n.own)+3) - 1 // any hint, even out of range
		}
		want := sort.Search(len(n.own), func(i int) bool { return n.own[i].seq > o })
		if got := n.ownAfter(o, h); got != want {
			t.Fatalf("seed %d, step %d: ownAfter(%d) = %d over %d own transactions, want %d", seed, step, o, got, len(n.own), want)
		}
	}
}
