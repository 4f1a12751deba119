package replicate

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// The scenario scripts of testdata/node run two Nodes, A (liege) and B
// (vassal), each over a tiny fake engine (fakeInst): a map of keys, a
// journal of records, rollback by before-images, reconciliation by
// re-running the subject's reads and writes. Frames go between them only
// when the script says so. Every Ready is printed, so the expected output
// is the protocol's behaviour, checked in; -rewrite regenerates it.
//
// Commands:
//
//	init [heartbeat=N silence=N resend=N recon=N quiet=N forward=N offset=D]
//	connect                        both sides: Connected (Hellos queued)
//	disconnect                     both sides: Disconnected, frames in flight lost
//	commit X [set=k,..] [add=k,..] [del=k,..] [read=k,..] [scan=lo-hi] [pending]
//	                               pending: committed (OwnCommitted), not yet
//	                               durable: neither acknowledged nor shipped
//	durable X                      X's pending commits become durable (OwnDurable)
//	deliver X->Y [n=N]             deliver N (all) frames in flight from X to Y
//	drop X->Y [n=N]                lose N (all) of them
//	settle                         deliver both ways until nothing is in flight
//	inflight                       list the frames in flight
//	tick [X] [n=N]                 N ticks on X (both)
//	promote X [force]
//	switchover X
//	crash X / restart X            lose the node and its frames; rebuild it from the journal
//	lose-tail X [n=N]              a crashed instance loses its last N journal records
//	status X
//	check                          both instances hold the same TxIDs and state
//	journal X                      the journal's transactions
//	compact X pos=N                retention truncated X's journal before position N
//	wipe X                         X's directory is lost: X restarts empty (seed_test.go)
//	forward X id=N key=K [set=k,..] [read=k,..] ...
//	                               vassal X forwards call N (idempotency key K)
//	                               doing what commit does, to its liege

func TestNode(t *testing.T) {
	datadriven.Walk(t, "testdata/node", func(t *testing.T, path string) {
		var h *harness
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "init" {
				h = newHarness(t, d)
				return h.flush()
			}
			if h == nil {
				t.Fatalf("%s: init first", d.Pos)
			}
			h.run(t, d)
			return h.flush()
		})
	})
}

// harness is the pair and the link between them.
type harness struct {
	t      tester
	clock  uint64 // the shared HLC: commit order is clock order
	inst   map[string]*fakeInst
	flight map[string][]link.Frame // "A->B": frames in flight, FIFO
	offset time.Duration
	out    strings.Builder
	quiet  bool
	cfg    NodeConfig
	// For the property test: the vassal TxIDs the liege applied while it
	// was discarding, the liege's rollbacks, and every pair (own, incoming)
	// either side found conflicting.
	discardingAtStep       map[string]journal.TxID
	appliedWhileDiscarding []journal.TxID
	liegeRollbacks         []string
	flagged                [][2]journal.TxID
	linkDown               bool
}

func newHarness(t tester, d *datadriven.TestData) *harness {
	h := &harness{t: t, inst: map[string]*fakeInst{}, flight: map[string][]link.Frame{}, discardingAtStep: map[string]journal.TxID{}}
	h.cfg = NodeConfig{Cluster: "c", HeartbeatTicks: 1, SilenceTicks: 10, ResendTicks: 3, ReconResendTicks: 6, PromoteQuietTicks: 3, SeedChunk: 64}
	if d != nil {
		for _, a := range d.CmdArgs {
			switch a.Key {
			case "heartbeat":
				h.cfg.HeartbeatTicks = atoi(t, a.Vals[0])
			case "silence":
				h.cfg.SilenceTicks = atoi(t, a.Vals[0])
			case "resend":
				h.cfg.ResendTicks = atoi(t, a.Vals[0])
			case "recon":
				h.cfg.ReconResendTicks = atoi(t, a.Vals[0])
			case "quiet":
				h.cfg.PromoteQuietTicks = atoi(t, a.Vals[0])
			case "forward":
				h.cfg.ForwardTicks = atoi(t, a.Vals[0])
			case "budget":
				h.cfg.FrameBudget = atoi(t, a.Vals[0])
			case "unsent":
				h.cfg.MaxUnsent = atoi(t, a.Vals[0])
			case "offset":
				off, err := time.ParseDuration(a.Vals[0])
				if err != nil {
					t.Fatal(err)
				}
				h.offset = off
			default:
				t.Fatalf("init: unknown argument %q", a.Key)
			}
		}
	}
	for _, id := range []string{"A", "B"} {
		role := RoleLiege
		if id == "B" {
			role = RoleVassal
		}
		in := &fakeInst{h: h, id: id, peer: other(id), role: role, reign: 1, state: map[string]entry{}}
		in.journal = append(in.journal, &journal.Record{Pos: 1, Kind: journal.KindOpen, Instance: id})
		in.undo = append(in.undo, nil)
		h.inst[id] = in
		in.start()
	}
	return h
}

func other(id string) string {
	if id == "A" {
		return "B"
	}
	return "A"
}

func atoi(t tester, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

func (h *harness) printf(format string, args ...any) {
	if !h.quiet {
		fmt.Fprintf(&h.out, format, args...)
	}
}

func (h *harness) flush() string {
	s := h.out.String()
	h.out.Reset()
	if s == "" {
		return "ok\n"
	}
	return s
}

func (h *harness) run(t tester, d *datadriven.TestData) {
	arg := func(k string) (string, bool) {
		for _, a := range d.CmdArgs {
			if a.Key == k {
				if len(a.Vals) == 0 {
					return "", true
				}
				return strings.Join(a.Vals, ","), true
			}
		}
		return "", false
	}
	count := func(def int) int {
		if v, ok := arg("n"); ok {
			return atoi(t, v)
		}
		return def
	}
	first := ""
	if len(d.CmdArgs) > 0 {
		first = d.CmdArgs[0].Key
	}
	switch d.Cmd {
	case "connect":
		h.connect()
	case "disconnect":
		h.disconnect("script")
	case "commit":
		in := h.get(first)
		op := txnOp{}
		for _, a := range d.CmdArgs[1:] {
			switch a.Key {
			case "set", "add", "del", "read":
				op.keys(a.Key, a.Vals)
			case "scan":
				lo, hi, ok := strings.Cut(a.Vals[0], "-")
				if !ok {
					t.Fatalf("scan=%s: want lo-hi", a.Vals[0])
				}
				op.scan = [2]string{lo, hi}
			case "pending":
				in.holdDurable = true
			default:
				t.Fatalf("commit: unknown argument %q", a.Key)
			}
		}
		in.commit(op, journal.KindLocal, journal.TxID{})
		in.holdDurable = false
	case "durable":
		in := h.get(first)
		in.makeDurable("")
		in.reportDurable()
		in.process()
	case "deliver", "drop":
		dir := first
		if _, ok := h.flight[dir]; !ok && !strings.Contains(dir, "->") {
			t.Fatalf("%s: want X->Y", d.Cmd)
		}
		n := count(len(h.flight[dir]))
		if d.Cmd == "drop" {
			h.drop(dir, n)
		} else {
			h.deliver(dir, n)
		}
	case "written":
		// The driver says it wrote n of the Txn frames the node shipped
		// (init unsent=N bounds those not yet written; without it the
		// harness never says, and the node ships without a bound).
		in := h.get(first)
		k := count(0)
		h.printf("%s: written %d\n", in.id, k)
		in.node.Written(k)
		in.process()
	case "forward":
		h.forward(t, d)
	case "settle":
		h.settle()
	case "inflight":
		for _, dir := range []string{"A->B", "B->A"} {
			for _, f := range h.flight[dir] {
				h.printf("%s: %s\n", dir, frameString(&f))
			}
		}
	case "tick":
		n := count(1)
		ids := []string{"A", "B"}
		if first != "" && first != "n" {
			ids = []string{first}
		}
		for range n {
			for _, id := range ids {
				if in := h.inst[id]; in.node != nil {
					in.node.Tick()
					in.process()
				}
			}
		}
	case "promote":
		in := h.get(first)
		_, force := arg("force")
		if err := in.node.Promote(force); err != nil {
			h.printf("%s: %v\n", in.id, err)
		}
		in.process()
	case "switchover":
		in := h.get(first)
		if err := in.node.Switchover(); err != nil {
			h.printf("%s: %v\n", in.id, err)
		}
		in.process()
	case "crash":
		in := h.get(first)
		h.disconnect(in.id + " crashed")
		in.node = nil
		h.printf("%s: crashed\n", in.id)
		in.loseUndurable()
	case "lose-tail":
		// The disk lied: the last N records of a crashed instance are gone.
		in := h.get(first)
		if in.node != nil {
			h.t.Fatalf("lose-tail %s: crash it first", in.id)
		}
		quiet := h.quiet
		h.quiet = true
		res := in.rollback(uint64(len(in.journal)) + 1 - uint64(count(1)))
		h.quiet = quiet
		h.printf("%s: lost its journal tail: %d transaction(s)\n", in.id, len(res.RolledOff))
		in.epoch--
		in.journal, in.undo = in.journal[:len(in.journal)-1], in.undo[:len(in.undo)-1] // no epoch record
		in.pending = nil
		in.highOSeq = 0
		for _, r := range in.journal {
			if r.Origin == in.id && r.Kind.IsOwn() {
				in.highOSeq = r.OSeq
			}
		}
	case "take-back":
		// take-back B skip: B's driver skips lost own OSeqs instead of
		// taking them back.
		in := h.get(first)
		in.skipTakeBack = len(d.CmdArgs) > 1 && d.CmdArgs[1].Key == "skip"
		h.printf("%s: take back %v\n", in.id, map[bool]string{true: "skipped", false: "from the peer"}[in.skipTakeBack])
	case "restart":
		in := h.get(first)
		in.start()
		h.printf("%s: restarted: %s\n", in.id, statusString(in.node.Status()))
	case "status":
		in := h.get(first)
		h.printf("%s: %s\n", in.id, statusString(in.node.Status()))
	case "check":
		h.printf("%s\n", h.check())
	case "journal":
		in := h.get(first)
		for _, r := range in.journal {
			if r.Kind.IsTxn() {
				h.printf("%s: pos %d %v %v%s\n", in.id, r.Pos, r.Kind, r.TxID(), subjectString(r))
			}
		}
	default:
		if !h.runSeed(d.Cmd, first, count) { // seed_test.go
			t.Fatalf("unknown command %q", d.Cmd)
		}
	}
}

func (h *harness) get(id string) *fakeInst {
	in, ok := h.inst[id]
	if !ok {
		h.t.Fatalf("no instance %q", id)
	}
	return in
}

func (h *harness) connect() {
	h.linkDown = false
	for _, id := range []string{"A", "B"} {
		if in := h.inst[id]; in.node != nil {
			in.node.Connected()
			in.process()
		}
	}
}

func (h *harness) disconnect(why string) {
	h.printf("link closed: %s\n", why)
	h.linkDown = true
	h.flight = map[string][]link.Frame{}
	for _, id := range []string{"A", "B"} {
		if in := h.inst[id]; in.node != nil {
			in.node.Disconnected()
			in.process()
		}
	}
}

// settle delivers every frame in flight, both ways, until none is left.
func (h *harness) settle() {
	for range 1000 {
		if len(h.flight["A->B"]) == 0 && len(h.flight["B->A"]) == 0 {
			return
		}
		h.deliver("A->B", len(h.flight["A->B"]))
		h.deliver("B->A", len(h.flight["B->A"]))
	}
	h.t.Fatalf("the pair does not settle: %d and %d frames in flight", len(h.flight["A->B"]), len(h.flight["B->A"]))
}

func (h *harness) drop(dir string, n int) {
	q := h.flight[dir]
	n = min(n, len(q))
	for _, f := range q[:n] {
		h.printf("%s: dropped %s\n", dir, frameString(&f))
	}
	h.flight[dir] = q[n:]
}

func (h *harness) deliver(dir string, n int) {
	to := h.get(dir[len(dir)-1:])
	for ; n > 0 && len(h.flight[dir]) > 0; n-- {
		f := h.flight[dir][0]
		h.flight[dir] = h.flight[dir][1:]
		h.printf("%s <- %s\n", to.id, frameString(&f))
		if to.node == nil {
			continue
		}
		var err error
		if f.Kind == link.KindHello {
			err = to.node.Handshake(&f, h.offset)
		} else {
			h.discardingAtStep[to.id] = to.node.discarding
			err = to.node.Step(&f)
		}
		to.process()
		delete(h.discardingAtStep, to.id)
		if err != nil {
			h.printf("%s: refused: %v\n", to.id, err)
			h.disconnect(to.id + " refused the peer")
			return
		}
	}
}

// check compares the two instances (DESIGN.md section 11, points 1 and 3).
func (h *harness) check() string {
	a, b := h.inst["A"], h.inst["B"]
	ids := func(in *fakeInst) []string {
		s := slices.Clone(in.seed.ids) // what a seed brought, as the checkpoint's state
		for _, r := range in.journal[in.seed.from:] {
			if r.Kind.IsTxn() {
				s = append(s, r.TxID().String())
			}
		}
		sort.Strings(s)
		return s
	}
	var problems []string
	if x, y := ids(a), ids(b); !slices.Equal(x, y) {
		problems = append(problems, fmt.Sprintf("transactions differ: A %v, B %v", x, y))
	}
	if x, y := a.stateString(), b.stateString(); x != y {
		problems = append(problems, fmt.Sprintf("states differ: A %s, B %s", x, y))
	}
	// Every own transaction ever committed is in the path exactly once, as
	// itself or as a subject.
	held := map[journal.TxID]int{}
	whole := a // an instance whose journal holds the whole path (not seeded)
	if a.seed.seeded {
		whole = b
	}
	for _, r := range whole.journal {
		if r.Kind.IsTxn() {
			held[standsFor(r)]++
		}
	}
	for _, in := range []*fakeInst{a, b} {
		for _, id := range in.committed {
			if held[id] != 1 {
				problems = append(problems, fmt.Sprintf("%v is in the path %d times", id, held[id]))
			}
		}
	}
	if len(problems) > 0 {
		return "DIVERGED: " + strings.Join(problems, "; ")
	}
	return "converged: " + a.stateString()
}

// ---- the fake engine ----

type entry struct {
	val string
	ver journal.Version
}

type undo struct {
	key  string
	prev entry
	had  bool
}

type fakeInst struct {
	h         *harness
	id, peer  string
	node      *Node
	role      string
	reign     uint64
	epoch     uint64
	highOSeq  uint64
	state     map[string]entry
	journal   []*journal.Record // journal[i].Pos == i+1
	undo      [][]undo
	pending   []*journal.Record // reconciliation records not yet back (vassal)
	committed []journal.TxID    // every own transaction acknowledged (local)
	quiesced  bool
	// skipTakeBack: on a TakeBack, continue after the peer's watermark
	// without taking the records back (a driver whose peer lacks them, or
	// the engine today), keeping the skip across restarts as a journal
	// record would.
	skipTakeBack bool
	seed         fakeSeed // seed_test.go: retention and seeding
	// holdDurable: the next commit stays not durable (a script's commit
	// pending); undurable holds those commits, durable the ones made
	// durable but not yet reported to the node (OwnDurable).
	holdDurable      bool
	undurable, durab []*journal.Record
	idem             map[string]ForwardAnswer // the liege's outcomes of forwarded calls, by key
}

// start (re)builds the node from the journal, as a driver does at start-up.
func (in *fakeInst) start() {
	st := NodeState{Role: in.role, Reign: in.reign, Epoch: in.epoch, Watermark: in.watermark(),
		BasePrev: in.seed.basePrev, Empty: in.seedEmpty()}
	for _, r := range in.journal[in.seed.first:] {
		if r.Kind.IsOwn() && r.Origin == in.id {
			st.Own = append(st.Own, r)
		}
	}
	st.Pending = in.livePending()
	cfg := in.h.cfg
	cfg.ID, cfg.PeerID = in.id, in.peer
	cfg.Holds = in.holds
	n, err := NewNode(cfg, st)
	if err != nil {
		in.h.t.Fatal(err)
	}
	in.node = n
}

func (in *fakeInst) holds(s journal.TxID) bool {
	for _, r := range in.journal {
		if r.Kind.IsTxn() && (r.TxID() == s || r.Subject == s) {
			return true
		}
	}
	return false
}

// livePending is the reconciliation records whose subjects are not back.
func (in *fakeInst) livePending() []*journal.Record {
	var out []*journal.Record
	for _, r := range in.pending {
		if !in.holds(standsFor(r)) {
			out = append(out, r)
		}
	}
	return out
}

func (in *fakeInst) watermark() uint64 {
	wm := in.seed.wm
	for _, r := range in.journal {
		if r.Kind == journal.KindPeer {
			wm = r.OSeq
		}
	}
	return wm
}

func (in *fakeInst) stateString() string {
	keys := make([]string, 0, len(in.state))
	for k := range in.state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, in.state[k].val)
	}
	return b.String()
}

// txnOp is what a script's commit does.
type txnOp struct {
	set, add, del, read []string
	scan                [2]string
}

func (o *txnOp) keys(kind string, ks []string) {
	switch kind {
	case "set":
		o.set = append(o.set, ks...)
	case "add":
		o.add = append(o.add, ks...)
	case "del":
		o.del = append(o.del, ks...)
	case "read":
		o.read = append(o.read, ks...)
	}
}

// opOf is the txnOp a record replays (reconciliation re-executes it).
func opOf(r *journal.Record) txnOp {
	var o txnOp
	inRange := func(k []byte) bool {
		for i := range r.Ranges {
			if r.Ranges[i].Contains(k) {
				return true
			}
		}
		return false
	}
	for _, p := range r.Reads {
		if !inRange(p.Key) {
			o.read = append(o.read, string(p.Key))
		}
	}
	if len(r.Ranges) > 0 {
		o.scan = [2]string{string(r.Ranges[0].Lo), string(r.Ranges[0].Hi)}
	}
	for _, w := range r.Writes {
		switch w.Op {
		case journal.OpSet:
			o.set = append(o.set, string(w.Key))
		case journal.OpAdd:
			o.add = append(o.add, string(w.Key))
		case journal.OpDelete:
			o.del = append(o.del, string(w.Key))
		}
	}
	return o
}

// commit runs op as a new own transaction of kind k and reports it durable.
func (in *fakeInst) commit(op txnOp, k journal.Kind, subject journal.TxID) *journal.Record {
	if in.node == nil {
		in.h.t.Fatalf("%s is down", in.id)
	}
	if in.quiesced && k == journal.KindLocal {
		in.h.printf("%s: refused: quiesced for a switchover\n", in.id)
		return nil
	}
	h := in.h
	h.clock++
	in.highOSeq++
	r := &journal.Record{Pos: uint64(len(in.journal)) + 1, Epoch: in.epoch, Kind: k, Origin: in.id, OSeq: in.highOSeq,
		HLC: h.clock, PeerSeen: in.watermark(), Subject: subject, Proc: "op"}
	for _, key := range op.read {
		e := in.state[key]
		r.Reads = append(r.Reads, journal.PointRead{Key: []byte(key), Version: e.ver})
	}
	if op.scan[0] != "" {
		r.Ranges = append(r.Ranges, journal.RangeRead{Lo: []byte(op.scan[0]), Hi: []byte(op.scan[1]), LoInclusive: true, HiInclusive: true})
		for key, e := range in.state {
			if key >= op.scan[0] && key <= op.scan[1] {
				r.Reads = append(r.Reads, journal.PointRead{Key: []byte(key), Version: e.ver})
			}
		}
		sort.Slice(r.Reads, func(i, j int) bool { return string(r.Reads[i].Key) < string(r.Reads[j].Key) })
	}
	for _, key := range op.set {
		r.Writes = append(r.Writes, journal.Write{Key: []byte(key), Op: journal.OpSet, Value: []byte(r.TxID().String())})
	}
	for _, key := range op.add {
		r.Writes = append(r.Writes, journal.Write{Key: []byte(key), Op: journal.OpAdd, Delta: 1})
	}
	for _, key := range op.del {
		r.Writes = append(r.Writes, journal.Write{Key: []byte(key), Op: journal.OpDelete})
	}
	in.append(r)
	if in.holdDurable {
		h.printf("%s: commit %v pos %d hlc %d peerseen %d%s (not durable)\n", in.id, r.TxID(), r.Pos, r.HLC, r.PeerSeen, subjectString(r))
		in.undurable = append(in.undurable, r)
		in.node.OwnCommitted(r)
		in.process()
		return r
	}
	if k == journal.KindLocal {
		in.committed = append(in.committed, r.TxID())
	}
	h.printf("%s: commit %v pos %d hlc %d peerseen %d%s\n", in.id, r.TxID(), r.Pos, r.HLC, r.PeerSeen, subjectString(r))
	in.node.OwnDurable(r)
	in.process()
	return r
}

// makeDurable makes the pending commits durable: they are acknowledged (so
// they must stay in the path) and reported to the node by reportDurable.
func (in *fakeInst) makeDurable(why string) {
	for _, r := range in.undurable {
		in.h.printf("%s: durable %v%s\n", in.id, r.TxID(), why)
		if r.Kind == journal.KindLocal {
			in.committed = append(in.committed, r.TxID())
		}
	}
	in.durab = append(in.durab, in.undurable...)
	in.undurable = nil
}

// loseUndurable: a crash loses what was not durable, the pending commits
// and every record after the first of them.
func (in *fakeInst) loseUndurable() {
	in.durab = nil
	if len(in.undurable) == 0 {
		return
	}
	pos := in.undurable[0].Pos
	for p := uint64(len(in.journal)); p >= pos; p-- {
		u := in.undo[p-1]
		for i := len(u) - 1; i >= 0; i-- {
			if u[i].had {
				in.state[u[i].key] = u[i].prev
			} else {
				delete(in.state, u[i].key)
			}
		}
		in.h.printf("%s: lost %v (not durable)\n", in.id, in.journal[p-1].TxID())
	}
	in.journal, in.undo = in.journal[:pos-1], in.undo[:pos-1]
	in.undurable = nil
	in.highOSeq = 0
	for _, r := range in.journal {
		if r.Origin == in.id && r.Kind.IsOwn() {
			in.highOSeq = r.OSeq
		}
	}
}

// reportDurable hands the node the own records made durable that are still
// in the journal (a rollback may have taken them off since).
func (in *fakeInst) reportDurable() {
	recs := in.durab
	in.durab = nil
	for _, r := range recs {
		if int(r.Pos) <= len(in.journal) && in.journal[r.Pos-1] == r {
			in.node.OwnDurable(r)
		}
	}
}

// append applies r's writes to the state, with before-images, and journals
// it.
func (in *fakeInst) append(r *journal.Record) {
	var u []undo
	ver := r.Version()
	for i := range r.Writes {
		w := &r.Writes[i]
		key := string(w.Key)
		prev, had := in.state[key]
		u = append(u, undo{key: key, prev: prev, had: had})
		switch w.Op {
		case journal.OpSet:
			in.state[key] = entry{val: string(w.Value), ver: ver}
		case journal.OpDelete:
			delete(in.state, key)
		case journal.OpAdd:
			n, _ := strconv.Atoi(prev.val)
			in.state[key] = entry{val: strconv.Itoa(n + int(w.Delta)), ver: ver.Max(prev.ver)}
		}
	}
	in.journal = append(in.journal, r)
	in.undo = append(in.undo, u)
}

// process carries out the node's Readys, as a driver does.
func (in *fakeInst) process() {
	for in.node != nil && in.node.HasReady() {
		rd := in.node.Ready()
		in.print(&rd)
		var after []func()
		if rd.Role != nil {
			in.role, in.reign = rd.Role.Role, rd.Role.Reign
			in.journal = append(in.journal, &journal.Record{Pos: uint64(len(in.journal)) + 1, Kind: journal.KindRole, Role: rd.Role.Role})
			in.undo = append(in.undo, nil)
		}
		for _, v := range rd.Verdicts {
			for _, c := range v.Conflicts {
				if !c.Own.IsZero() {
					in.h.flagged = append(in.h.flagged, [2]journal.TxID{c.Own, v.Txn})
				}
			}
		}
		if rd.Rollback != nil && in.role == RoleLiege {
			in.h.liegeRollbacks = append(in.h.liegeRollbacks, fmt.Sprintf("%s: %+v", in.id, *rd.Rollback))
		}
		if tb := rd.TakeBack; tb != nil && in.skipTakeBack {
			in.highOSeq = max(in.highOSeq, tb.UpTo)
			in.h.printf("%s: skip own OSeqs %d..%d: never assigned again\n", in.id, tb.After+1, tb.UpTo)
		} else if tb != nil {
			// Take the records back from the peer's copy (the fake reads
			// its journal; a driver gets them over the link), then
			// continue after the peer's watermark.
			in.highOSeq = max(in.highOSeq, tb.UpTo)
			for _, r := range in.h.inst[in.peer].journal {
				if r.Origin == in.id && r.OSeq > tb.After && r.OSeq <= tb.UpTo {
					own := *r
					own.Pos, own.Kind = uint64(len(in.journal))+1, r.OriginKind
					in.append(&own)
					after = append(after, func() { in.node.OwnDurable(&own) })
				}
			}
		}
		if len(rd.Apply) > 0 {
			for _, r := range rd.Apply {
				if in.role == RoleLiege && !in.h.discardingAtStep[in.id].IsZero() {
					in.h.appliedWhileDiscarding = append(in.h.appliedWhileDiscarding, r.TxID())
				}
				loc := *r
				loc.Pos, loc.Epoch, loc.Kind, loc.OriginKind = uint64(len(in.journal))+1, in.epoch, journal.KindPeer, r.Kind
				in.append(&loc)
				if !r.Subject.IsZero() {
					in.pending = slices.DeleteFunc(in.pending, func(p *journal.Record) bool { return standsFor(p) == r.Subject })
				}
			}
			wm := rd.Apply[len(rd.Apply)-1].OSeq
			after = append(after, func() { in.node.PeerApplied(wm) })
		}
		if rb := rd.Rollback; rb != nil {
			// Everything appended is made durable before the rollback
			// begins (its undo reads the journal; the intent comes first).
			in.makeDurable(" (before the rollback)")
			res := in.rollback(rb.Before)
			after = append(after, func() { in.node.RollbackDone(res) }, in.reportDurable)
		}
		after = append(after, in.forwarded(&rd)...)
		for _, r := range rd.Reconcile {
			after = append(after, func() {
				in.commit(opOf(r), journal.KindReprocess, standsFor(r))
				in.node.Reconciled(standsFor(r))
			})
		}
		if rd.Seed != nil {
			after = append(after, in.seedReady(rd.Seed)) // seed_test.go
		}
		for _, m := range rd.Messages {
			f := m.Frame
			switch f.Kind {
			case link.KindTxn:
				var err error
				if f.Record, err = journal.NewEncoder().Frame(in.journal[m.Pos-1]); err != nil {
					in.h.t.Fatal(err)
				}
				f.Record = slices.Clone(f.Record)
			case link.KindHello:
				f.WallClock = 1
			}
			// Through the wire form: what the node sends must encode and
			// decode.
			b, err := link.Encode(nil, &f)
			if err != nil {
				in.h.t.Fatalf("%s sends a frame that does not encode: %v", in.id, err)
			}
			var got link.Frame
			if err := link.Decode(b[4:], &got); err != nil {
				in.h.t.Fatal(err)
			}
			dir := in.id + "->" + in.peer
			in.h.flight[dir] = append(in.h.flight[dir], got)
		}
		switch rd.Quiesce {
		case QuiesceOn:
			in.quiesced = true
		case QuiesceOff:
			in.quiesced = false
		}
		in.node.Advance()
		for _, f := range after {
			if in.node != nil {
				f()
			}
		}
		if rd.Disconnect != "" {
			in.h.disconnect(in.id + ": " + rd.Disconnect)
		}
	}
}

// rollback rolls the journal back to just before position pos.
func (in *fakeInst) rollback(pos uint64) RollbackResult {
	var res RollbackResult
	for p := uint64(len(in.journal)); p >= pos; p-- {
		r := in.journal[p-1]
		u := in.undo[p-1]
		for i := len(u) - 1; i >= 0; i-- {
			if u[i].had {
				in.state[u[i].key] = u[i].prev
			} else {
				delete(in.state, u[i].key)
			}
		}
		if r.Kind.IsTxn() {
			res.RolledOff = append([]*journal.Record{r}, res.RolledOff...)
		}
	}
	in.journal, in.undo = in.journal[:pos-1], in.undo[:pos-1]
	for _, r := range res.RolledOff {
		// What the engine's reconciliation log keeps (reconcile.Build):
		// the own transactions, and the liege's reprocesses and
		// corrections of them, whose subjects are pending again.
		if r.Origin == in.id || r.RepublishesOwn(in.id) {
			in.pending = append(in.pending, r)
		}
	}
	in.epoch++
	in.journal = append(in.journal, &journal.Record{Pos: uint64(len(in.journal)) + 1, Kind: journal.KindEpoch, Epoch: in.epoch})
	in.undo = append(in.undo, nil)
	res.Epoch, res.Watermark = in.epoch, in.watermark()
	var ids []string
	for _, r := range res.RolledOff {
		ids = append(ids, r.TxID().String())
	}
	in.h.printf("%s: rolled back to pos %d: off %v, epoch %d, watermark %d\n", in.id, pos-1, ids, res.Epoch, res.Watermark)
	return res
}

// ---- printing ----

func (in *fakeInst) print(rd *Ready) {
	p := func(format string, args ...any) { in.h.printf(in.id+": "+format+"\n", args...) }
	if r := rd.Role; r != nil {
		p("persist role %s reign %d (%s)", r.Role, r.Reign, r.Why)
	}
	if tb := rd.TakeBack; tb != nil {
		p("take back own OSeqs %d..%d from the peer", tb.After+1, tb.UpTo)
	}
	for _, v := range rd.Verdicts {
		p("%v: %v%s", v.Txn, v.Verdict, conflictsString(v.Conflicts))
	}
	if rb := rd.Rollback; rb != nil {
		p("roll back to before pos %d (%v): %s", rb.Before, rb.Own, rb.Reason)
	}
	for _, r := range rd.Reconcile {
		p("reconcile %v", standsFor(r))
	}
	in.printForwards(rd)
	for _, m := range rd.Messages {
		f := m.Frame
		if f.Kind == link.KindTxn {
			p("send txn %v prev %d e%d r%d", m.Txn, f.Prev, f.Epoch, f.Reign)
			continue
		}
		p("send %s", frameString(&f))
	}
	switch rd.Quiesce {
	case QuiesceOn:
		p("quiesce on")
	case QuiesceOff:
		p("quiesce off")
	}
	if rd.Disconnect != "" {
		p("disconnect: %s", rd.Disconnect)
	}
	if s := rd.Seed; s != nil {
		printSeed(p, s) // seed_test.go
	}
	for _, n := range rd.Notes {
		p("note: %s", n)
	}
}

func conflictsString(cs []Conflict) string {
	var b strings.Builder
	for _, c := range cs {
		if !c.Subject.IsZero() {
			if c.Own.IsZero() {
				fmt.Fprintf(&b, " [subject %v already held]", c.Subject)
			} else {
				fmt.Fprintf(&b, " [own %v pos %d: same subject %v]", c.Own, c.Pos, c.Subject)
			}
			continue
		}
		fmt.Fprintf(&b, " [own %v pos %d: %v %s]", c.Own, c.Pos, c.Check, c.Key)
	}
	return b.String()
}

func frameString(f *link.Frame) string {
	s := fmt.Sprintf("%v e%d r%d", f.Kind, f.Epoch, f.Reign)
	switch f.Kind {
	case link.KindHello:
		s += fmt.Sprintf(" %s wm %d last %d", f.Role, f.Watermark, f.Prev)
	case link.KindTxn:
		var r journal.Record
		if err := journal.NewDecoder().DecodeFrame(f.Record, &r); err == nil {
			s += fmt.Sprintf(" %v prev %d%s", r.TxID(), f.Prev, subjectString(&r))
		}
	case link.KindHeartbeat:
		s += fmt.Sprintf(" wm %d last %d stable %d", f.Watermark, f.Prev, f.Stable)
	case link.KindResend, link.KindAck:
		s += fmt.Sprintf(" wm %d", f.Watermark)
	case link.KindRollbackCommand:
		s += fmt.Sprintf(" %s wm %d", f.Subject, f.Watermark)
	case link.KindRollbackAnswer:
		subj := f.Subject
		if subj == "" {
			subj = "(notice)"
		}
		s += fmt.Sprintf(" %s wm %d", subj, f.Watermark)
	case link.KindForward, link.KindForwardAnswer:
		s += forwardString(f)
	case link.KindReconLog:
		var ids []string
		for _, b := range f.Records {
			var r journal.Record
			if err := journal.NewDecoder().DecodeFrame(b, &r); err == nil {
				ids = append(ids, standsFor(&r).String())
			}
		}
		s += " " + strings.Join(ids, " ")
	default:
		s += seedFrameString(f) // seed_test.go
	}
	return s
}

func subjectString(r *journal.Record) string {
	if r.Subject.IsZero() {
		return ""
	}
	return fmt.Sprintf(" (%v of %v)", r.Kind, r.Subject)
}

func statusString(s NodeStatus) string {
	st := fmt.Sprintf("%s reign %d epoch %d connected %v wm %d last %d stable %d window %d",
		s.Role, s.Reign, s.Epoch, s.Connected, s.Watermark, s.LastOwn, s.Stable, s.Window)
	if s.Connected {
		st += fmt.Sprintf(" peer-wm %d peer-last %d peer-stable %d lag %d/%d", s.PeerWM, s.PeerLast, s.PeerStable, s.LagIn, s.LagOut)
	}
	if !s.Discarding.IsZero() {
		st += fmt.Sprintf(" discarding %v", s.Discarding)
	}
	if s.RollingBack {
		st += " rolling-back"
	}
	if s.ReconPending > 0 || s.Reconciling > 0 {
		st += fmt.Sprintf(" recon %d/%d", s.ReconPending, s.Reconciling)
	}
	if s.Quiescing {
		st += " quiescing"
	}
	if s.Forwarding > 0 {
		st += fmt.Sprintf(" forwarding %d", s.Forwarding)
	}
	return st
}

// tester is what the harness needs of a *testing.T or a *rapid.T.
type tester interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}
