package engine_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
)

// TestSyncerWritesOffTheExecutor: with a Syncer the frames of a batch reach
// the log only when the Syncer runs its job (the write goes with the
// fsync, off the executor), and until then every appended record, in
// flight or buffered behind it, reads back from the Instance.
func TestSyncerWritesOffTheExecutor(t *testing.T) {
	s := &heldSyncer{t: t}
	log := journal.NewMemLog()
	reg := liege.NewRegistry()
	if err := sim.RegisterOps(reg); err != nil {
		t.Fatal(err)
	}
	c := &clock{ms: 1}
	in, err := engine.Open(engine.Config{
		ID: "A", Dir: t.TempDir(), Runner: reg.Runner(), Now: c.now, Log: log,
		CheckpointEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Syncer: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	lastLogged := func() uint64 {
		t.Helper()
		i, err := log.LastIndex()
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	base := lastLogged()
	if in.LastPos() != base {
		t.Fatalf("opened with last position %d but the log ends at %d", in.LastPos(), base)
	}
	readKey := func(pos uint64, want string) {
		t.Helper()
		r, err := in.ReadRecord(pos)
		if err != nil {
			t.Fatalf("read position %d: %v", pos, err)
		}
		if len(r.Writes) != 1 || string(r.Writes[0].Key) != string(sim.Key(want)) {
			t.Fatalf("position %d holds writes %v, want one write of key %q", pos, r.Writes, want)
		}
	}

	c1, c2 := setCall(t, "a"), setCall(t, "b")
	in.Submit(c1)
	in.Submit(c2)
	stepAll(t, in)
	if s.starts != 1 || s.sync == nil {
		t.Fatalf("%d fsyncs started, one held %v; want 1 held", s.starts, s.sync != nil)
	}
	if got := lastLogged(); got != base {
		t.Fatalf("the log ends at %d before the Syncer ran, want %d: the executor wrote the frames itself", got, base)
	}
	c3 := setCall(t, "c")
	in.Submit(c3)
	stepAll(t, in)
	readKey(base+1, "a") // in flight
	readKey(base+2, "b")
	readKey(base+3, "c") // buffered behind the fsync

	s.finish(in)
	if got := lastLogged(); got != base+2 || in.Durable() != base+2 || !c1.Done || !c2.Done || c3.Done {
		t.Fatalf("after the first job: log ends at %d, durable %d, calls done %v %v %v; want %d, %d, true true false",
			got, in.Durable(), c1.Done, c2.Done, c3.Done, base+2, base+2)
	}
	readKey(base+2, "b") // now from the log
	readKey(base+3, "c")
	stepAll(t, in)
	if got := lastLogged(); s.starts != 2 || got != base+2 {
		t.Fatalf("the buffered batch: %d fsyncs started, log ends at %d; want 2 and %d", s.starts, got, base+2)
	}
	s.finish(in)
	if got := lastLogged(); got != base+3 || in.Durable() != base+3 || !c3.Done || c3.Err != nil {
		t.Fatalf("after the second job: log ends at %d, durable %d, call 3 done %v (%v); want %d", got, in.Durable(), c3.Done, c3.Err, base+3)
	}
	for i, k := range []string{"a", "b", "c"} {
		readKey(base+1+uint64(i), k)
	}
}

// Answered counts the calls the Instance answered, with a result or an
// error, and moves only when one is: a driver scans its calls in flight
// only then.
func TestAnsweredCountsAnswers(t *testing.T) {
	s, h := &heldSyncer{t: t}, &syncedHook{}
	in := openPipelined(t, s, h)
	base := in.Answered()
	c1, c2 := setCall(t, "a"), setCall(t, "b")
	bad := &engine.Call{Proc: "no such procedure", ArgBytes: []byte{0xc0}}
	in.Submit(c1)
	in.Submit(c2)
	in.Submit(bad)
	stepAll(t, in)
	if !bad.Done || bad.Err == nil || c1.Done || c2.Done {
		t.Fatalf("before the fsync: bad call done %v (%v), calls done %v %v; want the bad one failed, the others waiting",
			bad.Done, bad.Err, c1.Done, c2.Done)
	}
	if got := in.Answered() - base; got != 1 {
		t.Fatalf("Answered moved by %d with one call failed, want 1", got)
	}
	s.finish(in)
	stepAll(t, in)
	if !c1.Done || !c2.Done {
		t.Fatalf("after the fsync: calls done %v %v", c1.Done, c2.Done)
	}
	if got := in.Answered() - base; got != 3 {
		t.Fatalf("Answered moved by %d with three calls answered, want 3", got)
	}
}

// While an fsync is in flight a step runs at most 32 calls, so that the
// driver hands the fsync's outcome in, and the next fsync starts, without
// waiting for every queued call to run; all of them run, in order.
func TestSyncingStepsAreShort(t *testing.T) {
	s, h := &heldSyncer{t: t}, &syncedHook{}
	in := openPipelined(t, s, h)
	first := setCall(t, "first")
	in.Submit(first)
	stepAll(t, in)
	if s.sync == nil {
		t.Fatal("no fsync in flight after the first call")
	}
	base := in.LastPos()
	calls := make([]*engine.Call, 100)
	for i := range calls {
		calls[i] = setCall(t, fmt.Sprint("k", i))
		in.Submit(calls[i])
	}
	in.Step()
	if got := in.LastPos() - base; got != 32 {
		t.Fatalf("one step during the fsync journaled %d calls, want 32", got)
	}
	stepAll(t, in)
	if got := in.LastPos() - base; got != 100 {
		t.Fatalf("the steps during the fsync journaled %d of 100 calls", got)
	}
	s.finish(in)
	stepAll(t, in)
	s.finish(in)
	for i, c := range calls {
		if !c.Done || c.Err != nil {
			t.Fatalf("call %d: done %v, error %v", i, c.Done, c.Err)
		}
		if c.Result.Pos != base+1+uint64(i) {
			t.Fatalf("call %d journaled at %d, want %d (submission order)", i, c.Result.Pos, base+1+uint64(i))
		}
	}
}
