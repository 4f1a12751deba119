package sim

import (
	"testing"

	"github.com/liege-db/liege/replicate"
)

// TestRouteSeeds: some seeds forward calls from the vassal to the liege,
// across the seed's cuts, partitions and crashes, and the oracle holds in
// every seed; the planted bugs are still caught with routing on.
func TestRouteSeeds(t *testing.T) {
	n := seedCount(120, 30)
	routing, forwarded := 0, 0
	for seed := uint64(1); seed <= uint64(n); seed++ {
		if routeStream(Options{Seed: seed}) == nil {
			continue
		}
		routing++
		r := Run(Options{Seed: seed, Steps: 300})
		if r.Failure != nil {
			t.Fatalf("seed %d (routing): %v\n%s", seed, r.Failure, r.Failure.Trace)
		}
		forwarded += r.Forwarded
	}
	if routing == 0 || forwarded == 0 {
		t.Fatalf("%d of %d seeds route, %d calls forwarded: want some of each", routing, n, forwarded)
	}
	t.Logf("%d of %d seeds route; %d acknowledged calls were forwarded", routing, n, forwarded)
}

func TestRouteSeedsCatchBreaks(t *testing.T) {
	// BreakDiscard is not caught by the simulator at all (see
	// TestDiscardSituations); the others must be, with routing on.
	for _, b := range []replicate.Break{replicate.BreakLiteral, replicate.BreakPrev, replicate.BreakSubject} {
		caught := false
		for seed := uint64(1); seed <= 2000 && !caught; seed++ {
			if routeStream(Options{Seed: seed}) == nil {
				continue
			}
			caught = Run(Options{Seed: seed, Steps: 300, Break: b}).Failure != nil
		}
		if !caught {
			t.Errorf("--break %s: no routing seed of 2000 fails", b)
		}
	}
}
