package benchkit

import (
	"math"
	"runtime/metrics"
	"time"
)

// rtUsage is what the Go runtime says of the process so far: garbage
// collection cycles and the CPU time it estimates the collector took (in
// all, and in assists: goroutines made to mark while they allocate), and
// how long goroutines waited to run once runnable. A lag spike with the
// collector busy and long waits to run is the CPU's: the executors, one
// goroutine per instance, waited their turn behind the callers and the
// collector (the trace analysis of the issue 14 closing note).
type rtUsage struct {
	gcCycles                 uint64
	gcCPU, assistCPU, allCPU float64 // estimates: compare only with each other
	sched                    *metrics.Float64Histogram
}

var rtSamples = []string{
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/sched/latencies:seconds",
}

func runtimeUsage() rtUsage {
	s := make([]metrics.Sample, len(rtSamples))
	for i, name := range rtSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	var u rtUsage
	if s[0].Value.Kind() == metrics.KindUint64 {
		u.gcCycles = s[0].Value.Uint64()
	}
	f := func(i int) float64 {
		if s[i].Value.Kind() == metrics.KindFloat64 {
			return s[i].Value.Float64()
		}
		return 0
	}
	u.gcCPU, u.assistCPU, u.allCPU = f(1), f(2), f(3)
	if s[4].Value.Kind() == metrics.KindFloat64Histogram {
		u.sched = s[4].Value.Float64Histogram()
	}
	return u
}

// RuntimeFigures is what the runtime did over a measured load.
type RuntimeFigures struct {
	GCCycles uint64
	// GCShare is the share of the process's CPU time the collector took,
	// AssistShare the part of it running goroutines gave (both the
	// runtime's estimates).
	GCShare, AssistShare float64
	// Goroutines waited this long to run once runnable (all of them: the
	// callers, the executors, the link's, the collector's workers), in
	// milliseconds: the median, the 99th percentile and the longest, to
	// the runtime's histogram buckets (each an upper bound).
	SchedP50ms, SchedP99ms, SchedMaxms float64
}

// runtimeFigures returns what the runtime did between a and b.
func runtimeFigures(a, b rtUsage) RuntimeFigures {
	r := RuntimeFigures{GCCycles: b.gcCycles - a.gcCycles}
	if all := b.allCPU - a.allCPU; all > 0 {
		r.GCShare = (b.gcCPU - a.gcCPU) / all
		r.AssistShare = (b.assistCPU - a.assistCPU) / all
	}
	if a.sched != nil && b.sched != nil && len(a.sched.Counts) == len(b.sched.Counts) {
		counts := make([]uint64, len(b.sched.Counts))
		for i := range counts {
			counts[i] = b.sched.Counts[i] - a.sched.Counts[i]
		}
		ms := func(q float64) float64 {
			return float64(histQuantile(counts, b.sched.Buckets, q)) / float64(time.Millisecond)
		}
		r.SchedP50ms, r.SchedP99ms, r.SchedMaxms = ms(0.50), ms(0.99), ms(1)
	}
	return r
}

// histQuantile returns the upper bound of the bucket holding quantile q of
// a histogram of seconds (buckets[i], buckets[i+1] bound counts[i]; the
// last bound may be +Inf, then the bucket's lower bound stands), 0 for an
// empty one.
func histQuantile(counts []uint64, buckets []float64, q float64) time.Duration {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if c > 0 && seen >= want {
			hi := buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = buckets[i]
			}
			return time.Duration(hi * float64(time.Second))
		}
	}
	return 0
}
