package inspect

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	// Instance is the instance id named by the journal's open record.
	Instance string
	// First and Last are the journal's first and last valid positions (0
	// for an empty journal); Records is the number of records that decoded
	// and Segments the number of segment files.
	First, Last uint64
	Records     int
	Segments    int
	// Checked says, one line each, what was checked and whether it held,
	// e.g. "12 segments, 1,204,311 frames: checksums ok".
	Checked []string
	// Problems lists everything wrong; empty means healthy.
	Problems []Problem
	// StateHash and Keys describe the state replayed from the journal up to
	// the position recovery stops at (before the target of a pending
	// rollback intent). They are meaningful only when the replay did not
	// stop at a problem.
	StateHash [32]byte
	Keys      int
}

// OK reports whether Verify found no problem.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Problem is one thing wrong with an instance directory.
type Problem struct {
	// File is the file the problem is in (a journal segment, a checkpoint,
	// the rollback intent, a lost transaction file), or "".
	File string
	// Offset is the byte offset in File of the journal entry concerned, or
	// -1 when the problem is not about one entry of a journal segment.
	Offset int64
	// Pos is the journal position concerned, or 0.
	Pos uint64
	// What says what is wrong and what the engine or the operator will do
	// about it.
	What string
}

// String names the position and file of the problem, then what is wrong.
func (p Problem) String() string {
	var where []string
	if p.File != "" {
		where = append(where, "file "+p.File)
	}
	if p.Offset >= 0 && p.File != "" {
		where = append(where, "byte offset "+strconv.FormatInt(p.Offset, 10))
	}
	switch {
	case p.Pos != 0 && len(where) > 0:
		return fmt.Sprintf("position %d (%s): %s", p.Pos, strings.Join(where, ", "), p.What)
	case p.Pos != 0:
		return fmt.Sprintf("position %d: %s", p.Pos, p.What)
	case len(where) > 0:
		return fmt.Sprintf("%s: %s", strings.Join(where, ", "), p.What)
	}
	return p.What
}

// maxProblems bounds the problems listed: a journal damaged in a systematic
// way (every OSeq shifted, say) would otherwise list one per record.
const maxProblems = 1000

// Verify checks the stopped instance in dir and returns a report; err is
// non-nil only if it could not run (dir missing or not an instance
// directory, an instance running there). It holds journal.CheckFree for its
// duration and writes nothing.
//
// It checks every frame's checksum; that every record decodes and carries
// the position it is stored at; that position 1 is the open record naming
// the instance; that epochs rise only at epoch records, whose lost
// transaction files exist and match; that own transactions have strictly
// increasing OSeqs and HLCs and never reuse an OSeq rolled off; that each
// peer's OSeqs strictly increase; that the state replayed from position 1
// matches every checkpoint at that checkpoint's position and that every
// checkpoint loads; and it reports a torn tail and a pending rollback
// intent, which the engine repairs or finishes at its next open.
func Verify(dir string) (*VerifyReport, error) {
	release, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer release()

	v := &verifier{
		dir:      dir,
		rep:      &VerifyReport{},
		dec:      journal.NewDecoder(),
		visited:  map[string]bool{},
		ckptAt:   map[uint64]checkpoint.File{},
		lastPeer: map[string]txnMark{},
		probs:    map[category]int{},
	}
	v.readIntent()
	v.ckpts, err = checkpoint.List(dir)
	if err != nil {
		v.problem(catCheckpoint, Problem{File: filepath.Join(dir, checkpoint.Dir), Offset: -1,
			What: fmt.Sprintf("checkpoints cannot be listed: %v", err)})
	}
	for _, f := range v.ckpts {
		v.ckptAt[f.Pos] = f
	}

	res, err := journal.Scan(filepath.Join(dir, journal.WalDir), v.entry)
	var dmg *journal.DamageError
	switch {
	case errors.As(err, &dmg):
		v.problem(catFrames, Problem{File: dmg.File, Offset: dmg.Offset, Pos: dmg.Pos,
			What: fmt.Sprintf("journal damaged: %v; the engine refuses to open a journal damaged before its end: rebuild this instance from its peer or a backup", dmg.Err)})
		v.stopReplay(dmg.Pos, "the journal is damaged there")
		v.damagedAt = dmg.Pos
	case err != nil:
		v.problem(catFrames, Problem{File: filepath.Join(dir, journal.WalDir), Offset: -1,
			What: fmt.Sprintf("journal cannot be read: %v", err)})
		v.damagedAt = v.lastEntry + 1
		v.stopReplay(v.damagedAt, "the journal cannot be read")
	}
	if res != nil {
		v.rep.Segments = len(res.Segments)
		v.rep.First, v.rep.Last = res.First, res.Last
		if t := res.Tail; t != nil {
			v.problem(catTail, Problem{File: t.File, Offset: t.Offset, Pos: t.Pos,
				What: fmt.Sprintf("torn tail at position %d (%d bytes: %v): it was never acknowledged and will be truncated at next open", t.Pos, t.Bytes, t.Err)})
		}
	}
	v.checkIntent()
	v.checkLostFiles()
	v.checkRemainingCheckpoints()
	v.summarize()
	return v.rep, nil
}

// category groups problems for the summary lines of VerifyReport.Checked.
type category int

const (
	catFrames category = iota
	catRecords
	catOpen
	catEpoch
	catLost
	catOwn
	catPeer
	catCheckpoint
	catTail
	catIntent
)

// txnMark is the last transaction of one kind of sequence seen.
type txnMark struct {
	oseq, hlc, pos uint64
	origin         string
}

// lostRef is a lost transaction file named by an epoch record.
type lostRef struct {
	pos  uint64
	info journal.RollbackInfo
}

type verifier struct {
	dir string
	rep *VerifyReport
	dec *journal.Decoder
	rec journal.Record

	probs   map[category]int
	dropped int

	intent          *rollback.Intent
	intentErr       error
	targetIsEpoch   bool
	atTarget        *store.Snapshot // the state at intent.Target-1
	atTargetReached bool

	ckpts   []checkpoint.File
	ckptAt  map[uint64]checkpoint.File
	visited map[string]bool
	ckNotes []string

	st        *store.Store
	started   bool   // the first entry was seen
	base      uint64 // positions <= base are in st before the replay (a checkpoint, if the front is truncated)
	replaying bool
	stoppedAt uint64
	stopWhy   string
	damagedAt uint64

	seenRecord  bool
	epoch       uint64
	nEpoch      int
	oseqMark    uint64 // largest HighOSeq of the open and epoch records so far
	oseqMarkPos uint64
	hlcMark     uint64 // largest HLC rolled off, from the epoch records so far
	hlcMarkPos  uint64
	lastOwn     txnMark
	maxOwnOSeq  uint64
	nOwn        int
	lastPeer    map[string]txnMark
	nPeer       int
	lost        []lostRef
	frames      int
	lastEntry   uint64 // position of the last entry seen
}

func (v *verifier) problem(c category, p Problem) {
	v.probs[c]++
	if len(v.rep.Problems) >= maxProblems {
		v.dropped++
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
}

// recordProblem reports a problem with the journal entry e.
func (v *verifier) recordProblem(c category, e journal.Entry, format string, a ...any) {
	v.problem(c, Problem{File: e.File, Offset: e.Offset, Pos: e.Pos, What: fmt.Sprintf(format, a...)})
}

func (v *verifier) stopReplay(pos uint64, why string) {
	if v.replaying {
		v.replaying = false
		v.stoppedAt, v.stopWhy = pos, why
	}
}

func (v *verifier) readIntent() {
	in, err := rollback.ReadIntent(v.dir)
	switch {
	case errors.Is(err, rollback.ErrNoIntent):
	case err != nil:
		v.intentErr = err
	default:
		v.intent = in
	}
}

// entry checks one journal entry found by journal.Scan.
func (v *verifier) entry(e journal.Entry) error {
	v.frames++
	v.lastEntry = e.Pos
	if !v.started {
		v.started = true
		v.chooseBase(e)
	}
	r := &v.rec
	if err := v.dec.DecodeFrame(e.Frame, r); err != nil {
		v.recordProblem(catRecords, e, "record does not decode: %v; the engine will refuse to replay it", err)
		v.stopReplay(e.Pos, "a record does not decode")
		return nil
	}
	v.rep.Records++
	if r.Pos != e.Pos {
		v.recordProblem(catRecords, e, "record claims position %d but is stored at position %d; the engine will refuse to replay it", r.Pos, e.Pos)
		v.stopReplay(e.Pos, "a record claims the wrong position")
	}
	v.checkOpen(e, r)
	v.checkEpoch(e, r)
	if r.Kind.IsTxn() {
		v.checkTxn(e, r)
	}

	if v.replaying && e.Pos > v.base && r.Kind.IsTxn() {
		v.st.Apply(r)
	}
	if in := v.intent; in != nil {
		if e.Pos == in.Target-1 && v.replaying {
			v.atTarget, v.atTargetReached = v.st.Snapshot(), true
		}
		if e.Pos == in.Target {
			v.targetIsEpoch = r.Kind == journal.KindEpoch && r.Epoch == in.NewEpoch
		}
	}
	if f, ok := v.ckptAt[e.Pos]; ok && !v.visited[f.Path] {
		v.compareCheckpoint(f)
	}
	return nil
}

// chooseBase decides where the replay starts: from an empty state at
// position 1, or, if the journal's front was truncated, from the oldest
// valid checkpoint that holds the positions before it.
func (v *verifier) chooseBase(e journal.Entry) {
	if e.Pos <= 1 {
		v.st, v.replaying = store.New(), true
		return
	}
	for _, f := range v.ckpts {
		if f.Pos+1 < e.Pos {
			continue
		}
		meta, st, err := checkpoint.Load(f.Path)
		v.visited[f.Path] = true
		if err != nil {
			v.ckptLoadProblem(f, err)
			continue
		}
		v.st, v.base, v.replaying = st, f.Pos, true
		v.rep.Instance = meta.Instance
		v.epoch, v.seenRecord = meta.Epoch, true
		v.oseqMark, v.oseqMarkPos = meta.HighOSeq, f.Pos
		v.ckNotes = append(v.ckNotes, fmt.Sprintf("journal starts at position %d: replay starts from checkpoint %s (position %d)", e.Pos, f.Path, f.Pos))
		return
	}
	v.problem(catCheckpoint, Problem{File: e.File, Offset: e.Offset, Pos: e.Pos,
		What: fmt.Sprintf("the journal starts at position %d and no valid checkpoint holds the positions before it: the state cannot be rebuilt", e.Pos)})
	v.stoppedAt, v.stopWhy = e.Pos, "no checkpoint holds the positions before the journal's first"
}

func (v *verifier) checkOpen(e journal.Entry, r *journal.Record) {
	switch {
	case e.Pos == 1 && r.Kind != journal.KindOpen:
		v.recordProblem(catOpen, e, "the first record is a %v record, not the open record that names the instance", r.Kind)
	case e.Pos == 1 && r.Instance == "":
		v.recordProblem(catOpen, e, "the open record names no instance")
	case e.Pos == 1:
		v.rep.Instance = r.Instance
	case r.Kind == journal.KindOpen:
		v.recordProblem(catOpen, e, "an open record at position %d: only position 1 may hold one", e.Pos)
	}
	if r.Kind == journal.KindOpen && r.HighOSeq > v.oseqMark {
		v.oseqMark, v.oseqMarkPos = r.HighOSeq, e.Pos
	}
}

func (v *verifier) checkEpoch(e journal.Entry, r *journal.Record) {
	first := !v.seenRecord
	v.seenRecord = true
	if r.Kind == journal.KindEpoch {
		v.nEpoch++
		if !first && r.Epoch <= v.epoch {
			v.recordProblem(catEpoch, e, "the epoch record does not raise the epoch (epoch %d, was %d)", r.Epoch, v.epoch)
		}
		if ri := r.Rollback; ri == nil {
			v.recordProblem(catEpoch, e, "the epoch record does not say what was rolled back")
		} else {
			if ri.From != e.Pos {
				v.recordProblem(catEpoch, e, "the epoch record says the rollback started at position %d, but an epoch record takes the place of the first position rolled off", ri.From)
			}
			if ri.To < ri.From || ri.Records != ri.To-ri.From+1 {
				v.recordProblem(catEpoch, e, "the epoch record says %d records were rolled off, positions %d..%d", ri.Records, ri.From, ri.To)
			}
			v.lost = append(v.lost, lostRef{pos: e.Pos, info: *ri})
		}
		if r.HighOSeq > v.oseqMark {
			v.oseqMark, v.oseqMarkPos = r.HighOSeq, e.Pos
		}
		if r.HLC > v.hlcMark {
			v.hlcMark, v.hlcMarkPos = r.HLC, e.Pos
		}
	} else if !first && r.Epoch != v.epoch {
		if r.Epoch < v.epoch {
			v.recordProblem(catEpoch, e, "the epoch goes back from %d to %d", v.epoch, r.Epoch)
		} else {
			v.recordProblem(catEpoch, e, "the epoch changes from %d to %d without an epoch record", v.epoch, r.Epoch)
		}
	}
	v.epoch = r.Epoch
}

func (v *verifier) checkTxn(e journal.Entry, r *journal.Record) {
	id := r.TxID()
	if r.Origin == "" || r.OSeq == 0 {
		v.recordProblem(catRecords, e, "a %v transaction without a TxID (origin %q, OSeq %d)", r.Kind, r.Origin, r.OSeq)
		return
	}
	if (r.Kind == journal.KindReprocess || r.Kind == journal.KindCorrection) && r.Subject.IsZero() {
		v.recordProblem(catRecords, e, "%s is a %v record without a subject (the TxID it stands for)", id, r.Kind)
	}
	self := v.rep.Instance
	if r.Kind.IsOwn() {
		if self != "" && r.Origin != self {
			v.recordProblem(catOwn, e, "%s is a %v record, an own transaction, but its origin is not this instance %q", id, r.Kind, self)
			return
		}
		v.nOwn++
		last := v.lastOwn
		if last.pos != 0 && r.OSeq <= last.oseq {
			v.recordProblem(catOwn, e, "own OSeqs do not increase: %s follows %s/%d at position %d", id, last.origin, last.oseq, last.pos)
		} else if r.OSeq <= v.oseqMark && v.oseqMarkPos > last.pos && e.Pos > v.oseqMarkPos {
			// (A checkpoint's mark holds from its position on: a truncated
			// journal may begin before the checkpoint replay starts from.)
			v.recordProblem(catOwn, e, "%s reuses an OSeq: the record at position %d says OSeqs up to %d were already assigned, and OSeqs are never reused", id, v.oseqMarkPos, v.oseqMark)
		}
		if last.pos != 0 && r.HLC <= last.hlc {
			v.recordProblem(catOwn, e, "own HLCs do not increase: %s has %v, not after %v of %s/%d at position %d",
				id, hlc.Timestamp(r.HLC), hlc.Timestamp(last.hlc), last.origin, last.oseq, last.pos)
		} else if r.HLC <= v.hlcMark && v.hlcMarkPos > last.pos {
			v.recordProblem(catOwn, e, "%s has HLC %v, not after %v, the largest HLC rolled off by the rollback recorded at position %d",
				id, hlc.Timestamp(r.HLC), hlc.Timestamp(v.hlcMark), v.hlcMarkPos)
		}
		v.lastOwn = txnMark{oseq: r.OSeq, hlc: r.HLC, pos: e.Pos, origin: r.Origin}
		v.maxOwnOSeq = max(v.maxOwnOSeq, r.OSeq)
		return
	}
	if self != "" && r.Origin == self {
		v.recordProblem(catPeer, e, "%s is a peer record, but its origin is this instance", id)
		return
	}
	v.nPeer++
	if last, ok := v.lastPeer[r.Origin]; ok && r.OSeq <= last.oseq {
		v.recordProblem(catPeer, e, "peer OSeqs do not increase: %s follows %s/%d at position %d", id, r.Origin, last.oseq, last.pos)
	}
	v.lastPeer[r.Origin] = txnMark{oseq: r.OSeq, hlc: r.HLC, pos: e.Pos, origin: r.Origin}
}

// compareCheckpoint compares the checkpoint at the current position with
// the state replayed to it.
func (v *verifier) compareCheckpoint(f checkpoint.File) {
	v.visited[f.Path] = true
	meta, cst, err := checkpoint.Load(f.Path)
	if err != nil {
		v.ckptLoadProblem(f, err)
		return
	}
	bad := func(format string, a ...any) {
		v.problem(catCheckpoint, Problem{File: f.Path, Offset: -1, Pos: f.Pos, What: fmt.Sprintf(format, a...)})
	}
	n := v.probs[catCheckpoint]
	if meta.Pos != f.Pos {
		bad("the checkpoint is named for position %d but holds the state at position %d", f.Pos, meta.Pos)
	}
	if v.rep.Instance != "" && meta.Instance != v.rep.Instance {
		bad("the checkpoint is of instance %q, but the journal belongs to %q: the engine will refuse to open", meta.Instance, v.rep.Instance)
	}
	if !v.replaying {
		v.ckNotes = append(v.ckNotes, fmt.Sprintf("checkpoint %s (position %d): loads; not compared with the journal: %s", f.Path, f.Pos, v.stopNote()))
		return
	}
	if meta.Epoch != v.epoch {
		bad("the checkpoint says epoch %d, but the journal is in epoch %d at position %d", meta.Epoch, v.epoch, f.Pos)
	}
	if meta.HighOSeq < v.maxOwnOSeq {
		bad("the checkpoint says the highest own OSeq assigned is %d, but the journal holds %s/%d by position %d", meta.HighOSeq, v.rep.Instance, v.maxOwnOSeq, f.Pos)
	}
	if cst.Hash() != v.st.Hash() {
		bad("the checkpoint's state differs from the journal replayed to position %d (%s): the engine recovers from the checkpoint, so its state would be wrong; remove the checkpoint to recover from the journal",
			f.Pos, store.Equal(cst, v.st))
	}
	if v.probs[catCheckpoint] == n {
		v.ckNotes = append(v.ckNotes, fmt.Sprintf("checkpoint %s (position %d, %s): matches the journal replayed to position %d: ok", f.Path, f.Pos, plural(cst.Len(), "key"), f.Pos))
	}
}

func (v *verifier) ckptLoadProblem(f checkpoint.File, err error) {
	msg := strings.TrimPrefix(err.Error(), "checkpoint "+f.Path+": ")
	v.problem(catCheckpoint, Problem{File: f.Path, Offset: -1, Pos: f.Pos,
		What: fmt.Sprintf("the checkpoint does not load (%s): the engine skips it and recovers from an older checkpoint or the journal; remove it", msg)})
}

func (v *verifier) stopNote() string {
	if v.stoppedAt == 0 {
		return "the replay did not start"
	}
	return fmt.Sprintf("the replay stopped at position %d (%s)", v.stoppedAt, v.stopWhy)
}

// checkIntent reports a pending rollback intent, which the engine finishes
// at its next open, or one the engine would refuse.
func (v *verifier) checkIntent() {
	path := filepath.Join(v.dir, rollback.IntentFile)
	if v.intentErr != nil {
		v.problem(catIntent, Problem{File: path, Offset: -1,
			What: fmt.Sprintf("the rollback intent does not read (%v): the engine will refuse to open", v.intentErr)})
		return
	}
	in := v.intent
	if in == nil {
		return
	}
	last := v.rep.Last
	if v.damagedAt != 0 {
		v.problem(catIntent, Problem{File: path, Offset: -1, Pos: in.Target,
			What: fmt.Sprintf("an interrupted rollback to just before position %d is pending; it cannot be finished while the journal is damaged", in.Target)})
		return
	}
	dec, err := decideRollback(v.dir, in, last, v.targetIsEpoch)
	if err != nil {
		v.problem(catIntent, Problem{File: path, Offset: -1, Pos: in.Target, What: err.Error() + ": the engine will refuse to open"})
		return
	}
	if dec.Phase == rollback.PhaseEpoch {
		v.problem(catIntent, Problem{File: path, Offset: -1, Pos: in.Target,
			What: fmt.Sprintf("an interrupted rollback to just before position %d: its epoch record is journaled, so it is finished except for removing this intent, which happens at next open", in.Target)})
		return
	}
	done := "the journal is not truncated yet"
	if dec.Phase == rollback.PhaseTruncated {
		done = fmt.Sprintf("the journal is already truncated after position %d", in.Target-1)
	}
	v.problem(catIntent, Problem{File: path, Offset: -1, Pos: in.Target,
		What: fmt.Sprintf("an interrupted rollback of positions %d..%d (epoch %d to %d, reason %q; %s) will be finished at next open: the rolled-off records are saved to %s, the journal truncated after position %d and an epoch record journaled",
			in.Target, in.Head, in.PrevEpoch, in.NewEpoch, in.Reason, done, in.LostFile, in.Target-1)})
}

// checkLostFiles checks that the lost transaction file named by every
// epoch record exists and holds what the record says it does.
func (v *verifier) checkLostFiles() {
	for _, l := range v.lost {
		path := filepath.Join(v.dir, l.info.LostFile)
		bad := func(format string, a ...any) {
			v.problem(catLost, Problem{File: path, Offset: -1, Pos: l.pos, What: fmt.Sprintf(format, a...)})
		}
		lf, err := rollback.ReadLostFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bad("the lost transaction file named by the epoch record at position %d is missing: the %d records rolled off (positions %d..%d) can no longer be reconciled",
				l.pos, l.info.Records, l.info.From, l.info.To)
			continue
		case err != nil:
			bad("the lost transaction file named by the epoch record at position %d does not read: %v", l.pos, err)
			continue
		}
		h := lf.Header
		if h.From != l.info.From || h.To != l.info.To {
			bad("the lost transaction file holds positions %d..%d, but the epoch record at position %d says %d..%d were rolled off", h.From, h.To, l.pos, l.info.From, l.info.To)
		}
		if v.rep.Instance != "" && h.Instance != v.rep.Instance {
			bad("the lost transaction file is of instance %q, not %q", h.Instance, v.rep.Instance)
		}
	}
}

// checkRemainingCheckpoints loads the checkpoints the replay did not reach
// and reports the ones the engine would misuse.
func (v *verifier) checkRemainingCheckpoints() {
	last, in := v.rep.Last, v.intent
	for _, f := range v.ckpts {
		if v.visited[f.Path] {
			continue
		}
		if _, _, err := checkpoint.Load(f.Path); err != nil {
			v.ckptLoadProblem(f, err)
			continue
		}
		switch {
		case f.Pos > last && in != nil && f.Pos >= in.Target && v.damagedAt == 0:
			v.ckNotes = append(v.ckNotes, fmt.Sprintf("checkpoint %s (position %d): above the target of the pending rollback; removed when it finishes", f.Path, f.Pos))
		case f.Pos > last && v.damagedAt == 0:
			v.problem(catCheckpoint, Problem{File: f.Path, Offset: -1, Pos: f.Pos,
				What: fmt.Sprintf("the checkpoint is at position %d, beyond the journal's last position %d: it holds state the journal does not; the engine ignores it now but would load it once the journal grows past %d: remove it", f.Pos, last, f.Pos)})
		case v.rep.First > 0 && f.Pos+1 < v.rep.First:
			v.ckNotes = append(v.ckNotes, fmt.Sprintf("checkpoint %s (position %d): loads; older than the journal's first position %d, not compared", f.Path, f.Pos, v.rep.First))
		default:
			v.ckNotes = append(v.ckNotes, fmt.Sprintf("checkpoint %s (position %d): loads; not compared with the journal: %s", f.Path, f.Pos, v.stopNote()))
		}
	}
}

// summarize fills in the state and the Checked lines.
func (v *verifier) summarize() {
	rep := v.rep
	ok := func(c category) string {
		if n := v.probs[c]; n > 0 {
			return plural(n, "problem")
		}
		return "ok"
	}
	add := func(format string, a ...any) { rep.Checked = append(rep.Checked, fmt.Sprintf(format, a...)) }

	if rep.Last == 0 && v.frames == 0 && v.damagedAt == 0 {
		add("%s: the journal is empty; the next open writes the open record", plural(rep.Segments, "segment"))
	} else {
		upTo := ""
		if v.damagedAt != 0 {
			upTo = fmt.Sprintf(" (up to position %d)", v.damagedAt)
		}
		add("%s, %s%s: checksums %s", plural(rep.Segments, "segment"), plural(v.frames, "frame"), upTo, ok(catFrames))
		add("positions %d..%d: %s decode and carry their position: %s", rep.First, rep.Last, plural(rep.Records, "record"), ok(catRecords))
		if rep.First <= 1 {
			add("position 1 opens the journal of instance %q: %s", rep.Instance, ok(catOpen))
		}
		add("%s: epochs rise only at epoch records: %s", plural(v.nEpoch, "epoch record"), ok(catEpoch))
		if len(v.lost) > 0 || v.probs[catLost] > 0 {
			add("%s named by epoch records: present and matching: %s", plural(len(v.lost), "lost transaction file"), ok(catLost))
		}
		add("%s: OSeqs and HLCs strictly increasing, no OSeq reused: %s", plural(v.nOwn, "own transaction"), ok(catOwn))
		add("%s: OSeqs strictly increasing per origin: %s", plural(v.nPeer, "peer transaction"), ok(catPeer))
	}

	if v.st != nil {
		st := v.st
		end := rep.Last
		if in := v.intent; in != nil && v.atTargetReached && !(rep.Last == in.Target && v.targetIsEpoch) {
			end = in.Target - 1
			rep.StateHash, rep.Keys = v.atTarget.Hash(), v.atTarget.Len()
		} else {
			rep.StateHash, rep.Keys = st.Hash(), st.Len()
		}
		from := "position 1"
		if v.base > 0 {
			from = fmt.Sprintf("the checkpoint at position %d", v.base)
		}
		if v.replaying || v.stoppedAt > end {
			add("replayed the journal from %s to %d: %s, state hash %s", from, end, plural(rep.Keys, "key"), hex.EncodeToString(rep.StateHash[:]))
		} else {
			add("replayed the journal from %s: %s; the state was not checked beyond it", from, v.stopNote())
		}
	}
	if len(v.ckpts) == 0 && v.probs[catCheckpoint] == 0 {
		add("no checkpoints")
	}
	rep.Checked = append(rep.Checked, v.ckNotes...)
	if n := v.probs[catCheckpoint]; n > 0 {
		add("checkpoints: %s", ok(catCheckpoint))
	}
	if v.probs[catTail] == 0 && v.damagedAt == 0 {
		add("no torn tail")
	}
	if v.intent == nil && v.intentErr == nil {
		add("no rollback intent pending")
	}
	if v.dropped > 0 {
		rep.Problems = append(rep.Problems, Problem{Offset: -1,
			What: fmt.Sprintf("%s more problems not listed (only the first %d are)", commas(v.dropped), maxProblems)})
	}
}

// commas formats n with thousands separators: 1,204,311.
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural formats n things: "1 segment", "12 segments", "1,204,311 frames".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return commas(n) + " " + thing + "s"
}
