package engine_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
)

// Open with replay workers (the state's writes reduced to runs on the
// decoding goroutines and loaded at once, store.Loader) rebuilds what Open
// without them does, record by record: the same state hash, keys and
// bytes, counters, TxID and status indexes, idempotency keys and protocol
// status. The journals are a replicating pair's (own and peer records,
// conflicts, rollbacks and their epochs on the vassal) over a few keys
// (sets, deletes and adds overwriting each other), several replay chunks
// long, opened from a checkpoint taken part way or from the start.
func TestReplayWorkersRebuildTheSameInstance(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			c := &clock{ms: 1_000_000}
			a := newNode(t, c, "A", "B", engine.RoleLiege)
			b := newNode(t, c, "B", "A", engine.RoleVassal)
			a.in.LinkUp()
			b.in.LinkUp()
			pump(t, c, a, b)
			linked := true
			ckpt := map[*node]int{a: 600 + rng.IntN(1200), b: 600 + rng.IntN(1200)}
			if seed == 0 {
				ckpt = nil // replay from the start
			}
			key := func() string { return fmt.Sprint("k", rng.IntN(40)) } // adds go to keys of their own
			for i := range 2000 {
				n := a
				if rng.IntN(3) == 0 {
					n = b
				}
				// Stretches with the link down: both sides read and write
				// the same keys, so the vassal rolls back when it comes up.
				if i%50 == 0 && linked != (rng.IntN(3) != 0) {
					if linked = !linked; linked {
						a.in.LinkUp()
						b.in.LinkUp()
						pump(t, c, a, b)
					} else {
						a.in.LinkDown()
						b.in.LinkDown()
					}
				}
				ops := []sim.Op{{Op: "get", K: key()}}
				for range 1 + rng.IntN(3) {
					switch rng.IntN(4) {
					case 0:
						ops = append(ops, sim.Op{Op: "del", K: key()})
					case 1:
						ops = append(ops, sim.Op{Op: "add", K: fmt.Sprint("n", rng.IntN(8)), N: int64(rng.IntN(5))})
					default:
						ops = append(ops, sim.Op{Op: "set", K: key(), V: fmt.Sprint("v", i)})
					}
				}
				n.call(ops...)
				if linked && rng.IntN(40) == 0 {
					pump(t, c, a, b)
				}
				for _, n := range []*node{a, b} {
					if i == ckpt[n] {
						checkpoint(t, n)
					}
				}
			}
			if !linked {
				a.in.LinkUp()
				b.in.LinkUp()
			}
			pump(t, c, a, b)
			if a.in.Hash() != b.in.Hash() {
				t.Fatal("the pair did not converge")
			}
			if st := b.in.Status(); st.Epoch == 0 {
				t.Fatalf("the vassal never rolled back: %+v", st)
			}
			for _, n := range []*node{a, b} {
				if err := n.in.Close(); err != nil {
					t.Fatal(err)
				}
				seq, last, replayed := reopenDigest(t, n, 0)
				par, _, _ := reopenDigest(t, n, 2)
				if seq != par {
					s, p := strings.Split(seq, "\n"), strings.Split(par, "\n")
					for i := range min(len(s), len(p)) {
						if s[i] != p[i] {
							t.Fatalf("%s: Open with 2 replay workers differs from Open without:\nwithout: %.2000s\nwith:    %.2000s", n.cfg.ID, s[i], p[i])
						}
					}
					t.Fatalf("%s: Open with 2 replay workers differs from Open without in length", n.cfg.ID)
				}
				if last < 3*512 {
					t.Fatalf("%s: a journal of %d records is not several replay chunks long", n.cfg.ID, last)
				}
				t.Logf("%s: journal of %d records, %d replayed: the same with and without workers", n.cfg.ID, last, replayed)
			}
		})
	}
}

// checkpoint writes a checkpoint of n now.
func checkpoint(t *testing.T, n *node) {
	t.Helper()
	for n.in.Step() {
	}
	j := n.in.TakeCheckpoint(true)
	if j == nil {
		t.Fatalf("%s: no checkpoint to take", n.cfg.ID)
	}
	if err := j.Run(); err != nil {
		t.Fatal(err)
	}
	n.in.CheckpointDone(j)
}

// reopenDigest opens n's closed journal, on a copy of its directory, with
// workers replay workers and returns the instance's ReplayDigest, its
// last position and the records it replayed.
func reopenDigest(t *testing.T, n *node, workers int) (digest string, last, replayed uint64) {
	t.Helper()
	log, err := n.log.Reopen()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(n.cfg.Dir)); err != nil {
		t.Fatal(err)
	}
	cfg := n.cfg
	cfg.Dir, cfg.Log, cfg.ReplayWorkers = dir, log, workers
	in, err := engine.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, last, replayed := in.ReplayDigest(), in.LastPos(), in.Recovery.Replayed
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	return d, last, replayed
}
