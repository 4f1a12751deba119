package liege_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/benchkit"
)

// BenchmarkReopen opens, b.N times, one instance whose journal holds
// LIEGE_BENCH_RECORDS ticket records (default 200,000) and no checkpoint:
// replay alone, without the build BenchmarkReplay times around it, so a
// CPU profile of it is a profile of replay. ns/op is one whole Open;
// cpu-ns/record is the process's CPU time (every goroutine, GC included)
// during Open per record replayed, the figure to compare on a loaded
// machine, where wall time varies with the neighbours.
func BenchmarkReopen(b *testing.B) {
	n := 200_000
	if s := os.Getenv("LIEGE_BENCH_RECORDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("LIEGE_BENCH_RECORDS=%q: %v", s, err)
		}
	}
	dir := filepath.Join(b.TempDir(), "A")
	if err := (benchkit.Workload{}).Build(dir, n); err != nil {
		b.Fatal(err)
	}
	opts := liege.Options{Dir: dir, ID: "A", CheckpointEvery: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.ReportAllocs()
	b.ResetTimer()
	var rate float64
	var cpu time.Duration
	for range b.N {
		c0 := liege.CPUTime(b)
		db, err := liege.Open(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += liege.CPUTime(b) - c0
		if got, want := db.Recovery.Replayed, uint64(n)+1; got != want {
			b.Fatalf("replayed %d records, want %d", got, want)
		}
		rate = float64(db.Recovery.Replayed) / db.Recovery.ReplayDuration.Seconds()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n+1), "cpu-ns/record")
}

// BenchmarkRollbackCPU is BenchmarkRollback (RollbackTo rolling b.N
// ticket records off, built untimed) reporting the process's CPU time per
// record rolled off (cpu-ns/record): the undo, the lost transaction file,
// the truncation and the decoding goroutine, GC included.
func BenchmarkRollbackCPU(b *testing.B) {
	var c0, cpu time.Duration
	w := benchkit.Workload{
		Start: func() { b.ResetTimer(); c0 = liege.CPUTime(b) },
		Stop:  func() { b.StopTimer(); cpu = liege.CPUTime(b) - c0 },
	}
	b.ReportAllocs()
	res, err := w.RunRollback(b.TempDir(), b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.RecPerSec, "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
}

// BenchmarkRollbackAfterReopen is BenchmarkRollbackCPU right after a
// restart: b.N ticket records are built and the instance closed, then
// reopened (replay, untimed), and RollbackTo rolls them all off, its
// journal reads finding no segment in the tidwall/wal cache. It reports
// records/s (RollbackTo's wall time) and the process's CPU time per record
// rolled off (cpu-ns/record).
func BenchmarkRollbackAfterReopen(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "A")
	if err := (benchkit.Workload{}).Build(dir, b.N); err != nil {
		b.Fatal(err)
	}
	opts := liege.Options{Dir: dir, ID: "A", CheckpointEvery: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	db, err := liege.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	st, err := db.Status(ctx)
	if err != nil {
		b.Fatal(err)
	}
	target := st.LastPos - uint64(b.N) + 1
	b.ReportAllocs()
	b.ResetTimer()
	c0 := liege.CPUTime(b)
	t0 := time.Now()
	rb, err := db.RollbackTo(ctx, target, "benchmark")
	elapsed := time.Since(t0)
	cpu := liege.CPUTime(b) - c0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if rb.Records != uint64(b.N) {
		b.Fatalf("rolled off %d records, want %d", rb.Records, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
}
