package replicate_test

import (
	"testing"
	"time"

	"github.com/liege-db/liege/internal/metricstest"
	"github.com/liege-db/liege/replicate/link"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsOfAPair checks the replication metrics of a live in-memory
// pair: the labelled counters have their series at zero before any event,
// the lag is exported in seconds and in transactions each way, and the
// outgoing lag in seconds is the age of the oldest own transaction the
// peer has not applied (the pair's clock is moved by hand).
func TestMetricsOfAPair(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) {
		p.a.reg, p.b.reg = prometheus.NewRegistry(), prometheus.NewRegistry()
	})
	p.idle()
	for _, n := range []*node{p.a, p.b} {
		s := metricstest.Gather(t, n.reg)
		for _, k := range []string{
			`liege_stream_dropped_total{reason="duplicate"}`, `liege_stream_dropped_total{reason="gap"}`,
			`liege_stream_dropped_total{reason="stale_epoch"}`, `liege_stream_dropped_total{reason="discarding"}`,
			`liege_reconciled_total{action="reprocessed"}`, `liege_reconciled_total{action="corrected"}`, `liege_reconciled_total{action="skipped"}`,
			`liege_conflicts_total{case="C3",check="update"}`, "liege_rollbacks_total", "liege_rejections_total",
			`liege_replication_lag_seconds{direction="in"}`, `liege_replication_lag_seconds{direction="out"}`,
			`liege_replication_lag_transactions{direction="in"}`, `liege_replication_lag_transactions{direction="out"}`,
		} {
			if v, ok := s[k]; !ok || v != 0 {
				t.Errorf("%s: %s = %v (present %v), want 0 on an idle pair before any event", n.id, k, v, ok)
			}
		}
		if s["liege_clock_offset_max_seconds"] != 0.5 {
			t.Errorf("%s: liege_clock_offset_max_seconds = %v, want the default bound 0.5", n.id, s["liege_clock_offset_max_seconds"])
		}
		if s["liege_link_up"] != 1 {
			t.Errorf("%s: liege_link_up = %v on a connected pair", n.id, s["liege_link_up"])
		}
		if n := len(s.With("liege_replication_lag_seconds")); n != 2 {
			t.Errorf("liege_replication_lag_seconds has %d series, want in and out only", n)
		}
	}

	// A's transaction cannot reach B: 5 seconds later it is 5 seconds old.
	p.partition(true)
	p.call(p.a, op{Op: "set", K: "k", V: "a"})
	p.clk.ms.Add(5000)
	out := metricstest.Gather(t, p.a.reg)[`liege_replication_lag_seconds{direction="out"}`]
	if out < 5 || out > 5.1 {
		t.Errorf("A's outgoing lag is %vs with its one transaction 5.001s old and not applied by B", out)
	}

	p.partition(false)
	p.idle()
	for _, n := range []*node{p.a, p.b} {
		s := metricstest.Gather(t, n.reg)
		for _, dir := range []string{"in", "out"} {
			if v := s[`liege_replication_lag_seconds{direction="`+dir+`"}`]; v != 0 {
				t.Errorf("%s: lag %s is %vs once idle, want 0", n.id, dir, v)
			}
		}
	}
}
