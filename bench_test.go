package liege_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/liege-db/liege/internal/benchkit"
)

// The benchmarks run the ticket workload of internal/benchkit (one absent
// point read and two ~100-byte sets per call); `liege bench commit` runs the
// same code with the raw tidwall/wal comparison and prints the goals. Each
// benchmark's setup is proportional to b.N, and only the measured section is
// timed, so ns/op and allocs/op are per call (or per record).

// benchWorkload returns the benchmark workload, timing only its measured
// section.
func benchWorkload(b *testing.B) benchkit.Workload {
	return benchkit.Workload{Start: b.ResetTimer, Stop: b.StopTimer}
}

// BenchmarkCommit measures durable commits of ticket calls: b.N calls from
// the given number of concurrent callers, each waiting for its call.
func BenchmarkCommit(b *testing.B) {
	for _, callers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			b.ReportAllocs()
			res, err := benchWorkload(b).RunEngine(context.Background(), b.TempDir(), callers, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.TxnPerSec, "txn/s")
			b.ReportMetric(float64(res.Latency.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(res.Latency.P99.Microseconds()), "p99-µs")
			b.ReportMetric(res.AvgBatch, "txn/fsync")
		})
	}
}

// BenchmarkRawWAL is the ceiling BenchmarkCommit is compared with: raw
// tidwall/wal appends of ticket-record-sized entries with the engine's
// group-commit batching.
func BenchmarkRawWAL(b *testing.B) {
	size, err := benchkit.TicketFrameSize(100)
	if err != nil {
		b.Fatal(err)
	}
	for _, callers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			b.ReportAllocs()
			res, err := benchWorkload(b).RunRawWAL(b.TempDir(), callers, b.N, size)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.PerSec, "entries/s")
			b.ReportMetric(float64(res.Latency.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(res.Latency.P99.Microseconds()), "p99-µs")
			b.ReportMetric(res.AvgBatch, "entries/fsync")
		})
	}
}

// BenchmarkReplay measures recovery: a journal of b.N ticket records
// without a checkpoint is built (untimed), then Open replays it. The rate
// is Recovery.Replayed / Recovery.ReplayDuration; ns/op is the whole Open.
func BenchmarkReplay(b *testing.B) {
	b.ReportAllocs()
	res, err := benchWorkload(b).RunReplay(b.TempDir(), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.RecPerSec, "records/s")
}

// BenchmarkRollback measures RollbackTo rolling b.N ticket records off
// (built untimed).
func BenchmarkRollback(b *testing.B) {
	b.ReportAllocs()
	res, err := benchWorkload(b).RunRollback(b.TempDir(), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.RecPerSec, "records/s")
}

// BenchmarkStateMemory builds a state of b.N ticket keys (at least 100,000,
// so the heap figures are stable) and reports the heap it holds; ns/op is
// the time to build it per key.
func BenchmarkStateMemory(b *testing.B) {
	keys := max(b.N, 100_000)
	res := benchkit.StateMemory(keys, 100)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(keys), "ns/op")
	b.ReportMetric(res.BytesPerKey, "heap-B/key")
	b.ReportMetric(res.OverheadPerKey, "overhead-B/key")
	b.ReportMetric(res.Ratio, "heap/raw")
}
