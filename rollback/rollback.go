package rollback

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// IntentFile is the rollback intent's file name in an instance directory.
const IntentFile = "rollback.intent"

// Intent is what a rollback is about to do, made durable before it starts.
type Intent struct {
	Instance string
	// Target is the first position rolled off; Head the last.
	Target, Head uint64
	PrevEpoch    uint64
	NewEpoch     uint64
	HighOSeq     uint64
	Reason       string
	LostFile     string // relative to the instance directory
	// PeerWatermark is the instance's peer watermark before the rollback.
	PeerWatermark uint64
	Self          string
	// Front is Env.Front: the peer watermark below the journal's first
	// position, when known.
	Front *FrontWatermark `codec:",omitempty"`
}

// FrontWatermark is the peer watermark below a journal whose front was
// truncated: the highest peer OSeq among the records removed.
type FrontWatermark struct {
	PeerWatermark uint64
}

// Journal is the journal a rollback works on: *journal.Journal, or the
// engine's own journal over a journal.Log (package internal/engine).
type Journal interface {
	// Next is the position the next Append takes.
	Next() uint64
	Read(pos uint64) ([]byte, error)
	Append(pos uint64, frame []byte) error
	// Flush makes everything appended durable.
	Flush() error
	// TruncateAfter removes every entry after pos, durably.
	TruncateAfter(pos uint64) error
}

// Env is what a rollback works on.
type Env struct {
	Dir      string
	Instance string
	Self     string // the instance's own origin id (same as Instance)
	Journal  Journal
	// Now is the clock of the lost transaction file's header and the
	// Result's Duration (time.Now if nil).
	Now     func() time.Time
	Encoder *journal.Encoder
	// Store, if not nil, is undone in memory (online rollback).
	Store         *store.Store
	Epoch         uint64
	HighOSeq      uint64
	PeerWatermark uint64
	// Front, if not nil, is the peer watermark below the journal's first
	// position: a rollback whose target has no peer record or epoch
	// record before it in the journal takes it as the watermark it leaves.
	Front *FrontWatermark
	// DecodeAhead decodes the records to undo on other goroutines (a
	// simulator leaves it false). For a chunk of records or more they
	// start with the lost file's write and end in the undo step
	// (undoahead.go), or when the write fails; otherwise they end before
	// the undo step returns.
	DecodeAhead bool
}

// Result says what a rollback did.
type Result struct {
	From, To      uint64
	Records       uint64
	Epoch         uint64
	LostFile      string // absolute path
	PeerWatermark uint64
	Duration      time.Duration
	// Own lists the TxIDs of the instance's own transactions rolled off.
	Own []journal.TxID
}

// Run rolls the journal (and env.Store, if set) back to just before target.
// Everything appended must be durable and nothing may be appended while it
// runs. target must be in 2..last.
func Run(env Env, target uint64, reason string) (*Result, error) {
	s, err := Begin(env, target, reason)
	if err != nil {
		return nil, err
	}
	for !s.Done() {
		if err := s.Step(); err != nil {
			return nil, err
		}
	}
	return s.Result(), nil
}

// Stepper is a rollback in progress, taken through its phases one step at
// a time (Phase.Next), so that a simulator can crash between any two. Run
// and Resume drive one to the end.
type Stepper struct {
	env      Env
	in       *Intent
	p        Phase
	resuming bool
	res      *Result
	t0       time.Time
	// The undo step learns the peer watermark after the rollback and the
	// largest HLC rolled off, which the epoch record holds; without a state
	// to undo (at start-up), they are read back from the lost file.
	wm, maxHLC uint64
	own        []journal.TxID
	learned    bool
	// ahead is the undo's reading of the records, started beside the
	// lost file's write (undoahead.go), or nil.
	ahead *undoAhead
}

// Begin writes the intent of a rollback to just before target (everything
// appended must be durable and nothing may be appended until it is done)
// and returns it in PhaseIntent. target must be in 2..last.
func Begin(env Env, target uint64, reason string) (*Stepper, error) {
	if env.Now == nil {
		env.Now = time.Now
	}
	t0 := env.Now()
	head := env.Journal.Next() - 1
	if target < 2 || target > head {
		return nil, fmt.Errorf("rollback target %d is outside 2..%d", target, head)
	}
	in := Intent{
		Instance: env.Instance, Self: env.Self, Target: target, Head: head,
		PrevEpoch: env.Epoch, NewEpoch: env.Epoch + 1, HighOSeq: env.HighOSeq, Reason: reason,
		LostFile:      LostFileName(env.Instance, env.Epoch+1, target, head),
		PeerWatermark: env.PeerWatermark, Front: env.Front,
	}
	if err := writeIntent(env.Dir, &in); err != nil {
		return nil, err
	}
	if err := failpoint.Inject("rollback-after-intent"); err != nil {
		return nil, err
	}
	s := newStepper(env, &in, PhaseIntent, false)
	s.t0 = t0
	return s, nil
}

// newStepper takes a rollback from phase p. resuming says that it finishes
// an interrupted rollback at start-up: then only the failpoints from the
// truncation on are reached, as a resumption always did.
func newStepper(env Env, in *Intent, p Phase, resuming bool) *Stepper {
	if env.Now == nil {
		env.Now = time.Now
	}
	return &Stepper{env: env, in: in, p: p, resuming: resuming, t0: env.Now(),
		res: &Result{From: in.Target, To: in.Head, Records: in.Head - in.Target + 1, Epoch: in.NewEpoch,
			LostFile: filepath.Join(env.Dir, in.LostFile)}}
}

// readBack learns the peer watermark, the largest HLC and the own
// transactions rolled off from the lost transaction file.
func (s *Stepper) readBack() error {
	var err error
	if s.wm, s.maxHLC, s.own, err = scanLost(s.env.Dir, s.env.Journal, s.in); err != nil {
		return fmt.Errorf("rollback: read back the lost transaction file: %w", err)
	}
	s.learned = true
	return nil
}

// Phase returns the phase the rollback is in.
func (s *Stepper) Phase() Phase { return s.p }

// Done reports whether the rollback is finished.
func (s *Stepper) Done() bool { return s.p == PhaseDone }

// Intent returns the rollback's intent.
func (s *Stepper) Intent() *Intent { return s.in }

// Result returns what the rollback did, once Done.
func (s *Stepper) Result() *Result { return s.res }

// Step takes the step out of the current phase. After an error the
// instance must stop: only recovery (Resume) may go on from the intent.
func (s *Stepper) Step() error {
	env, in := s.env, s.in
	step, next := s.p.Next()
	var err error
	switch step {
	case StepNone:
		return nil
	case StepSaveLost:
		if s.ahead == nil && aheadOK(env, in) {
			// Decode and reduce the records to undo while the lost file
			// is written and fsynced: they only read the journal, and
			// the state is changed in StepUndo, as before.
			s.ahead = startUndoAhead(env, in)
		}
		err = saveLost(env, in)
		if err == nil && !s.resuming {
			err = failpoint.Inject("rollback-after-lost")
		}
		if err != nil && s.ahead != nil {
			s.ahead.stop()
			s.ahead = nil
		}
	case StepUndo:
		if env.Store == nil {
			err = s.readBack()
			break
		}
		s.wm, s.maxHLC, s.own, err = undo(env, in, s.ahead)
		s.ahead = nil
		s.learned = err == nil
	case StepTruncate:
		err = truncate(env, in)
	case StepJournalEpoch:
		if !s.learned { // resumed after the truncation
			err = s.readBack()
		}
		if err == nil {
			err = journalEpoch(env, in, s.wm, s.maxHLC)
		}
	case StepRemoveIntent:
		err = removeIntent(env.Dir)
	}
	if err != nil {
		return err
	}
	s.p = next
	if s.p == PhaseDone {
		if s.learned {
			s.res.PeerWatermark = s.wm
			s.res.Own = s.own
		}
		s.res.Duration = env.Now().Sub(s.t0)
	}
	return nil
}

// peerWatermarkBelow returns the peer watermark just below position target:
// the OSeq of the last peer transaction before it, or the watermark an
// epoch record there says a rollback left. It reads the journal backwards
// from target-1 (rollbacks are rare; the records below the target are
// intact in every phase). firstPeer is the OSeq of the first peer record
// rolled off; if the journal's front is reached first (compacted), the
// watermark is front's, or, where front is unknown (nil), taken to be one
// below firstPeer, which holds only while the peer's OSeqs have no gaps
// there.
//
// One below the first peer record rolled off is not the watermark in
// general: a peer that was a vassal before a promote has gaps in its OSeqs
// (its rolled-off transactions keep theirs, section 1 of DESIGN.md), and
// the first of its records rolled off here may follow such a gap. A
// watermark inside the gap makes this instance drop every frame of the
// peer for good: the frame after the watermark carries Prev below it.
func peerWatermarkBelow(j Journal, self string, target, firstPeer uint64, front *FrontWatermark) uint64 {
	d := journal.NewDecoder()
	var r journal.Record
	for p := target - 1; p >= 1; p-- {
		f, err := j.Read(p)
		if err != nil || d.DecodeFrame(f, &r) != nil {
			break // the journal's front (or a record that does not decode)
		}
		if r.Kind.IsTxn() && r.Origin != self {
			return r.OSeq
		}
		if r.Kind == journal.KindEpoch && r.Rollback != nil {
			return r.Rollback.PeerWatermark
		}
		if r.Kind == journal.KindOpen {
			return 0 // the journal's first record: no peer record before the target
		}
	}
	if front != nil {
		return front.PeerWatermark
	}
	return firstPeer - 1
}

// undo undoes env.Store with the before-images of the records from the
// head down to the target. It returns the peer watermark after the
// rollback (peerWatermarkBelow), the largest HLC
// rolled off and the own transactions rolled off, oldest first. ahead, if
// not nil, is the reading of the records started with the lost file's
// write; without it, with Env.DecodeAhead, undo starts one itself.
func undo(env Env, in *Intent, ahead *undoAhead) (wm, maxHLC uint64, own []journal.TxID, err error) {
	if ahead == nil && aheadOK(env, in) {
		ahead = startUndoAhead(env, in)
	}
	var l learner
	if ahead != nil {
		if l, err = ahead.finish(); err != nil {
			return 0, 0, nil, err
		}
	} else {
		l = newLearner(env, in)
		var batch store.Batch // undobatch.go
		err = backward(env, in.Head, in.Target, func(p uint64, r *journal.Record) error {
			batch.Undo(env.Store, r)
			undoFlush(env.Store, &batch, false, env.DecodeAhead)
			l.see(r)
			if p == (in.Head+in.Target)/2 {
				return failpoint.Inject("rollback-mid-undo")
			}
			return nil
		})
		if err != nil {
			return 0, 0, nil, err
		}
		undoFlush(env.Store, &batch, true, env.DecodeAhead)
	}
	slices.Reverse(l.own) // collected newest first
	wm = env.PeerWatermark
	if l.firstPeer != 0 {
		wm = peerWatermarkBelow(env.Journal, in.Self, in.Target, l.firstPeer, in.Front)
	}
	return wm, l.maxHLC, l.own, nil
}

// learner collects what the undo learns from the records it undoes, from
// the head down.
type learner struct {
	self      string
	maxHLC    uint64
	firstPeer uint64 // OSeq of the first peer record rolled off (0: none)
	own       []journal.TxID
}

// newLearner returns the learner of a rollback of in: room for every
// record rolled off, up to a million, to be an own transaction (24 bytes
// each, a few percent of the records' own size), so that collecting them
// does not copy a growing list (on the goroutine every record waits for:
// 585k -> 680k records/s rolled back).
func newLearner(env Env, in *Intent) learner {
	var n uint64
	if in.Head >= in.Target {
		n = min(in.Head-in.Target+1, 1<<20)
	}
	return learner{self: env.Self, own: make([]journal.TxID, 0, n)}
}

func (l *learner) see(r *journal.Record) {
	l.maxHLC = max(l.maxHLC, r.HLC)
	if r.Kind.IsTxn() && r.Origin == l.self {
		l.own = append(l.own, r.TxID())
	}
	if r.Kind.IsTxn() && r.Origin != l.self {
		l.firstPeer = r.OSeq // peer records are applied in OSeq order
	}
}

// rangeCopier is a Journal that copies a run of its frames to a file
// itself (the engine's, over the file log: journal.RangeCopier), as
// uvarint(len)+frame each.
type rangeCopier interface {
	CopyRange(from, to uint64, dst *os.File) error
}

func saveLost(env Env, in *Intent) error {
	hdr := LostHeader{Instance: in.Instance, Epoch: in.NewEpoch, PrevEpoch: in.PrevEpoch, Reason: in.Reason,
		From: in.Target, To: in.Head, Created: env.Now().UnixMilli()}
	path := filepath.Join(env.Dir, in.LostFile)
	if rc, ok := env.Journal.(rangeCopier); ok {
		// The frames go from the journal's files to the lost file
		// without passing through memory (and without taking the
		// journal's read lock from the undo's goroutines).
		return writeLostFile(path, hdr, func(f *os.File) error {
			if err := rc.CopyRange(in.Target, in.Head, f); err != nil {
				return fmt.Errorf("save positions %d..%d to lost transaction file: %w", in.Target, in.Head, err)
			}
			return nil
		})
	}
	return WriteLostFile(path, hdr, env.Journal.Read)
}

// scanLost computes, from the lost transaction file, the peer watermark
// after the rollback (peerWatermarkBelow, from the journal), the
// largest HLC rolled off (the clock must not go back below it) and the own
// transactions rolled off, oldest first.
func scanLost(dir string, j Journal, in *Intent) (wm, maxHLC uint64, own []journal.TxID, err error) {
	lf, err := ReadLostFile(filepath.Join(dir, in.LostFile))
	if err != nil {
		return 0, 0, nil, err
	}
	wm = in.PeerWatermark
	found := false
	for i := range lf.Records {
		r := &lf.Records[i]
		maxHLC = max(maxHLC, r.HLC)
		if r.Kind.IsTxn() && r.Origin == in.Self {
			own = append(own, r.TxID())
		}
		if !found && r.Kind.IsTxn() && r.Origin != in.Self {
			wm, found = peerWatermarkBelow(j, in.Self, in.Target, r.OSeq, in.Front), true
		}
	}
	return wm, maxHLC, own, nil
}

// truncate removes the checkpoints above target-1 and truncates the
// journal after it.
func truncate(env Env, in *Intent) error {
	if err := checkpoint.Prune(env.Dir, 1<<30, in.Target-1); err != nil {
		return fmt.Errorf("rollback: remove checkpoints above position %d: %w", in.Target-1, err)
	}
	if err := failpoint.Inject("rollback-before-truncate"); err != nil {
		return err
	}
	if err := env.Journal.TruncateAfter(in.Target - 1); err != nil {
		return err
	}
	return failpoint.Inject("rollback-after-truncate")
}

// journalEpoch journals and fsyncs the epoch record at the target.
func journalEpoch(env Env, in *Intent, wm, maxHLC uint64) error {
	r := journal.Record{
		Pos: in.Target, Epoch: in.NewEpoch, Kind: journal.KindEpoch, HighOSeq: in.HighOSeq, HLC: maxHLC,
		Rollback: &journal.RollbackInfo{From: in.Target, To: in.Head, Reason: in.Reason, LostFile: in.LostFile,
			Records: in.Head - in.Target + 1, PeerWatermark: wm},
	}
	f, err := env.Encoder.Frame(&r)
	if err != nil {
		return err
	}
	if err := env.Journal.Append(r.Pos, f); err != nil {
		return err
	}
	if err := env.Journal.Flush(); err != nil {
		return err
	}
	return failpoint.Inject("rollback-after-epoch")
}

func removeIntent(dir string) error {
	if err := os.Remove(filepath.Join(dir, IntentFile)); err != nil {
		return fmt.Errorf("rollback: remove intent: %w", err)
	}
	return journal.SyncDir(dir)
}

// Observe reads what the instance directory and its open journal say about
// a rollback, for Decide.
func Observe(dir string, j Journal) (Disk, error) {
	d := Disk{Dir: dir, Last: j.Next() - 1}
	in, err := ReadIntent(dir)
	if errors.Is(err, ErrNoIntent) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	d.Intent = in
	switch {
	case d.Last == in.Target:
		f, err := j.Read(d.Last)
		if err != nil {
			return d, err
		}
		var r journal.Record
		if err := journal.NewDecoder().DecodeFrame(f, &r); err != nil {
			return d, fmt.Errorf("rollback resume: read position %d: %w", d.Last, err)
		}
		d.TargetIsEpoch = r.Kind == journal.KindEpoch && r.Epoch == in.NewEpoch
	case d.Last < in.Target:
		d.LostErr = CheckLostFile(dir, in)
	}
	return d, nil
}

// Resume finishes a rollback interrupted by a crash. It runs at start-up,
// after the journal is opened and before the state is loaded, and returns
// nil, nil when there was none. Where it resumes is Decide's decision.
func Resume(dir string, j Journal, enc *journal.Encoder) (*Result, error) {
	s, err := ResumeStepper(dir, j, enc, nil)
	if err != nil || s == nil {
		return nil, err
	}
	for !s.Done() {
		if err := s.Step(); err != nil {
			return nil, err
		}
	}
	return s.Result(), nil
}

// ResumeStepper returns the interrupted rollback found on disk at the phase
// Decide says it is in, to be stepped to the end, or nil, nil when there is
// none. now is the clock (time.Now if nil).
func ResumeStepper(dir string, j Journal, enc *journal.Encoder, now func() time.Time) (*Stepper, error) {
	disk, err := Observe(dir, j)
	if err != nil || disk.Intent == nil {
		return nil, err
	}
	dec, err := Decide(disk)
	if err != nil {
		return nil, err
	}
	in := disk.Intent
	env := Env{Dir: dir, Instance: in.Instance, Self: in.Self, Journal: j, Encoder: enc,
		Epoch: in.PrevEpoch, HighOSeq: in.HighOSeq, PeerWatermark: in.PeerWatermark, Now: now}
	return newStepper(env, in, dec.Phase, true), nil
}

func writeIntent(dir string, in *Intent) error {
	b, err := journal.Marshal(in)
	if err != nil {
		return err
	}
	if err := journal.WriteFramedFile(filepath.Join(dir, IntentFile), b); err != nil {
		return fmt.Errorf("write rollback intent: %w", err)
	}
	return nil
}

// ReadIntent reads the rollback intent of an instance directory, or returns
// ErrNoIntent.
func ReadIntent(dir string) (*Intent, error) {
	p, err := journal.ReadFramedFile(filepath.Join(dir, IntentFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoIntent
	}
	if err != nil {
		return nil, fmt.Errorf("rollback intent %s is unreadable or damaged: %w", filepath.Join(dir, IntentFile), err)
	}
	var in Intent
	if err := journal.Unmarshal(p, &in); err != nil {
		return nil, fmt.Errorf("rollback intent %s: %w", filepath.Join(dir, IntentFile), err)
	}
	return &in, nil
}
