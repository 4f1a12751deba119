package liege

import (
	"sync"
	"testing"
)

// A reader never sees half of a change: the writer publishes pairs whose
// halves are equal while readers check that every pair they load is one
// the writer published, and that they never go back.
func TestAppliedPairConsistent(t *testing.T) {
	var p appliedPair
	const changes = 20000
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for last < changes {
				own, peer := p.load()
				if own != peer || own < last {
					t.Errorf("loaded (%d, %d) after %d: a torn or stale pair", own, peer, last)
					return
				}
				last = own
			}
		}()
	}
	for i := uint64(1); i <= changes; i++ {
		p.set(i, i)
	}
	wg.Wait()
	if own, peer := p.load(); own != changes || peer != changes {
		t.Fatalf("last pair (%d, %d), want (%d, %d)", own, peer, changes, changes)
	}
}
