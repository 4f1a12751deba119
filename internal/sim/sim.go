// Package sim is the seeded simulation of two replicated instances: a liege
// and a vassal over the in-memory link (replicate/link.MemNetwork) with
// message-level faults (drop, duplicate, reorder), partitions, cuts,
// restarts of either instance from its journal and clock skew inside the
// bound, running random transactions (point reads, absent reads, ranges,
// Set, Delete, Add), then healed and checked with the oracle of DESIGN.md
// section 11.
//
// The seed decides the workload, the faults and the restarts; it does not
// decide goroutine scheduling, so a failing seed may need a few runs to
// fail again. It is used by the replication tests (1,000 seeds in CI) and
// by `liege inject --sim`.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// Op is one step of the procedure "ops": a read or a write of key
// ("k", K), or a scan of [("k", K), ("k", K2)).
type Op struct {
	Op    string // get, set, del, add, scan
	K, K2 string
	V     string
	N     int64
}

// OpsArgs are the arguments of "ops".
type OpsArgs struct{ Ops []Op }

// Key is the key of Op.K.
func Key(k string) liege.Key { return liege.K("k", k) }

// RegisterOps registers "ops" on db.
func RegisterOps(db liege.Registrar) error { return RegisterOpsAs(db, "ops") }

// RegisterOpsAs registers the ops procedure under name. Its result is
// everything it read, so that a re-execution on other data gives another
// result; its correction records the difference under ("corr", HLC).
func RegisterOpsAs(db liege.Registrar, name string) error {
	return liege.Register(db, liege.Procedure[OpsArgs, string]{
		Name: name,
		Run: func(tx *liege.Tx, a OpsArgs) (string, error) {
			var out []string
			for _, o := range a.Ops {
				switch o.Op {
				case "get":
					if v, ok := tx.Get(Key(o.K)); ok {
						x, _ := v.Any()
						out = append(out, fmt.Sprintf("%s=%v", o.K, x))
					} else {
						out = append(out, o.K+"=-")
					}
				case "set":
					tx.Set(Key(o.K), o.V)
				case "del":
					tx.Delete(Key(o.K))
				case "add":
					tx.Add(Key(o.K), o.N)
				case "scan":
					var ks []string
					for _, kv := range tx.Scan(Key(o.K), Key(o.K2), liege.ScanOptions{}) {
						ks = append(ks, kv.Key.String())
					}
					out = append(out, "scan["+strings.Join(ks, ",")+"]")
				default:
					return "", fmt.Errorf("unknown op %q", o.Op)
				}
			}
			return strings.Join(out, ";"), nil
		},
		Correct: func(tx *liege.Tx, a OpsArgs, told, now string) (any, error) {
			tx.Set(liege.K("corr", int64(tx.HLC())), "told "+told+"; re-executed "+now)
			return "corrected", nil
		},
	})
}

var keys = []string{"a", "b", "c", "d", "e", "f"}

// RandomOps returns the steps of a random transaction: reads, absent
// reads, ranges, Set, Delete and Add, and always a write so that it
// commits.
func RandomOps(rng *rand.Rand) []Op {
	var ops []Op
	for n := 1 + rng.IntN(3); n > 0; n-- {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(6) {
		case 0:
			ops = append(ops, Op{Op: "get", K: k})
		case 1:
			lo := rng.IntN(len(keys))
			hi := lo + rng.IntN(len(keys)-lo) + 1
			if hi == len(keys) {
				ops = append(ops, Op{Op: "scan", K: keys[lo], K2: "z"})
			} else {
				ops = append(ops, Op{Op: "scan", K: keys[lo], K2: keys[hi]})
			}
		case 2, 3:
			ops = append(ops, Op{Op: "set", K: k, V: fmt.Sprint(rng.IntN(100))})
		case 4:
			ops = append(ops, Op{Op: "del", K: k})
		case 5:
			ops = append(ops, Op{Op: "add", K: "n" + k, N: int64(rng.IntN(9) + 1)})
		}
	}
	return append(ops, Op{Op: "add", K: "calls", N: 1})
}

// Options configure one run.
type Options struct {
	Seed uint64
	// Dir is where the two instance directories go (a new temporary
	// directory, removed afterwards, if empty).
	Dir string
	// Heartbeat of the replicators (5ms if 0).
	Heartbeat time.Duration
	// Logger receives both instances' logs (none if nil).
	Logger *slog.Logger
	// IdleTimeout bounds the wait for both sides to settle (30s if 0).
	IdleTimeout time.Duration
}

// Result says what one run did.
type Result struct {
	Seed        uint64
	Steps       int
	Acked       int
	Restarts    int
	Partitions  int
	Faults      bool    // message-level faults were on
	Skew        float64 // the vassal's clock skew, in seconds
	RolledBack  bool    // the vassal rolled back at least once
	PathLength  int
	ChecksRun   []string
	ElapsedSecs float64
}

// node is one instance of a run.
type node struct {
	id, dir, role string
	now           func() time.Time
	db            *liege.DB
	rep           *replicate.Replicator
	lis           link.Listener
}

type run struct {
	opts  Options
	net   *link.MemNetwork
	log   *slog.Logger
	a, b  *node
	acked []journal.TxID
}

// Run runs the simulation of opts.Seed and checks convergence. Its error
// names the seed; an *oracle.Violation inside it names the first broken
// item of section 11.
func Run(ctx context.Context, opts Options) (res Result, err error) {
	t0 := time.Now()
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 5 * time.Millisecond
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	root := opts.Dir
	if root == "" {
		if root, err = os.MkdirTemp("", "liege-sim-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(root)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	seed := opts.Seed
	res.Seed = seed
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	mo := link.MemOptions{Rand: rand.New(rand.NewPCG(seed, 0xfa17)), Logger: log}
	if rng.IntN(2) == 0 {
		mo.Drop, mo.Duplicate, mo.Reorder = rng.Float64()*0.05, rng.Float64()*0.05, rng.Float64()*0.05
		res.Faults = true
	}
	skew := time.Duration(rng.IntN(200)-100) * time.Millisecond
	res.Skew = skew.Seconds()
	r := &run{opts: opts, net: link.NewMemNetwork(mo), log: log,
		a: &node{id: "A", dir: filepath.Join(root, "A"), role: liege.RoleLiege, now: time.Now},
		b: &node{id: "B", dir: filepath.Join(root, "B"), role: liege.RoleVassal, now: func() time.Time { return time.Now().Add(skew) }}}
	defer func() {
		r.stop(r.a)
		r.stop(r.b)
		if err != nil {
			err = fmt.Errorf("seed %d: %w", seed, err)
		}
	}()
	if err := errors.Join(r.start(r.a), r.start(r.b)); err != nil {
		return res, err
	}
	res.Steps = 10 + rng.IntN(20)
	partitioned := false
	for i := 0; i < res.Steps; i++ {
		switch x := rng.IntN(20); {
		case x == 0:
			partitioned = !partitioned
			r.net.Partition("A", "B", partitioned)
			res.Partitions++
		case x == 1:
			r.net.Cut("A", "B")
		case x == 2:
			n := r.pick(rng)
			r.stop(n)
			if err := r.start(n); err != nil {
				return res, err
			}
			res.Restarts++
		default:
			n := r.pick(rng)
			out, err := n.db.Call(ctx, "ops", OpsArgs{Ops: RandomOps(rng)})
			if err != nil {
				return res, fmt.Errorf("call on %s: %w", n.id, err)
			}
			r.acked = append(r.acked, out.TxID)
		}
	}
	if partitioned {
		r.net.Partition("A", "B", false)
	}
	if err := r.idle(ctx); err != nil {
		return res, err
	}
	ha, err1 := r.a.db.Hash(ctx)
	hb, err2 := r.b.db.Hash(ctx)
	if err := errors.Join(err1, err2); err != nil {
		return res, err
	}
	if ha != hb {
		return res, fmt.Errorf("state hashes differ while both run: A %x, B %x", ha[:8], hb[:8])
	}
	r.stop(r.a)
	r.stop(r.b)
	lost, _ := filepath.Glob(filepath.Join(r.b.dir, "lost", "*.ltf"))
	res.RolledBack = len(lost) > 0
	ia, err1 := oracle.Load(r.a.dir)
	ib, err2 := oracle.Load(r.b.dir)
	if err := errors.Join(err1, err2); err != nil {
		return res, err
	}
	rep, err := oracle.Check(ia, ib, oracle.Options{Acked: r.acked})
	res.Acked = len(r.acked)
	res.ElapsedSecs = time.Since(t0).Seconds()
	if rep != nil {
		res.PathLength, res.ChecksRun = rep.PathLength, rep.Checks
	}
	return res, err
}

func (r *run) pick(rng *rand.Rand) *node {
	if rng.IntN(2) == 0 {
		return r.b
	}
	return r.a
}

func (r *run) peerOf(n *node) *node {
	if n == r.a {
		return r.b
	}
	return r.a
}

// start opens n and starts replicating it: A listens, B dials.
func (r *run) start(n *node) error {
	peer := r.peerOf(n)
	db, err := liege.Open(liege.Options{Dir: n.dir, ID: n.id, PeerID: peer.id, Role: n.role, Now: n.now,
		CheckpointEvery: -1, Logger: r.log})
	if err != nil {
		return fmt.Errorf("open %s: %w", n.id, err)
	}
	if err := RegisterOps(db); err != nil {
		db.Close()
		return err
	}
	cfg := replicate.Config{Host: db, Cluster: "sim", Heartbeat: r.opts.Heartbeat, Logger: r.log,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if n == r.a {
		if n.lis, err = r.net.Listen(n.id); err != nil {
			db.Close()
			return err
		}
		cfg.Listener = n.lis
	} else {
		cfg.Dialer = r.net.Dialer(n.id, peer.id)
	}
	if n.rep, err = replicate.Start(cfg); err != nil {
		db.Close()
		return err
	}
	n.db = db
	return nil
}

// stop stops n's replicator and closes it.
func (r *run) stop(n *node) {
	if n.db == nil {
		return
	}
	n.rep.Close()
	if n.lis != nil {
		n.lis.Close()
		n.lis = nil
	}
	n.db.Close()
	n.db = nil
}

// idle waits until both sides are idle at once.
func (r *run) idle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.IdleTimeout)
	defer cancel()
	for {
		if err := errors.Join(r.a.rep.WaitIdle(ctx), r.b.rep.WaitIdle(ctx)); err != nil {
			return fmt.Errorf("the pair did not settle: %w", err)
		}
		if r.a.rep.Status().Idle() && r.b.rep.Status().Idle() {
			return nil
		}
	}
}
