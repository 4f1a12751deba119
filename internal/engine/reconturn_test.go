package engine_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// A liege reconciling a long log (the end of a long partition) still takes
// calls: a call submitted as the log arrives commits long before the last
// record of the log is reconciled. It waited for all of them, a million
// records after a long partition: seconds with no call taken, and no
// reprocess shipped either.
func TestLiegeTakesCallsWhileReconciling(t *testing.T) {
	const rolled = 400
	c := &clock{ms: time.Now().UnixMilli()}
	var logs bytes.Buffer
	a := newNode(t, c, "A", "B", engine.RoleLiege, func(cfg *engine.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil)) // Info and up, as liege serve logs
	})
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	a.in.LinkDown()
	b.in.LinkDown()
	a.call(sim.Op{Op: "set", K: "seat", V: "A"})
	b.call(sim.Op{Op: "set", K: "seat", V: "B"}) // conflicts: the rest are rolled off after it
	var last journal.TxID
	for i := range rolled - 1 {
		last = b.call(sim.Op{Op: "set", K: fmt.Sprint("b", i), V: "v"}).Result.TxID
	}

	// Move frames until the vassal's reconciliation log reaches the liege.
	a.in.LinkUp()
	b.in.LinkUp()
	arrived := false
	for round := 0; !arrived; round++ {
		if round == 200 {
			t.Fatal("no reconciliation log reached the liege in 200 rounds")
		}
		exchangeFrames(t, a, b, func(f *link.Frame) { arrived = arrived || f.Kind == link.KindReconLog })
		tick(c, a, b)
	}
	if pos, _ := a.in.Locate(last); pos != 0 {
		t.Fatalf("the liege reconciled %v before stepping: the test does not see the order", last)
	}
	call := a.opsCall(sim.Op{Op: "set", K: "new", V: "call"})
	a.in.Submit(call)
	for steps := 0; !call.Done; steps++ {
		if !a.in.Step() {
			t.Fatalf("the liege idles after %d steps with the call not answered", steps)
		}
	}
	if call.Err != nil {
		t.Fatal(call.Err)
	}
	if pos, _ := a.in.Locate(last); pos != 0 {
		t.Fatalf("the call was answered only after the whole log was reconciled (%v at %d)", last, pos)
	}
	pump(t, c, a, b)
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ after the reconciliation")
	}
	if st := b.in.Status(); st.ReconPending != 0 {
		t.Fatalf("the vassal still has %d to reconcile", st.ReconPending)
	}
	// One summary line for the run, not a line a record.
	out := logs.String()
	if n := strings.Count(out, `msg="reconciled rolled-off transactions" instance=A records=400 `); n != 1 {
		t.Errorf("the liege logged %d summaries of the 400 records, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, `msg="reconciled: re-executed`); n > 0 {
		t.Errorf("the liege logged %d lines a record at Info:\n%s", n, out)
	}
}
