package engine_test

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
)

// heldSyncer is an engine.Syncer the test completes by hand: Start keeps
// the fsync, finish runs it and hands the outcome to the Instance the way
// the driver does; Wait runs it at once.
type heldSyncer struct {
	t      *testing.T
	sync   func() error
	starts int
	fail   error // returned instead of the fsync's outcome when set
}

func (s *heldSyncer) Start(sync func() error) {
	if s.sync != nil {
		s.t.Fatal("a second fsync started while one is in flight")
	}
	s.sync = sync
	s.starts++
}

func (s *heldSyncer) run() error {
	if s.sync == nil {
		s.t.Fatal("no fsync in flight")
	}
	err := s.sync()
	s.sync = nil
	if s.fail != nil {
		return s.fail
	}
	return err
}

func (s *heldSyncer) Wait() error { return s.run() }

// finish completes the fsync in flight through SyncDone.
func (s *heldSyncer) finish(in *engine.Instance) { in.SyncDone(s.run()) }

type syncedHook struct{ batches []int }

func openPipelined(t *testing.T, s *heldSyncer, h *syncedHook) *engine.Instance {
	t.Helper()
	reg := liege.NewRegistry()
	if err := sim.RegisterOps(reg); err != nil {
		t.Fatal(err)
	}
	c := &clock{ms: 1}
	in, err := engine.Open(engine.Config{
		ID: "A", Dir: t.TempDir(), Runner: reg.Runner(), Now: c.now, Log: journal.NewMemLog(),
		CheckpointEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Syncer: s,
		Hooks: engine.Hooks{Synced: func(n int, _ time.Duration) { h.batches = append(h.batches, n) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func setCall(t *testing.T, k string) *engine.Call {
	t.Helper()
	args := sim.OpsArgs{Ops: []sim.Op{{Op: "set", K: k, V: "v"}}}
	ab, err := journal.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return &engine.Call{Proc: "ops", Args: args, ArgBytes: ab}
}

// stepAll steps until the Instance has no work, at most 100 times.
func stepAll(t *testing.T, in *engine.Instance) {
	t.Helper()
	for i := 0; in.HasWork(); i++ {
		if i == 100 {
			t.Fatal("the instance still has work after 100 steps")
		}
		in.Step()
	}
}

// TestSyncerPipeline: the next batch runs while an fsync is in flight, its
// calls are answered only by the fsync that covers them, and there is one
// fsync in flight at a time.
func TestSyncerPipeline(t *testing.T) {
	s, h := &heldSyncer{t: t}, &syncedHook{}
	in := openPipelined(t, s, h)
	base := in.Durable()

	c1 := setCall(t, "a")
	in.Submit(c1)
	stepAll(t, in)
	if s.starts != 1 || c1.Done {
		t.Fatalf("after the first batch: %d fsyncs started, call done %v; want 1 started, not done", s.starts, c1.Done)
	}
	c2, c3 := setCall(t, "b"), setCall(t, "c")
	in.Submit(c2)
	in.Submit(c3)
	stepAll(t, in)
	if s.starts != 1 || c2.Done || in.LastPos() != base+3 {
		t.Fatalf("during the fsync: %d started, second call done %v, last position %d; want 1, false, %d",
			s.starts, c2.Done, in.LastPos(), base+3)
	}
	s.finish(in)
	if !c1.Done || c1.Err != nil || c2.Done || in.Durable() != base+1 {
		t.Fatalf("after the first fsync: call 1 done %v (%v), call 2 done %v, durable %d; want true, false, %d",
			c1.Done, c1.Err, c2.Done, in.Durable(), base+1)
	}
	stepAll(t, in)
	if s.starts != 2 {
		t.Fatalf("the buffered batch did not start its fsync: %d started", s.starts)
	}
	s.finish(in)
	if !c2.Done || !c3.Done || in.Durable() != base+3 {
		t.Fatalf("after the second fsync: calls done %v %v, durable %d; want both, %d", c2.Done, c3.Done, in.Durable(), base+3)
	}
	if len(h.batches) != 2 || h.batches[0] != 1 || h.batches[1] != 2 {
		t.Fatalf("Synced hook saw batches %v, want [1 2]", h.batches)
	}
	if v, _, ok := in.Get(sim.Key("c")); !ok || len(v) == 0 {
		t.Fatal("key c is missing after its call was answered")
	}
}

// TestSyncerFailure: a failed fsync fails the calls it covered and the ones
// buffered behind it, and stops the instance.
func TestSyncerFailure(t *testing.T) {
	s, h := &heldSyncer{t: t}, &syncedHook{}
	in := openPipelined(t, s, h)
	c1, c2 := setCall(t, "a"), setCall(t, "b")
	in.Submit(c1)
	stepAll(t, in)
	in.Submit(c2)
	stepAll(t, in)
	s.fail = errors.New("disk on fire")
	s.finish(in)
	var fe *journal.FatalError
	for i, c := range []*engine.Call{c1, c2} {
		if !c.Done || !errors.As(c.Err, &fe) {
			t.Fatalf("call %d: done %v, error %v; want a *journal.FatalError", i+1, c.Done, c.Err)
		}
	}
	if st := in.Status(); st.Fatal == nil {
		t.Fatal("the instance did not stop after a failed fsync")
	}
}

// TestSyncerSettle: Sync (and Close) with an fsync in flight wait for it
// and then make everything appended durable, inline.
func TestSyncerSettle(t *testing.T) {
	s, h := &heldSyncer{t: t}, &syncedHook{}
	in := openPipelined(t, s, h)
	c1, c2 := setCall(t, "a"), setCall(t, "b")
	in.Submit(c1)
	stepAll(t, in)
	in.Submit(c2)
	stepAll(t, in)
	if !in.Sync() {
		t.Fatal("Sync found nothing to do")
	}
	if !c1.Done || !c2.Done || in.Durable() != in.LastPos() || s.sync != nil {
		t.Fatalf("after Sync: done %v %v, durable %d of %d, fsync still held %v", c1.Done, c2.Done, in.Durable(), in.LastPos(), s.sync != nil)
	}
	if s.starts != 1 || len(h.batches) != 2 {
		t.Fatalf("%d fsyncs started on the Syncer and %d batches reported; want 1 and 2 (the inline one)", s.starts, len(h.batches))
	}
	c3 := setCall(t, "c")
	in.Submit(c3)
	stepAll(t, in)
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if !c3.Done || c3.Err != nil || s.sync != nil {
		t.Fatalf("Close with an fsync in flight: call done %v (%v), fsync still held %v", c3.Done, c3.Err, s.sync != nil)
	}
}
