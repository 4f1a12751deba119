package inspect

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// Recovered is the state the engine would recover from an instance
// directory at its next open.
type Recovered struct {
	// Instance is the instance id named by the journal's open record (or by
	// the checkpoint, if the journal's front was truncated). It is empty
	// for an empty journal: the next open writes the open record.
	Instance string
	// Store holds every key, value and version of the recovered state.
	Store *store.Store
	// Last is the last journal position whose record the state includes.
	// With a pending rollback intent that is the position before the
	// rollback's target: the engine journals the rollback's epoch record
	// at Last+1 when it finishes it.
	Last uint64
	// Epoch is the epoch the instance will be in once opened: with a
	// pending rollback intent, the rollback's new epoch.
	Epoch uint64
	// TornTail is the torn tail of the last segment the engine will truncate
	// at its next open (never acknowledged, not in the state), or nil.
	TornTail *journal.TailDamage
	// Intent is the pending rollback intent the engine will finish (or just
	// remove, if the rollback's epoch record is already journaled), or nil.
	Intent *rollback.Intent
	// Rollback is where the pending rollback stands and what the engine
	// does next (rollback.Decide, as the engine decides it); its Phase is
	// rollback.PhaseDone without an intent.
	Rollback rollback.Decision
	// Checkpoint is the path of the checkpoint recovery starts from, or ""
	// when it replays the journal from position 1.
	Checkpoint string
	// Replayed is the number of journal records replayed after the
	// checkpoint.
	Replayed uint64
	// SkippedCheckpoints are the checkpoints that do not load, which the
	// engine skips (newest first).
	SkippedCheckpoints []error
}

// Recover works out, without writing anything, the state the engine would
// recover from the stopped instance in dir at its next open: it ignores a
// torn tail of the last segment (reported in TornTail), honours a pending
// rollback intent (the state then ends at the position before the
// rollback's target), loads the newest valid checkpoint at or below that
// last position and replays the journal after it. It fails, like the
// engine would, on a journal damaged before its end (a *journal.DamageError
// naming file and position), a record that does not decode or claims the
// wrong position, an unreadable or inconsistent rollback intent, and a
// checkpoint of another instance.
func Recover(dir string) (*Recovered, error) {
	release, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer release()

	intent, err := rollback.ReadIntent(dir)
	if errors.Is(err, rollback.ErrNoIntent) {
		intent, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the engine will refuse to open %s", err, dir)
	}

	// Pass 1: find the last valid position (checking every frame), the
	// instance, and what the intent's target position holds.
	walDir := filepath.Join(dir, journal.WalDir)
	d := journal.NewDecoder()
	var rec journal.Record
	var instance string
	var targetIsEpoch bool
	res, err := journal.Scan(walDir, func(e journal.Entry) error {
		if e.Pos != 1 && (intent == nil || e.Pos != intent.Target) {
			return nil
		}
		if err := d.DecodeFrame(e.Frame, &rec); err != nil {
			return &journal.DamageError{File: e.File, Offset: e.Offset, Pos: e.Pos, Err: err}
		}
		if e.Pos == 1 && rec.Kind == journal.KindOpen {
			instance = rec.Instance
		}
		if intent != nil && e.Pos == intent.Target {
			targetIsEpoch = rec.Kind == journal.KindEpoch && rec.Epoch == intent.NewEpoch
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &Recovered{Instance: instance, Last: res.Last, TornTail: res.Tail, Intent: intent}

	if out.Rollback, err = decideRollback(dir, intent, res.Last, targetIsEpoch); err != nil {
		return nil, fmt.Errorf("%w: the engine will refuse to open %s", err, dir)
	}
	out.Last = out.Rollback.Last

	meta, st, path, skipped, err := checkpoint.LoadNewest(dir, out.Last)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints of %s: %w", dir, err)
	}
	out.SkippedCheckpoints = skipped
	from := uint64(1)
	if st != nil {
		if out.Instance == "" {
			out.Instance = meta.Instance
		}
		if meta.Instance != out.Instance {
			return nil, fmt.Errorf("checkpoint %s is of instance %q, but the journal of %s belongs to %q: the engine will refuse to open it", path, meta.Instance, dir, out.Instance)
		}
		out.Store, out.Epoch, out.Checkpoint = st, meta.Epoch, path
		from = meta.Pos + 1
	} else {
		out.Store = store.New()
	}
	if out.Last > 0 && from < res.First {
		return nil, fmt.Errorf("journal of %s starts at position %d but the newest checkpoint holds only up to %d: records are missing", dir, res.First, from-1)
	}

	// Pass 2: replay from the checkpoint to the last position.
	if from <= out.Last {
		_, err = scanRecords(dir, from, out.Last, func(e journal.Entry, rec *journal.Record) error {
			if rec.Pos != e.Pos {
				return &journal.DamageError{File: e.File, Offset: e.Offset, Pos: e.Pos,
					Err: fmt.Errorf("record claims position %d", rec.Pos)}
			}
			if rec.Kind == journal.KindEpoch {
				out.Epoch = rec.Epoch
			}
			if rec.Kind.IsTxn() {
				out.Store.Apply(rec)
			}
			out.Replayed++
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if out.Rollback.Phase != rollback.PhaseDone && out.Rollback.Phase != rollback.PhaseEpoch {
		out.Epoch = out.Rollback.Epoch // the epoch record is still to be journaled
	}
	return out, nil
}

// decideRollback is rollback.Decide over what a read-only scan found: the
// journal's last position and whether the intent's target holds its epoch
// record. The engine decides the same at its next open (rollback.Resume).
func decideRollback(dir string, in *rollback.Intent, last uint64, targetIsEpoch bool) (rollback.Decision, error) {
	disk := rollback.Disk{Dir: dir, Intent: in, Last: last, TargetIsEpoch: targetIsEpoch}
	if in != nil && last < in.Target {
		disk.LostErr = rollback.CheckLostFile(dir, in)
	}
	return rollback.Decide(disk)
}
