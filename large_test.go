package liege

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// fillLarge opens an instance at dir, commits n values of size bytes with
// the "put" procedure and closes it.
func fillLarge(tb testing.TB, dir string, n, size int) {
	tb.Helper()
	db := openLarge(tb, dir)
	v := bytes.Repeat([]byte{'v'}, size)
	for i := range n {
		if _, err := db.Call(context.Background(), "put", putLargeArgs{Key: fmt.Sprint(i), Value: v}); err != nil {
			tb.Fatalf("put %d: %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

type putLargeArgs struct {
	Key   string
	Value []byte
}

func openLarge(tb testing.TB, dir string) *DB {
	tb.Helper()
	db, err := Open(Options{Dir: dir, ID: "A", CheckpointEvery: -1})
	if err != nil {
		tb.Fatal(err)
	}
	if err := Register(db, Procedure[putLargeArgs, string]{Name: "put",
		Run: func(tx *Tx, a putLargeArgs) (string, error) {
			tx.Set(K("big", a.Key), a.Value)
			return "ok", nil
		},
		Correct: func(*Tx, putLargeArgs, string, string) (any, error) { return nil, nil },
	}); err != nil {
		tb.Fatal(err)
	}
	return db
}

// An instance holding values of 1 MiB opens with every value intact: its
// replay decodes each record in a few steps (it used to grow each value
// 256 bytes at a time, minutes for a few dozen values).
func TestOpenWithLargeValues(t *testing.T) {
	dir := t.TempDir()
	const n, size = 4, 1 << 20
	fillLarge(t, dir, n, size)
	db := openLarge(t, dir)
	defer db.Close()
	for i := range n {
		e, ok, err := db.Get(context.Background(), K("big", fmt.Sprint(i)))
		if err != nil || !ok {
			t.Fatalf("value %d after reopening: found %v, %v", i, ok, err)
		}
		var got []byte
		if err := Value(e.Value).Decode(&got); err != nil || len(got) != size {
			t.Fatalf("value %d after reopening: %d bytes, %v", i, len(got), err)
		}
	}
}

// BenchmarkOpenLargeValues opens an instance holding LIEGE_BENCH_VALUES
// values of 1 MiB (default 1000; goal: under 5 s, issue 14). The journal
// is written once, outside the timing.
func BenchmarkOpenLargeValues(b *testing.B) {
	n := 1000
	if s := os.Getenv("LIEGE_BENCH_VALUES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("LIEGE_BENCH_VALUES=%q: %v", s, err)
		}
	}
	dir := b.TempDir()
	fillLarge(b, dir, n, 1<<20)
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		t0, c0 := time.Now(), cpuTime(b)
		db := openLarge(b, dir)
		b.ReportMetric(time.Since(t0).Seconds(), "s/open")
		b.StopTimer()
		cpu += cpuTime(b) - c0
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	// CPU time (every goroutine, GC included) per Open: comparable between
	// runs on a loaded machine, where s/open is not.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/open")
}
