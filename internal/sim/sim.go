// Package sim is the deterministic simulation of a liege and a vassal
// (issue 11, item 6). One goroutine runs both instances (Instance: a
// steppable engine owning its replicate.Node, over a journal.MemLog), a
// simulated network (per-direction queues with delay, drop, duplicate,
// reorder, partitions one way or both, cuts and reconnects with a new
// handshake), a simulated clock per instance (an offset inside the bound,
// ticks), and clients that keep several calls in flight at each site. It
// crashes either instance between any two steps (mid-rollback,
// mid-reconciliation, between a write and its fsync: the MemLog keeps what
// was synced and a seeded part of the rest), restarts it from its journal,
// switches over, promotes the vassal while the old liege still runs, and
// brings the old liege back. Each seed ends by healing everything, running
// until idle within a step budget (a seed that does not go idle fails,
// never hangs) and checking the oracle of DESIGN.md section 11.
//
// The seed decides everything: math/rand/v2's PCG seeded from it, no map
// iteration, no goroutine, no clock. The same Options give byte-identical
// traces on any machine and any GOMAXPROCS; RunMany runs seeds on several
// goroutines and combines the results in seed order.
//
// The main loop is Run, below: one page.
package sim

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// Options configure the run of one seed.
type Options struct {
	Seed uint64
	// Steps is the number of random events before healing (300 if 0).
	Steps int
	// Break runs a deliberately broken protocol (replicate.Breaks).
	Break replicate.Break
	// Open opens an instance (if nil: OpenEngine, the real engine, each
	// instance with a directory for its side files; OpenModel with Model).
	Open Opener
	// Model runs the simulator's small model engine (OpenModel) instead of
	// the real one: faster, and the protocol's Node alone under test.
	Model bool
	// App, if set, is the workload instead of the "ops" procedure: kv, atm
	// or ticketing (on the real engine only); the oracle checks its
	// invariant too.
	App string
	// Trace, if set, receives the trace as readable lines.
	Trace io.Writer
	// HealBudget bounds the steps of healing (5,000 if 0; each is 1ms of
	// work and delivery): a seed not idle by then fails.
	HealBudget int
}

// Result is what one seed did.
type Result struct {
	Seed uint64
	// Steps counts every event run, healing included.
	Steps                                    int
	Acked                                    int
	Rollbacks                                int // the vassal's epochs at the end, over both instances
	Crashes, Promotes, Switchovers, Refusals int
	// Forwarded counts the acknowledged calls a vassal forwarded to its
	// liege (route.go).
	Forwarded int
	// Model: the seed ran on the model engine; App is its application.
	Model bool
	App   string
	// TraceHash is the SHA-256 of the trace.
	TraceHash [32]byte
	// Failure is nil when the seed passed.
	Failure *Failure
}

// Failure is why a seed failed.
type Failure struct {
	// Item is the violated oracle item ("oracle item 2: the path is
	// valid"), or "liveness" (not idle within the budget), or "engine" (an
	// instance failed or panicked).
	Item string
	Msg  string
	// Trace is the tail of the trace, for liveness and engine failures.
	Trace string
}

func (f *Failure) Error() string { return f.Item + ": " + f.Msg }

const (
	ms          = int64(time.Millisecond)
	tickEvery   = 5 * ms   // each instance's tick
	maxOffset   = 100 * ms // clock offsets are drawn inside ±maxOffset (the bound is 500ms)
	traceTail   = 60       // lines kept for a failure's report
	healDefault = 5000
)

// Run runs one seed. Read it top to bottom: set up, random events, heal,
// settle, check.
func Run(o Options) (res Result) {
	if o.Steps <= 0 {
		o.Steps = 300
	}
	if o.HealBudget <= 0 {
		o.HealBudget = healDefault
	}
	if o.Open == nil {
		o.Open = OpenEngine
		if o.Model {
			o.Open = OpenModel
		}
	}
	w := newWorld(o)
	res.Seed, res.Model, res.App = o.Seed, o.Model, o.App
	if !o.Model {
		cleanup, err := w.makeDirs()
		if err != nil {
			res.Failure = &Failure{Item: "engine", Msg: err.Error()}
			return res
		}
		defer cleanup()
	}
	defer func() {
		if p := recover(); p != nil {
			w.fail("engine", fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
		}
		res.Steps, res.Acked, res.Crashes, res.Promotes, res.Switchovers, res.Refusals, res.Forwarded =
			w.steps, len(w.acked), w.crashes, w.promotes, w.switchovers, w.refusals, w.forwarded
		res.Rollbacks = w.rollbacks()
		copy(res.TraceHash[:], w.hash.Sum(nil))
		res.Failure = w.failure
	}()
	w.start(A)
	w.start(B)
	w.setupApp()
	for w.steps < o.Steps && w.failure == nil { // the random events
		w.steps++
		switch x := w.rng.IntN(1000); {
		case x < 320:
			w.stepInstance(w.pick())
		case x < 560:
			w.deliverDue(w.pickDir())
		case x < 700:
			w.submit(w.pick())
		case x < 940:
			w.advance(ms + w.rng.Int64N(2*ms))
		case x < 950:
			w.crash(w.pick())
		case x < 958:
			w.cut("cut")
		case x < 970:
			w.partition()
		case x < 976:
			w.promote(w.rng.IntN(3) == 0)
		case x < 982:
			w.switchover()
		default:
			w.advance(tickEvery * w.rng.Int64N(4))
		}
		w.maintain()
		w.maybeWipe() // seed.go
	}
	w.heal()
	for budget := o.HealBudget; w.failure == nil && !w.idle(); budget-- { // settle
		if budget == 0 {
			// Not idle: a divergence often is why, and the oracle names it.
			stuck := fmt.Sprintf("not idle after %d healing steps: A %s; B %s", o.HealBudget, w.statusOf(A), w.statusOf(B))
			if w.sites[A].inst != nil && w.sites[B].inst != nil {
				w.check()
			}
			if w.failure != nil {
				w.failure.Msg += " (and " + stuck + ")"
			} else {
				w.fail("liveness", stuck)
			}
			break
		}
		w.steps++
		w.settleStep()
	}
	if w.failure == nil {
		w.check()
	}
	return res
}

// ---- the world ----

// Site names: A starts as liege, B as vassal.
const (
	A = 0
	B = 1
)

var siteNames = [2]string{"A", "B"}

type site struct {
	id       string
	inst     Instance // nil while down
	log      *journal.MemLog
	side     *Side
	offset   int64 // clock offset from the simulation's time
	nextTick int64
	upAt     int64 // restart time while down
	inflight int
	clients  int // calls a site keeps in flight
	epoch    uint64
	dir      string // with Options.Engine
}

// packet is a frame on its way. Its byte slices are never modified (an
// instance hands out frames it no longer touches), so a duplicate shares
// them.
type packet struct {
	at   int64
	conn uint64
	f    link.Frame
	desc string // the frame in the trace, made once when sent
	subj bool   // a Txn frame of a reprocess or correction
}

type pipe struct {
	q       []packet
	blocked bool // partitioned this way
}

type world struct {
	o       Options
	rng     *rand.Rand
	now     int64
	steps   int
	sites   [2]*site
	pipes   [2]*pipe // pipes[A] carries A->B
	up      bool
	conn    uint64
	linkAt  int64 // reconnect no earlier than this
	drop    float64
	dup     float64
	reorder float64
	delay   int64
	acked   []journal.TxID
	healing bool
	racy    bool // promotes races with reconciliation
	retain  bool // frequent checkpoints and journal truncation (retain.go)
	// unsent, in one seed of five, is a tiny replicate.NodeConfig.MaxUnsent,
	// so that a node ships a few frames and waits for its driver to take
	// them (the engine's Outbox says them written).
	unsent int
	wipe   wipeState
	app    *apps.App
	load   appLoad
	// route, in some seeds on the real engine, forwards calls at the
	// vassal (route.go); its own stream, so the other draws of a seed stay
	// as they were.
	route *rand.Rand

	crashes, promotes, switchovers, refusals int
	forwarded                                int // acked calls committed at the other site

	// rejected are the peer TxIDs each site rejected on the current
	// connection in reign rejReign (DESIGN.md section 8: once each).
	rejected [2]map[journal.TxID]bool
	rejReign [2]uint64

	hash    hash.Hash
	tail    []string
	failure *Failure
	// reconLost holds, per sending site, the records of reconciliation log
	// frames lost while the link stayed up (cleared when it goes down), to
	// trace their resend on the vassal's tick budget.
	reconLost [2]map[string]bool
}

func newWorld(o Options) *world {
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed51))
	w := &world{o: o, rng: rng, hash: sha256.New(), now: 1_700_000_000_000 * ms}
	// The seed's profile: how faulty the network is, how busy the clients.
	if rng.IntN(3) > 0 {
		w.drop, w.dup, w.reorder = rng.Float64()*0.06, rng.Float64()*0.06, rng.Float64()*0.1
	}
	w.delay = rng.Int64N(4 * ms)
	w.racy = rng.IntN(4) == 0
	w.retain = o.Seed%3 == 0 && !o.Model // not drawn: the other seeds replay as before
	if o.Seed%5 == 1 && !o.Model {
		w.unsent = 1 + int(o.Seed/5%4) // not drawn either
	}
	if o.App != "" {
		app, err := apps.Lookup(o.App)
		if err == nil && o.Model {
			err = errors.New("an application runs on the real engine only (not with Options.Model, --model)")
		}
		if err == nil {
			w.load, err = newAppLoad(o.App)
		}
		if err != nil {
			w.fail("engine", err.Error())
		}
		w.app = &app
	}
	for i := range w.sites {
		w.sites[i] = &site{id: siteNames[i], log: journal.NewMemLog(), side: &Side{},
			offset: rng.Int64N(2*maxOffset) - maxOffset, nextTick: w.now + rng.Int64N(tickEvery),
			clients: 1 + rng.IntN(6)}
		w.pipes[i] = &pipe{}
	}
	w.route = routeStream(o)
	w.tracef("seed %d: drop %.3f dup %.3f reorder %.3f delay %dus, offsets A %dms B %dms, clients %d/%d, racy %v, break %q, route %v",
		o.Seed, w.drop, w.dup, w.reorder, w.delay/1000, w.sites[A].offset/ms, w.sites[B].offset/ms,
		w.sites[A].clients, w.sites[B].clients, w.racy, o.Break, w.route != nil)
	return w
}

// makeDirs gives each site a directory for the real engine's side files,
// removed by cleanup.
func (w *world) makeDirs() (cleanup func(), err error) {
	// The side files need no disk: a crash here is the MemLog's, not the
	// machine's, and what a file holds survives it either way. A tmpfs,
	// where there is one, spares the engines' fsyncs (it halves a run).
	root, err := os.MkdirTemp("/dev/shm", "liege-sim-")
	if err != nil {
		root, err = os.MkdirTemp("", "liege-sim-")
	}
	if err != nil {
		return nil, fmt.Errorf("a directory for the engines' side files: %w", err)
	}
	for _, s := range w.sites {
		s.dir = filepath.Join(root, s.id)
		if err := os.Mkdir(s.dir, 0o755); err != nil {
			os.RemoveAll(root)
			return nil, err
		}
	}
	return func() { os.RemoveAll(root) }, nil
}

func (w *world) tracef(format string, args ...any) {
	line := fmt.Sprintf("%5d %6.1fms "+format, append([]any{w.steps, float64(w.now%(1000*ms)) / float64(ms)}, args...)...)
	w.hash.Write([]byte(line))
	w.hash.Write([]byte{'\n'})
	if w.o.Trace != nil {
		fmt.Fprintln(w.o.Trace, line)
	}
	if len(w.tail) == traceTail {
		w.tail = append(w.tail[:0], w.tail[1:]...)
	}
	w.tail = append(w.tail, line)
}

func (w *world) fail(item, msg string) {
	if w.failure != nil {
		return
	}
	w.tracef("FAIL %s: %s", item, msg)
	w.failure = &Failure{Item: item, Msg: msg, Trace: strings.Join(w.tail, "\n")}
}

func (w *world) pick() int    { return w.rng.IntN(2) }
func (w *world) pickDir() int { return w.rng.IntN(2) }

// start opens site i from its journal.
func (w *world) start(i int) {
	s := w.sites[i]
	role := replicate.RoleLiege
	if i == B {
		role = replicate.RoleVassal
	}
	cfg := Config{ID: s.id, PeerID: siteNames[1-i], Cluster: "sim", Role: role, Log: s.log, Side: s.side, Dir: s.dir, App: w.app,
		Now: func() int64 { return w.now + s.offset },
		Node: replicate.NodeConfig{HeartbeatTicks: 1, SilenceTicks: 8, ResendTicks: 3, ReconResendTicks: 10,
			PromoteQuietTicks: 3, MaxUnsent: w.unsent, Break: w.o.Break}, Retain: w.retain}
	inst, err := w.o.Open(cfg)
	if err != nil {
		w.fail("engine", fmt.Sprintf("open %s: %v", s.id, err))
		return
	}
	s.inst = inst
	st := inst.Status()
	s.epoch = max(s.epoch, st.Epoch)
	w.tracef("%s started: %s reign %d epoch %d last %d wm %d", s.id, st.Role, st.Reign, st.Epoch, st.LastOwn, st.Watermark)
}

// stepInstance does one unit of site i's work.
func (w *world) stepInstance(i int) {
	s := w.sites[i]
	if s.inst == nil {
		return
	}
	worked, err := s.inst.Step()
	if err != nil {
		w.fail("engine", fmt.Sprintf("%s step: %v", s.id, err))
		return
	}
	if worked {
		st := s.inst.Status()
		s.epoch = max(s.epoch, st.Epoch)
		w.tracef("%s step: last %d wm %d epoch %d%s", s.id, st.LastOwn, st.Watermark, st.Epoch, flags(st))
	}
	w.pump(i)
}

func flags(st replicate.NodeStatus) string {
	var b strings.Builder
	if st.RollingBack {
		b.WriteString(" rolling-back")
	}
	if !st.Discarding.IsZero() {
		fmt.Fprintf(&b, " discarding %v", st.Discarding)
	}
	if st.ReconPending+st.Reconciling > 0 {
		fmt.Fprintf(&b, " recon %d/%d", st.ReconPending, st.Reconciling)
	}
	return b.String()
}

// submit tops up site i's calls in flight.
func (w *world) submit(i int) {
	s := w.sites[i]
	if s.inst == nil || w.healing || w.wipeHolds(i) {
		return
	}
	for s.inflight < s.clients {
		s.inflight++
		inst := s.inst
		var c Call
		if w.load != nil {
			c = w.load.next(w.rng, i, w.rng.IntN(5) < 2)
			w.tracef("%s call %s %+v", s.id, c.Proc, c.Args)
		} else {
			c.Ops = w.randomOps()
			w.tracef("%s call %s", s.id, opsString(c.Ops))
		}
		fwd := w.forward(i)
		inst.Submit(&Call{Ops: c.Ops, Proc: c.Proc, Args: c.Args, Forward: fwd, Done: func(id journal.TxID, err error) {
			if s.inst != inst {
				return // an answer from before a crash never reaches the client
			}
			s.inflight--
			if err != nil {
				w.refusals++
				w.tracef("%s refused: %v", s.id, err)
				return
			}
			if id.IsZero() {
				w.tracef("%s answered (read-only)", s.id)
				return
			}
			w.acked = append(w.acked, id)
			if id.Origin != s.id {
				w.forwarded++
			}
			w.tracef("%s acked %v", s.id, id)
		}})
	}
}

// randomOps is a call's work: RandomOps (reads, absent reads, ranges,
// Set, Delete, Add), or one time in four Adds alone, which commute with
// every other Add: only the duplicate subject check tells two reconciliations
// of one of them apart.
func (w *world) randomOps() []Op {
	if w.rng.IntN(4) > 0 {
		return RandomOps(w.rng)
	}
	ops := []Op{{Op: "add", K: "calls", N: 1}}
	for n := w.rng.IntN(3); n > 0; n-- {
		ops = append(ops, Op{Op: "add", K: "n" + keys[w.rng.IntN(len(keys))], N: int64(1 + w.rng.IntN(9))})
	}
	return ops
}

func opsString(ops []Op) string {
	var b strings.Builder
	for i, o := range ops {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch o.Op {
		case "scan":
			fmt.Fprintf(&b, "scan(%s,%s)", o.K, o.K2)
		case "set":
			fmt.Fprintf(&b, "set(%s=%s)", o.K, o.V)
		case "add":
			fmt.Fprintf(&b, "add(%s+%d)", o.K, o.N)
		default:
			fmt.Fprintf(&b, "%s(%s)", o.Op, o.K)
		}
	}
	return b.String()
}

// setupApp creates the application's data at the liege before the load.
func (w *world) setupApp() {
	if w.load == nil || w.failure != nil {
		return
	}
	a := w.sites[A]
	calls := w.load.setup()
	left := len(calls)
	for k := range calls {
		c := &calls[k]
		c.Done = func(id journal.TxID, err error) {
			left--
			if err != nil {
				w.fail("engine", fmt.Sprintf("setting up %s: %s %+v: %v", w.app.Name, c.Proc, c.Args, err))
				return
			}
			if !id.IsZero() {
				w.acked = append(w.acked, id)
			}
		}
		a.inst.Submit(c)
	}
	for budget := 10000; left > 0 && w.failure == nil; budget-- {
		if budget == 0 {
			w.fail("liveness", fmt.Sprintf("setting up %s: %d calls unanswered", w.app.Name, left))
			return
		}
		w.stepInstance(A)
	}
	w.tracef("%s set up: %d calls", w.app.Name, len(calls))
}

// ---- the network ----

// pump moves site i's outbox onto the network, with its faults.
func (w *world) pump(i int) {
	s := w.sites[i]
	if s.inst == nil {
		return
	}
	w.afterSeed(i) // seed.go
	out := s.inst.Outbox()
	frames, disc := out.Frames, out.Disconnect
	for _, n := range out.Notes {
		w.tracef("%s: %s", s.id, n)
	}
	w.checkRejected(i, out.Rejected)
	p := w.pipes[i]
	for k := range frames {
		f := &frames[k]
		if !w.up {
			continue
		}
		desc, subj := frameString(f)
		w.reconResent(i, f)
		switch {
		case p.blocked:
			w.tracef("%s->%s lost (partition) %s", s.id, siteNames[1-i], desc)
			w.reconLostFrame(i, f)
			continue
		case w.rng.Float64() < w.drop:
			w.tracef("%s->%s dropped %s", s.id, siteNames[1-i], desc)
			w.reconLostFrame(i, f)
			continue
		}
		n := 1
		if w.rng.Float64() < w.dup {
			n = 2
		}
		for range n {
			p.q = append(p.q, packet{at: w.now + w.rng.Int64N(w.delay+1), conn: w.conn, f: *f, desc: desc, subj: subj})
		}
	}
	if disc != "" {
		w.cut(s.id + ": " + disc)
	}
}

// deliverDue delivers every packet of direction d due now, in the network's
// order (see deliver).
func (w *world) deliverDue(d int) {
	for n := len(w.pipes[d].q); n > 0 && w.failure == nil; n-- {
		w.deliver(d)
	}
}

// deliver hands the peer one due packet of direction d: the oldest, or
// (reorder) any due one.
func (w *world) deliver(d int) {
	p := w.pipes[d]
	k := slices.IndexFunc(p.q, func(pk packet) bool { return pk.at <= w.now })
	if k < 0 {
		return
	}
	if w.reorder > 0 && w.rng.Float64() < w.reorder {
		var due []int
		for j := k; j < len(p.q); j++ {
			if p.q[j].at <= w.now {
				due = append(due, j)
			}
		}
		k = due[w.rng.IntN(len(due))]
	}
	pk := p.q[k]
	p.q = append(p.q[:k], p.q[k+1:]...)
	to := w.sites[1-d]
	if pk.conn != w.conn || !w.up || to.inst == nil {
		return
	}
	f := pk.f
	if w.racy && pk.subj && w.rng.IntN(2) == 0 &&
		to.inst.Status().Role == replicate.RoleVassal {
		w.racy = false // once a seed
		// The subject race of DESIGN.md section 10: the liege's reprocess
		// of a rolled-off vassal transaction is on its way, and the vassal,
		// still holding it pending, is promoted and reconciles it too.
		w.promote(true)
	}
	w.tracef("%s <- %s", to.id, pk.desc)
	if err := to.inst.Deliver(&f); err != nil {
		w.tracef("%s refused the frame: %v", to.id, err)
		w.pump(1 - d)
		w.cut(to.id + " refused the peer")
		return
	}
	w.pump(1 - d)
}

// cut closes the link: both sides see it go down; frames in flight are lost.
func (w *world) cut(why string) {
	if !w.up {
		return
	}
	w.up = false
	w.reconLost = [2]map[string]bool{}
	w.linkAt = w.now + w.rng.Int64N(20*ms)
	w.rejected = [2]map[journal.TxID]bool{}
	w.tracef("link down: %s", why)
	for i, s := range w.sites {
		w.pipes[i].q = nil
		if s.inst != nil {
			s.inst.LinkDown()
			w.pump(i)
		}
	}
}

// checkRejected checks DESIGN.md section 8 on the wire: a liege rejects
// a vassal transaction at most once per connection. After rejecting b it
// discards every vassal transaction frame until the answer naming b, and
// that answer comes from a vassal that rolled b off (its epoch moved
// past every frame of b), so b is never checked there again. A second
// rejection of b on one connection means the liege checked a frame it
// had to discard. (The outcome may still converge: a frame of b that
// slips in is rejected again by the same conflict, and its successors'
// Prev does not match. This catches the rule broken before the outcome
// shows it.) A new reign starts the count anew: a role change ends
// discarding, and the site may be liege again in a later reign.
func (w *world) checkRejected(i int, ids []journal.TxID) {
	if len(ids) == 0 {
		return
	}
	if r := w.sites[i].inst.Status().Reign; w.rejected[i] == nil || r != w.rejReign[i] {
		w.rejected[i], w.rejReign[i] = map[journal.TxID]bool{}, r
	}
	for _, id := range ids {
		if w.rejected[i][id] {
			w.fail("8:discarding", fmt.Sprintf("%s rejected %v twice on connection %d: it checked a frame of a transaction it had rejected before the vassal answered naming it (DESIGN.md section 8: discard every vassal frame until that answer)",
				w.sites[i].id, id, w.conn))
			return
		}
		w.rejected[i][id] = true
	}
}

// reconLostFrame notes the records of a lost reconciliation log frame.
func (w *world) reconLostFrame(i int, f *link.Frame) {
	if f.Kind != link.KindReconLog {
		return
	}
	if w.reconLost[i] == nil {
		w.reconLost[i] = map[string]bool{}
	}
	for _, b := range f.Records {
		w.reconLost[i][string(b)] = true
	}
}

// reconResent traces a reconciliation log frame that carries a record lost
// since the link came up: the vassal resent it on its tick budget
// (replicate.NodeConfig.ReconResendTicks), not after a handshake.
func (w *world) reconResent(i int, f *link.Frame) {
	if f.Kind != link.KindReconLog || len(w.reconLost[i]) == 0 {
		return
	}
	k := 0
	for _, b := range f.Records {
		if w.reconLost[i][string(b)] {
			delete(w.reconLost[i], string(b))
			k++
		}
	}
	if k > 0 {
		w.tracef("%s->%s resends %d reconciliation record(s) lost while the link stayed up", w.sites[i].id, siteNames[1-i], k)
	}
}

// partition blocks or unblocks one direction or both.
func (w *world) partition() {
	switch w.rng.IntN(4) {
	case 0:
		w.pipes[A].blocked, w.pipes[B].blocked = false, false
		w.tracef("partition healed")
	case 1, 2:
		d := w.pickDir()
		w.pipes[d].blocked = !w.pipes[d].blocked
		w.tracef("partition %s->%s %v", siteNames[d], siteNames[1-d], w.pipes[d].blocked)
	default:
		w.pipes[A].blocked, w.pipes[B].blocked = true, true
		w.tracef("partition both ways")
	}
}

// maintain restarts sites due and reconnects the link when it can.
func (w *world) maintain() {
	for i, s := range w.sites {
		if s.inst == nil && w.now >= s.upAt && w.failure == nil {
			w.start(i)
		}
	}
	if !w.up && w.now >= w.linkAt && w.sites[A].inst != nil && w.sites[B].inst != nil &&
		!w.pipes[A].blocked && !w.pipes[B].blocked && w.failure == nil {
		w.up = true
		w.conn++
		w.tracef("link up (connection %d)", w.conn)
		first := w.pick()
		for _, i := range []int{first, 1 - first} {
			w.sites[i].inst.LinkUp()
			w.pump(i)
		}
	}
}

// advance moves the simulation's time; each site ticks on its own clock.
func (w *world) advance(d int64) {
	w.now += d
	for i, s := range w.sites {
		for s.nextTick <= w.now {
			s.nextTick += tickEvery - ms/2 + w.rng.Int64N(ms)
			if s.inst != nil {
				s.inst.Tick()
				w.pump(i)
			}
		}
	}
}

// ---- operators and failures ----

// crash stops site i as a power failure would; it restarts later.
func (w *world) crash(i int) {
	s := w.sites[i]
	if s.inst == nil || w.healing {
		return
	}
	w.crashes++
	s.inst, s.inflight = nil, 0
	s.log = s.log.Crash(w.rng)
	s.upAt = w.now + w.rng.Int64N(60*ms)
	w.tracef("%s crashed", s.id)
	w.cut(s.id + " crashed")
}

func (w *world) roleOf(r string) int {
	for i, s := range w.sites {
		if s.inst != nil && s.inst.Status().Role == r {
			return i
		}
	}
	return -1
}

// promote makes the vassal the liege: forced while the liege still runs,
// or once the liege has gone quiet (which a crash of the liege gives).
func (w *world) promote(force bool) {
	i := w.roleOf(replicate.RoleVassal)
	if i < 0 || w.wipeHolds(i) {
		return
	}
	s := w.sites[i]
	if err := s.inst.Promote(force); err != nil {
		w.tracef("%s promote (force %v) refused: %v", s.id, force, err)
		return
	}
	w.promotes++
	w.tracef("%s promoted (force %v): reign %d", s.id, force, s.inst.Status().Reign)
	w.pump(i)
}

func (w *world) switchover() {
	i := w.roleOf(replicate.RoleLiege)
	if i < 0 {
		return
	}
	s := w.sites[i]
	if err := s.inst.Switchover(); err != nil {
		w.tracef("%s switchover refused: %v", s.id, err)
		return
	}
	w.switchovers++
	w.tracef("%s switchover started", s.id)
	w.pump(i)
}

// ---- healing and the end ----

// heal ends every fault: no partition, no drop, no duplicate, no reorder,
// both sites up; no new calls.
func (w *world) heal() {
	w.healing = true
	w.drop, w.dup, w.reorder = 0, 0, 0
	w.pipes[A].blocked, w.pipes[B].blocked = false, false
	for i := range w.sites {
		w.sites[i].upAt = w.now
	}
	w.tracef("heal")
	w.maintain()
}

// settleStep is one step of healing: each site works until it has nothing
// left to do, every due frame is delivered, and time moves on by 1ms.
func (w *world) settleStep() {
	for i := range w.sites {
		for k := 0; k < 64 && w.sites[i].inst != nil && w.sites[i].inst.Busy() && w.failure == nil; k++ {
			w.stepInstance(i)
		}
	}
	for d := range w.pipes {
		w.deliverDue(d)
	}
	w.advance(ms)
	w.maintain()
}

// idle reports whether the pair has settled: linked, nothing in flight or
// queued, each holding everything the other has.
func (w *world) idle() bool {
	a, b := w.sites[A].inst, w.sites[B].inst
	if !w.up || a == nil || b == nil || a.Busy() || b.Busy() || len(w.pipes[A].q)+len(w.pipes[B].q) > 0 {
		return false
	}
	sa, sb := a.Status(), b.Status()
	return sa.Idle() && sb.Idle() && sa.Role != sb.Role && sa.Reign == sb.Reign &&
		sa.LastOwn == sb.PeerLast && sb.LastOwn == sa.PeerLast &&
		sa.Watermark == sb.LastOwn && sb.Watermark == sa.LastOwn
}

func (w *world) statusOf(i int) string {
	s := w.sites[i]
	if s.inst == nil {
		return "down"
	}
	st := s.inst.Status()
	return fmt.Sprintf("%s reign %d epoch %d connected %v wm %d last %d peer-wm %d peer-last %d busy %v%s",
		st.Role, st.Reign, st.Epoch, st.Connected, st.Watermark, st.LastOwn, st.PeerWM, st.PeerLast, s.inst.Busy(), flags(st))
}

func (w *world) rollbacks() int {
	n := 0
	for _, s := range w.sites {
		n += int(s.epoch)
	}
	return n
}

// check runs the oracle of DESIGN.md section 11 on both instances.
func (w *world) check() {
	a, errA := w.sites[A].inst.Export()
	b, errB := w.sites[B].inst.Export()
	if err := errors.Join(errA, errB); err != nil {
		w.fail("engine", fmt.Sprintf("export: %v", err))
		return
	}
	oo := oracle.Options{Acked: w.acked}
	if w.app != nil {
		oo.Invariant = apps.Invariant(w.app.Check)
	}
	rep, err := oracle.Check(a, b, oo)
	if v := oracle.AsViolation(err); v != nil {
		w.fail(fmt.Sprintf("oracle item %d", v.Item), v.Msg)
		return
	}
	if err != nil {
		w.fail("engine", fmt.Sprintf("oracle: %v", err))
		return
	}
	w.tracef("converged: %d transactions in the path, %d acknowledged, checks %s",
		rep.PathLength, len(w.acked), strings.Join(rep.Checks, " "))
}

// frameString is a frame in one short line, and whether it is a Txn frame
// of a reprocess or correction.
func frameString(f *link.Frame) (string, bool) {
	s := fmt.Sprintf("%v e%d r%d", f.Kind, f.Epoch, f.Reign)
	subj := false
	switch f.Kind {
	case link.KindHello:
		s += fmt.Sprintf(" %s wm %d last %d", f.Role, f.Watermark, f.Prev)
	case link.KindTxn:
		kind, id, ok := skimTxn(f.Record)
		if !ok {
			var r journal.Record
			if err := journal.NewDecoder().DecodeFrame(f.Record, &r); err != nil {
				return s + " (undecodable)", false
			}
			kind, id = r.Kind, r.TxID()
		}
		s += fmt.Sprintf(" %v prev %d", id, f.Prev)
		if kind != journal.KindLocal {
			s += " (" + kind.String() + ")"
			subj = true
		}
	case link.KindHeartbeat:
		s += fmt.Sprintf(" wm %d last %d stable %d", f.Watermark, f.Prev, f.Stable)
	case link.KindResend, link.KindAck:
		s += fmt.Sprintf(" wm %d", f.Watermark)
	case link.KindRollbackCommand, link.KindRollbackAnswer:
		s += fmt.Sprintf(" %q wm %d", f.Subject, f.Watermark)
	case link.KindReconLog:
		s += fmt.Sprintf(" %d records", len(f.Records))
	}
	return s, subj
}
