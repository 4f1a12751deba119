package benchkit

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/liege-db/liege"
)

// These tests check that the measurements run and count right on small
// inputs; they assert nothing about speed.

func TestRunEngine(t *testing.T) {
	for _, callers := range []int{1, 8} {
		res, err := RunEngine(context.Background(), t.TempDir(), callers, 300)
		if err != nil {
			t.Fatalf("callers=%d: %v", callers, err)
		}
		if res.Txns != 300 || res.Fsyncs == 0 || res.AvgBatch < 1 || res.FrameBytes <= 0 {
			t.Fatalf("callers=%d: implausible result %+v", callers, res)
		}
		if res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.P99 || res.Latency.P99 > res.Latency.Max {
			t.Fatalf("callers=%d: latency percentiles out of order: %+v", callers, res.Latency)
		}
		// Every call allocates (its result at least) and takes CPU time.
		if res.Cost.Allocs < 1 || res.Cost.AllocBytes < 1 || (ProcessCPU() > 0 && res.Cost.CPU <= 0) {
			t.Fatalf("callers=%d: implausible cost per call %+v", callers, res.Cost)
		}
	}
}

// costMeter divides what the section cost by the operations.
func TestCostMeter(t *testing.T) {
	var m costMeter
	m.begin()
	var keep [][]byte
	for range 1000 {
		keep = append(keep, make([]byte, 1000))
	}
	c := m.end(1000)
	if len(keep) != 1000 || c.Allocs < 1 || c.AllocBytes < 1000 {
		t.Fatalf("1000 allocations of 1000 bytes measured as %+v per op", c)
	}
	if (Cost{}) != m.end(0) {
		t.Fatal("a section of no operations has a cost")
	}
}

func TestFrameSizeMatchesEngine(t *testing.T) {
	res, err := RunEngine(context.Background(), t.TempDir(), 4, 200)
	if err != nil {
		t.Fatal(err)
	}
	est, err := TicketFrameSize(100)
	if err != nil {
		t.Fatal(err)
	}
	// Positions, OSeqs and seat numbers (100,000 in TicketFrameSize, a few
	// hundred here) take a few bytes more or less.
	if d := res.FrameBytes - est; d < -24 || d > 24 {
		t.Fatalf("engine frames average %d bytes, TicketFrameSize says %d", res.FrameBytes, est)
	}
}

func TestRunRawWAL(t *testing.T) {
	res, err := RunRawWAL(t.TempDir(), 8, 500, 300)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != 500 || res.Fsyncs == 0 || res.Fsyncs > 500 || res.AvgBatch < 1 {
		t.Fatalf("implausible result %+v", res)
	}
}

func TestRunReplay(t *testing.T) {
	res, err := RunReplay(t.TempDir(), 700)
	if err != nil {
		t.Fatal(err)
	}
	if res.Replayed != 701 || res.JournalBytes == 0 {
		t.Fatalf("implausible result %+v", res)
	}
}

func TestRunRollback(t *testing.T) {
	res, err := RunRollback(t.TempDir(), 400)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 400 || res.LostFileBytes == 0 {
		t.Fatalf("implausible result %+v", res)
	}
}

func TestStateMemory(t *testing.T) {
	res := StateMemory(10_000, 100)
	if res.Keys != 10_000 || res.RawBytes < 10_000*100 || res.HeapInuse <= 0 {
		t.Fatalf("implausible result %+v", res)
	}
}

func TestSummarize(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[len(lat)-1-i] = time.Duration(i + 1)
	}
	got := summarize(lat)
	want := Latency{P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
}

func TestPaddedValue(t *testing.T) {
	for _, n := range []int{1, 5, 100, 300} {
		if v := paddedValue(n, "owner=", "customer-100001"); len(v) != n {
			t.Fatalf("paddedValue(%d) has %d bytes", n, len(v))
		}
	}
}

func TestFrameSize(t *testing.T) {
	for _, frame := range []int{1, 100, 127, 128, 129, 400, 16383, 16384, 20000} {
		var b [binary.MaxVarintLen64]byte
		withPrefix := frame + binary.PutUvarint(b[:], uint64(frame))
		if got := frameSize(float64(withPrefix)); got != frame {
			t.Fatalf("frameSize(%d) = %d, want %d", withPrefix, got, frame)
		}
	}
}

func TestDriveReportsStall(t *testing.T) {
	w := Workload{StallTimeout: time.Millisecond, Log: io.Discard}.withDefaults()
	db, err := liege.Open(w.options(t.TempDir(), liege.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	err = liege.Register(db, liege.Procedure[Ticket, string]{
		Name: ProcName,
		Run: func(tx *liege.Tx, a Ticket) (string, error) {
			<-release
			tx.Set(SeatKey(a.Event, a.Seat), "x")
			return Sold, nil
		},
		Correct: func(*liege.Tx, Ticket, string, string) (any, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	err = w.drive(context.Background(), db, 2, 10, 0, nil)
	if !errors.Is(err, ErrStall) {
		t.Fatalf("drive with a stuck procedure returned %v, want ErrStall", err)
	}
	close(release) // let the abandoned calls finish so Close does not wait forever
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
