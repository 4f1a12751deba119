package replicate_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liege-db/liege/replicate/link"
)

var (
	simSeeds = flag.Int("sim.seeds", 1000, "seeds the replication simulation runs")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed of the replication simulation")
)

// TestSimulation runs seeded random workloads on a liege and a vassal over
// a faulty in-memory link (drop, duplicate, reorder, partitions,
// reconnects), with skewed clocks inside the bound and restarts of either
// instance from its journal, then heals everything and checks that they
// converged. The seed decides the workload, the faults and the restarts
// (not the goroutine interleaving); a failing seed is printed and rerun
// with -sim.seed.
func TestSimulation(t *testing.T) {
	seeds := make([]uint64, 0, *simSeeds)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for s := 1; s <= *simSeeds; s++ {
			seeds = append(seeds, uint64(s))
		}
	}
	t.Cleanup(func() {
		t.Logf("%d seeds: %d with a vassal rollback, %d restarts", len(seeds), simRollbacks.Load(), simRestarts.Load())
		// A simulation that stops provoking conflicts proves nothing.
		if len(seeds) >= 100 && simRollbacks.Load() < int64(len(seeds))/20 {
			t.Errorf("only %d of %d seeds rolled the vassal back: the workload no longer provokes conflicts", simRollbacks.Load(), len(seeds))
		}
	})
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			simulate(t, seed)
			if t.Failed() {
				t.Logf("reproduce with: go test ./replicate -run 'TestSimulation' -sim.seed %d", seed)
			}
		})
	}
}

var keys = []string{"a", "b", "c", "d", "e", "f"}

func randomOps(rng *rand.Rand) []op {
	var ops []op
	for n := 1 + rng.IntN(3); n > 0; n-- {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(6) {
		case 0:
			ops = append(ops, op{Op: "get", K: k})
		case 1:
			lo := rng.IntN(len(keys))
			hi := lo + rng.IntN(len(keys)-lo) + 1
			if hi == len(keys) {
				ops = append(ops, op{Op: "scan", K: keys[lo], K2: "z"})
			} else {
				ops = append(ops, op{Op: "scan", K: keys[lo], K2: keys[hi]})
			}
		case 2, 3:
			ops = append(ops, op{Op: "set", K: k, V: fmt.Sprint(rng.IntN(100))})
		case 4:
			ops = append(ops, op{Op: "del", K: k})
		case 5:
			ops = append(ops, op{Op: "add", K: "n" + k, N: int64(rng.IntN(9) + 1)})
		}
	}
	// A write, so that the call commits.
	return append(ops, op{Op: "add", K: "calls", N: 1})
}

func simulate(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	opts := link.MemOptions{Rand: rand.New(rand.NewPCG(seed, 0xfa17))}
	if rng.IntN(2) == 0 {
		opts.Drop, opts.Duplicate, opts.Reorder = rng.Float64()*0.05, rng.Float64()*0.05, rng.Float64()*0.05
	}
	skew := time.Duration(rng.IntN(200)-100) * time.Millisecond
	now := map[string]func() time.Time{
		"A": time.Now,
		"B": func() time.Time { return time.Now().Add(skew) },
	}
	p := newPairWith(t, opts, now, 5*time.Millisecond)
	steps := 10 + rng.IntN(20)
	partitioned := false
	for i := 0; i < steps; i++ {
		switch r := rng.IntN(20); {
		case r == 0:
			partitioned = !partitioned
			p.partition(partitioned)
		case r == 1:
			p.net.Cut("A", "B")
		case r == 2:
			n := p.a
			if rng.IntN(2) == 0 {
				n = p.b
			}
			p.stop(n)
			p.start(n)
			simRestarts.Add(1)
		default:
			n := p.a
			if rng.IntN(2) == 0 {
				n = p.b
			}
			p.call(n, randomOps(rng)...)
		}
	}
	if partitioned {
		p.partition(false)
	}
	p.idle()
	p.converged()
	if lost, _ := filepath.Glob(filepath.Join(p.b.dir, "lost", "*.ltf")); len(lost) > 0 {
		simRollbacks.Add(1)
	}
}

var simRollbacks, simRestarts atomic.Int64
