package benchkit

import (
	"math"
	"runtime"
	"testing"
	"time"
)

// histQuantile answers the bucket a quantile falls in, by its upper bound
// (its lower one for the last, unbounded bucket), and 0 for no samples.
func TestHistQuantile(t *testing.T) {
	buckets := []float64{0, 1e-6, 1e-3, 1, math.Inf(1)}
	counts := []uint64{50, 40, 9, 1}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.01, time.Microsecond},
		{0.50, time.Microsecond},
		{0.51, time.Millisecond},
		{0.90, time.Millisecond},
		{0.99, time.Second},
		{1, time.Second}, // the +Inf bucket: its lower bound
	} {
		if got := histQuantile(counts, buckets, c.q); got != c.want {
			t.Errorf("quantile %v = %v, want %v", c.q, got, c.want)
		}
	}
	if got := histQuantile([]uint64{0, 0, 0, 0}, buckets, 0.5); got != 0 {
		t.Errorf("empty histogram: %v, want 0", got)
	}
}

// Over some work that allocates, the runtime's figures move: cycles
// counted, shares within [0, 1], goroutines seen waiting to run.
func TestRuntimeFigures(t *testing.T) {
	a := runtimeUsage()
	var keep [][]byte
	for i := range 200_000 {
		keep = append(keep, make([]byte, 64))
		if i%1000 == 0 {
			keep = keep[:0]
		}
	}
	done := make(chan bool)
	for range 64 {
		go func() { done <- true }()
	}
	for range 64 {
		<-done
	}
	b := runtimeUsage()
	r := runtimeFigures(a, b)
	if r.GCShare < 0 || r.GCShare > 1 || r.AssistShare < 0 || r.AssistShare > r.GCShare+1e-9 {
		t.Fatalf("GC share %v, assists %v: want 0 <= assists <= GC <= 1", r.GCShare, r.AssistShare)
	}
	if r.SchedMaxms <= 0 || r.SchedP50ms > r.SchedP99ms || r.SchedP99ms > r.SchedMaxms {
		t.Fatalf("scheduling latencies p50 %v p99 %v max %v ms: want 0 < p50 <= p99 <= max", r.SchedP50ms, r.SchedP99ms, r.SchedMaxms)
	}
	runtime.KeepAlive(keep)
}
