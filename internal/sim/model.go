package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// The model engine: a small, single-goroutine engine over a journal.MemLog
// that owns a replicate.Node and runs the "ops" procedure. It is what the
// simulator drives until the real engine is a steppable Instance; it keeps
// the contract of replicate's doc.go step by step, and the journal's
// durability contract (an own record is acknowledged and shipped only once
// synced), so that the protocol, not the model, is what the oracle judges.
//
// Step does the first of: a rollback phase (intent, truncate, epoch, done),
// a reconciliation, an fsync of what was written, a batch of queued calls
// (group commit: executed in order, written together, acknowledged at the
// next sync).

// OpenModel opens the model engine on cfg.Log (an Opener).
func OpenModel(cfg Config) (Instance, error) {
	m := &model{cfg: cfg, log: cfg.Log, st: store.New(), held: map[journal.TxID]int{}}
	if err := m.recover(); err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.ID, err)
	}
	return m, nil
}

type model struct {
	cfg  Config
	log  *journal.MemLog
	recs []*journal.Record // recs[i].Pos == i+1
	// frames[i] is recs[i] encoded, as journaled and shipped (never
	// modified).
	frames [][]byte
	st     *store.Store
	held   map[journal.TxID]int // TxIDs and subjects in the journal

	node              *replicate.Node
	role              string
	reign, epoch, hlc uint64
	highOSeq          uint64
	synced            uint64 // positions <= synced are durable

	queue    []*Call
	unacked  []ack  // written, acknowledged at the next sync
	applied  uint64 // peer OSeq written, reported at the next sync
	rb       *replicate.Rollback
	rbPhase  int               // 1 intent done, 2 truncated, 3 epoch written
	rbOff    []*journal.Record // what the rollback took off
	recon    []*journal.Record // reconciliations to run
	quiesced bool

	out Out
	enc *journal.Encoder
}

type ack struct {
	call *Call
	rec  *journal.Record
}

func (m *model) now() int64 { return m.cfg.Now() }

// ---- recovery ----

func (m *model) recover() error {
	m.enc = journal.NewEncoder()
	first, err := m.log.FirstIndex()
	if err != nil {
		return err
	}
	last, err := m.log.LastIndex()
	if err != nil {
		return err
	}
	if first != 1 {
		return fmt.Errorf("the model journal starts at %d: it is never compacted", first)
	}
	dec := journal.NewDecoder()
	for i := first; i <= last; i++ {
		b, err := m.log.Read(i)
		if err != nil {
			return err
		}
		r := new(journal.Record)
		if err := dec.DecodeFrame(b, r); err != nil {
			if i == last { // a torn tail: a crash cut it
				if err := m.log.TruncateBack(i - 1); err != nil {
					return err
				}
				break
			}
			return fmt.Errorf("journal entry %d: %w", i, err)
		}
		if r.Pos != i {
			return fmt.Errorf("journal entry %d holds position %d", i, r.Pos)
		}
		m.recs = append(m.recs, r)
		m.frames = append(m.frames, b)
	}
	m.synced = uint64(len(m.recs))
	m.role, m.reign = m.cfg.Role, 1
	if len(m.recs) == 0 {
		m.appendRec(&journal.Record{Kind: journal.KindOpen, Instance: m.cfg.ID})
		m.appendRec(m.roleRecord(m.role, 1))
		if err := m.sync(); err != nil {
			return err
		}
	}
	var wm uint64
	for _, r := range m.recs {
		m.index(r, 1)
		switch {
		case r.Kind == journal.KindRole:
			m.role, m.reign = r.Role, r.HighOSeq
		case r.Kind == journal.KindEpoch:
			m.epoch = r.Epoch
		case r.Kind == journal.KindPeer:
			wm = max(wm, r.OSeq)
		}
		if r.Kind.IsTxn() {
			m.st.Apply(r)
			m.hlc = max(m.hlc, r.HLC)
		}
		if r.Origin == m.cfg.ID && r.Kind.IsOwn() || r.Kind == journal.KindEpoch || r.Kind == journal.KindOpen {
			m.highOSeq = max(m.highOSeq, r.OSeq, r.HighOSeq)
		}
	}
	for _, r := range m.cfg.Side.Lost {
		if r.Origin == m.cfg.ID {
			m.highOSeq = max(m.highOSeq, r.OSeq)
		}
	}
	if m.cfg.Side.Intent != 0 {
		// A rollback was under way: finish it (truncate again, journal the
		// epoch). Its reconciliation records are in Side.Lost already.
		if err := m.finishRollback(m.cfg.Side.Intent, m.cfg.Side.IntentReason); err != nil {
			return err
		}
		wm = 0
		for _, r := range m.recs {
			if r.Kind == journal.KindPeer {
				wm = max(wm, r.OSeq)
			}
		}
	}
	st := replicate.NodeState{Role: m.role, Reign: m.reign, Epoch: m.epoch, Watermark: wm}
	for _, r := range m.recs {
		if r.Kind.IsOwn() && r.Origin == m.cfg.ID {
			st.Own = append(st.Own, r)
		}
	}
	for _, r := range m.cfg.Side.Lost {
		if m.held[standsFor(r)] == 0 {
			st.Pending = append(st.Pending, r)
		}
	}
	nc := m.cfg.Node
	nc.ID, nc.PeerID, nc.Cluster = m.cfg.ID, m.cfg.PeerID, m.cfg.Cluster
	nc.Holds = func(s journal.TxID) bool { return m.held[s] > 0 }
	n, err := replicate.NewNode(nc, st)
	if err != nil {
		return err
	}
	m.node = n
	return nil
}

// roleRecord journals a role; the model keeps the reign in HighOSeq.
func (m *model) roleRecord(role string, reign uint64) *journal.Record {
	return &journal.Record{Kind: journal.KindRole, Role: role, HighOSeq: reign}
}

func standsFor(r *journal.Record) journal.TxID {
	if !r.Subject.IsZero() {
		return r.Subject
	}
	return r.TxID()
}

func (m *model) index(r *journal.Record, d int) {
	if !r.Kind.IsTxn() {
		return
	}
	m.held[r.TxID()] += d
	if !r.Subject.IsZero() {
		m.held[r.Subject] += d
	}
}

// ---- the journal ----

func (m *model) appendRec(r *journal.Record) {
	r.Pos = uint64(len(m.recs)) + 1
	if r.Epoch == 0 {
		r.Epoch = m.epoch
	}
	b, err := m.enc.Frame(r)
	if err != nil {
		panic(fmt.Sprintf("sim: encode record %v: %v", r.TxID(), err))
	}
	b = slices.Clone(b)
	if err := m.log.Write(r.Pos, [][]byte{b}); err != nil {
		panic(fmt.Sprintf("sim: write position %d: %v", r.Pos, err))
	}
	m.recs = append(m.recs, r)
	m.frames = append(m.frames, b)
	m.index(r, 1)
}

func (m *model) sync() error {
	if err := m.log.Sync(); err != nil {
		return err
	}
	m.synced = uint64(len(m.recs))
	return nil
}

// ---- Instance ----

func (m *model) Submit(c *Call) { m.queue = append(m.queue, c) }

func (m *model) Busy() bool {
	return m.rb != nil || len(m.recon) > 0 || m.needSync() || len(m.queue) > 0
}

// needSync reports whether something written awaits its fsync, or an
// acknowledgment the last fsync made possible.
func (m *model) needSync() bool {
	return m.synced < uint64(len(m.recs)) || len(m.unacked) > 0 || m.applied > 0
}

func (m *model) Step() (bool, error) {
	var err error
	switch {
	case m.rb != nil:
		err = m.rollbackPhase()
	case len(m.recon) > 0:
		r := m.recon[0]
		m.recon = m.recon[1:]
		m.reconcile(r)
	case m.needSync():
		err = m.syncStep()
	case len(m.queue) > 0:
		m.batch()
	default:
		return false, nil
	}
	if err != nil {
		return true, err
	}
	m.process()
	return true, nil
}

func (m *model) LinkUp()   { m.node.Connected(); m.process() }
func (m *model) LinkDown() { m.node.Disconnected(); m.process() }
func (m *model) Tick()     { m.node.Tick(); m.process() }

func (m *model) Deliver(f *link.Frame) error {
	// A peer transaction is checked at once: every own transaction
	// executed before it is in the window from commit on (OwnCommitted),
	// durable or not, and a rollback syncs what it rolls off first.
	var err error
	if f.Kind == link.KindHello {
		err = m.node.Handshake(f, time.Duration(f.WallClock-m.now()))
	} else {
		err = m.node.Step(f)
	}
	m.process()
	return err
}

func (m *model) Outbox() Out {
	o := m.out
	m.out = Out{}
	return o
}

func (m *model) Promote(force bool) error {
	err := m.node.Promote(force)
	m.process()
	return err
}

func (m *model) Switchover() error {
	err := m.node.Switchover()
	m.process()
	return err
}

func (m *model) Status() replicate.NodeStatus { return m.node.Status() }

func (m *model) Export() (oracle.Instance, error) {
	in := oracle.Instance{ID: m.cfg.ID}
	for _, r := range m.recs {
		if r.Kind.IsTxn() {
			in.Records = append(in.Records, *r)
		}
	}
	m.st.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		in.State = append(in.State, oracle.Entry{Key: slices.Clone(k), Value: slices.Clone(v), Version: ver})
		return true
	})
	return in, nil
}

// ---- work ----

// syncStep makes what was written durable, then acknowledges the calls,
// reports own records durable (so they may ship) and peer records applied.
func (m *model) syncStep() error {
	if err := m.sync(); err != nil {
		return err
	}
	acks := m.unacked
	m.unacked = nil
	for _, a := range acks {
		m.node.OwnDurable(a.rec)
		m.process()
		if a.rec.Kind != journal.KindLocal {
			m.node.Reconciled(a.rec.Subject)
			m.process()
		}
		if a.call != nil && a.call.Done != nil {
			a.call.Done(a.rec.TxID(), nil)
		}
	}
	if m.applied > 0 {
		m.node.PeerApplied(m.applied)
		m.applied = 0
	}
	return nil
}

// batch runs every queued call in order, each seeing the ones before it,
// and writes them together (group commit).
func (m *model) batch() {
	calls := m.queue
	m.queue = nil
	for _, c := range calls {
		if m.quiesced {
			if c.Done != nil {
				c.Done(journal.TxID{}, errors.New("quiesced for a switchover: retry at the new liege"))
			}
			continue
		}
		r, _ := m.execute(c.Ops, journal.KindLocal, journal.TxID{})
		m.unacked = append(m.unacked, ack{call: c, rec: r})
		m.node.OwnCommitted(r)
	}
}

func (m *model) nextHLC() uint64 {
	m.hlc = max(m.hlc+1, uint64(m.now()))
	return m.hlc
}

func (m *model) watermark() uint64 { return m.node.Status().Watermark }

// execute runs ops as a new own record of kind k and writes it. It returns
// the record and what the ops read.
func (m *model) execute(ops []Op, k journal.Kind, subject journal.TxID) (*journal.Record, string) {
	m.highOSeq++
	r := &journal.Record{Kind: k, Origin: m.cfg.ID, OSeq: m.highOSeq, HLC: m.nextHLC(),
		PeerSeen: m.watermark(), Subject: subject, Proc: "ops"}
	args, err := journal.Marshal(OpsArgs{Ops: ops})
	if err != nil {
		panic(err)
	}
	r.Args = args
	var out []string
	// A key is read once, as it was before the transaction: a key it wrote
	// first is its own write, not a read (the oracle replays reads before
	// writes).
	read := map[string]bool{}
	for _, o := range ops {
		key := simKey(o.K)
		switch o.Op {
		case "get":
			v, ver, ok := m.st.Get(key)
			if !read[string(key)] && !wrote(r, key) {
				read[string(key)] = true
				r.Reads = append(r.Reads, journal.PointRead{Key: key, Version: ver})
			}
			if ok {
				out = append(out, o.K+"="+fmt.Sprintf("%x", v))
			} else {
				out = append(out, o.K+"=-")
			}
		case "scan":
			rr := journal.RangeRead{Lo: key, Hi: simKey(o.K2), LoInclusive: true}
			r.Ranges = append(r.Ranges, rr)
			var ks []string
			m.st.Ascend(key, func(k, _ []byte, ver journal.Version) bool {
				if !rr.Contains(k) {
					return false
				}
				if !read[string(k)] && !wrote(r, k) {
					read[string(k)] = true
					r.Reads = append(r.Reads, journal.PointRead{Key: slices.Clone(k), Version: ver})
				}
				ks = append(ks, tuple.Format(k))
				return true
			})
			out = append(out, "scan["+strings.Join(ks, ",")+"]")
		case "set":
			v, err := journal.Marshal(o.V)
			if err != nil {
				panic(err)
			}
			m.write(r, journal.Write{Key: key, Op: journal.OpSet, Value: v})
		case "del":
			m.write(r, journal.Write{Key: key, Op: journal.OpDelete})
		case "add":
			m.write(r, journal.Write{Key: key, Op: journal.OpAdd, Delta: o.N})
		}
	}
	res := strings.Join(out, ";")
	r.Result, _ = journal.Marshal(res)
	m.appendRec(r)
	return r, res
}

func wrote(r *journal.Record, k []byte) bool {
	for i := range r.Writes {
		if string(r.Writes[i].Key) == string(k) {
			return true
		}
	}
	return false
}

// write performs w for record r on the state, with its before-image.
func (m *model) write(r *journal.Record, w journal.Write) {
	before, bver, ok := m.st.Get(w.Key)
	if ok {
		w.Before, w.BeforeVersion = slices.Clone(before), bver
	}
	ver := r.Version()
	switch w.Op {
	case journal.OpSet:
		m.st.Set(w.Key, w.Value, ver)
	case journal.OpDelete:
		m.st.Delete(w.Key)
	case journal.OpAdd:
		var x int64
		if ok {
			x, _ = oracle.DecodeInt(before)
		}
		w.Value = oracle.AppendInt(nil, x+w.Delta)
		m.st.Set(w.Key, w.Value, ver.Max(bver))
	}
	r.Writes = append(r.Writes, w)
}

// applyPeer journals a peer record with this instance's before-images.
func (m *model) applyPeer(p *journal.Record) {
	r := &journal.Record{Kind: journal.KindPeer, OriginKind: p.Kind, Origin: p.Origin, OSeq: p.OSeq, HLC: p.HLC,
		PeerSeen: p.PeerSeen, Proc: p.Proc, Args: p.Args, Result: p.Result, Subject: p.Subject,
		Reads: p.Reads, Ranges: p.Ranges}
	for _, w := range p.Writes {
		m.write(r, journal.Write{Key: w.Key, Op: w.Op, Value: w.Value, Delta: w.Delta})
	}
	m.hlc = max(m.hlc, p.HLC)
	m.appendRec(r)
	m.applied = max(m.applied, p.OSeq)
}

// reconcile re-executes a rolled-off vassal transaction (DESIGN.md
// section 9): a reprocess if it reads what it read then, else a correction
// that also records the difference.
func (m *model) reconcile(sub *journal.Record) {
	s := standsFor(sub)
	if m.held[s] > 0 {
		m.node.Reconciled(s)
		return
	}
	var a OpsArgs
	if err := journal.Unmarshal(sub.Args, &a); err != nil {
		panic(fmt.Sprintf("sim: reconcile %v: %v", s, err))
	}
	var told string
	_ = journal.Unmarshal(sub.Result, &told)
	ops := a.Ops
	r, now := m.execute(ops, journal.KindReprocess, s)
	if now != told {
		// Undo and redo as a correction with the difference recorded.
		m.truncateTo(r.Pos - 1)
		m.highOSeq--
		ops = append(slices.Clone(ops), Op{Op: "set", K: "corr/" + s.String(), V: "told " + told + "; now " + now})
		r, _ = m.execute(ops, journal.KindCorrection, s)
	}
	m.unacked = append(m.unacked, ack{rec: r})
	m.node.OwnCommitted(r)
}

// truncateTo undoes and removes every record after position pos.
func (m *model) truncateTo(pos uint64) []*journal.Record {
	var off []*journal.Record
	for p := uint64(len(m.recs)); p > pos; p-- {
		r := m.recs[p-1]
		if r.Kind.IsTxn() {
			m.st.Undo(r)
			off = append(off, r)
		}
		m.index(r, -1)
	}
	slices.Reverse(off)
	if err := m.log.TruncateBack(pos); err != nil {
		panic(fmt.Sprintf("sim: truncate after %d: %v", pos, err))
	}
	m.recs, m.frames = m.recs[:pos], m.frames[:pos]
	m.synced = min(m.synced, pos)
	return off
}

// ---- rollback, one phase a step ----

func (m *model) rollbackPhase() error {
	rb := m.rb
	switch m.rbPhase {
	case 0: // intent: what will roll off is saved for reconciliation first
		for _, r := range m.recs[rb.Before-1:] {
			// As the engine's reconciliation log (reconcile.Build): the
			// own transactions, and the peer's reprocesses and
			// corrections of them (their subjects pending again).
			if r.Kind.IsOwn() && r.Origin == m.cfg.ID || r.RepublishesOwn(m.cfg.ID) {
				m.cfg.Side.Lost = append(m.cfg.Side.Lost, r)
			}
		}
		m.cfg.Side.Intent, m.cfg.Side.IntentReason = rb.Before, rb.Reason
		m.rbPhase = 1
	case 1: // undo and truncate (what was written is synced and acknowledged
		// first: a call whose record rolls off comes back reconciled)
		if err := m.syncStep(); err != nil {
			return err
		}
		m.rbOff = m.truncateTo(rb.Before - 1)
		m.unacked = slices.DeleteFunc(m.unacked, func(a ack) bool { return a.rec.Pos >= rb.Before })
		m.rbPhase = 2
	case 2: // the new epoch, durable
		m.epoch++
		m.appendRec(&journal.Record{Kind: journal.KindEpoch, Epoch: m.epoch, HighOSeq: m.highOSeq,
			Rollback: &journal.RollbackInfo{From: rb.Before, Reason: rb.Reason}})
		if err := m.sync(); err != nil {
			return err
		}
		m.rbPhase = 3
	case 3: // done
		m.cfg.Side.Intent = 0
		var wm uint64
		for _, r := range m.recs {
			if r.Kind == journal.KindPeer {
				wm = max(wm, r.OSeq)
			}
		}
		m.rb, m.rbPhase = nil, 0
		off := m.rbOff
		m.rbOff = nil
		m.node.RollbackDone(replicate.RollbackResult{Epoch: m.epoch, Watermark: wm, RolledOff: off})
	}
	return nil
}

// finishRollback completes a rollback a crash interrupted.
func (m *model) finishRollback(before uint64, reason string) error {
	if uint64(len(m.recs)) >= before {
		// Rebuild the state without the records rolled off.
		m.truncateTo(before - 1)
	}
	m.epoch++
	m.appendRec(&journal.Record{Kind: journal.KindEpoch, Epoch: m.epoch, HighOSeq: m.highOSeq,
		Rollback: &journal.RollbackInfo{From: before, Reason: reason + " (finished at restart)"}})
	if err := m.sync(); err != nil {
		return err
	}
	m.cfg.Side.Intent = 0
	return nil
}

// ---- the Node's Ready ----

// process carries out the node's Readys in the order of replicate's
// contract.
func (m *model) process() {
	for m.node.HasReady() {
		rd := m.node.Ready()
		if rc := rd.Role; rc != nil {
			m.role, m.reign = rc.Role, rc.Reign
			m.appendRec(m.roleRecord(rc.Role, rc.Reign))
			if err := m.sync(); err != nil {
				panic(err)
			}
		}
		if tb := rd.TakeBack; tb != nil {
			// The peer holds own OSeqs this journal lacks: never reuse them.
			m.highOSeq = max(m.highOSeq, tb.UpTo)
		}
		for _, r := range rd.Apply {
			m.applyPeer(r)
		}
		if rb := rd.Rollback; rb != nil {
			m.rb, m.rbPhase = rb, 0
			m.out.Notes = append(m.out.Notes, fmt.Sprintf("roll back to before position %d (%v): %s", rb.Before, rb.Own, rb.Reason))
		}
		for _, v := range rd.Verdicts {
			if v.Verdict == replicate.VerdictReject {
				m.out.Rejected = append(m.out.Rejected, v.Txn)
				m.out.Notes = append(m.out.Notes, fmt.Sprintf("reject %v: %s", v.Txn, conflictString(v.Conflicts[0])))
			}
		}
		m.recon = append(m.recon, rd.Reconcile...)
		for _, msg := range rd.Messages {
			f := msg.Frame
			switch f.Kind {
			case link.KindTxn:
				f.Record = m.frames[msg.Pos-1]
			case link.KindHello:
				f.WallClock = m.now()
			}
			m.out.Frames = append(m.out.Frames, f)
		}
		switch rd.Quiesce {
		case replicate.QuiesceOn:
			m.quiesced = true
		case replicate.QuiesceOff:
			m.quiesced = false
		}
		if rd.Disconnect != "" && m.out.Disconnect == "" {
			m.out.Disconnect = rd.Disconnect
		}
		m.out.Notes = append(m.out.Notes, rd.Notes...)
		m.node.Advance()
	}
}

// simKey is the key of an op's K: ("k", K).
func simKey(k string) []byte { return tuple.Pack("k", k) }

func conflictString(c replicate.Conflict) string {
	if !c.Subject.IsZero() {
		return "duplicate subject " + c.Subject.String()
	}
	return fmt.Sprintf("%v check with own %v on %s", c.Check, c.Own, tuple.Format(c.Key))
}
