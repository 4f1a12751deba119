package engine

import (
	"fmt"
	"log/slog"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
	"github.com/liege-db/liege/rollback"
)

// This file is the glue between the Node and the engine: the one place a
// Ready is carried out, in the order of the contract (package replicate,
// doc.go), and the inputs handed to the Node.

// drain carries out the Node's Readys until it has none.
func (in *Instance) drain() {
	in.reportDurable()
	in.forwardsDone()
	for in.fatal == nil {
		if !in.node.HasReady() {
			if in.seedAfterReady() { // seed.go: inputs a Ready deferred
				continue
			}
			break
		}
		rd := in.node.Ready()
		in.carryOut(&rd)
		in.node.Advance()
		in.reportDurable()
	}
}

// carryOut is the contract's steps 2 to 8 for one Ready.
func (in *Instance) carryOut(rd *replicate.Ready) {
	// 2. Persist first.
	if r := rd.Role; r != nil {
		if err := in.journalRole(r.Role, r.Reign); err != nil {
			in.fail(err)
			return
		}
		in.log.Warn("role changed", "role", r.Role, "reign", r.Reign, "why", r.Why)
	}
	// 3. Never reuse a shipped OSeq.
	if tb := rd.TakeBack; tb != nil {
		in.takeBack(tb)
		if in.fatal != nil {
			return
		}
	}
	for i := range rd.Verdicts {
		v := &rd.Verdicts[i]
		if len(v.Conflicts) > 0 {
			in.logConflicts(v)
		}
		if in.cfg.Hooks.Verdict != nil {
			in.cfg.Hooks.Verdict(*v)
		}
	}
	in.ownConflicts(rd)
	// 4. Apply, in OSeq order.
	for _, r := range rd.Apply {
		if err := in.applyPeer(r); err != nil {
			in.fail(err)
			return
		}
	}
	if rd.Seed != nil {
		in.takeSeed(rd.Seed) // seed.go
	}
	in.forwardReady(rd) // after Apply: read-your-writes at the vassal
	// 5. Start the rollback; Step takes it phase by phase.
	if r := rd.Rollback; r != nil {
		in.startRollback(r)
	}
	// 6. Reconcile, one record per Step.
	in.reconQ = append(in.reconQ, rd.Reconcile...)
	// 7. Send. The frames of one Ready are one allocation: a ship is up
	// to MaxShip of them, and they go out together.
	frames := make([]link.Frame, len(rd.Messages))
	for i := range rd.Messages {
		if f := &frames[i]; in.message(&rd.Messages[i], f) {
			in.out = append(in.out, f)
		}
	}
	switch rd.Quiesce {
	case replicate.QuiesceOn:
		in.quiesced = true
	case replicate.QuiesceOff:
		in.quiesced = false
	}
	// 8. The driver closes the link and calls LinkDown.
	if rd.Disconnect != "" {
		in.disconnect = rd.Disconnect
	}
	for _, n := range rd.Notes {
		in.log.Info("replication: " + n)
	}
}

// message turns a Message into the frame to send, in f; false if it
// cannot be sent (the instance failed).
func (in *Instance) message(m *replicate.Message, f *link.Frame) bool {
	*f = m.Frame
	switch f.Kind {
	case link.KindHello:
		f.WallClock = in.cfg.Now().UnixNano()
	case link.KindTxn:
		b, err := in.w.Read(m.Pos)
		if err != nil {
			in.fail(fmt.Errorf("ship %v from journal position %d: %w", m.Txn, m.Pos, err))
			return false
		}
		f.Record = b
	}
	return true
}

func (in *Instance) logConflicts(v *replicate.PeerVerdict) {
	for _, c := range v.Conflicts {
		in.log.Warn("conflict detected",
			slog.String("incoming", v.Txn.String()), slog.String("own", c.Own.String()),
			slog.String("check", c.Check.String()), slog.String("case", c.Case), slog.String("key", tuple.Format(c.Key)),
			slog.Uint64("own_pos", c.Pos), slog.String("action", v.Verdict.String()))
	}
}

// applyPeer applies and journals r as a peer record, with this instance's
// before-images.
func (in *Instance) applyPeer(r *journal.Record) error {
	if err := in.clock.Observe(hlcOf(r)); err != nil {
		// The handshake bounds the peer's clock; a record beyond the
		// bound moves this clock only as far as allowed.
		in.log.Warn("peer transaction's clock is beyond the bound", "txid", r.TxID().String(), "error", err)
	}
	// In the Instance: a local escapes to the encoder, one allocation a
	// record; cleared on return so that it holds on to nothing.
	loc := &in.peerRec
	*loc = *r
	defer func() { *loc = journal.Record{} }()
	loc.Pos, loc.Epoch, loc.Kind, loc.OriginKind = in.lastPos+1, in.epoch, journal.KindPeer, r.Kind
	loc.IdempotencyKey = ""
	loc.Writes = in.peerWrites[:0]
	// Most records take their before-images and apply their writes in one
	// pass, one search of the tree per key (applypeer.go); the others read
	// every before-image here, then write after the append.
	writes, applied := r.Writes, !in.cfg.LWW && swappable(r)
	if applied {
		err := in.swapImages(r, loc)
		in.peerWrites = loc.Writes
		if err != nil {
			return err
		}
		writes = nil
	}
	for i := range writes {
		w := &writes[i]
		cur, curVer, ok := in.st.Get(w.Key)
		if in.cfg.LWW {
			lw, keep, err := lwwWrite(r, w, cur, curVer, ok)
			if err != nil {
				return err
			}
			if keep {
				loc.Writes = append(loc.Writes, lw)
			}
			continue
		}
		lw := journal.Write{Key: w.Key, Op: w.Op, Value: w.Value, Delta: w.Delta, BeforeVersion: curVer}
		if ok {
			lw.Before = cur
		}
		if w.Op == journal.OpAdd {
			var n int64
			if ok {
				var err error
				if n, err = decodeInt(cur); err != nil {
					return fmt.Errorf("apply peer %v: add to %s, which holds a non-integer here: the instances have diverged", r.TxID(), tuple.Format(w.Key))
				}
			}
			lw.Value = encodeInt(n + w.Delta)
		}
		loc.Writes = append(loc.Writes, lw)
	}
	in.peerWrites = loc.Writes
	f, err := in.enc.Frame(loc)
	if err == nil {
		err = in.w.Append(loc.Pos, f)
	}
	if err != nil {
		if applied {
			in.undoPeer(loc)
		}
		return err
	}
	if !applied {
		in.st.Apply(loc) // loc has r's version
	}
	in.lastPos = loc.Pos
	in.rememberPeerKey(r, loc.Pos)
	in.sinceCkpt++
	in.peerWatermark = r.OSeq
	if in.catchUpTo != 0 && r.OSeq >= in.catchUpTo {
		in.endCatchUp("caught_up")
	}
	in.index.add(loc)
	in.resolveRecon(loc.Subject)
	if in.cfg.Hooks.Stands != nil && !loc.Subject.IsZero() {
		in.cfg.Hooks.Stands(loc.Subject, r.TxID())
	}
	if in.cfg.Hooks.PeerApplied != nil {
		in.cfg.Hooks.PeerApplied(r.HLC)
	}
	if in.cfg.Hooks.PeerTxn != nil && r.Kind == journal.KindLocal {
		in.cfg.Hooks.PeerTxn(r, r.IdempotencyKey != "" && in.fwd.keys[r.IdempotencyKey] > 0)
	}
	return nil
}

// ---- rollbacks (DESIGN.md sections 7 and 8) ----

// startRollback begins the rollback the Node asked for: everything
// appended is made durable, then the intent is written.
func (in *Instance) startRollback(r *replicate.Rollback) {
	if err := in.flush(); err != nil {
		in.fail(err)
		return
	}
	s, err := rollback.Begin(in.rollbackEnv(), r.Before, r.Reason)
	if err != nil {
		in.fail(fmt.Errorf("begin the rollback to before position %d: %w", r.Before, err))
		return
	}
	in.rb, in.rbReq = s, r
	in.log.Warn("rolling back", "to_before", r.Before, "own", r.Own.String(), "reason", r.Reason)
}

func (in *Instance) rollbackEnv() rollback.Env {
	return rollback.Env{Dir: in.cfg.Dir, Instance: in.cfg.ID, Self: in.cfg.ID, Journal: in.w, Encoder: in.enc,
		Store: in.st, Epoch: in.epoch, HighOSeq: in.highOSeq, PeerWatermark: in.peerWatermark, Front: in.ret.front, Now: in.cfg.Now,
		DecodeAhead: in.cfg.ReplayWorkers > 0} // decoding goroutines are the driver's choice
}

// rollbackStep takes the outstanding rollback one phase on; when it is done
// the instance's state follows and the Node is told.
func (in *Instance) rollbackStep() {
	if err := in.rb.Step(); err != nil {
		// The intent is on disk and the state may be half undone: only
		// recovery (which finishes the rollback) may go on from here.
		in.fail(&RollbackFailedError{Err: err})
		return
	}
	if in.rb.Phase() == rollback.PhaseTruncated {
		// The journal ends before the target now: reads between phases
		// must not find positions that are gone.
		in.index.truncate(in.rb.Intent().Target)
		in.lastPos, in.durable = in.w.next-1, in.w.durable
	}
	if !in.rb.Done() {
		return
	}
	res := in.rb.Result()
	req := in.rbReq
	in.rb, in.rbReq = nil, nil
	had := in.peerWatermark
	rolled, lf, err := in.afterRollback(res)
	if err != nil {
		in.fail(err)
		return
	}
	conflicting := map[journal.TxID]bool{}
	if req != nil && !req.Own.IsZero() && (!req.Incoming.IsZero() || !req.Subject.IsZero()) { // not a re-seed's
		conflicting[req.Own] = true
	}
	if in.role == RoleVassal {
		if _, err := in.buildRecon(res.LostFile, lf, conflicting); err != nil {
			// The rollback is durable; the log is rebuilt at the next start.
			in.log.Error("could not save the reconciliation log; it is rebuilt at the next start", "lost_file", res.LostFile, "error", err)
		}
	}
	if req != nil && !req.Incoming.IsZero() && in.cfg.Hooks.RollbackFor != nil {
		in.cfg.Hooks.RollbackFor(req.Incoming, in.epoch)
	}
	if req != nil && in.node != nil {
		in.node.RollbackDone(replicate.RollbackResult{Epoch: in.epoch, Watermark: in.peerWatermark, RolledOff: rolled})
		in.peerDur = in.peerWatermark
		in.startCatchUp(had, req)
	}
}

// afterRollback brings the instance's state after a finished rollback and
// returns the transaction records rolled off, and the lost transaction file
// it read them from (nil for a lone instance), for the reconciliation log.
func (in *Instance) afterRollback(res *rollback.Result) ([]*journal.Record, *rollback.LostFile, error) {
	in.epoch, in.peerWatermark = res.Epoch, res.PeerWatermark
	in.peerSync, in.peerSynced = peerMark{}, peerMark{} // their positions may be rolled off
	in.lastPos = in.w.next - 1
	in.durable = in.w.durable
	in.index.truncate(res.From)
	if err := in.txnStatusRolledBack(res.Own, nil); err != nil {
		return nil, nil, err
	}
	if err := in.idemRolledBack(res.From); err != nil {
		return nil, nil, err
	}
	in.lostTx.add(res.LostFile, res.Own)
	// The rollback made everything appended durable before it began
	// (startRollback), and the drain that started it has reported those
	// own records to the Node already. Should any be left, the ones the
	// rollback kept are still reported (so they ship); those it rolled
	// off are gone.
	in.ownPending = keepBefore(in.ownPending, res.From)
	in.sinceCkpt = 0
	if in.ckptDone >= res.From {
		in.ckptDone = 0
	}
	if in.cfg.Hooks.RolledBack != nil {
		in.cfg.Hooks.RolledBack(res.Records)
	}
	in.log.Warn("rolled back", "from", res.From, "to", res.To, "records", res.Records, "epoch", res.Epoch, "lost_file", res.LostFile)
	if in.node == nil {
		return nil, nil, nil // a lone instance: no Node to tell, no role to keep
	}
	lf, err := rollback.ReadLostFile(res.LostFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read back the lost transaction file of the rollback: %w", err)
	}
	var rolled []*journal.Record
	roleOff := false
	for i := range lf.Records {
		if lf.Records[i].Kind.IsTxn() {
			rolled = append(rolled, &lf.Records[i])
		}
		roleOff = roleOff || lf.Records[i].Kind == journal.KindRole
	}
	if err := in.txnStatusRolledBack(nil, rolled); err != nil {
		return nil, nil, err
	}
	if roleOff && in.role != "" {
		// The role and reign this instance holds were journaled after the
		// target: journal them again, or a restart would fall back to an
		// older reign.
		if err := in.journalRole(in.role, in.reign); err != nil {
			return nil, nil, err
		}
	}
	return rolled, lf, nil
}

// keepBefore returns the marks of ms (in position order) before position
// pos.
func keepBefore(ms []ownMark, pos uint64) []ownMark {
	i := 0
	for i < len(ms) && ms[i].pos < pos {
		i++
	}
	return ms[:i]
}

// ErrBadTarget: a hand rollback's target is outside the journal.
var ErrBadTarget = fmt.Errorf("bad rollback target")

func (in *Instance) rollbackTo(pos uint64, reason string) (uint64, uint64, string, error) {
	if in.fatal != nil {
		return 0, 0, "", in.fatal
	}
	if in.rb != nil {
		return 0, 0, "", fmt.Errorf("a rollback is under way; retry when it is done")
	}
	if pos < 2 || pos > in.lastPos {
		return 0, 0, "", fmt.Errorf("%w: position %d is outside 2..%d (position 1 opens the journal; the last record is at %d)", ErrBadTarget, pos, in.lastPos, in.lastPos)
	}
	if pos < in.w.first {
		return 0, 0, "", fmt.Errorf("%w: position %d is before the journal's first record %d", ErrBadTarget, pos, in.w.first)
	}
	if in.role == RoleLiege {
		return 0, 0, "", fmt.Errorf("roll back %s: %w", in.cfg.ID, replicate.ErrLiegeRollback)
	}
	if err := in.flush(); err != nil {
		in.fail(err)
		return 0, 0, "", err
	}
	if in.ckptOut {
		return 0, 0, "", fmt.Errorf("a checkpoint is being written; retry when it is done")
	}
	res, err := rollback.Run(in.rollbackEnv(), pos, reason)
	if err != nil {
		in.fail(&RollbackFailedError{Err: err})
		return 0, 0, "", in.fatal
	}
	_, lf, err := in.afterRollback(res)
	if err != nil {
		in.fail(err)
		return 0, 0, "", err
	}
	if in.node != nil {
		if _, err := in.buildRecon(res.LostFile, lf, nil); err != nil {
			in.log.Error("could not save the reconciliation log; it is rebuilt at the next start", "lost_file", res.LostFile, "error", err)
		}
		// A rollback by hand is outside the protocol: the Node starts
		// afresh from the journal, and the link with it.
		if err := in.rebuildNode(); err != nil {
			in.fail(err)
			return 0, 0, "", err
		}
		in.disconnect = "rolled back by hand: handshake afresh"
	}
	return res.From, res.To, res.LostFile, nil
}

// rebuildNode builds the Node again from the journal.
func (in *Instance) rebuildNode() error {
	var own []*journal.Record
	err := in.records(in.w.first, func(r *journal.Record) error {
		if r.Kind.IsOwn() && r.Origin == in.cfg.ID {
			own = append(own, r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return in.newNode(own)
}

// ---- the link ----

func (in *Instance) deliver(f *link.Frame) error {
	if in.node == nil {
		return ErrNotReplicated
	}
	if len(in.inbox) > 0 || f.Kind == link.KindSeed && len(in.ownPending) > 0 {
		// A peer transaction does not wait for own transactions to be
		// durable: the Node has them in its window from commit on
		// (OwnCommitted), and a rollback they are in makes them durable
		// before it starts (startRollback). A Seed frame does wait for
		// the next Sync: the last one may roll back every own
		// transaction the checkpoint lacks and install the checkpoint in
		// the same drain (a re-seed, reseed.go), and the install
		// requires every own record durable and reported. Frames after
		// it wait too, in order. Seeds are rare: the wait costs nothing.
		in.inbox = append(in.inbox, f)
		return nil
	}
	return in.stepFrame(f)
}

// stepInbox hands the Node the frames that waited for a Sync. A frame the
// Node refuses closes the link (Outbox says why).
func (in *Instance) stepInbox() {
	for len(in.inbox) > 0 && len(in.ownPending) == 0 && in.fatal == nil {
		f := in.inbox[0]
		in.inbox[0] = nil
		in.inbox = in.inbox[1:]
		if err := in.stepFrame(f); err != nil {
			in.inbox = nil
			in.disconnect = err.Error()
			return
		}
	}
	if len(in.inbox) == 0 {
		in.inbox = nil
	}
}

// stepFrame hands one frame to the Node and carries out its Ready.
func (in *Instance) stepFrame(f *link.Frame) error {
	var err error
	if f.Kind == link.KindHello {
		offset := in.cfg.Now().Sub(timeOf(f.WallClock))
		err = in.node.Handshake(f, -offset)
		defer in.handshakeDone()
	} else {
		err = in.node.Step(f)
	}
	in.drain()
	in.seedWait() // losttail.go
	return err
}

func (in *Instance) linkUp() {
	if in.node == nil {
		return
	}
	in.disconnect = ""
	in.out, in.inbox = in.out[:0], nil
	in.node.Connected()
	in.drain()
}

func (in *Instance) linkDown() {
	if in.node == nil {
		return
	}
	in.node.Disconnected()
	in.endCatchUp("link_down") // nothing comes back while the link is down
	in.disconnect = ""
	in.out, in.inbox = nil, nil
	in.seed.in.drop() // the Node asks for a checkpoint afresh
	in.drain()
}

func (in *Instance) tick() {
	in.retainTick()
	if in.node == nil {
		return
	}
	in.node.Tick()
	in.catchUpTick()
	in.drain()
}

func (in *Instance) outbox() ([]*link.Frame, string) {
	out, d := in.out, in.disconnect
	in.out, in.disconnect = nil, ""
	return out, d
}

func (in *Instance) promote(force bool) error {
	if in.node == nil {
		return ErrNotReplicated
	}
	if in.awaitingSeed { // seedWait: it outlives a lost link, the Node's ask does not
		return replicate.PromoteAwaitingSeed(in.cfg.ID)
	}
	if err := in.node.Promote(force); err != nil {
		return err
	}
	in.promotedWhileAwaiting()
	in.drain()
	if in.fatal != nil {
		return in.fatal
	}
	return nil
}

func (in *Instance) switchover() error {
	if in.node == nil {
		return ErrNotReplicated
	}
	if err := in.node.Switchover(); err != nil {
		return err
	}
	in.drain()
	return in.fatal
}
