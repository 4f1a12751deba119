package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// liege serve's registry carries the runtime's scheduling latencies and
// collector metrics, which tell a lag spike that is the CPU's (the
// executor waiting its turn, a collection under way) from the link's.
func TestGoCollectorHasSchedulerAndGC(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newGoCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{"go_sched_latencies_seconds", "go_gc_cycles_total_gc_cycles_total", "go_goroutines", "go_gc_duration_seconds"} {
		if !have[name] {
			t.Errorf("metric %s missing", name)
		}
	}
}
