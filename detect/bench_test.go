package detect_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/liege-db/liege/detect/detectbench"
)

// BenchmarkWindowCheck measures Window.Check, the whole call (candidates and
// Conflict on every hit), per incoming transaction of the default workload
// of package detectbench (10 keys over a space of 2^20, mixing point reads,
// Sets, Adds and a few ranges), with the whole window unseen by the peer.
// `liege bench detect --cold-incoming` measures the same, with flags for the
// workload (without the flag, each incoming transaction is in the caches,
// as the replication node has it).
func BenchmarkWindowCheck(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("window=%d", n), func(b *testing.B) {
			w, in := detectbench.Default.Window(n, 1<<14)
			runtime.GC() // not while measuring
			hits, i := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				hits += len(w.Check(in[i%len(in)]))
				i++
			}
			b.ReportMetric(float64(hits)/float64(i), "hits/op")
		})
	}
}
