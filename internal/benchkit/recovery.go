package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/journal"
)

// ReplayResult is the recovery speed of a journal without a checkpoint.
type ReplayResult struct {
	Records      int    // ticket records built
	Replayed     uint64 // records Open replayed (Recovery.Replayed)
	JournalBytes int64  // size of the journal files
	// ReplayDuration is Recovery.ReplayDuration: journal open and scan,
	// checkpoint lookup and replay. OpenDuration is all of Open.
	ReplayDuration time.Duration
	OpenDuration   time.Duration
	RecPerSec      float64 // Replayed / ReplayDuration
	BuildDuration  time.Duration
}

// RunReplay measures replay with Default; see Workload.RunReplay.
func RunReplay(dir string, records int) (ReplayResult, error) {
	return Default.RunReplay(dir, records)
}

// RunReplay builds a journal of records ticket records in dir (with
// BuildCallers callers; checkpoints disabled, so Close writes none),
// closes the instance, reopens it, and reports the replay rate from
// db.Recovery. Only the reopen is inside Start/Stop.
func (w Workload) RunReplay(dir string, records int) (ReplayResult, error) {
	w = w.withDefaults()
	res := ReplayResult{Records: records}
	t0 := time.Now()
	if err := w.build(dir, records); err != nil {
		return res, err
	}
	res.BuildDuration = time.Since(t0)
	res.JournalBytes = dirSize(filepath.Join(dir, journal.WalDir))

	w.start()
	t1 := time.Now()
	db, err := liege.Open(w.options(dir, liege.Options{}))
	res.OpenDuration = time.Since(t1)
	w.stop()
	if err != nil {
		return res, fmt.Errorf("reopen: %w", err)
	}
	res.Replayed = db.Recovery.Replayed
	res.ReplayDuration = db.Recovery.ReplayDuration
	res.RecPerSec = perSec(float64(res.Replayed), res.ReplayDuration)

	var errs []error
	if db.Recovery.Checkpoint != "" {
		errs = append(errs, fmt.Errorf("reopen loaded checkpoint %s: nothing should have written one", db.Recovery.Checkpoint))
	}
	// The journal holds the instance's open record and one per call.
	if want := uint64(records) + 1; res.Replayed != want {
		errs = append(errs, fmt.Errorf("reopen replayed %d records, want %d (%d calls and the open record)", res.Replayed, want, records))
	}
	if st, err := db.Status(context.Background()); err != nil {
		errs = append(errs, err)
	} else if st.Keys != 2*records {
		errs = append(errs, fmt.Errorf("replayed state holds %d keys, want %d", st.Keys, 2*records))
	}
	if err := db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	return res, errors.Join(errs...)
}

// Build opens a new instance in dir, commits records ticket calls with
// BuildCallers callers and closes it: a journal to replay again and again
// (BenchmarkReopen).
func (w Workload) Build(dir string, records int) error { return w.withDefaults().build(dir, records) }

// build opens a new instance in dir, commits records ticket calls with
// BuildCallers callers and closes it.
func (w Workload) build(dir string, records int) error {
	db, err := w.open(dir, liege.Options{})
	if err != nil {
		return err
	}
	if err := w.drive(context.Background(), db, w.BuildCallers, records, 0, nil); err != nil {
		if !errors.Is(err, ErrStall) {
			db.Close()
		}
		return fmt.Errorf("build a journal of %d records: %w", records, err)
	}
	return db.Close()
}

// RollbackResult is the speed of rolling records off.
type RollbackResult struct {
	Records int // records rolled off
	// Duration is the wall time of RollbackTo; EngineDuration the
	// rollback's own (Result.Duration), without waiting for the executor.
	Duration       time.Duration
	EngineDuration time.Duration
	RecPerSec      float64 // Records / Duration
	LostFileBytes  int64
	BuildDuration  time.Duration
}

// RunRollback measures rollback with Default; see Workload.RunRollback.
func RunRollback(dir string, records int) (RollbackResult, error) {
	return Default.RunRollback(dir, records)
}

// RunRollback commits records ticket calls in a new instance in dir and
// times db.RollbackTo rolling all of them off (to position 2, just after the
// journal's open record). Only RollbackTo is inside Start/Stop.
func (w Workload) RunRollback(dir string, records int) (RollbackResult, error) {
	w = w.withDefaults()
	records = max(records, 1)
	res := RollbackResult{Records: records}
	ctx := context.Background()
	db, err := w.open(dir, liege.Options{})
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	if err := w.drive(ctx, db, w.BuildCallers, records, 0, nil); err != nil {
		if !errors.Is(err, ErrStall) {
			db.Close()
		}
		return res, fmt.Errorf("build %d records: %w", records, err)
	}
	res.BuildDuration = time.Since(t0)
	st, err := db.Status(ctx)
	if err != nil {
		db.Close()
		return res, err
	}
	target := st.LastPos - uint64(records) + 1

	w.start()
	t1 := time.Now()
	rb, err := db.RollbackTo(ctx, target, "benchmark")
	res.Duration = time.Since(t1)
	w.stop()
	if err != nil {
		db.Close()
		return res, fmt.Errorf("roll back to position %d: %w", target, err)
	}
	res.EngineDuration = rb.Duration
	res.RecPerSec = perSec(float64(records), res.Duration)
	if fi, err := os.Stat(rb.LostFile); err == nil {
		res.LostFileBytes = fi.Size()
	}

	var errs []error
	if rb.Records != uint64(records) || rb.From != target || rb.To != st.LastPos {
		errs = append(errs, fmt.Errorf("rollback to %d rolled off %d records (%d..%d), want %d (%d..%d)",
			target, rb.Records, rb.From, rb.To, records, target, st.LastPos))
	}
	if after, err := db.Status(ctx); err != nil {
		errs = append(errs, err)
	} else {
		if after.Keys != 0 {
			errs = append(errs, fmt.Errorf("after rolling every call off the state holds %d keys, want 0", after.Keys))
		}
		if after.LastPos != target || after.Durable != target {
			errs = append(errs, fmt.Errorf("after the rollback the journal ends at %d (durable %d), want the epoch record at %d",
				after.LastPos, after.Durable, target))
		}
	}
	if err := db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	return res, errors.Join(errs...)
}

// dirSize returns the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
