package engine_test

import (
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
)

// catchUpPair returns a connected pair in which the vassal has just rolled
// back on a liege transaction that set k (its own set of k rolled off),
// and a call submitted at the vassal after the rollback that reads k and
// sets it again: the call that, run before the liege's transaction is back,
// conflicts with it once more.
func catchUpPair(t *testing.T) (a, b *node, held *engine.Call, ended *[]string) {
	t.Helper()
	c := &clock{ms: time.Now().UnixMilli()}
	ended = new([]string)
	a = newNode(t, c, "A", "B", engine.RoleLiege)
	b = newNode(t, c, "B", "A", engine.RoleVassal, func(cfg *engine.Config) {
		cfg.Hooks.CatchUpEnded = func(outcome string) { *ended = append(*ended, outcome) }
	})
	t.Cleanup(func() { a.in.Close(); b.in.Close() })
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	b.written(sim.Op{Op: "get", K: "k"}, sim.Op{Op: "set", K: "k", V: "B"})
	a.call(sim.Op{Op: "set", K: "k", V: "A"})
	move(t, a, b)
	for b.in.Step() {
	}
	if st := b.in.Status(); st.Epoch != 1 || st.Node.RollingBack {
		t.Fatalf("the vassal did not roll back on the liege's set of k: epoch %d, %+v", st.Epoch, st.Node)
	}
	held = b.opsCall(sim.Op{Op: "get", K: "k"}, sim.Op{Op: "set", K: "k", V: "B again"})
	b.in.Submit(held)
	for b.in.Step() {
	}
	if len(*ended) != 0 {
		t.Fatalf("a wait ended (%v) before the test went on", *ended)
	}
	return a, b, held, ended
}

// wantEnded fails unless the waits ended once, for outcome.
func wantEnded(t *testing.T, ended []string, outcome string) {
	t.Helper()
	if len(ended) != 1 || ended[0] != outcome {
		t.Fatalf("the waits ended %v, want once, %q", ended, outcome)
	}
}

// After a vassal's rollback on a liege transaction, its calls wait until
// the liege's stream has brought that transaction back (DESIGN.md section
// 7, step 3), so they run on a state that holds it: a call that reads and
// sets the same key then follows it in the path instead of conflicting
// with it again and rolling the vassal back a second time.
func TestVassalCallsWaitForTheLiegeAfterARollback(t *testing.T) {
	a, b, held, ended := catchUpPair(t)
	if held.Done {
		t.Fatalf("the vassal answered a call (%v, %v) before the liege's transaction it rolled back for came back", held.Result.TxID, held.Err)
	}
	// Frames only, no tick: the wait ends because the transaction came
	// back, not because its budget ran out.
	for i := 0; !held.Done; i++ {
		if i == 20 {
			t.Fatalf("the held call is not answered after %d exchanges of frames; vassal %+v", i, b.in.Status().Node)
		}
		for a.in.Step() {
		}
		move(t, a, b)
		for b.in.Step() {
		}
		move(t, b, a)
	}
	if held.Err != nil {
		t.Fatalf("the held call failed: %v", held.Err)
	}
	wantEnded(t, *ended, "caught_up")
	c := &clock{}
	pump(t, c, a, b)
	if st := b.in.Status(); st.Epoch != 1 {
		t.Fatalf("the vassal rolled back again (epoch %d): the held call ran before the liege's set of k was back", st.Epoch)
	}
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ")
	}
	if v, _, _ := b.in.Get(sim.Key("k")); string(v) == "" {
		t.Fatal("k is absent at the vassal")
	}
}

// The wait is bounded: when the liege's transaction does not come back (its
// frames are lost), the calls go on after a few ticks; a link that goes
// down ends it at once, and so does Close.
func TestVassalCatchUpWaitIsBounded(t *testing.T) {
	t.Run("ticks", func(t *testing.T) {
		_, b, held, ended := catchUpPair(t)
		for i := 0; !held.Done; i++ {
			if i == 10 {
				t.Fatalf("the held call is not answered after %d ticks with nothing from the liege", i)
			}
			b.in.Tick()
			for b.in.Step() {
			}
			b.in.Outbox() // lost
		}
		if held.Err != nil {
			t.Fatalf("the held call failed: %v", held.Err)
		}
		wantEnded(t, *ended, "budget")
	})
	t.Run("close", func(t *testing.T) {
		_, b, held, ended := catchUpPair(t)
		if err := b.in.Close(); err != nil {
			t.Fatal(err)
		}
		if !held.Done || held.Err != nil {
			t.Fatalf("after Close the held call is done %v, error %v; Close finishes what was submitted", held.Done, held.Err)
		}
		wantEnded(t, *ended, "closed")
	})
	t.Run("link down", func(t *testing.T) {
		_, b, held, ended := catchUpPair(t)
		b.in.LinkDown()
		for b.in.Step() {
		}
		if !held.Done || held.Err != nil {
			t.Fatalf("after the link went down the held call is done %v, error %v; want it answered", held.Done, held.Err)
		}
		wantEnded(t, *ended, "link_down")
	})
}
