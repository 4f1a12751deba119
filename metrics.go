package liege

import (
	"math"
	"os"
	"time"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics. They are always collected
// (cheaply) and registered only on the registry given in Options.
type metrics struct {
	commits           prometheus.Counter
	aborts            prometheus.Counter
	commitLatency     prometheus.Histogram
	batchSize         prometheus.Histogram
	checkpointSeconds prometheus.Histogram
	rollbacks         prometheus.Counter
	rolledOff         prometheus.Counter
	peerApplied       prometheus.Counter
	conflicts         *prometheus.CounterVec
}

// conflictLabels are the (check, case) pairs caseOf can produce: an update
// conflict is always C3; a use or mirror use is one of the other rows of
// DESIGN.md section 6. Their series exist from start-up, at zero, so that
// rate() and absence alerts see them before the first conflict.
var conflictLabels = func() [][2]string {
	out := [][2]string{{detect.CheckUpdate.String(), "C3"}}
	for _, c := range []detect.Check{detect.CheckUse, detect.CheckMirrorUse} {
		for _, cs := range []string{"C1", "C2", "C5", "C7", "C8"} {
			out = append(out, [2]string{c.String(), cs})
		}
	}
	return out
}()

// conflict counts conflicts by check and by case.
func (m *metrics) conflict(cs []Conflict) {
	for _, c := range cs {
		m.conflicts.WithLabelValues(c.Check.String(), c.Case).Inc()
	}
}

func newMetrics(reg prometheus.Registerer, db *DB) *metrics {
	m := &metrics{
		commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_commits_total",
			Help: "Transactions committed and acknowledged (durable)."}),
		aborts: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_aborts_total",
			Help: "Procedure calls that returned an error and committed nothing."}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "liege_commit_latency_seconds",
			Help:    "Time from a call's submission to its durable acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "liege_group_commit_batch_size",
			Help:    "Journal records made durable by one fsync.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
		checkpointSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "liege_checkpoint_duration_seconds",
			Help: "Time to write a checkpoint.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		rollbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_rollbacks_total",
			Help: "Rollbacks performed."}),
		rolledOff: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_rolled_off_records_total",
			Help: "Journal records rolled off by rollbacks and saved to lost transaction files."}),
		peerApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_peer_applied_total",
			Help: "Peer transactions checked and applied."}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_conflicts_total",
			Help: "Conflicts detected between an incoming peer transaction and an own one, by check (update, use, mirror_use) and by case of DESIGN.md section 6."},
			[]string{"check", "case"}),
	}
	for _, l := range conflictLabels {
		m.conflicts.WithLabelValues(l[0], l[1])
	}
	if reg == nil {
		return m
	}
	stat := func(f func() float64) func() float64 {
		return func() float64 {
			if db.j == nil {
				return 0
			}
			return f()
		}
	}
	reg.MustRegister(m.commits, m.aborts, m.commitLatency, m.batchSize, m.checkpointSeconds, m.rollbacks, m.rolledOff,
		m.peerApplied, m.conflicts,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_window_transactions",
			Help: "Own transactions in the conflict window (not yet seen by the peer)."}, func() float64 { return float64(db.pub.window.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_reconciliation_pending",
			Help: "Rolled-off own transactions not yet back from the liege (vassal)."}, func() float64 { return float64(db.pub.reconPending.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_fsync_seconds_total",
			Help: "Total time spent in journal fsyncs."}, stat(func() float64 { return float64(db.j.Stats().SyncNanos) / 1e9 })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_fsyncs_total",
			Help: "Journal fsyncs (one per group-commit batch)."}, stat(func() float64 { return float64(db.j.Stats().Batches) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_journal_bytes_written_total",
			Help: "Bytes appended to the journal since start."}, stat(func() float64 { return float64(db.j.Stats().Bytes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_journal_durable_position",
			Help: "Last durable journal position."}, stat(func() float64 { return float64(db.j.Durable()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_checkpoint_age_seconds",
			Help: "Seconds since the last checkpoint (or since start)."}, func() float64 {
			return time.Since(time.Unix(0, db.lastCkpt.Load())).Seconds()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_last_checkpoint_timestamp_seconds",
			Help: "Unix time of the last checkpoint written (or of the instance's start, before its first); alert on time() minus it."}, func() float64 {
			return float64(db.lastCkpt.Load()) / 1e9
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_last_checkpoint_position",
			Help: "Journal position the last checkpoint holds the state at (0 before the first); liege_journal_durable_position minus it is what a restart replays."},
			func() float64 { return float64(db.lastCkptPos.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_journal_disk_bytes",
			Help: "Bytes of the journal's segment files on disk."},
			stat(func() float64 { return journalDiskBytes(db.j.Dir()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_journal_first_position",
			Help: "Oldest journal position still on disk (retained)."}, stat(func() float64 { return float64(db.j.First()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_epoch",
			Help: "This instance's epoch: it rises by one with every rollback (DESIGN.md section 7)."},
			func() float64 { return float64(db.pub.epoch.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_reign",
			Help: "Stand-in for DESIGN.md section 10's reign until reigns are implemented: the role changes this instance has journaled since it opened " +
				"(the start-up --role included when it changed the journaled role). It rises on both sides of a switchover and on the promoted side of a promote."},
			func() float64 { return float64(db.roleChanges.Load()) }),
	)
	return m
}

// journalDiskBytes sums the sizes of the journal's segment files in walDir;
// NaN if they cannot be listed.
func journalDiskBytes(walDir string) float64 {
	segs, err := journal.ListSegments(walDir)
	if err != nil {
		return math.NaN()
	}
	var n int64
	for _, s := range segs {
		if fi, err := os.Stat(s.Path); err == nil { // a segment removed meanwhile counts 0
			n += fi.Size()
		}
	}
	return float64(n)
}
