package liege

import (
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/replicate"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics. They are always collected
// (cheaply, through engine.Hooks on the executor) and registered only on
// the registry given in Options.
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
	dropped           *prometheus.CounterVec
	rejections        prometheus.Counter
	reconciled        *prometheus.CounterVec
	applyLag          prometheus.Gauge

	fsyncs     atomic.Uint64
	fsyncNanos atomic.Int64
}

// dropReasons are the liege_stream_dropped_total labels of the verdicts
// that drop a frame.
var dropReasons = map[replicate.Verdict]string{
	replicate.VerdictDuplicate: "duplicate", replicate.VerdictGap: "gap", replicate.VerdictStale: "stale_epoch",
	replicate.VerdictDiscarded: "discarding", replicate.VerdictHeld: "held", replicate.VerdictOldReign: "older_reign",
}

// hooks feeds the metrics from the engine.
func (m *metrics) hooks() engine.Hooks {
	return engine.Hooks{
		Committed: func(d time.Duration) {
			m.commits.Inc()
			m.commitLatency.Observe(d.Seconds())
		},
		Aborted: m.aborts.Inc,
		Synced: func(n int, took time.Duration) {
			m.batchSize.Observe(float64(n))
			m.fsyncs.Add(1)
			m.fsyncNanos.Add(int64(took))
		},
		PeerApplied: func(ts uint64) {
			m.peerApplied.Inc()
			m.applyLag.Set(max(0, time.Since(hlc.Timestamp(ts).Physical()).Seconds()))
		},
		Verdict: func(v replicate.PeerVerdict) {
			for _, c := range v.Conflicts {
				check := c.Check.String()
				if !c.Subject.IsZero() {
					check = "duplicate_subject"
				}
				m.conflicts.WithLabelValues(check, "").Inc()
			}
			if v.Verdict == replicate.VerdictReject {
				m.rejections.Inc()
			}
			if r, ok := dropReasons[v.Verdict]; ok {
				m.dropped.WithLabelValues(r).Inc()
			}
		},
		RolledBack: func(n uint64) {
			m.rollbacks.Inc()
			m.rolledOff.Add(float64(n))
		},
		Reconciled: func(action string) { m.reconciled.WithLabelValues(action).Inc() },
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
			Help: "Conflicts detected between an incoming peer transaction and an own one, by check (update, use, mirror_use, duplicate_subject). The case label is no longer filled in."},
			[]string{"check", "case"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_stream_dropped_total",
			Help: "Peer transaction frames dropped, by reason (duplicate, gap, stale_epoch, discarding, held, older_reign)."}, []string{"reason"}),
		rejections: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_rejections_total",
			Help: "Vassal transactions a liege rejected and commanded rolled back."}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_reconciled_total",
			Help: "Reconciliation log records handled by a liege, by action (reprocess, correct, skip)."}, []string{"action"}),
		applyLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "liege_replication_lag_seconds",
			Help: "Incoming direction: wall time between the last applied peer transaction's commit (its HLC) and its apply here. The peer exports the other direction."}),
	}
	if reg == nil {
		return m
	}
	node := func(f func(replicate.NodeStatus) float64) func() float64 {
		return func() float64 { return f(db.ReplStatus()) }
	}
	reg.MustRegister(m.commits, m.aborts, m.commitLatency, m.batchSize, m.checkpointSeconds, m.rollbacks, m.rolledOff,
		m.peerApplied, m.conflicts, m.dropped, m.rejections, m.reconciled, m.applyLag,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_journal_bytes_written_total",
			Help: "Bytes appended to the journal since start."}, func() float64 { return float64(db.pub.bytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_window_transactions",
			Help: "Own transactions in the conflict window (the peer may still send a transaction that did not see them)."},
			node(func(s replicate.NodeStatus) float64 { return float64(s.Window) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_reconciliation_pending",
			Help: "Rolled-off own transactions not yet back from the liege (vassal)."}, func() float64 { return float64(db.pub.recon.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_fsync_seconds_total",
			Help: "Total time spent in journal fsyncs."}, func() float64 { return float64(m.fsyncNanos.Load()) / 1e9 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_fsyncs_total",
			Help: "Journal fsyncs (one per group-commit batch)."}, func() float64 { return float64(m.fsyncs.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_journal_durable_position",
			Help: "Last durable journal position."}, func() float64 { return float64(db.pub.durable.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_checkpoint_age_seconds",
			Help: "Seconds since the last checkpoint (or since start)."}, func() float64 {
			return time.Since(time.Unix(0, db.lastCkpt.Load())).Seconds()
		}),
	)
	return m
}
