package rollback

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Phase is where a rollback stands: the last of its steps (DESIGN.md section
// 7, step 2) that is done. A rollback passes the phases in the order they are
// declared; Next names the step out of each.
type Phase uint8

const (
	// PhaseDone: no rollback is under way (there is no intent), or the
	// last one just finished.
	PhaseDone Phase = iota
	// PhaseIntent: the intent (target, head, new epoch, lost file name) is
	// durable; the journal still ends at the head.
	PhaseIntent
	// PhaseLost: every record from the target to the head is saved to the
	// lost transaction file.
	PhaseLost
	// PhaseUndone: the state is undone with the records' before-images,
	// newest first (online; at start-up there is no state yet, and the
	// step only reads back the lost transaction file).
	PhaseUndone
	// PhaseTruncated: the checkpoints above the target are removed and
	// the journal ends at target-1.
	PhaseTruncated
	// PhaseEpoch: the epoch record, with the new epoch, is journaled and
	// fsynced at the target. The rollback is finished except for removing
	// the intent, and is never repeated.
	PhaseEpoch
)

var phaseNames = [...]string{
	PhaseDone:      "done",
	PhaseIntent:    "intent",
	PhaseLost:      "lost file",
	PhaseUndone:    "undo",
	PhaseTruncated: "truncate",
	PhaseEpoch:     "epoch",
}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", p)
}

// Step is what a rollback does to leave a phase.
type Step uint8

const (
	// StepNone: nothing; the rollback is done.
	StepNone Step = iota
	// StepSaveLost writes the lost transaction file (temporary name,
	// fsync, rename), again if it was there already.
	StepSaveLost
	// StepUndo undoes the state online, or reads the lost transaction file
	// back at start-up, to learn the peer watermark and the largest HLC
	// rolled off.
	StepUndo
	// StepTruncate removes the checkpoints above the target and truncates
	// the journal after target-1.
	StepTruncate
	// StepJournalEpoch journals and fsyncs the epoch record.
	StepJournalEpoch
	// StepRemoveIntent removes the intent and fsyncs the directory.
	StepRemoveIntent
)

var stepNames = [...]string{
	StepNone:         "none",
	StepSaveLost:     "save the lost transaction file",
	StepUndo:         "undo",
	StepTruncate:     "truncate the journal",
	StepJournalEpoch: "journal the epoch record",
	StepRemoveIntent: "remove the intent",
}

func (s Step) String() string {
	if int(s) < len(stepNames) {
		return stepNames[s]
	}
	return fmt.Sprintf("Step(%d)", s)
}

// Next returns the step out of phase p and the phase it leads to.
func (p Phase) Next() (Step, Phase) {
	switch p {
	case PhaseIntent:
		return StepSaveLost, PhaseLost
	case PhaseLost:
		return StepUndo, PhaseUndone
	case PhaseUndone:
		return StepTruncate, PhaseTruncated
	case PhaseTruncated:
		return StepJournalEpoch, PhaseEpoch
	case PhaseEpoch:
		return StepRemoveIntent, PhaseDone
	}
	return StepNone, PhaseDone
}

// Disk is what an instance directory says about a rollback: the facts
// Decide works from. Observe reads them from an open journal; package
// internal/inspect reads them without writing anything.
type Disk struct {
	// Dir is the instance directory (for errors).
	Dir string
	// Intent is the rollback intent, or nil if there is none.
	Intent *Intent
	// Last is the journal's last position.
	Last uint64
	// TargetIsEpoch says that the record at Intent.Target is a KindEpoch
	// record with Intent.NewEpoch: the rollback's last journal write.
	TargetIsEpoch bool
	// LostErr says why the lost transaction file does not read back
	// complete and matching the intent (CheckLostFile), or is nil if it
	// does. It matters only once the journal is truncated: before that
	// the file is saved again whatever it holds.
	LostErr error
}

// Decision is where a rollback found on disk stands and what comes next.
type Decision struct {
	Phase Phase
	Next  Step
	// Last is the last journal position the recovered state includes:
	// Intent.Target-1 until the epoch record is journaled, then the
	// target (the epoch record). Without an intent, the journal's last
	// position.
	Last uint64
	// Epoch is the rollback's new epoch, the instance's epoch once it is
	// finished; 0 without an intent.
	Epoch uint64
}

// ErrCannotResume is wrapped by Decide's errors: the directory holds a
// rollback intent that the journal or the lost transaction file
// contradicts, so the engine refuses to open the directory.
var ErrCannotResume = errors.New("cannot finish the interrupted rollback")

// Decide says, from what is on disk, which phase a rollback is in and what
// step comes next. On disk the phases PhaseLost and PhaseUndone look like
// PhaseIntent (the undo is in memory only, and a lost transaction file may
// be there in full or in part), so a rollback whose journal still ends at
// its head is resumed from PhaseIntent: the lost transaction file is
// saved again. A truncated journal needs a complete lost transaction file,
// the only copy left of the records rolled off.
func Decide(d Disk) (Decision, error) {
	in := d.Intent
	if in == nil {
		return Decision{Phase: PhaseDone, Next: StepNone, Last: d.Last}, nil
	}
	dec := func(p Phase, last uint64) (Decision, error) {
		step, _ := p.Next()
		return Decision{Phase: p, Next: step, Last: last, Epoch: in.NewEpoch}, nil
	}
	switch {
	case d.Last == in.Target && d.TargetIsEpoch:
		return dec(PhaseEpoch, in.Target)
	case d.Last >= in.Target && d.Last == in.Head:
		return dec(PhaseIntent, in.Target-1)
	case d.Last >= in.Target:
		return Decision{}, fmt.Errorf("%w: rollback intent in %s expects the journal to end at position %d, but it ends at %d: remove %s only if you know why",
			ErrCannotResume, d.Dir, in.Head, d.Last, IntentFile)
	case d.Last != in.Target-1:
		return Decision{}, fmt.Errorf("%w: rollback intent in %s targets position %d, but the journal ends at %d",
			ErrCannotResume, d.Dir, in.Target, d.Last)
	case d.LostErr != nil:
		return Decision{}, fmt.Errorf("%w: the journal of %s is already truncated after position %d, but the lost transaction file, the only copy left of positions %d..%d, does not read back: %v; restore %s from a backup",
			ErrCannotResume, d.Dir, in.Target-1, in.Target, in.Head, d.LostErr, filepath.Join(d.Dir, in.LostFile))
	}
	return dec(PhaseTruncated, in.Target-1)
}

// CheckLostFile reads the lost transaction file named by the intent and
// checks that it is complete and holds the positions the intent rolls off.
func CheckLostFile(dir string, in *Intent) error {
	_, err := readLost(dir, in)
	return err
}

func readLost(dir string, in *Intent) (*LostFile, error) {
	lf, err := ReadLostFile(filepath.Join(dir, in.LostFile))
	if err != nil {
		return nil, err
	}
	if h := lf.Header; h.From != in.Target || h.To != in.Head || h.Instance != in.Instance {
		return nil, fmt.Errorf("%s holds positions %d..%d of instance %q, but the rollback intent rolls off positions %d..%d of %q",
			filepath.Join(dir, in.LostFile), h.From, h.To, h.Instance, in.Target, in.Head, in.Instance)
	}
	return lf, nil
}
