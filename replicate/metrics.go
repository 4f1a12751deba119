package replicate

import "github.com/prometheus/client_golang/prometheus"

// metrics are the link's metrics (DESIGN.md section 11's observability
// list). What the protocol decides (drops, rejections, reconciliations,
// conflicts, the window) is counted by the instance: the root package's
// metrics.go.
type metrics struct {
	linkUp      prometheus.Gauge
	reconnects  prometheus.Counter
	refused     prometheus.Counter
	sent        prometheus.Counter
	clockOffset prometheus.Gauge
}

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
		clockOffset: prometheus.NewGauge(prometheus.GaugeOpts{Name: "liege_clock_offset_seconds",
			Help: "The peer's wall clock minus ours, measured in the last handshake."}),
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
	reg.MustRegister(m.linkUp, m.reconnects, m.refused, m.sent, m.clockOffset,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_transactions",
			Help: "Transactions not yet applied across the link: in, the peer's not applied here; out, ours the peer has not reported applied.", ConstLabels: prometheus.Labels{"direction": "in"}}, lag(true)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_transactions",
			Help: "Transactions not yet applied across the link: in, the peer's not applied here; out, ours the peer has not reported applied.", ConstLabels: prometheus.Labels{"direction": "out"}}, lag(false)),
	)
	return m
}
