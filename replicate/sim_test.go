package replicate_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/replicate/link"
)

// The deterministic simulation of two Nodes (package internal/sim) is
// tested in its own package; TestSimulation here is a quick run of it over
// this package's Node, so that a protocol change that breaks convergence
// fails the replication tests too.
func TestSimulation(t *testing.T) {
	seeds := uint64(200)
	if testing.Short() {
		seeds = 50
	}
	s := sim.RunMany(sim.ManyOptions{From: 1, Seeds: seeds, Steps: 300, Workers: 2, Model: true})
	if s.First != nil {
		f := s.First
		t.Fatalf("seed %d: %v\nrerun: go run ./cmd/liege %s\n%s", f.Seed, f.Failure,
			strings.TrimPrefix(sim.Rerun(f, 300, ""), "liege "), f.Failure.Trace)
	}
	if s.SeedsWithRollback < seeds/2 {
		t.Errorf("only %d of %d seeds rolled back: the workload no longer provokes conflicts", s.SeedsWithRollback, seeds)
	}
}

var simFaultSeeds = flag.Int("sim.faultseeds", 150, "seeds of the simulation with injected I/O failures")

// failPoints are the points where TestSimulationFaults makes the engine
// fail: every step of a rollback, and the journal's writes and fsyncs
// (which also land in the middle of applying the peer's stream and of
// reconciliations). An instance that failed stops, and is reopened from its
// journal, which finishes an interrupted rollback.
var failPoints = []string{
	"rollback-after-intent", "rollback-after-lost", "rollback-mid-undo", "rollback-before-truncate",
	"rollback-after-truncate", "rollback-after-epoch", "journal-before-write", "journal-before-sync", "journal-after-sync",
}

// TestSimulationFaults is TestSimulation with one injected failure per
// seed, at a point and hit drawn from the seed, in either instance: the
// instance that fails is reopened from its journal (the in-process
// equivalent of a crash at that step), and the pair must still converge
// with every acknowledged transaction in the path once. Failpoints are
// process-wide, so these seeds run one at a time.
func TestSimulationFaults(t *testing.T) {
	defer failpoint.Reset()
	fired := 0
	for seed := uint64(1); seed <= uint64(*simFaultSeeds); seed++ {
		ok := t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if simulateFaults(t, seed) {
				fired++
			}
		})
		if !ok {
			t.Logf("reproduce with: go test ./replicate -run 'TestSimulationFaults/^%d$'", seed)
			return
		}
	}
	if *simFaultSeeds >= 50 && fired < *simFaultSeeds/4 {
		t.Errorf("only %d of %d seeds hit their failpoint: the workload no longer reaches them", fired, *simFaultSeeds)
	}
	t.Logf("%d seeds, %d hit their failpoint", *simFaultSeeds, fired)
}

// simulateFaults runs one seed and reports whether its failpoint fired.
func simulateFaults(t *testing.T, seed uint64) bool {
	failpoint.Reset()
	defer failpoint.Reset()
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	p := newPairWith(t, link.MemOptions{}, nil, 5*time.Millisecond)
	point := failPoints[rng.IntN(len(failPoints))]
	at := int64(1 + rng.IntN(6))
	if strings.HasPrefix(point, "journal-") {
		at = int64(5 + rng.IntN(40))
	}
	failpoint.Set(point, "error", at)
	t.Logf("failpoint %s on hit %d", point, at)
	partitioned := false
	for i := 0; i < 30; i++ {
		switch r := rng.IntN(10); {
		case r == 0:
			partitioned = !partitioned
			p.partition(partitioned)
		default:
			n := p.a
			if rng.IntN(2) == 0 {
				n = p.b
			}
			r, err := n.db.Call(context.Background(), "ops", opsArgs{Ops: sim.RandomOps(rng)})
			if err != nil {
				// The instance failed (or a rollback under it did): reopen it
				// from its journal. The call may or may not have committed.
				p.stop(n)
				p.start(n)
				continue
			}
			p.acked = append(p.acked, r.TxID)
		}
	}
	fired := failpoint.Hits(point) >= at
	failpoint.Reset()
	if partitioned {
		p.partition(false)
	}
	// An instance may have failed while applying the peer's stream, with no
	// call of its own to notice: reopen both.
	for _, n := range []*node{p.a, p.b} {
		p.stop(n)
		p.start(n)
	}
	p.idle()
	p.converged()
	return fired
}
