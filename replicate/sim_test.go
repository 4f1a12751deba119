package replicate_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/internal/pairtest"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/replicate/link"
)

var (
	simSeeds = flag.Int("sim.seeds", 1000, "seeds the replication simulation runs")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed of the replication simulation")
)

// TestSimulation runs package sim's seeded simulation (random workloads on
// a liege and a vassal over a faulty in-memory link: drop, duplicate,
// reorder, partitions, cuts, restarts of either instance, clock skew inside
// the bound, then the oracle of DESIGN.md section 11) for -sim.seeds seeds.
func TestSimulation(t *testing.T) {
	seeds := make([]uint64, 0, *simSeeds)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for s := 1; s <= *simSeeds; s++ {
			seeds = append(seeds, uint64(s))
		}
	}
	var rollbacks, restarts atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d seeds: %d with a vassal rollback, %d restarts", len(seeds), rollbacks.Load(), restarts.Load())
		// A simulation that stops provoking conflicts proves nothing.
		if len(seeds) >= 100 && rollbacks.Load() < int64(len(seeds))/20 {
			t.Errorf("only %d of %d seeds rolled the vassal back: the workload no longer provokes conflicts", rollbacks.Load(), len(seeds))
		}
	})
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			lb := &pairtest.LogBuffer{}
			res, err := sim.Run(context.Background(), sim.Options{Seed: seed,
				Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo}))})
			if err != nil {
				t.Fatalf("%v\nreproduce with: go test ./replicate -run TestSimulation -sim.seed %d\nlog of both instances:\n%s", err, seed, lb)
			}
			if res.RolledBack {
				rollbacks.Add(1)
			}
			restarts.Add(int64(res.Restarts))
		})
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
