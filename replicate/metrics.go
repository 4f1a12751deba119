package replicate

import "github.com/prometheus/client_golang/prometheus"

// metrics are the replication metrics (DESIGN.md section 11's observability
// list; the engine's own are liege_conflicts_total, liege_window_transactions,
// liege_rollbacks_total, liege_reconciliation_pending ...).
type metrics struct {
	linkUp      prometheus.Gauge
	reconnects  prometheus.Counter
	refused     prometheus.Counter
	sent        prometheus.Counter
	dropped     *prometheus.CounterVec
	rejections  prometheus.Counter
	reconciled  *prometheus.CounterVec
	clockOffset prometheus.Gauge
}

// Label values known in advance: their series exist from start-up, at
// zero, so that rate() and absence alerts work before the first event.
var (
	droppedReasons   = []string{"duplicate", "gap", "stale_epoch", "discarding"}
	reconciledAction = []string{"reprocessed", "corrected", "skipped"}
)

func newMetrics(reg prometheus.Registerer, r *Replicator) *metrics {
	m := &metrics{
		linkUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "liege_link_up",
			Help: "1 while a replication session with the peer is up."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_reconnects_total",
			Help: "Replication sessions established after the first."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_refused_total",
			Help: "Connections refused in the handshake (cluster, id, roles, protocol version, clock offset)."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_stream_sent_total",
			Help: "Own transactions sent to the peer (resends included)."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_stream_dropped_total",
			Help: "Peer transaction frames dropped, by reason (duplicate, gap, stale_epoch, discarding)."}, []string{"reason"}),
		rejections: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_rejections_total",
			Help: "Vassal transactions a liege rejected and commanded rolled back."}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_reconciled_total",
			Help: "Reconciliation log records handled by a liege, by action (reprocessed, corrected, skipped)."}, []string{"action"}),
		clockOffset: prometheus.NewGauge(prometheus.GaugeOpts{Name: "liege_clock_offset_seconds",
			Help: "The peer's wall clock minus ours, measured in the last handshake."}),
	}
	for _, l := range droppedReasons {
		m.dropped.WithLabelValues(l)
	}
	for _, l := range reconciledAction {
		m.reconciled.WithLabelValues(l)
	}
	if reg == nil {
		return m
	}
	lag := func(in bool) func() float64 {
		return func() float64 {
			st := r.Status()
			if in {
				return float64(st.LagIn)
			}
			return float64(st.LagOut)
		}
	}
	const lagSecondsHelp = "Replication lag in seconds: out, the age of the oldest own transaction the peer has not reported applied (it grows while the link is down); " +
		"in, 0 when caught up with the peer's newest transaction, else the larger of the last peer transaction's commit-to-apply delay and the time since the stream last made progress (0 while the link is down)."
	reg.MustRegister(m.linkUp, m.reconnects, m.refused, m.sent, m.dropped, m.rejections, m.reconciled, m.clockOffset,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_clock_offset_max_seconds",
			Help: "The bound on the clock offset with the peer (serve --max-clock-offset): a peer beyond it is refused at the handshake."},
			func() float64 { return r.cfg.MaxClockOffset.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_seconds", Help: lagSecondsHelp,
			ConstLabels: prometheus.Labels{"direction": "in"}}, r.lagInSeconds),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_seconds", Help: lagSecondsHelp,
			ConstLabels: prometheus.Labels{"direction": "out"}}, r.lagOutSeconds),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_transactions",
			Help: "Transactions not yet applied across the link: in, the peer's not applied here; out, ours the peer has not reported applied.", ConstLabels: prometheus.Labels{"direction": "in"}}, lag(true)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_transactions",
			Help: "Transactions not yet applied across the link: in, the peer's not applied here; out, ours the peer has not reported applied.", ConstLabels: prometheus.Labels{"direction": "out"}}, lag(false)),
	)
	return m
}
