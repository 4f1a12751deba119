package engine_test

import (
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
)

// TestPromotedReconcileSurvivesACrash: a vassal promoted with a pending
// reconciliation log reconciles it itself; a crash before the reprocess
// or correction is durable must leave the subject pending, not forgotten.
// The engine used to mark the log done on disk as soon as the record was
// appended, so a crash before the fsync lost every subject in the log
// (liege inject --sim --engine, seeds 248 and 280 of the first 300: an
// acknowledged transaction was in neither journal).
func TestPromotedReconcileSurvivesACrash(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		c := &clock{ms: time.Now().UnixMilli()}
		a := newNode(t, c, "A", "B", engine.RoleLiege)
		b := newNode(t, c, "B", "A", engine.RoleVassal)
		a.in.LinkUp()
		b.in.LinkUp()
		pump(t, c, a, b)

		// A conflict made while the link is down: B rolls its
		// transaction back and keeps it in a reconciliation log.
		a.in.LinkDown()
		b.in.LinkDown()
		a.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "A"})
		bc := b.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "B"})
		a.in.LinkUp()
		b.in.LinkUp()
		for range 50 {
			for b.in.Step() {
			}
			frames, _ := b.in.Outbox()
			for _, f := range frames {
				_ = a.in.Deliver(f)
			}
			for a.in.Step() {
			}
			if b.in.Status().Epoch > 0 {
				break
			}
			frames, _ = a.in.Outbox()
			for _, f := range frames {
				_ = b.in.Deliver(f)
			}
		}
		if st := b.in.Status(); st.Epoch != 1 || st.ReconPending != 1 {
			t.Fatalf("seed %d: B after its rollback: epoch %d, %d reconciliations pending; want 1 and 1", seed, st.Epoch, st.ReconPending)
		}

		// The liege is gone: B is promoted and reconciles its log itself,
		// then crashes before the fsync.
		a.in.LinkDown()
		b.in.LinkDown()
		if err := b.in.Promote(true); err != nil {
			t.Fatal(err)
		}
		if !b.in.Step() {
			t.Fatal("the promoted B has no reconciliation to run")
		}
		if st := b.in.Status(); st.ReconPending != 0 || st.Durable == st.LastPos {
			t.Fatalf("seed %d: after one Step B has %d pending, durable %d of %d; want the reconciliation run, not synced", seed, st.ReconPending, st.Durable, st.LastPos)
		}
		b.crash(seed)

		if pos, _ := b.in.Locate(bc.Result.TxID); pos == 0 && b.in.Status().ReconPending != 1 {
			t.Fatalf("seed %d: after the crash B neither holds %v nor has it pending: an acknowledged transaction is lost", seed, bc.Result.TxID)
		}
		for i := 0; b.in.Step(); i++ {
			if i > 100 {
				t.Fatal("B still busy after 100 steps")
			}
		}
		if pos, _ := b.in.Locate(bc.Result.TxID); pos == 0 {
			t.Fatalf("seed %d: B restarted as liege and did not reconcile %v", seed, bc.Result.TxID)
		}
	}
}
