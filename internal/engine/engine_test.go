package engine_test

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// These tests step two Instances by hand on journal.MemLog, the way the
// deterministic simulator does: no goroutine, a clock the test moves.

type clock struct{ ms int64 }

func (c *clock) now() time.Time { return time.UnixMilli(c.ms) }

type node struct {
	t   *testing.T
	cfg engine.Config
	log *journal.MemLog
	in  *engine.Instance
}

// newNode opens an instance on a new MemLog; with, if given, changes its
// Config first.
func newNode(t *testing.T, c *clock, id, peer, role string, with ...func(*engine.Config)) *node {
	t.Helper()
	reg := liege.NewRegistry()
	if err := sim.RegisterOps(reg); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, log: journal.NewMemLog(), cfg: engine.Config{
		ID: id, PeerID: peer, Cluster: "test", Role: role, Dir: t.TempDir(), Runner: reg.Runner(), Now: c.now,
		CheckpointEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Node: replicate.NodeConfig{HeartbeatTicks: 1},
	}}
	for _, f := range with {
		f(&n.cfg)
	}
	n.open()
	return n
}

func (n *node) open() {
	n.t.Helper()
	n.cfg.Log = n.log
	in, err := engine.Open(n.cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.in = in
}

// crash models a power failure and a restart on what the log kept.
func (n *node) crash(seed int64) {
	n.log = n.log.Crash(rand.New(rand.NewPCG(uint64(seed), 1)))
	n.open()
}

// opsCall is a call of the "ops" procedure running ops.
func (n *node) opsCall(ops ...sim.Op) *engine.Call {
	n.t.Helper()
	args := sim.OpsArgs{Ops: ops}
	ab, err := journal.Marshal(args)
	if err != nil {
		n.t.Fatal(err)
	}
	return &engine.Call{Proc: "ops", Args: args, ArgBytes: ab}
}

// submitAndStep submits c and steps until it is answered.
func (n *node) submitAndStep(c *engine.Call) {
	n.t.Helper()
	n.in.Submit(c)
	for i := 0; !c.Done; i++ {
		if !n.in.Step() || i > 100 {
			n.t.Fatalf("call not answered after %d steps", i)
		}
	}
}

// call submits ops and steps until the call is done.
func (n *node) call(ops ...sim.Op) *engine.Call {
	n.t.Helper()
	c := n.opsCall(ops...)
	n.submitAndStep(c)
	if c.Err != nil {
		n.t.Fatal(c.Err)
	}
	return c
}

// exchangeFrames steps each node until it has no work and delivers its frames
// to the other, A's first; seen, if not nil, sees each frame first.
func exchangeFrames(t *testing.T, a, b *node, seen func(f *link.Frame)) {
	t.Helper()
	for _, d := range [][2]*node{{a, b}, {b, a}} {
		for d[0].in.Step() {
		}
		frames, disc := d[0].in.Outbox()
		if disc != "" {
			t.Fatalf("%s closes the link: %s", d[0].cfg.ID, disc)
		}
		for _, f := range frames {
			if seen != nil {
				seen(f)
			}
			if err := d[1].in.Deliver(f); err != nil {
				t.Fatalf("%s refused a %v frame: %v", d[1].cfg.ID, f.Kind, err)
			}
		}
	}
}

// tick moves the clock a heartbeat on and ticks both nodes.
func tick(c *clock, a, b *node) {
	c.ms += 100
	a.in.Tick()
	b.in.Tick()
}

// pump moves frames both ways, ticking, until both Nodes are idle.
func pump(t *testing.T, c *clock, a, b *node) {
	t.Helper()
	quiet := 0
	for round := 0; round < 2000; round++ {
		exchangeFrames(t, a, b, nil)
		if a.in.Status().Node.Idle() && b.in.Status().Node.Idle() {
			if quiet++; quiet > 3 {
				return
			}
		}
		tick(c, a, b)
	}
	t.Fatalf("not idle after 2000 rounds: %+v / %+v", a.in.Status().Node, b.in.Status().Node)
}

func TestPairOnMemLogConvergesAndSurvivesACrash(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)

	a.call(sim.Op{Op: "set", K: "x", V: "a"})
	b.call(sim.Op{Op: "add", K: "n", N: 2})
	pump(t, c, a, b)
	// A conflict: both read and write the seat while the link is down.
	a.in.LinkDown()
	b.in.LinkDown()
	a.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "A"})
	bc := b.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "B"})
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ after the conflict")
	}
	pos, _ := b.in.Locate(bc.Result.TxID)
	r, err := b.in.ReadRecord(pos)
	if err != nil || r.Subject != bc.Result.TxID || r.Origin != "A" || r.Kind != journal.KindPeer || r.OriginKind != journal.KindCorrection {
		t.Fatalf("B's conflicting %v stands at %d as %+v (%v); want the liege's correction of it", bc.Result.TxID, pos, r, err)
	}
	if st := b.in.Status(); st.Epoch != 1 || st.ReconPending != 0 {
		t.Fatalf("B after the rollback: %+v", st)
	}

	// A write handed to the log, not synced, then a crash: a restart finds
	// the synced state, and the pair converges again.
	args := sim.OpsArgs{Ops: []sim.Op{{Op: "set", K: "y", V: "lost?"}}}
	ab, _ := journal.Marshal(args)
	lost := &engine.Call{Proc: "ops", Args: args, ArgBytes: ab}
	a.in.Submit(lost)
	if !a.in.Write() || lost.Done {
		t.Fatal("Write did not run the call, or answered it before the fsync")
	}
	a.crash(7)
	a.in.LinkUp()
	b.in.LinkDown()
	b.in.LinkUp()
	pump(t, c, a, b)
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ after the crash")
	}
}
