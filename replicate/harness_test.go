package replicate_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/pairtest"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
	"github.com/prometheus/client_golang/prometheus"
)

// The test procedure "ops" and its steps are the simulation's.
type (
	op      = sim.Op
	opsArgs = sim.OpsArgs
)

var key = sim.Key

func registerOps(db *liege.DB) error { return sim.RegisterOps(db) }

func registerOpsAs(db *liege.DB, name string) error { return sim.RegisterOpsAs(db, name) }

// clock is a wall clock shared by both instances of a test, moved by hand
// so that the tests decide the (HLC, origin) order of concurrent
// transactions.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(time.Now().UnixMilli())
	return c
}

func (c *clock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }
func (c *clock) tick()          { c.ms.Add(1) }

// node is one instance of a pair with its replicator.
type node struct {
	t    *testing.T
	id   string
	dir  string
	role string
	db   *liege.DB
	rep  *replicate.Replicator
	lis  link.Listener
	// extraProcs are more names for the ops procedure on this node only.
	extraProcs []string
	// reg, if set, receives the node's metrics.
	reg *prometheus.Registry
	// routes are the node's Options.Routes.
	routes []string
	// grace is the node's Options.RouteLinkGrace.
	grace time.Duration
	// maxFrame is the node's Options.MaxFrame.
	maxFrame int
}

// pair is a liege A (listening) and a vassal B (dialing) over an in-memory
// network.
type pair struct {
	t     *testing.T
	net   *link.MemNetwork
	clk   *clock
	a, b  *node
	log   *slog.Logger
	hb    time.Duration
	acked []journal.TxID
	logs  *pairtest.LogBuffer
	// now, if set, is each instance's wall clock (else the shared clk).
	now map[string]func() time.Time
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("LIEGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newPair(t *testing.T, opts link.MemOptions) *pair {
	t.Helper()
	return newPairWith(t, opts, nil, 10*time.Millisecond)
}

func newPairWith(t *testing.T, opts link.MemOptions, now map[string]func() time.Time, hb time.Duration, setup ...func(*pair)) *pair {
	t.Helper()
	lb := &pairtest.LogBuffer{}
	p := &pair{t: t, net: link.NewMemNetwork(opts), clk: newClock(), hb: hb, now: now, logs: lb,
		log: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of both instances:\n%s", lb)
		}
	})
	p.a = &node{t: t, id: "A", dir: t.TempDir(), role: liege.RoleLiege}
	p.b = &node{t: t, id: "B", dir: t.TempDir(), role: liege.RoleVassal}
	for _, f := range setup {
		f(p)
	}
	p.start(p.a)
	p.start(p.b)
	t.Cleanup(func() {
		p.stop(p.a)
		p.stop(p.b)
	})
	return p
}

func (p *pair) peerOf(n *node) *node {
	if n == p.a {
		return p.b
	}
	return p.a
}

// start opens n and starts replicating it.
func (p *pair) start(n *node) {
	p.t.Helper()
	peer := p.peerOf(n)
	now := p.clk.Now
	if p.now != nil {
		now = p.now[n.id]
	}
	db, err := liege.Open(liege.Options{Dir: n.dir, ID: n.id, PeerID: peer.id, Role: n.role, Now: now,
		CheckpointEvery: -1, Logger: p.log, Registerer: registerer(n.reg), Routes: n.routes, RouteLinkGrace: n.grace,
		MaxFrame: n.maxFrame})
	if err != nil {
		p.t.Fatalf("open %s: %v", n.id, err)
	}
	if err := registerOps(db); err != nil {
		p.t.Fatal(err)
	}
	for _, name := range n.extraProcs {
		if err := registerOpsAs(db, name); err != nil {
			p.t.Fatal(err)
		}
	}
	n.db = db
	cfg := replicate.Config{Host: db, Cluster: "test", Heartbeat: p.hb, Logger: p.log,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, Registerer: registerer(n.reg)}
	if n == p.a {
		if n.lis, err = p.net.Listen(n.id); err != nil {
			p.t.Fatal(err)
		}
		cfg.Listener = n.lis
	} else {
		cfg.Dialer = p.net.Dialer(n.id, peer.id)
	}
	if n.rep, err = replicate.Start(cfg); err != nil {
		p.t.Fatal(err)
	}
}

// registerer is reg as a Registerer, nil (no metrics) if reg is nil.
func registerer(reg *prometheus.Registry) prometheus.Registerer {
	if reg == nil {
		return nil
	}
	return reg
}

// stop stops n's replicator and closes it.
func (p *pair) stop(n *node) {
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

// partition cuts (on) or heals (off) the link between A and B.
func (p *pair) partition(on bool) { p.net.Partition("A", "B", on) }

// call runs ops on n and records the TxID as acknowledged.
func (p *pair) call(n *node, ops ...op) *liege.Result {
	p.t.Helper()
	return p.callAs(n, "ops", ops...)
}

// callAs is call under another name of the procedure.
func (p *pair) callAs(n *node, name string, ops ...op) *liege.Result {
	p.t.Helper()
	r, err := n.db.Call(context.Background(), name, opsArgs{Ops: ops})
	if err != nil {
		p.t.Fatalf("call on %s: %v", n.id, err)
	}
	if !r.ReadOnly() {
		p.acked = append(p.acked, r.TxID)
	}
	p.clk.tick()
	return r
}

// wantInt checks that key k holds the integer want at both instances
// (why says what makes it so).
func (p *pair) wantInt(k string, want int64, why string) {
	p.t.Helper()
	for _, n := range []*node{p.a, p.b} {
		e, _, err := n.db.Get(context.Background(), key(k))
		if err != nil {
			p.t.Fatal(err)
		}
		if v, _ := e.Value.Int(); v != want {
			p.t.Fatalf("%s = %d at %s: want %d (%s)", k, v, n.id, want, why)
		}
	}
}

// idle waits until both sides are idle at once.
func (p *pair) idle() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if err := p.a.rep.WaitIdle(ctx); err != nil {
			p.t.Fatalf("%v\nB: %+v", err, p.b.rep.Status())
		}
		if err := p.b.rep.WaitIdle(ctx); err != nil {
			p.t.Fatalf("%v\nA: %+v", err, p.a.rep.Status())
		}
		if p.a.rep.Status().Idle() && p.b.rep.Status().Idle() {
			return
		}
	}
}

// status returns what n knows of id.
func (p *pair) status(n *node, id journal.TxID) liege.TxnState {
	p.t.Helper()
	st, err := n.db.TxnStatus(context.Background(), id)
	if err != nil {
		p.t.Fatal(err)
	}
	return st.State
}

// converged stops both instances and checks the oracle of DESIGN.md
// section 11 on their directories: same TxIDs and state, the path valid on
// replay, every acknowledged TxID exactly once.
func (p *pair) converged() {
	p.t.Helper()
	p.sameHash()
	p.stop(p.a)
	p.stop(p.b)
	a, err := oracle.Load(p.a.dir)
	if err != nil {
		p.t.Fatal(err)
	}
	b, err := oracle.Load(p.b.dir)
	if err != nil {
		p.t.Fatal(err)
	}
	rep, err := oracle.Check(a, b, oracle.Options{Acked: p.acked})
	if err != nil {
		p.t.Fatalf("oracle: %v", err)
	}
	if len(rep.Checks) < 10 {
		p.t.Fatalf("the oracle ran only %v", rep.Checks)
	}
}

// sameHash checks that the running instances hold the same state.
func (p *pair) sameHash() {
	p.t.Helper()
	ctx := context.Background()
	ha, err := p.a.db.Hash(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	hb, err := p.b.db.Hash(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	if ha != hb {
		p.t.Fatalf("state hashes differ: A %x, B %x", ha[:8], hb[:8])
	}
}

// A stream longer than replicate.DefaultMaxUnsent goes through whole: the
// database's writer says what it took (DB.Outbox), so the node ships on
// past the bound. (A driver that did not would stall the stream at 4,096
// frames, and the pair would never be idle.)
func TestStreamPastMaxUnsent(t *testing.T) {
	p := newPair(t, link.MemOptions{})
	const n, callers = 6000, 32
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += callers {
				if _, err := p.a.db.Call(context.Background(), "ops", opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p.idle()
	p.wantInt("n", n, "every add at A replicated to B")
	p.sameHash()
}
