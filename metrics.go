package liege

import (
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/journal"
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
	catchUps          *prometheus.CounterVec
	rolledOff         prometheus.Counter
	peerApplied       prometheus.Counter
	conflicts         *prometheus.CounterVec
	dropped           *prometheus.CounterVec
	rejections        prometheus.Counter
	reconciled        *prometheus.CounterVec

	fsyncs     atomic.Uint64
	roundNanos atomic.Int64 // from the start of a batch's write to the executor taking its outcome
}

// dropReasons are the liege_stream_dropped_total labels of the verdicts
// that drop a frame.
var dropReasons = map[replicate.Verdict]string{
	replicate.VerdictDuplicate: "duplicate", replicate.VerdictGap: "gap", replicate.VerdictStale: "stale_epoch",
	replicate.VerdictDiscarded: "discarding", replicate.VerdictHeld: "held", replicate.VerdictOldReign: "older_reign",
}

// reconciledActions are the liege_reconciled_total labels of the actions
// of package reconcile, by the action's name.
var reconciledActions = map[string]string{"reprocess": "reprocessed", "correct": "corrected", "skip": "skipped"}

// hooks feeds the metrics from the engine.
func (m *metrics) hooks(db *DB) engine.Hooks {
	return engine.Hooks{
		Committed: func(d time.Duration) {
			m.commits.Inc()
			m.commitLatency.Observe(d.Seconds())
		},
		Aborted: m.aborts.Inc,
		Synced: func(n int, took time.Duration) {
			m.batchSize.Observe(float64(n))
			m.fsyncs.Add(1)
			m.roundNanos.Add(int64(took))
		},
		PeerApplied: func(ts uint64) {
			m.peerApplied.Inc()
			db.lag.applied(ts, db.opts.Now())
		},
		Verdict: func(v replicate.PeerVerdict) {
			for _, c := range v.Conflicts {
				check := c.Check.String()
				if !c.Subject.IsZero() {
					check = "duplicate_subject"
				}
				m.conflicts.WithLabelValues(check, c.Case).Inc()
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
		CatchUpEnded: func(outcome string) { m.catchUps.WithLabelValues(outcome).Inc() },
		Reconciled: func(action string) {
			if l, ok := reconciledActions[action]; ok {
				action = l
			}
			m.reconciled.WithLabelValues(action).Inc()
		},
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
		catchUps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_rollback_call_waits_total",
			Help: "Times a vassal held its calls after a rollback until it had applied again what the liege had, by how the wait ended (caught_up; budget: two heartbeats ran out first; link_down; closed)."}, []string{"outcome"}),
		peerApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_peer_applied_total",
			Help: "Peer transactions checked and applied."}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_conflicts_total",
			Help: "Conflicts detected between an incoming peer transaction and an own one, by check (update, use, mirror_use; duplicate_subject, DESIGN.md section 10, with an empty case) and by case of DESIGN.md section 6."},
			[]string{"check", "case"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_stream_dropped_total",
			Help: "Peer transaction frames dropped, by reason (duplicate, gap, stale_epoch, discarding, held, older_reign)."}, []string{"reason"}),
		rejections: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_rejections_total",
			Help: "Vassal transactions a liege rejected and commanded rolled back."}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_reconciled_total",
			Help: "Reconciliation log records handled by a liege, by action (reprocessed, corrected, skipped)."}, []string{"action"}),
	}
	// The series of the labels known in advance exist from start-up, at
	// zero, so that rate() and absence alerts see them before the first
	// event.
	for _, l := range replicate.ConflictCases() {
		m.conflicts.WithLabelValues(l[0], l[1])
	}
	for _, r := range dropReasons {
		m.dropped.WithLabelValues(r)
	}
	for _, a := range reconciledActions {
		m.reconciled.WithLabelValues(a)
	}
	for _, o := range []string{"caught_up", "budget", "link_down", "closed"} {
		m.catchUps.WithLabelValues(o)
	}
	if reg == nil {
		return m
	}
	node := func(f func(replicate.NodeStatus) float64) func() float64 {
		return func() float64 { return f(db.ReplStatus()) }
	}
	reg.MustRegister(m.commits, m.aborts, m.commitLatency, m.batchSize, m.checkpointSeconds, m.rollbacks, m.rolledOff,
		m.catchUps, m.peerApplied, m.conflicts, m.dropped, m.rejections, m.reconciled,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_journal_bytes_written_total",
			Help: "Bytes appended to the journal since start."}, func() float64 { return float64(db.pub.bytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_window_transactions",
			Help: "Own transactions in the conflict window (the peer may still send a transaction that did not see them)."},
			node(func(s replicate.NodeStatus) float64 { return float64(s.Window) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_reconciliation_pending",
			Help: "Rolled-off own transactions not yet back from the liege (vassal)."}, func() float64 { return float64(db.pub.recon.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_fsync_seconds_total",
			Help: "Total time spent making group-commit batches durable: writing each batch to the journal and its fsync."}, func() float64 { return float64(db.syncer.ioNanos.Load()) / 1e9 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_fsync_round_seconds_total",
			Help: "Total time from the start of each group-commit batch's write to the executor taking its outcome: liege_fsync_seconds_total plus the time the outcome waited for the executor. Far above it, the executor (the CPU), not the disk, bounds group commit."},
			func() float64 { return float64(m.roundNanos.Load()) / 1e9 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "liege_fsyncs_total",
			Help: "Journal fsyncs (one per group-commit batch)."}, func() float64 { return float64(m.fsyncs.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_journal_durable_position",
			Help: "Last durable journal position."}, func() float64 { return float64(db.pub.durable.Load()) }),
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
			func() float64 { return journalDiskBytes(filepath.Join(db.opts.Dir, journal.WalDir)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_journal_first_position",
			Help: "Oldest journal position still on disk (retained)."}, func() float64 { return float64(db.pub.first.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_epoch",
			Help: "This instance's epoch: it rises by one with every rollback (DESIGN.md section 7)."},
			func() float64 { return float64(db.pub.epoch.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_reign",
			Help: "The reign this instance's role is held in (DESIGN.md section 10), from its journal: it rises by one with every promote and switchover, " +
				"and an instance that learns a newer reign at the handshake takes it on. Both instances of a healthy pair show the same reign; 0 for a lone instance."},
			func() float64 { return float64(db.pub.reign.Load()) }),
	)
	if db.opts.PeerID != "" {
		// The replication lag in seconds (lag.go) and the clock offset's
		// bound: the rest of the link's metrics are the Replicator's.
		const lagSecondsHelp = "Replication lag in seconds: out, the age of the oldest own transaction the peer has not reported applied (it grows while the link is down); " +
			"in, 0 when caught up with the peer's newest transaction, else the larger of the last peer transaction's commit-to-apply delay and the time since the stream last made progress (0 while the link is down)."
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_clock_offset_max_seconds",
				Help: "The bound on the clock offset with the peer (serve --max-clock-offset): a peer beyond it is refused at the handshake."},
				func() float64 { return db.opts.MaxClockOffset.Seconds() }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_seconds", Help: lagSecondsHelp,
				ConstLabels: prometheus.Labels{"direction": "in"}}, db.lagInSeconds),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_seconds", Help: lagSecondsHelp,
				ConstLabels: prometheus.Labels{"direction": "out"}}, db.lagOutSeconds),
		)
	}
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
