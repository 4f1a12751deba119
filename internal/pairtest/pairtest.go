// Package pairtest is a test harness for two replicated instances of one
// application: a liege "A" and a vassal "B", each in its own t.TempDir(),
// with the application's procedures registered on both, replicating over an
// in-memory network (replicate/link.MemNetwork) that a test can partition
// and heal.
//
// A scenario test commits on either side with Call (which records the
// acknowledged TxIDs), cuts the link with Partition(true), heals it with
// Partition(false), waits for replication to settle with Idle, and ends
// with Converged, which stops both instances and checks the oracle of
// DESIGN.md section 11 (internal/oracle) with the application's invariant:
//
//	p := pairtest.New(t, ticketing.Register)
//	p.Call(p.A(), ticketing.ProcCreateEvent, args)
//	p.Idle()
//	p.Partition(true)
//	... p.Call(p.A(), ...); p.Call(p.B(), ...)
//	p.Partition(false)
//	p.Idle()
//	p.Converged(pairtest.Invariant(ticketing.Check))
//
// The log lines of both instances are captured and printed if the test
// fails (or always, to stderr, with LIEGE_TEST_LOG set). Waits never
// sleep: Idle waits on the replicators' status.
package pairtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// IdleTimeout is how long Idle waits for both sides to be idle at once,
// unless WithIdleTimeout says otherwise.
const IdleTimeout = 20 * time.Second

// Instance ids and the names of the instances on the network.
const (
	IDA = "A" // the liege, which listens
	IDB = "B" // the vassal, which dials
)

// config is what the options set.
type config struct {
	heartbeat time.Duration
	idle      time.Duration // Idle's budget (0: IdleTimeout)
	mem       link.MemOptions
	now       func() time.Time
	cluster   string
	options   func(*liege.Options) // retain.go
}

// Option configures a Pair.
type Option func(*config)

// WithIdleTimeout sets how long Idle waits (IdleTimeout by default): a
// benchmark of a long reconciliation needs more.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// WithHeartbeat sets the replicators' heartbeat interval (10ms by default).
func WithHeartbeat(d time.Duration) Option { return func(c *config) { c.heartbeat = d } }

// WithMemOptions sets the options of the in-memory network (faults, frame
// size). Its Logger, if nil, is the pair's.
func WithMemOptions(o link.MemOptions) Option { return func(c *config) { c.mem = o } }

// WithClock sets the physical clock of both instances and their
// replicators (time.Now by default): a test that moves it by hand decides
// the (HLC, origin) order of concurrent transactions.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// node is one instance with its replicator.
type node struct {
	id, peer, role, dir string
	db                  *liege.DB
	rep                 *replicate.Replicator
	lis                 link.Listener
}

// Pair is a liege A and a vassal B replicating over an in-memory network.
// Its methods are for the test's goroutine, except TryCall, which any
// goroutine may use.
type Pair struct {
	t        testing.TB
	register func(liege.Registrar) error
	cfg      config
	net      *link.MemNetwork
	log      *slog.Logger
	logs     *LogBuffer
	a, b     *node

	mu    sync.Mutex
	acked []journal.TxID
}

// New opens the liege A and the vassal B in fresh directories, registers
// the application's procedures on both with register, and starts
// replicating them: A listens, B dials. Both are stopped when the test
// ends.
func New(t testing.TB, register func(liege.Registrar) error, opts ...Option) *Pair {
	t.Helper()
	cfg := config{heartbeat: 10 * time.Millisecond, now: time.Now, cluster: "pairtest"}
	for _, o := range opts {
		o(&cfg)
	}
	lb := &LogBuffer{}
	var w io.Writer = lb
	if os.Getenv("LIEGE_TEST_LOG") != "" {
		w = io.MultiWriter(lb, os.Stderr)
	}
	p := &Pair{t: t, register: register, cfg: cfg, logs: lb,
		log: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if cfg.mem.Logger == nil {
		cfg.mem.Logger = p.log
	}
	p.net = link.NewMemNetwork(cfg.mem)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of both instances:\n%s", lb)
		}
	})
	p.a = &node{id: IDA, peer: IDB, role: liege.RoleLiege, dir: t.TempDir()}
	p.b = &node{id: IDB, peer: IDA, role: liege.RoleVassal, dir: t.TempDir()}
	t.Cleanup(p.stopBoth) // runs before the log is printed (cleanups run last first)
	p.start(p.a)
	p.start(p.b)
	return p
}

// start opens n, registers the procedures and starts its replicator.
func (p *Pair) start(n *node) {
	p.t.Helper()
	o := liege.Options{Dir: n.dir, ID: n.id, PeerID: n.peer, Role: n.role,
		Now: p.cfg.now, CheckpointEvery: -1, Logger: p.log}
	if p.cfg.options != nil {
		p.cfg.options(&o)
	}
	db, err := liege.Open(o)
	if err != nil {
		p.t.Fatalf("pairtest: open %s: %v", n.id, err)
	}
	n.db = db
	if err := p.register(db); err != nil {
		p.t.Fatalf("pairtest: register the procedures on %s: %v", n.id, err)
	}
	rc := replicate.Config{Host: db, Cluster: p.cfg.cluster, Heartbeat: p.cfg.heartbeat,
		Logger: p.log, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if n.role == liege.RoleLiege {
		if n.lis, err = p.net.Listen(n.id); err != nil {
			p.t.Fatalf("pairtest: listen as %s: %v", n.id, err)
		}
		rc.Listener = n.lis
	} else {
		rc.Dialer = p.net.Dialer(n.id, n.peer)
	}
	if n.rep, err = replicate.Start(rc); err != nil {
		p.t.Fatalf("pairtest: start replicating %s: %v", n.id, err)
	}
}

// stop stops n's replicator and closes it; a stopped node is left alone.
func (p *Pair) stop(n *node) error {
	if n.db == nil {
		return nil
	}
	var errs []error
	if err := n.rep.Close(); err != nil {
		errs = append(errs, fmt.Errorf("stop replicating %s: %w", n.id, err))
	}
	if n.lis != nil {
		n.lis.Close()
		n.lis = nil
	}
	if err := n.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close %s: %w", n.id, err))
	}
	n.db, n.rep = nil, nil
	return errors.Join(errs...)
}

func (p *Pair) stopBoth() {
	if err := errors.Join(p.stop(p.a), p.stop(p.b)); err != nil {
		p.t.Errorf("pairtest: %v", err)
	}
}

// running returns n's database, failing the test if n was stopped.
func (p *Pair) running(n *node) *liege.DB {
	p.t.Helper()
	if n.db == nil {
		p.t.Fatalf("pairtest: instance %s is stopped (Converged stops both)", n.id)
	}
	return n.db
}

// A returns the liege.
func (p *Pair) A() *liege.DB { p.t.Helper(); return p.running(p.a) }

// B returns the vassal.
func (p *Pair) B() *liege.DB { p.t.Helper(); return p.running(p.b) }

// Replicators returns the replicators of A and B.
func (p *Pair) Replicators() (a, b *replicate.Replicator) { return p.a.rep, p.b.rep }

// Dirs returns the directories of A and B.
func (p *Pair) Dirs() (a, b string) { return p.a.dir, p.b.dir }

// Partition cuts (on) or heals (off) the link between A and B: while it is
// cut, dials fail and frames are lost.
//
// Cutting it returns once both running instances see the link down (a
// heartbeat silence), so that calls made next are not forwarded to the
// liege (DESIGN.md section 13) over a link that no longer carries them.
func (p *Pair) Partition(on bool) {
	p.net.Partition(IDA, IDB, on)
	if !on {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range []*node{p.a, p.b} {
		for n.db != nil && n.db.ReplStatus().Connected {
			if time.Now().After(deadline) {
				p.t.Fatalf("pairtest: %s still sees its link up 10s after the partition", n.db.ID())
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// Call calls proc with args on db (A() or B()), failing the test on an
// error. A call that committed is recorded as acknowledged: Converged
// checks that it ends in the path exactly once.
func (p *Pair) Call(db *liege.DB, proc string, args any) *liege.Result {
	p.t.Helper()
	r, err := p.TryCall(db, proc, args)
	if err != nil {
		p.t.Fatalf("pairtest: call %s on %s: %v", proc, db.ID(), err)
	}
	return r
}

// TryCall is Call returning the error instead of failing the test; unlike
// Call, it may be used from any goroutine.
func (p *Pair) TryCall(db *liege.DB, proc string, args any) (*liege.Result, error) {
	r, err := db.Call(context.Background(), proc, args)
	if err != nil {
		return nil, err
	}
	if !r.ReadOnly() {
		p.mu.Lock()
		p.acked = append(p.acked, r.TxID)
		p.mu.Unlock()
	}
	return r, nil
}

// Acked returns the TxIDs recorded as acknowledged so far.
func (p *Pair) Acked() []journal.TxID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.acked)
}

// Idle waits until both replicators are idle at once (connected, nothing
// to send or receive, no rollback under way, no reconciliation pending),
// failing the test with both statuses after IdleTimeout (or
// WithIdleTimeout's).
func (p *Pair) Idle() {
	p.t.Helper()
	ra, rb := p.a.rep, p.b.rep
	if ra == nil || rb == nil {
		p.t.Fatalf("pairtest: Idle on a stopped pair")
	}
	budget := p.cfg.idle
	if budget <= 0 {
		budget = IdleTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	// Not every change of a status is announced on Changed (the pending
	// reconciliations are the engine's): look again every heartbeat too.
	poll := p.cfg.heartbeat
	if poll <= 0 {
		poll = 10 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		// Take the change channels before reading the statuses, so that
		// no change between the read and the wait is missed.
		ca, cb := ra.Changed(), rb.Changed()
		sa, sb := ra.Status(), rb.Status()
		if sa.Idle() && sb.Idle() {
			return
		}
		select {
		case <-ca:
		case <-cb:
		case <-tick.C:
		case <-ctx.Done():
			p.t.Fatalf("pairtest: replication not idle after %v\nA: %+v\nB: %+v", budget, ra.Status(), rb.Status())
		}
	}
}

// Status returns what db knows of transaction id.
func (p *Pair) Status(db *liege.DB, id journal.TxID) liege.TxnState {
	p.t.Helper()
	st, err := db.TxnStatus(context.Background(), id)
	if err != nil {
		p.t.Fatalf("pairtest: status of %v on %s: %v", id, db.ID(), err)
	}
	return st.State
}

// State returns every key of db's state, in key order.
func (p *Pair) State(db *liege.DB) []liege.Entry {
	p.t.Helper()
	es, err := db.Scan(context.Background(), nil, nil, 0)
	if err != nil {
		p.t.Fatalf("pairtest: scan %s: %v", db.ID(), err)
	}
	return es
}

// Converged checks that the instances converged, as DESIGN.md section 11
// defines it: it compares their state hashes while they run, stops both,
// loads their directories and runs oracle.Check with the acknowledged
// TxIDs and invariant (nil: none), failing the test with the violation. It
// returns the oracle's report. After it, A and B are stopped.
func (p *Pair) Converged(invariant func([]oracle.Entry) []string) *oracle.Report {
	p.t.Helper()
	if p.a.db != nil && p.b.db != nil {
		ctx := context.Background()
		ha, errA := p.a.db.Hash(ctx)
		hb, errB := p.b.db.Hash(ctx)
		if err := errors.Join(errA, errB); err != nil {
			p.t.Fatalf("pairtest: state hash: %v", err)
		}
		if ha != hb {
			p.t.Errorf("pairtest: the running instances' state hashes differ: A %x, B %x", ha[:8], hb[:8])
		}
	}
	if err := errors.Join(p.stop(p.a), p.stop(p.b)); err != nil {
		p.t.Fatalf("pairtest: %v", err)
	}
	a, err := oracle.Load(p.a.dir)
	if err != nil {
		p.t.Fatalf("pairtest: load A: %v", err)
	}
	b, err := oracle.Load(p.b.dir)
	if err != nil {
		p.t.Fatalf("pairtest: load B: %v", err)
	}
	acked := p.Acked()
	rep, err := oracle.Check(a, b, oracle.Options{Acked: acked, Invariant: invariant})
	if err != nil {
		p.t.Fatalf("pairtest: not converged: %v", err)
	}
	want := []string{oracle.CheckTxIDs, oracle.CheckState, oracle.CheckReplay, oracle.CheckFinalState, oracle.CheckAcked}
	if invariant != nil {
		want = append(want, oracle.CheckInvariant)
	}
	for _, c := range want {
		if !slices.Contains(rep.Checks, c) {
			p.t.Fatalf("pairtest: the oracle did not run check %s (it ran %v)", c, rep.Checks)
		}
	}
	if rep.Acked != len(uniq(acked)) {
		p.t.Fatalf("pairtest: the oracle checked %d acknowledged TxIDs, want %d", rep.Acked, len(uniq(acked)))
	}
	return rep
}

// Invariant adapts an application's check to the oracle (apps.Invariant).
func Invariant(check func([]liege.Entry) []string) func([]oracle.Entry) []string {
	return apps.Invariant(check)
}

// Entries converts the oracle's entries to liege entries (apps.Entries).
func Entries(state []oracle.Entry) []liege.Entry { return apps.Entries(state) }

func uniq(ids []journal.TxID) []journal.TxID {
	seen := map[journal.TxID]bool{}
	var out []journal.TxID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// LogBuffer collects log lines for a test, safely from many goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
