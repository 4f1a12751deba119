package liege

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
	"github.com/liege-db/liege/rollback"
)

// This file is the engine's side of replication (DESIGN.md sections 5 to
// 9): applying the peer's transactions after the conflict check, the
// vassal's rollbacks, and the reconciliation logs. Package replicate drives
// it over a link; everything here runs on the executor, between
// transactions, so the state, the journal and the window change together.

// Roles (DESIGN.md section 1).
const (
	RoleLiege  = "liege"
	RoleVassal = "vassal"
)

// PeerVerdict says what ApplyPeer did with a peer transaction.
type PeerVerdict uint8

const (
	// PeerApplied: checked, applied and journaled as a peer record.
	PeerApplied PeerVerdict = iota + 1
	// PeerDuplicate: already applied (its OSeq is at or below the
	// watermark, or the journal holds it); dropped.
	PeerDuplicate
	// PeerGap: its Prev is not the watermark, so an earlier transaction is
	// missing (or the frame is stale); dropped. Ask the peer to resume after
	// the watermark.
	PeerGap
	// PeerRejected (liege): it conflicts with own transactions; not applied.
	// Command the vassal to roll it back and discard its transactions until
	// the answer (DESIGN.md section 8).
	PeerRejected
	// PeerRolledBack (vassal): it conflicts with own transactions; this
	// instance rolled back to just before the first of them and built a
	// reconciliation log (section 7). It was not applied: the liege must
	// resume its stream after the new watermark.
	PeerRolledBack
)

func (v PeerVerdict) String() string {
	switch v {
	case PeerApplied:
		return "applied"
	case PeerDuplicate:
		return "duplicate"
	case PeerGap:
		return "gap"
	case PeerRejected:
		return "rejected"
	case PeerRolledBack:
		return "rolled back"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Conflict is one own transaction an incoming peer transaction conflicts
// with.
type Conflict struct {
	Own   journal.TxID
	Pos   uint64 // the own transaction's position
	Check detect.Check
	Case  string // the row of DESIGN.md section 6's table, e.g. "C1"
	Key   []byte // the smallest key that witnesses the check
}

// PeerResult is the outcome of ApplyPeer.
type PeerResult struct {
	Verdict PeerVerdict
	// Watermark is the highest peer OSeq applied here afterwards, and Epoch
	// this instance's epoch.
	Watermark, Epoch uint64
	// Conflicts are the own transactions it conflicts with, by position.
	Conflicts []Conflict
	// Rollback is the vassal's rollback, with its reconciliation log.
	Rollback *rollback.Result
	Recon    *reconcile.Log
}

// ErrNotReplicated is returned by the replication methods of an instance
// opened without Options.PeerID.
var ErrNotReplicated = errors.New("instance is not replicated (open it with Options.PeerID)")

// peerCall is a replication request to the executor.
type peerCall struct {
	rec  *journal.Record
	prev uint64
	res  PeerResult
	err  error
}

// ApplyPeer offers transaction rec of the peer, streamed with prev (the
// OSeq of the peer's previous own transaction still in its journal). It is
// applied only if prev equals the watermark (contiguity) and it conflicts
// with no own transaction the peer had not seen (DESIGN.md section 6);
// otherwise the verdict says what to do. An error means the frame must be
// refused (a peer clock beyond the bound, a record that is not the peer's
// own transaction) or the instance failed.
func (db *DB) ApplyPeer(ctx context.Context, rec *journal.Record, prev uint64) (PeerResult, error) {
	res, err := db.ApplyPeerBatch(ctx, []*journal.Record{rec}, []uint64{prev})
	if len(res) == 0 {
		return PeerResult{}, err
	}
	return res[0], err
}

// ApplyPeerBatch offers several peer transactions in stream order, in one
// turn of the executor (cheaper than one ApplyPeer each). It returns one
// result per transaction offered, up to and including the first that was
// rejected or rolled back: the ones after it were not looked at.
func (db *DB) ApplyPeerBatch(ctx context.Context, recs []*journal.Record, prevs []uint64) ([]PeerResult, error) {
	if db.window == nil {
		return nil, ErrNotReplicated
	}
	for _, rec := range recs {
		if !rec.Kind.IsOwn() || rec.Origin != db.peerID || rec.OSeq == 0 {
			return nil, fmt.Errorf("refused a streamed record of kind %v with TxID %v: the peer %q streams only its own transactions",
				rec.Kind, rec.TxID(), db.peerID)
		}
	}
	out := make([]PeerResult, 0, len(recs))
	var err error
	cerr := db.control(ctx, func() {
		applied := false
		for i, rec := range recs {
			pc := peerCall{rec: rec, prev: prevs[i]}
			db.applyPeer(&pc)
			if pc.err != nil {
				err = pc.err
				break
			}
			out = append(out, pc.res)
			applied = applied || pc.res.Verdict == PeerApplied
			if v := pc.res.Verdict; v == PeerRejected || v == PeerRolledBack {
				break
			}
		}
		if applied {
			db.publish()
		}
	})
	if cerr != nil {
		return nil, cerr
	}
	return out, err
}

// applyPeer runs on the executor.
func (db *DB) applyPeer(pc *peerCall) {
	r := pc.rec
	res := &pc.res
	defer func() { res.Watermark, res.Epoch = db.peerWatermark, db.epoch }()
	if err := db.fatalErr(); err != nil {
		pc.err = err
		return
	}
	if r.OSeq <= db.peerWatermark || db.index.find(r.TxID()) != 0 {
		res.Verdict = PeerDuplicate
		return
	}
	if pc.prev != db.peerWatermark {
		res.Verdict = PeerGap
		return
	}
	if err := db.clock.Observe(hlc.Timestamp(r.HLC)); err != nil {
		pc.err = fmt.Errorf("refused %v: %w", r.TxID(), err)
		return
	}
	if in, hits := db.check(r); len(hits) > 0 {
		res.Conflicts = db.conflicts(in, hits)
		if db.Role() == RoleLiege {
			res.Verdict = PeerRejected
			db.metrics.conflict(res.Conflicts)
			db.logConflicts(in, res.Conflicts, "rejected: the vassal is commanded to roll it back")
			return
		}
		db.metrics.conflict(res.Conflicts)
		bp := res.Conflicts[0].Pos
		reason := fmt.Sprintf("conflict: liege %v vs own %v (%s check)", r.TxID(), res.Conflicts[0].Own, res.Conflicts[0].Check)
		db.logConflicts(in, res.Conflicts, fmt.Sprintf("vassal rolls back to before position %d", bp))
		conflicting := map[journal.TxID]bool{}
		for _, c := range res.Conflicts {
			conflicting[c.Own] = true
		}
		res.Rollback, res.Recon, pc.err = db.rollbackForPeer(bp, reason, conflicting)
		if pc.err == nil {
			res.Verdict = PeerRolledBack
		}
		return
	}
	if err := db.appendPeer(r); err != nil {
		pc.err = err
		return
	}
	db.window.Prune(r.PeerSeen)
	db.pub.window.Store(int64(db.window.Len()))
	res.Verdict = PeerApplied
}

// check runs the section 6 check of peer transaction r against the window.
// The last-writer-wins baseline (lww.go) checks nothing: no conflict, no
// rejection, no rollback, whatever the role.
func (db *DB) check(r *journal.Record) (*detect.Txn, []detect.Hit) {
	if db.lww {
		return nil, nil
	}
	in := detect.FromRecord(r)
	return in, db.window.Check(in)
}

// appendPeer applies and journals r as a peer record, with this instance's
// before-images (executor only).
func (db *DB) appendPeer(r *journal.Record) error {
	loc := *r
	loc.Pos, loc.Epoch, loc.Kind, loc.OriginKind = db.lastPos+1, db.epoch, journal.KindPeer, r.Kind
	loc.IdempotencyKey = ""
	loc.Writes = db.peerWrites[:0]
	ver := r.Version()
	for i := range r.Writes {
		w := &r.Writes[i]
		cur, curVer, ok := db.st.Get(w.Key)
		if db.lww {
			// Last-writer-wins baseline (lww.go): only the writes newer
			// than the local version are journaled and applied.
			lw, keep, err := db.lwwWrite(r, w, cur, curVer, ok)
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
				if n, err = Value(cur).Int(); err != nil {
					return fmt.Errorf("apply peer %v: add to %s, which holds a non-integer here: the instances have diverged", r.TxID(), Key(w.Key))
				}
			}
			lw.Value = appendInt(nil, n+w.Delta)
		}
		loc.Writes = append(loc.Writes, lw)
	}
	db.peerWrites = loc.Writes
	f, err := db.enc.Frame(&loc)
	if err != nil {
		return err
	}
	if err := db.j.Append(loc.Pos, f); err != nil {
		return err
	}
	for i := range loc.Writes {
		w := &loc.Writes[i]
		switch w.Op {
		case journal.OpSet:
			db.st.Set(w.Key, w.Value, ver)
		case journal.OpDelete:
			db.st.Delete(w.Key)
		case journal.OpAdd:
			db.st.Set(w.Key, w.Value, ver.Max(w.BeforeVersion))
		}
	}
	db.lastPos = loc.Pos
	db.sinceCkpt++
	db.peerWatermark = r.OSeq
	db.pub.peerWatermark.Store(r.OSeq)
	db.index.add(&loc)
	db.resolveRecon(&loc)
	db.metrics.peerApplied.Inc()
	db.notifyApplied()
	db.maybeCheckpoint()
	return nil
}

// conflicts turns the window's hits into Conflicts, by position.
func (db *DB) conflicts(in *detect.Txn, hits []detect.Hit) []Conflict {
	out := make([]Conflict, len(hits))
	for i, h := range hits {
		out[i] = Conflict{Own: h.Own.ID, Pos: h.Own.Pos, Check: h.Check, Key: h.Key,
			Case: caseOf(h, in, db.Role() == RoleLiege)}
	}
	return out
}

// caseOf names the row of DESIGN.md section 6's table a conflict is, from
// the point of view of a (the liege's transaction) and b (the vassal's).
func caseOf(h detect.Hit, in *detect.Txn, ownIsLiege bool) string {
	a, b := h.Own, in
	if !ownIsLiege {
		a, b = in, h.Own
	}
	switch h.Check {
	case detect.CheckUpdate:
		return "C3"
	}
	// A use (own before incoming) or mirror use: the writer is the one
	// clock-before the other.
	writer, reader := b, a
	if a.Before(b) {
		writer, reader = a, b
	}
	pointRead := false
	for _, k := range reader.Reads {
		if string(k) == string(h.Key) {
			pointRead = true
		}
	}
	isAdd := false
	for _, w := range writer.Writes {
		if string(w.Key) == string(h.Key) {
			isAdd = w.Add
		}
	}
	switch {
	case writer == b && !pointRead:
		return "C5"
	case writer == b:
		return "C1"
	case !pointRead:
		return "C7"
	case isAdd:
		return "C8"
	}
	return "C2"
}

// logConflicts writes the log line of every conflict: both TxIDs, the key,
// the check and what it causes.
func (db *DB) logConflicts(in *detect.Txn, cs []Conflict, action string) {
	for _, c := range cs {
		db.log.Warn("conflict detected",
			slog.String("incoming", in.ID.String()), slog.String("own", c.Own.String()),
			slog.String("check", c.Check.String()), slog.String("case", c.Case),
			slog.String("key", tuple.Format(c.Key)), slog.Uint64("own_pos", c.Pos),
			slog.String("action", action))
	}
}

// RollbackFor rolls this vassal back to just before own transaction subject,
// which the liege rejected (DESIGN.md section 8). If subject is no longer in
// the journal (an earlier rollback took it), it rolls back nothing and
// returns a nil result. Either way the caller answers the liege.
func (db *DB) RollbackFor(ctx context.Context, subject journal.TxID, reason string) (*rollback.Result, *reconcile.Log, PeerResult, error) {
	if db.window == nil {
		return nil, nil, PeerResult{}, ErrNotReplicated
	}
	var res *rollback.Result
	var log *reconcile.Log
	var pr PeerResult
	var err error
	cerr := db.control(ctx, func() {
		defer func() { pr.Watermark, pr.Epoch = db.peerWatermark, db.epoch }()
		if err = db.fatalErr(); err != nil {
			return
		}
		if subject.Origin != db.opts.ID {
			err = fmt.Errorf("rollback command names %v, which is not a transaction of this instance (%s)", subject, db.opts.ID)
			return
		}
		pos := db.index.find(subject)
		if pos == 0 {
			return
		}
		res, log, err = db.rollbackForPeer(pos, reason, map[journal.TxID]bool{subject: true})
	})
	if cerr != nil {
		return nil, nil, pr, cerr
	}
	return res, log, pr, err
}

// rollbackForPeer is the vassal's online rollback (executor only): the
// crash-safe rollback, then the reconciliation log, kept durably.
func (db *DB) rollbackForPeer(pos uint64, reason string, conflicting map[journal.TxID]bool) (*rollback.Result, *reconcile.Log, error) {
	res, err := db.rollbackLocked(pos, reason)
	if err != nil {
		return nil, nil, err
	}
	db.log.Warn("rolled back", "from", res.From, "to", res.To, "records", res.Records, "epoch", res.Epoch, "lost_file", res.LostFile, "reason", reason)
	log, err := db.buildRecon(res.LostFile, conflicting)
	if err != nil {
		// The rollback is done and durable; the log is rebuilt from the
		// lost transaction file at the next start.
		db.log.Error("could not save the reconciliation log; it is rebuilt at the next start", "lost_file", res.LostFile, "error", err)
		return res, nil, nil
	}
	return res, log, nil
}

// buildRecon builds and saves the reconciliation log of a lost transaction
// file (executor or recovery only).
func (db *DB) buildRecon(lostFile string, conflicting map[journal.TxID]bool) (*reconcile.Log, error) {
	lf, err := rollback.ReadLostFile(lostFile)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(db.opts.Dir, lostFile)
	if err != nil {
		rel = lostFile
	}
	l := reconcile.Build(lf, rel, db.opts.ID, conflicting)
	// A TxID already back (the liege reconciled it from an earlier log)
	// is done.
	for i := range l.Entries {
		if _, back := db.index.subjects[l.Entries[i].Subject()]; back {
			l.Entries[i].Done = true
		}
	}
	if err := l.Save(db.opts.Dir); err != nil {
		return nil, err
	}
	if !l.Complete() {
		db.recon = append(db.recon, l)
		db.countRecon()
	}
	return l, nil
}

// resolveRecon marks the subject of a reprocess or correction applied from
// the liege as come back (executor only).
func (db *DB) resolveRecon(r *journal.Record) {
	// Not only own subjects: an entry that is a rolled-off reprocess or
	// correction stands for its subject, whatever its origin (reconcile.Subject).
	if r.Subject.IsZero() || len(db.recon) == 0 {
		return
	}
	for i, l := range db.recon {
		if !l.Resolve(r.Subject) {
			continue
		}
		db.log.Debug("reconciliation: a rolled-off transaction came back", "subject", r.Subject.String(), "as", r.TxID().String(), "kind", r.Kind.String(), "epoch", l.Epoch)
		db.reconPending--
		// The file is rewritten only when the log is complete: until then
		// what came back is known from the journal (see loadRecon), and a
		// record resent for nothing is skipped by the liege.
		if l.PendingCount() == 0 {
			if err := l.Save(db.opts.Dir); err != nil {
				db.log.Error("could not remove a complete reconciliation log", "epoch", l.Epoch, "error", err)
			}
			db.log.Info("reconciliation complete: every rolled-off transaction came back", "epoch", l.Epoch, "lost_file", l.LostFile)
			db.recon = append(db.recon[:i], db.recon[i+1:]...)
		}
		break
	}
	db.pub.reconPending.Store(int64(db.reconPending))
}

// countRecon recounts the pending reconciliation records (executor only).
func (db *DB) countRecon() {
	n := 0
	for _, l := range db.recon {
		n += l.PendingCount()
	}
	db.reconPending = n
	db.pub.reconPending.Store(int64(n))
}

// PendingRecon returns the reconciliation logs not yet complete, oldest
// first, each with only its pending records: what a vassal (re)sends to the
// liege.
func (db *DB) PendingRecon(ctx context.Context) ([]*reconcile.Log, error) {
	var out []*reconcile.Log
	err := db.control(ctx, func() {
		for _, l := range db.recon {
			out = append(out, l.PendingLog())
		}
	})
	return out, err
}

// loadRecon loads the reconciliation logs and rebuilds the ones a crash
// kept from being saved (recovery only).
func (db *DB) loadRecon() error {
	logs, err := reconcile.Load(db.opts.Dir)
	if err != nil {
		return err
	}
	have := map[uint64]bool{}
	for _, l := range logs {
		have[l.Epoch] = true
		for i := range l.Entries {
			if _, back := db.index.subjects[l.Entries[i].Subject()]; back {
				l.Entries[i].Done = true
			}
		}
		if !l.Complete() {
			db.recon = append(db.recon, l)
		} else if err := l.Save(db.opts.Dir); err != nil {
			return err
		}
	}
	files, err := filepath.Glob(filepath.Join(db.opts.Dir, rollback.LostDir, "lost-"+db.opts.ID+"-e*.ltf"))
	if err != nil {
		return err
	}
	for _, f := range files {
		var epoch uint64
		base := strings.TrimPrefix(filepath.Base(f), "lost-"+db.opts.ID+"-e")
		if _, err := fmt.Sscanf(base, "%d-", &epoch); err != nil || have[epoch] || reconcile.Done(db.opts.Dir, epoch) {
			continue
		}
		if _, err := db.buildRecon(f, nil); err != nil {
			return fmt.Errorf("rebuild the reconciliation log of %s: %w", f, err)
		}
		db.log.Warn("rebuilt a reconciliation log a crash kept from being saved", "lost_file", f)
	}
	db.countRecon()
	return nil
}

// Role returns the instance's role: RoleLiege, RoleVassal, or "" for a lone
// instance.
func (db *DB) Role() string {
	if r := db.pub.role.Load(); r != nil {
		return *r
	}
	return ""
}

// PeerID returns the id of the peer instance, "" for a lone instance.
func (db *DB) PeerID() string { return db.peerID }

// SetRole changes the instance's role and journals the change (DESIGN.md
// section 10): promote a vassal whose liege is gone, or swap roles in a
// switchover. It is durable when it returns.
func (db *DB) SetRole(ctx context.Context, role string) error {
	if role != RoleLiege && role != RoleVassal {
		return fmt.Errorf("role %q: want %q or %q", role, RoleLiege, RoleVassal)
	}
	if db.window == nil {
		return ErrNotReplicated
	}
	var pos uint64
	var err error
	if cerr := db.control(ctx, func() { pos, err = db.setRoleLocked(role) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	return db.j.WaitDurable(pos)
}

func (db *DB) setRoleLocked(role string) (uint64, error) {
	if db.Role() == role {
		return db.lastPos, nil
	}
	if err := db.appendMeta(&journal.Record{Kind: journal.KindRole, Role: role}); err != nil {
		return 0, err
	}
	db.log.Warn("role changed", "role", role)
	db.pub.role.Store(&role)
	db.roleChanges.Add(1)
	return db.lastPos, nil
}

// ReplState is what the replication handshake announces.
type ReplState struct {
	ID, PeerID, Role string
	Epoch            uint64
	// PeerWatermark is the highest peer OSeq applied here; LastOwn the OSeq
	// of the newest own transaction in the journal.
	PeerWatermark, LastOwn uint64
	// Window is the number of own transactions the peer may not have seen.
	Window int
	// ReconPending is the number of rolled-off own transactions not yet
	// back from the liege.
	ReconPending int
}

// Repl returns the replication state without going through the executor
// (each field is current, the set is not one instant).
func (db *DB) Repl() ReplState {
	return ReplState{
		ID: db.opts.ID, PeerID: db.peerID, Role: db.Role(),
		Epoch: db.pub.epoch.Load(), PeerWatermark: db.pub.peerWatermark.Load(), LastOwn: db.pub.lastOwn.Load(),
		Window: int(db.pub.window.Load()), ReconPending: int(db.pub.reconPending.Load()),
	}
}

// ErrQuiesced is returned by calls while the instance is quiesced for a
// switchover (DESIGN.md section 10): retry in a moment.
var ErrQuiesced = errors.New("the instance is quiesced for a switchover and takes no new transactions; retry in a moment")

// Quiesce stops (on) or resumes (off) new transactions: calls fail with
// ErrQuiesced while the replication streams drain. Reads, peer
// transactions and reconciliation go on.
func (db *DB) Quiesce(on bool) { db.quiesced.Store(on) }

// Quiesced reports whether the instance is quiesced.
func (db *DB) Quiesced() bool { return db.quiesced.Load() }

// Promote makes a vassal whose liege is gone the liege (DESIGN.md section
// 10). Its reconciliation logs can no longer go to the old liege, so it
// reconciles them itself, as a liege would. The old liege must rejoin as a
// vassal: its transactions this instance never received are then checked,
// rolled back and reconciled like any vassal's.
func (db *DB) Promote(ctx context.Context) ([]*ReconcileOutcome, error) {
	if err := db.SetRole(ctx, RoleLiege); err != nil {
		return nil, err
	}
	logs, err := db.PendingRecon(ctx)
	if err != nil {
		return nil, err
	}
	var outs []*ReconcileOutcome
	for _, l := range logs {
		for i := range l.Entries {
			out, err := db.Reconcile(ctx, &l.Entries[i].Record)
			if err != nil {
				return outs, fmt.Errorf("promote: reconcile %v: %w", l.Entries[i].Record.TxID(), err)
			}
			outs = append(outs, out)
		}
	}
	return outs, nil
}
