package liege_test

import (
	"context"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/testproc"
	"github.com/liege-db/liege/journal"
)

// soakRollBack rolls db (a lone instance) back over its newest n own
// transactions by hand, drops the ids of the pairs it removed from acked,
// and returns the TxIDs rolled back.
func soakRollBack(t *testing.T, db *liege.DB, acked map[int64]bool, n int) map[journal.TxID]bool {
	t.Helper()
	ctx := context.Background()
	s, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rolled := map[journal.TxID]bool{}
	var target uint64
	for oseq := s.HighOSeq; oseq > 0 && len(rolled) < n; oseq-- {
		id := journal.TxID{Origin: s.ID, OSeq: oseq}
		st, err := db.TxnStatus(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != liege.TxnCommitted || st.Record == nil {
			t.Fatalf("%v, among the newest transactions, is %s (record %v) before the rollback: want committed in the journal", id, st.State, st.Record != nil)
		}
		rolled[id], target = true, st.Record.Pos
	}
	if _, err := db.RollbackTo(ctx, target, "soak: an operator rollback"); err != nil {
		t.Fatal(err)
	}
	d, err := testproc.DumpPairs(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	gone := 0
	for id := range acked {
		if _, ok := d.A[id]; !ok {
			delete(acked, id)
			gone++
		}
	}
	if gone > n {
		t.Fatalf("rolling back %d transactions removed %d acknowledged pairs", n, gone)
	}
	return rolled
}

// checkEveryFate asks db about every own TxID it ever assigned, as GET
// /v1/txn does: each answers committed, or rolled_back for those in
// rolled, whatever retention removed; the next TxID is unknown. It
// returns how many were answered without their record (from the durable
// TxID index or a lost transaction file).
func checkEveryFate(t *testing.T, db *liege.DB, rolled map[journal.TxID]bool) (withoutRecord int) {
	t.Helper()
	ctx := context.Background()
	s, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for oseq := uint64(1); oseq <= s.HighOSeq+1; oseq++ {
		id := journal.TxID{Origin: s.ID, OSeq: oseq}
		want := liege.TxnCommitted
		switch {
		case rolled[id]:
			want = liege.TxnRolledBack
		case oseq > s.HighOSeq:
			want = liege.TxnUnknown
		}
		st, err := db.TxnStatus(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != want {
			t.Fatalf("TxnStatus(%v) = %s after the soak (the last position is %d), want %s: the TxID index lost it", id, st.State, s.LastPos, want)
		}
		if st.Record == nil && want != liege.TxnUnknown {
			withoutRecord++
		}
	}
	return withoutRecord
}
