package benchkit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/liege-db/liege"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// EngineResult is the commit throughput and latency of the engine.
type EngineResult struct {
	Callers   int
	Txns      int // calls measured (the warm-up is not counted)
	Elapsed   time.Duration
	TxnPerSec float64
	// Latency is per call, from Call to its durable return.
	Latency Latency
	// Fsyncs is the number of journal fsyncs (group-commit batches) during
	// the measurement; AvgBatch the records per fsync.
	Fsyncs   uint64
	AvgBatch float64
	// FsyncTime is the total time spent in fsync during the measurement.
	FsyncTime time.Duration
	// JournalBytes is what the journal wrote during the measurement
	// (entries with their length prefixes); FrameBytes the average frame,
	// the size raw wal entries must have to compare.
	JournalBytes uint64
	FrameBytes   int
	// Cost is the process's CPU time and allocations per call during the
	// measurement (callers, executor, fsyncs: everything).
	Cost Cost
}

// RunEngine measures commit with Default; see Workload.RunEngine.
func RunEngine(ctx context.Context, dir string, callers, total int) (EngineResult, error) {
	return Default.RunEngine(ctx, dir, callers, total)
}

// RunEngine opens a new instance in dir (which should be empty; checkpoints
// disabled) and has callers goroutines issue total ticket calls in all,
// each waiting for its call to be durable. A short warm-up (one call per
// caller) precedes the measurement. The counts are checked afterwards: a
// wrong count is an error.
func (w Workload) RunEngine(ctx context.Context, dir string, callers, total int) (EngineResult, error) {
	w = w.withDefaults()
	callers = max(callers, 1)
	res := EngineResult{Callers: callers, Txns: total}
	reg := prometheus.NewRegistry()
	db, err := w.open(dir, liege.Options{Registerer: reg})
	if err != nil {
		return res, err
	}
	stalled := false
	defer func() {
		if !stalled {
			db.Close()
		}
	}()
	warm := min(callers, 1024)
	if err := w.drive(ctx, db, callers, warm, 0, nil); err != nil {
		stalled = errors.Is(err, ErrStall)
		return res, fmt.Errorf("warm-up: %w", err)
	}
	before, err := db.Status(ctx)
	if err != nil {
		return res, err
	}
	m0, err := gather(reg)
	if err != nil {
		return res, err
	}
	lat := make([]time.Duration, total)
	var cm costMeter
	cm.begin()
	w.start()
	t0 := time.Now()
	err = w.drive(ctx, db, callers, total, int64(warm), lat)
	res.Elapsed = time.Since(t0)
	w.stop()
	res.Cost = cm.end(total)
	if err != nil {
		stalled = errors.Is(err, ErrStall)
		return res, err
	}
	m1, err := gather(reg)
	if err != nil {
		return res, err
	}
	after, err := db.Status(ctx)
	if err != nil {
		return res, err
	}
	res.TxnPerSec = perSec(float64(total), res.Elapsed)
	res.Latency = summarize(lat)
	res.Fsyncs = uint64(m1.fsyncs - m0.fsyncs)
	res.FsyncTime = time.Duration((m1.fsyncSeconds - m0.fsyncSeconds) * 1e9)
	res.JournalBytes = uint64(m1.journalBytes - m0.journalBytes)
	if res.Fsyncs > 0 {
		res.AvgBatch = (m1.batchSum - m0.batchSum) / float64(res.Fsyncs)
	}
	if total > 0 {
		res.FrameBytes = frameSize(float64(res.JournalBytes) / float64(total))
	}

	// The counts must add up.
	var errs []error
	if got := after.LastPos - before.LastPos; got != uint64(total) {
		errs = append(errs, fmt.Errorf("journal grew by %d records for %d calls", got, total))
	}
	if after.Durable != after.LastPos {
		errs = append(errs, fmt.Errorf("every call returned, but the journal is durable only up to %d of %d", after.Durable, after.LastPos))
	}
	if want := 2 * (warm + total); after.Keys != want {
		errs = append(errs, fmt.Errorf("state holds %d keys after %d calls writing 2 new keys each, want %d", after.Keys, warm+total, want))
	}
	if got := m1.commits - m0.commits; got != float64(total) {
		errs = append(errs, fmt.Errorf("liege_commits_total grew by %v for %d calls", got, total))
	}
	if got := m1.batchSum - m0.batchSum; got != float64(total) {
		errs = append(errs, fmt.Errorf("group-commit batches made %v records durable for %d calls", got, total))
	}
	if got := m1.batchCount - m0.batchCount; got != m1.fsyncs-m0.fsyncs {
		errs = append(errs, fmt.Errorf("%v group-commit batches observed but %v fsyncs counted", got, m1.fsyncs-m0.fsyncs))
	}
	if err := db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	return res, errors.Join(errs...)
}

// frameSize returns the frame size of wal entries that take avg bytes with
// their uvarint length prefix.
func frameSize(avg float64) int {
	n := int(avg + 0.5)
	var b [binary.MaxVarintLen64]byte
	for p := 1; p < 4; p++ {
		if binary.PutUvarint(b[:], uint64(n-p)) == p {
			return n - p
		}
	}
	return n
}

// engineMetrics are the engine metrics a measurement reads.
type engineMetrics struct {
	commits, fsyncs, fsyncSeconds, journalBytes float64
	batchSum, batchCount                        float64
}

func gather(reg *prometheus.Registry) (engineMetrics, error) {
	var m engineMetrics
	mfs, err := reg.Gather()
	if err != nil {
		return m, fmt.Errorf("gather engine metrics: %w", err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			continue
		}
		x := mf.GetMetric()[0]
		found[mf.GetName()] = true
		switch mf.GetName() {
		case "liege_commits_total":
			m.commits = counter(x)
		case "liege_fsyncs_total":
			m.fsyncs = counter(x)
		case "liege_fsync_seconds_total":
			m.fsyncSeconds = counter(x)
		case "liege_journal_bytes_written_total":
			m.journalBytes = counter(x)
		case "liege_group_commit_batch_size":
			m.batchSum = x.GetHistogram().GetSampleSum()
			m.batchCount = float64(x.GetHistogram().GetSampleCount())
		}
	}
	for _, n := range []string{"liege_commits_total", "liege_fsyncs_total", "liege_fsync_seconds_total",
		"liege_journal_bytes_written_total", "liege_group_commit_batch_size"} {
		if !found[n] {
			return m, fmt.Errorf("the engine does not export metric %s", n)
		}
	}
	return m, nil
}

func counter(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
