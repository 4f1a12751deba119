package replicate

import "github.com/prometheus/client_golang/prometheus"

// metrics are the link's metrics (DESIGN.md section 11's observability
// list). What the protocol decides (drops, rejections, reconciliations,
// conflicts, the window) is counted by the instance: the root package's
// metrics.go.
type metrics struct {
	reconnects  prometheus.Counter
	refused     prometheus.Counter
	sent        prometheus.Counter
	clockOffset prometheus.Gauge
	// The link's batching: frames sent and the sends that carried them
	// (one write each, short of a batch over 256 KiB), frames received and
	// the runs they came to the Host in (readLoop).
	framesOut, sends, framesIn, runs prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, r *Replicator) *metrics {
	m := &metrics{
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_reconnects_total",
			Help: "Replication sessions established after the first."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_refused_total",
			Help: "Connections refused in the handshake (cluster, id, roles, protocol version, clock offset)."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_stream_sent_total",
			Help: "Own transactions sent to the peer (resends included)."}),
		clockOffset: prometheus.NewGauge(prometheus.GaugeOpts{Name: "liege_clock_offset_seconds",
			Help: "The peer's wall clock minus ours, measured in the last handshake."}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_sent_frames_total",
			Help: "Frames of every kind sent to the peer."}),
		sends: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_sends_total",
			Help: "Hand-offs of frames to the link: frames that were ready together go in one (one write on TCP up to 256 KiB)."}),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_received_frames_total",
			Help: "Frames of every kind received from the peer."}),
		runs: prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_link_received_runs_total",
			Help: "Hand-offs of received frames to the executor: frames received together go in one."}),
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
	reg.MustRegister(
		// The Node's view, read at the scrape: a session is up once its
		// handshake is done, whichever goroutine notices it first.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_link_up",
			Help: "1 while a replication session with the peer is up (handshake done)."}, func() float64 {
			if r.host.ReplStatus().Connected {
				return 1
			}
			return 0
		}),
		m.reconnects, m.refused, m.sent, m.clockOffset, m.framesOut, m.sends, m.framesIn, m.runs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_transactions",
			Help: "Transactions not yet applied across the link: in, the peer's not applied here; out, ours the peer has not reported applied.", ConstLabels: prometheus.Labels{"direction": "in"}}, lag(true)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "liege_replication_lag_transactions",
			Help: "Transactions not yet applied across the link: in, the peer's not applied here; out, ours the peer has not reported applied.", ConstLabels: prometheus.Labels{"direction": "out"}}, lag(false)),
	)
	return m
}
