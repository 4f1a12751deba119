package liege_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/benchkit"
)

// BenchmarkDiskAfterTxns measures the disk an instance uses after
// LIEGE_BENCH_TXNS ticket transactions (default 1,000,000; b.N is not
// used: run it with -benchtime=1x) from 64 callers, with the default
// retention settings and with a 64 MiB keep floor, closed cleanly. It
// reports the directory's bytes, the journal's and the checkpoints'.
//
//	go test -run '^$' -bench BenchmarkDiskAfterTxns -benchtime=1x .
func BenchmarkDiskAfterTxns(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("LIEGE_BENCH_TXNS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		keep int64
	}{{"defaults", 0}, {"keep=64MiB", 64 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			logw := io.Discard
			if os.Getenv("LIEGE_BENCH_LOG") != "" {
				logw = os.Stderr
			}
			db, err := liege.Open(liege.Options{Dir: dir, ID: "A", JournalKeep: c.keep, Logger: slog.New(slog.NewTextHandler(logw, nil))})
			if err != nil {
				b.Fatal(err)
			}
			if err := benchkit.RegisterTicket(db, 100); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(n) {
							return
						}
						if _, err := db.Call(context.Background(), benchkit.ProcName, benchkit.Ticket{Event: "e", Seat: i, Customer: "c" + strconv.FormatInt(i, 10)}); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			total, journal, ckpts := du(b, dir), du(b, filepath.Join(dir, "journal")), du(b, filepath.Join(dir, "checkpoints"))
			b.ReportMetric(float64(total)/(1<<20), "dir-MiB")
			b.ReportMetric(float64(journal)/(1<<20), "journal-MiB")
			b.ReportMetric(float64(ckpts)/(1<<20), "checkpoints-MiB")
			b.ReportMetric(float64(n), "txns")
		})
	}
}

func du(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
