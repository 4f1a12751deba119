package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
	"github.com/liege-db/liege/replicate"
)

// This file is the executor: calls run one at a time against the state, in
// journal order, in batches that share one fsync.

func (in *Instance) submit(c *Call) {
	c.Done, c.Err, c.Result, c.pos = false, nil, Result{}, 0
	c.Submitted = in.cfg.Now()
	if in.closed {
		in.answer(c, ErrClosed)
		return
	}
	in.queue = append(in.queue, c)
}

func (in *Instance) hasWork() bool {
	if in.fatal != nil {
		return len(in.queue) > 0 || len(in.waiting) > 0
	}
	if in.syncing() {
		return in.hasWorkSyncing()
	}
	return in.rb != nil || len(in.reconQ) > 0 && in.awaitPeer == "" || len(in.queue) > 0 && !in.catchingUp() || in.w.pending() || len(in.inbox) > 0 ||
		in.node != nil && in.node.HasReady() || in.durableUnreported()
}

// durableUnreported says an own record is durable that the Node has not
// been told of: a flush outside a Step (a checkpoint's, or retention's
// before it truncates the journal's front) made it so. Telling the Node
// is work for the next Step (reportDurable), or the record would not ship
// until something else woke the executor.
func (in *Instance) durableUnreported() bool {
	return in.node != nil && len(in.ownPending) > 0 && in.ownPending[0].pos <= in.durable
}

func (in *Instance) step() bool {
	if in.fatal != nil {
		did := len(in.queue) > 0 || len(in.waiting) > 0
		in.failAll(in.fatal)
		return did
	}
	did, reconNow := true, false
	recon := len(in.reconQ) > 0 && in.awaitPeer == "" // reconciling assigns own OSeqs too
	switch {
	case in.rb != nil:
		in.settle()
		in.rollbackStep()
	case recon && in.reconRun < reconTurn:
		reconNow = true
	case in.syncing():
		// The next batch runs while the fsync is in flight (syncer.go).
		did = len(in.queue) > 0 && len(in.inbox) == 0 && !in.catchingUp() && in.writeBatch(syncingBatch)
	case in.w.pending() && (in.lastOp == opWrite || len(in.queue) == 0 || len(in.inbox) > 0):
		in.syncStep()
	case len(in.inbox) > 0 && len(in.ownPending) == 0:
		in.stepInbox()
	case len(in.inbox) > 0, in.durableUnreported():
		in.reportDurable() // durable already: the Node takes them (then the inbox)
	case len(in.queue) > 0 && !in.catchingUp():
		in.writeCalls()
	default:
		did = false
	}
	if did && !reconNow {
		in.reconRun = 0
	}
	if recon && (reconNow || !did) {
		in.reconRun++
		r := in.reconQ[0]
		in.reconQ = in.reconQ[1:]
		in.reconcileOne(r)
		did = true
	}
	if in.node != nil && in.fatal == nil {
		if in.node.HasReady() {
			did = true
		}
		in.drain()
	}
	return did
}

// reconTurn is how many reconciliation records (about 10µs each) a
// liege runs in a row while other work waits: the fsync of what it
// committed, the shipping of its reprocesses and corrections, the calls.
// A reconciliation log of a long partition holds a million records; run
// all at once, it held back every call and every reprocess for seconds,
// and the vassal, seeing none come back, sent the whole log again.
const reconTurn = 64

// keptQueue is the largest queue capacity kept once the queue is empty.
const keptQueue = 4096

// writeCalls runs queued calls as one batch and hands their records to the
// log.
func (in *Instance) writeCalls() bool { return in.writeBatch(in.cfg.MaxBatch) }

// syncingBatch bounds the calls one step runs while an fsync is in flight:
// the driver hands the fsync's outcome in only between steps, and the
// next fsync starts only then, so a long step leaves the disk idle.
const syncingBatch = 32

// writeBatch is writeCalls of at most limit calls.
func (in *Instance) writeBatch(limit int) bool {
	if len(in.queue) == 0 {
		return false
	}
	n := min(len(in.queue), limit)
	batch := in.queue[:n]
	for _, c := range batch {
		in.execute(c)
	}
	clear(in.queue[:n])
	if len(in.queue) == n && cap(in.queue) <= keptQueue {
		in.queue = in.queue[:0] // keep the memory for the next batch
	} else {
		in.queue = in.queue[n:]
	}
	if err := in.w.write(); err != nil {
		in.fail(err)
		return true
	}
	in.lastOp = opWrite
	return true
}

// execute runs one call.
func (in *Instance) execute(c *Call) {
	if in.fatal != nil {
		in.answer(c, in.fatal)
		return
	}
	if in.quiesced {
		in.answer(c, ErrQuiesced)
		return
	}
	if in.awaitPeer != "" {
		in.answer(c, in.awaitErr())
		return
	}
	if c.IdempotencyKey != "" {
		o, ok, err := in.idemLookup(c)
		if err != nil {
			in.answer(c, err)
			return
		}
		if ok {
			c.Result = Result{TxID: o.txid, HLC: o.hlc, Pos: o.pos, Raw: o.raw}
			in.wait(o.waitPos(in.durable), c)
			return
		}
	}
	if in.forward(c) {
		return
	}
	ts := in.clock.Now()
	eff, err := in.cfg.Runner.Run(in.st, ts, in.cfg.ID, c.Proc, c.Args, c.ArgBytes)
	if err != nil {
		if in.cfg.Hooks.Aborted != nil {
			in.cfg.Hooks.Aborted()
		}
		in.answer(c, err)
		return
	}
	if len(eff.Writes) == 0 {
		// Read-only: nothing is journaled, but the answer waits until
		// everything it may have read is durable.
		c.Result.HLC = uint64(ts)
		c.Result.Raw = bytes.Clone(eff.Result)
		in.wait(in.lastPos, c)
		return
	}
	if err := in.commit(c, ts, &eff, journal.KindLocal, journal.TxID{}, c.Proc, c.ArgBytes); err != nil {
		in.cfg.Runner.Undo()
		in.answer(c, err)
	}
}

// commit journals the transaction whose writes are applied and queues c
// for the answer once it is durable.
func (in *Instance) commit(c *Call, ts hlc.Timestamp, eff *Effects, kind journal.Kind, subject journal.TxID, proc string, args []byte) error {
	in.highOSeq++
	r := journal.Record{
		Pos: in.lastPos + 1, Epoch: in.epoch, Kind: kind, Subject: subject,
		Origin: in.cfg.ID, OSeq: in.highOSeq, HLC: uint64(ts), PeerSeen: in.peerWatermark,
		Proc: proc, Args: args, Result: eff.Result,
		Reads: eff.Reads, Ranges: eff.Ranges, Writes: eff.Writes, IdempotencyKey: c.IdempotencyKey,
	}
	f, err := in.enc.Frame(&r)
	if err == nil && kind == journal.KindLocal {
		err = in.checkFrame(proc, len(f)) // framecap.go
	}
	if err == nil {
		err = in.w.Append(r.Pos, f)
	}
	if err != nil {
		in.highOSeq--
		return err
	}
	in.lastPos = r.Pos
	in.sinceCkpt++
	c.Result = Result{TxID: r.TxID(), HLC: r.HLC, Pos: r.Pos, Kind: kind, Raw: bytes.Clone(eff.Result)}
	in.index.add(&r)
	if c.IdempotencyKey != "" {
		in.idem.put(c.IdempotencyKey, idemOutcome{txid: c.Result.TxID, pos: r.Pos, hlc: r.HLC, raw: c.Result.Raw, sum: in.idem.sum(proc, args)})
	}
	if in.node != nil {
		// The Node checks peer transactions against it from now on
		// (OwnCommitted copies the keys it keeps: the Runner reuses the
		// sets' memory); it ships it once durable (reportDurable), which
		// needs only the record's identity.
		in.ownPending = append(in.ownPending, markOf(&r))
		in.node.OwnCommitted(&r)
	}
	in.wait(r.Pos, c)
	return nil
}

// wait answers c once position pos is durable.
func (in *Instance) wait(pos uint64, c *Call) {
	c.pos = pos
	if pos <= in.durable && len(in.waiting) == 0 {
		var now time.Time
		in.finish(c, &now)
		return
	}
	in.waiting = append(in.waiting, c)
}

// finish answers c, done. Its latency is taken at *now, read from the
// clock first if zero: the calls one fsync made durable share one reading.
func (in *Instance) finish(c *Call, now *time.Time) {
	c.Done = true
	in.answered++
	if c.fwdID != 0 {
		in.fwd.done = append(in.fwd.done, c)
	}
	if !c.Result.TxID.IsZero() && in.cfg.Hooks.Committed != nil {
		if now.IsZero() {
			*now = in.cfg.Now()
		}
		in.cfg.Hooks.Committed(now.Sub(c.Submitted))
	}
}

func (in *Instance) answer(c *Call, err error) {
	c.Err, c.Done = err, true
	in.answered++
	if c.fwdID != 0 {
		in.fwd.done = append(in.fwd.done, c)
	}
}

// sync makes everything appended durable and acts on it.
func (in *Instance) sync() bool {
	in.lastOp = opNone
	if !in.w.pending() {
		return false
	}
	if in.syncing() {
		if in.settle(); in.fatal != nil || !in.w.pending() {
			return true
		}
	}
	n := in.w.next - 1 - in.w.durable
	t0 := in.cfg.Now()
	if err := in.flush(); err != nil {
		in.fail(err)
		return true
	}
	if in.cfg.Hooks.Synced != nil {
		in.cfg.Hooks.Synced(int(n), in.cfg.Now().Sub(t0))
	}
	return true
}

// flush writes and fsyncs, then answers the calls and tells the Node.
func (in *Instance) flush() error {
	if err := in.w.Flush(); err != nil {
		return err
	}
	in.afterDurable()
	return nil
}

// afterDurable answers the calls the journal's durable position covers.
func (in *Instance) afterDurable() {
	in.durable = in.w.durable
	in.noteBytes() // retain.go: one mark per 1/64 of the keep floor
	if len(in.reconComplete) > 0 {
		in.saveCompleteRecon()
	}
	i := 0
	var now time.Time
	for i < len(in.waiting) && in.waiting[i].pos <= in.durable {
		in.finish(in.waiting[i], &now)
		i++
	}
	n := copy(in.waiting, in.waiting[i:])
	clear(in.waiting[n:])
	in.waiting = in.waiting[:n]
}

// reportDurable tells the Node which own records are durable and how far
// peer records are applied durably (never between Ready and Advance).
func (in *Instance) reportDurable() {
	if in.node != nil {
		i := 0
		for i < len(in.ownPending) && in.ownPending[i].pos <= in.durable {
			in.ownPending[i].record(&in.durRec, in.cfg.ID)
			in.node.OwnDurable(&in.durRec)
			i++
		}
		in.durRec = journal.Record{}
		if i > 0 {
			// Keep the memory: the next group's marks go in the same array.
			n := copy(in.ownPending, in.ownPending[i:])
			in.ownPending = in.ownPending[:n]
		}
		if wm := in.durablePeer(); wm > in.peerDur {
			in.peerDur = wm
			in.node.PeerApplied(wm)
		}
	}
}

// durablePeer is the peer watermark as far as it is durable: all of it
// when everything appended is durable, else as far as the last pipelined
// fsync reached (syncer.go), else what was reported before.
func (in *Instance) durablePeer() uint64 {
	if in.durable >= in.lastPos {
		return in.peerWatermark
	}
	if m := in.peerSynced; m.pos != 0 && m.pos <= in.durable && m.wm <= in.peerWatermark {
		return max(in.peerDur, m.wm)
	}
	return in.peerDur
}

// fail stops the instance after a journal error: it must be reopened.
func (in *Instance) fail(err error) {
	if in.fatal == nil {
		var fe *journal.FatalError
		var rf *RollbackFailedError
		if !errors.As(err, &fe) && !errors.As(err, &rf) {
			err = &journal.FatalError{Err: err}
		}
		in.fatal = err
		in.log.Error("journal failed; the instance stops taking writes and must be reopened", "error", err)
	}
	in.failAll(in.fatal)
}

func (in *Instance) failAll(err error) {
	for _, c := range in.queue {
		in.answer(c, err)
	}
	for _, c := range in.waiting {
		in.answer(c, err)
	}
	in.queue, in.waiting = nil, nil
	in.forwardFailAll(err)
}

// RollbackFailedError is the instance's error, and every later call's,
// when a rollback failed part way: the instance stops, and reopening it
// finishes the rollback from its durable intent.
type RollbackFailedError struct{ Err error }

func (e *RollbackFailedError) Error() string {
	return fmt.Sprintf("rollback failed; the instance stopped and must be reopened, which finishes the rollback: %v", e.Err)
}

func (e *RollbackFailedError) Unwrap() error { return e.Err }

// ---- reconciliation (DESIGN.md section 9) ----

// ReconcileOutcome says what reconciling one record did (for the log and
// tests).
type ReconcileOutcome struct {
	Subject journal.TxID
	Action  reconcile.Action
	// Pos is the position of the committed reprocess or correction (for a
	// skipped one: of the record that holds the subject).
	Pos uint64
	// Result is the committed transaction's (zero when skipped).
	Result Result
	// Reexecuted is the result re-execution gave (nil if it failed), and
	// ReexecError why it failed.
	Reexecuted  []byte
	ReexecError error
	// Err says why nothing was committed: the record stays pending.
	Err error
}

// reconcileOne runs one reconciliation record the Node handed out and
// reports it done.
func (in *Instance) reconcileOne(r *journal.Record) {
	if in.reconTally.n == 0 {
		in.reconTally.start = in.cfg.Now()
	}
	out := in.Reconcile(r)
	in.reconTally.add(out)
	if out.Err != nil {
		in.log.Error("could not reconcile: the record stays pending at the vassal", "subject", out.Subject.String(), "error", out.Err)
	} else {
		// A correction changes what a client was told: a line each. A
		// reprocess or a skip is routine (the metrics count them): the
		// log of a long partition holds a million, so they are debug
		// lines, and a run of many ends with a summary (reconTally).
		switch {
		case out.Action == reconcile.Correct:
			in.log.Info("reconciled: re-execution differed; correction committed", "subject", out.Subject.String(), "as", out.Result.TxID.String(), "pos", out.Pos)
		case !in.log.Enabled(context.Background(), slog.LevelDebug): // not even the strings made
		case out.Action == reconcile.Reprocess:
			in.log.Debug("reconciled: re-executed with the same result", "subject", out.Subject.String(), "as", out.Result.TxID.String(), "pos", out.Pos)
		default:
			in.log.Debug("reconciled: "+out.Action.String(), "subject", out.Subject.String(), "pos", out.Pos)
		}
		if in.cfg.Hooks.Reconciled != nil {
			in.cfg.Hooks.Reconciled(out.Action.String())
		}
		if in.cfg.Hooks.Stands != nil && !out.Result.TxID.IsZero() {
			in.cfg.Hooks.Stands(out.Subject, out.Result.TxID)
		}
	}
	if in.node != nil {
		in.node.Reconciled(out.Subject)
	}
	if t := &in.reconTally; len(in.reconQ) == 0 && t.n >= reconSummaryMin || t.n%reconProgressEvery == 0 {
		msg := "reconciling rolled-off transactions"
		if len(in.reconQ) == 0 {
			msg = "reconciled rolled-off transactions"
		}
		in.log.Info(msg, "records", t.n, "reprocessed", t.reprocessed, "corrected", t.corrected, "skipped", t.skipped,
			"failed", t.failed, "queued", len(in.reconQ), "took", in.cfg.Now().Sub(t.start).Round(time.Millisecond))
	}
	if len(in.reconQ) == 0 {
		in.reconTally = reconTally{}
	}
}

// reconSummaryMin is the run of reconciliation records (from a queue
// empty to empty again) that ends with a summary line, and
// reconProgressEvery how often a long run says how far it got.
const (
	reconSummaryMin    = 100
	reconProgressEvery = 50_000
)

// reconTally counts the outcomes of a run of reconciliation records.
type reconTally struct {
	n, reprocessed, corrected, skipped, failed int
	start                                      time.Time
}

func (t *reconTally) add(out ReconcileOutcome) {
	t.n++
	switch {
	case out.Err != nil:
		t.failed++
	case out.Action == reconcile.Reprocess:
		t.reprocessed++
	case out.Action == reconcile.Correct:
		t.corrected++
	case out.Action == reconcile.Skip:
		t.skipped++
	}
}

// Reconcile re-executes record r of a reconciliation log on the current
// state (DESIGN.md section 9): reprocess if the result is the one its
// client was told, else its correction; skipped if the subject is held.
// The committed record is journaled, not yet durable.
func (in *Instance) Reconcile(r *journal.Record) ReconcileOutcome {
	id := reconcile.Subject(r)
	out := ReconcileOutcome{Subject: id}
	pos, asSubject := in.index.subjects[id]
	if !asSubject {
		pos = in.index.find(id)
	}
	held := pos != 0 || in.index.dropped(id)
	if reconcile.Decide(r, held, reconcile.NotReexecuted).Action == reconcile.Skip {
		out.Action, out.Pos = reconcile.Skip, pos
		if asSubject {
			in.resolveRecon(id)
		}
		return out
	}
	if err := in.cfg.Runner.Known(r.Proc); err != nil {
		out.Err = fmt.Errorf("reconcile %s: %w (register the application's procedures on this instance)", id, err)
		return out
	}
	c := &Call{Proc: r.Proc}
	ts := in.clock.Now()
	eff, err := in.cfg.Runner.Run(in.st, ts, in.cfg.ID, r.Proc, nil, r.Args)
	re := reconcile.OtherResult
	if err == nil && bytes.Equal(eff.Result, r.Result) {
		re = reconcile.SameResult
	}
	if reconcile.Decide(r, false, re).Action == reconcile.Reprocess {
		out.Action = reconcile.Reprocess
		if err := in.commit(c, ts, &eff, journal.KindReprocess, id, r.Proc, r.Args); err != nil {
			in.cfg.Runner.Undo()
			out.Err = err
			return out
		}
		in.resolveRecon(id)
		out.Pos, out.Result, out.Reexecuted = c.Result.Pos, c.Result, c.Result.Raw
		in.dropWaiter(c)
		return out
	}
	reexec := []byte{0xc0} // msgpack nil: the correction sees a zero result
	if err == nil {
		reexec = bytes.Clone(eff.Result)
		out.Reexecuted = reexec
		in.cfg.Runner.Undo()
	} else {
		out.ReexecError = err
	}
	ts = in.clock.Now()
	eff, err = in.cfg.Runner.Correct(in.st, ts, in.cfg.ID, r.Proc, r.Args, r.Result, reexec)
	if err != nil {
		out.Err = fmt.Errorf("reconcile %s: correction failed (the transaction stays pending): %w", id, err)
		return out
	}
	out.Action = reconcile.Correct
	if err := in.commit(c, ts, &eff, journal.KindCorrection, id, r.Proc, r.Args); err != nil {
		in.cfg.Runner.Undo()
		out.Err = err
		return out
	}
	in.resolveRecon(id)
	out.Pos, out.Result = c.Result.Pos, c.Result
	in.dropWaiter(c)
	return out
}

// dropWaiter forgets an internal call (a reconciliation) nobody waits for.
func (in *Instance) dropWaiter(c *Call) {
	if n := len(in.waiting); n > 0 && in.waiting[n-1] == c {
		in.waiting[n-1] = nil
		in.waiting = in.waiting[:n-1]
	}
}

// ---- checkpoints ----

func (in *Instance) checkpointMeta() checkpoint.Meta {
	return checkpoint.Meta{Instance: in.cfg.ID, Pos: in.lastPos, Epoch: in.epoch, HighOSeq: in.highOSeq,
		HLC: uint64(in.clock.Last()), PeerWatermark: in.peerWatermark}
}

func (in *Instance) takeCheckpoint(force bool) *CheckpointJob {
	if p := in.ckptDone; p != 0 && in.fatal == nil && in.rb == nil {
		in.ckptDone = 0
		if err := in.appendMeta(&journal.Record{Kind: journal.KindCheckpoint, Checkpoint: p}); err != nil {
			in.fail(err)
			return nil
		}
	}
	if in.ckptOut || in.rb != nil || in.fatal != nil || in.cfg.CheckpointEvery < 0 && !force ||
		!force && in.sinceCkpt < in.cfg.CheckpointEvery {
		return nil
	}
	err := in.flushTxnStatus()
	if err == nil {
		err = in.flushIdem(in.durable) // idemfile.go
	}
	if err != nil {
		in.fail(err)
		return nil
	}
	in.ckptOut = true
	in.sinceCkpt = 0
	meta, snap, dir := in.checkpointMeta(), in.st.Snapshot(), in.cfg.Dir
	below := in.retainBelow() // retain.go
	j := &CheckpointJob{Pos: meta.Pos, forced: force}
	j.run = func() error {
		p, err := checkpoint.Write(dir, meta, snap)
		if err != nil {
			return err
		}
		j.Path = p
		return checkpoint.PruneKeeping(dir, 2, meta.Pos, below)
	}
	return j
}

func (in *Instance) checkpointDone(j *CheckpointJob) {
	in.ckptOut = false
	if j.Err != nil {
		in.log.Error("checkpoint failed", "pos", j.Pos, "error", j.Err)
		return
	}
	// A background checkpoint is marked in the journal (journalctl shows
	// where they were taken); one taken on demand is not.
	if j.Path != "" && !j.forced && j.Pos <= in.lastPos {
		in.ckptDone = j.Pos
	}
	in.retain()
}

// ---- status and close ----

func (in *Instance) status() Status {
	s := Status{ID: in.cfg.ID, Role: in.role, Reign: in.reign, Epoch: in.epoch, LastPos: in.lastPos, Durable: in.durable,
		HighOSeq: in.highOSeq, PeerWatermark: in.peerWatermark, HLC: uint64(in.clock.Last()), Keys: in.st.Len(),
		Quiesced: in.quiesced, ReconPending: in.reconPending, Fatal: in.fatal}
	if in.node != nil {
		s.Node = in.node.Status()
	}
	return s
}

func (in *Instance) close() error {
	if in.closed {
		return nil
	}
	// Finish what was submitted, then stop, syncing inline.
	in.endCatchUp("closed")
	in.settle()
	in.w.async = nil
	for in.fatal == nil && (len(in.queue) > 0 || in.w.pending() || in.rb != nil) {
		in.step()
	}
	in.closed = true
	in.failAll(ErrClosed)
	var errs []error
	if in.fatal == nil && in.cfg.CheckpointEvery > 0 && in.sinceCkpt > 0 && !in.ckptOut {
		if j := in.takeCheckpoint(true); j != nil {
			if err := j.Run(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if in.fatal == nil && in.txst != nil {
		if err := in.txst.flush(in.durable); err != nil {
			errs = append(errs, err)
		}
	}
	if in.fatal == nil {
		if err := in.flushIdem(in.durable); err != nil {
			errs = append(errs, err)
		}
	}
	if err := in.w.close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// JournalStats returns the fsyncs done and the frame bytes appended since
// Open.
func (in *Instance) JournalStats() (fsyncs, bytes uint64) { return in.w.syncs, in.w.bytes }

// Unwritten returns the bytes of the frames appended that no write has
// taken yet: what the next Step's write (or fsync) starts with.
func (in *Instance) Unwritten() int { return len(in.w.buf) }

// Quiesce stops (on) or resumes (off) new own transactions by hand.
func (in *Instance) Quiesce(on bool) { in.quiesced = on }

// Node returns the instance's protocol Node (nil for a lone instance), for
// tests that look inside; drive it only through the Instance.
func (in *Instance) Node() *replicate.Node { return in.node }

// ownMark is what reportDurable tells the Node of an own record that
// OwnCommitted reported in full: the Node keeps its keys from then on, and
// OwnDurable of a record it holds reads only the identity (TxID, subject).
// A mark where a clone of the record was kept (one allocation of the
// record, its sets and its bytes a transaction, only to be read for these
// fields when the group's fsync returns).
type ownMark struct {
	pos, oseq, hlc, peerSeen uint64
	kind                     journal.Kind
	subject                  journal.TxID
}

func markOf(r *journal.Record) ownMark {
	return ownMark{pos: r.Pos, oseq: r.OSeq, hlc: r.HLC, peerSeen: r.PeerSeen, kind: r.Kind, subject: r.Subject}
}

// record fills r with the mark's record as OwnDurable reads it: no sets,
// no bytes (the Node has them since OwnCommitted).
func (m *ownMark) record(r *journal.Record, origin string) {
	*r = journal.Record{Pos: m.pos, Kind: m.kind, Origin: origin, OSeq: m.oseq, HLC: m.hlc, PeerSeen: m.peerSeen, Subject: m.subject}
}
