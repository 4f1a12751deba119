package benchkit

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/journal"
)

// heldJob is an engine.Syncer that keeps the job Start hands it until the
// benchmark runs it: the executor's work and the journal's are measured on
// one goroutine, apart from the scheduling of the real driver.
type heldJob struct{ job func() error }

func (h *heldJob) Start(job func() error) { h.job = job }

func (h *heldJob) Wait() error {
	err := h.job()
	h.job = nil
	return err
}

// BenchmarkExecutorTicket is the executor's share of a durable commit:
// ticket calls submitted 256 at a time to an engine.Instance (journal in
// memory) and stepped as the root's executor steps them, the Syncer's job
// (write to the log, fsync) run in between and counted too. ns/op and
// allocs/op are per call, with no goroutines, channels or disk: the figure
// that moves least with the machine's load. journal-ns/op is the part of
// it the Syncer's job took (off the executor in the real driver).
func BenchmarkExecutorTicket(b *testing.B) {
	reg := liege.NewRegistry()
	if err := RegisterTicket(reg, 100); err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	s := &heldJob{}
	in, err := engine.Open(engine.Config{
		ID: "A", Dir: b.TempDir(), Runner: reg.Runner(), Now: func() time.Time { return now },
		Log: journal.NewMemLog(), CheckpointEvery: -1, Syncer: s,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	const batch = 256
	calls := make([]engine.Call, batch)
	var journalTime time.Duration
	seat := int64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		b.StopTimer() // the callers' part: encoding the arguments
		for i := range calls[:n] {
			a := TicketFor(seat)
			seat++
			ab, err := journal.Marshal(a)
			if err != nil {
				b.Fatal(err)
			}
			calls[i] = engine.Call{Proc: ProcName, Args: a, ArgBytes: ab}
		}
		b.StartTimer()
		for i := range calls[:n] {
			in.Submit(&calls[i])
		}
		for steps := 0; !calls[n-1].Done; steps++ {
			if steps > 10*batch {
				b.Fatalf("call %d not answered after %d steps", done+n-1, steps)
			}
			if in.HasWork() {
				in.Step()
				continue
			}
			if s.job == nil {
				b.Fatalf("no work, no fsync in flight, and call %d is not answered", done+n-1)
			}
			t0 := time.Now()
			err := s.job()
			journalTime += time.Since(t0)
			s.job = nil
			in.SyncDone(err)
		}
		for i := range calls[:n] {
			if calls[i].Err != nil {
				b.Fatalf("call %d: %v", done+i, calls[i].Err)
			}
		}
		done += n
	}
	b.ReportMetric(float64(journalTime.Nanoseconds())/float64(b.N), "journal-ns/op")
}
