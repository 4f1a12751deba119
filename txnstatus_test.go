package liege_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/inspect/inspecttest"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// TestTxnStatusAfterRetention: GET /v1/txn's TxnStatus answers every TxID
// of an instance whose journal front was truncated and whose lost
// transaction files were removed, as retention does: committed ones stay
// committed, a rolled-back one stays rolled back, and a TxID never
// assigned stays unknown.
func TestTxnStatusAfterRetention(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db := inspecttest.Open(t, dir)
	var ids []journal.TxID
	var pos []uint64
	for _, s := range inspecttest.Steps[:4] {
		res, err := db.Call(ctx, s.Proc, s.Args)
		if err != nil {
			t.Fatal(err)
		}
		ids, pos = append(ids, res.TxID), append(pos, res.Pos)
	}
	if _, err := db.RollbackTo(ctx, pos[3], "test"); err != nil {
		t.Fatal(err)
	}
	last, err := db.Call(ctx, inspecttest.Steps[5].Proc, inspecttest.Steps[5].Args)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // a checkpoint at the last position
		t.Fatal(err)
	}

	// Retention: the journal's front below the checkpoint, and the lost
	// transaction files.
	l, err := journal.OpenFileLog(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateFront(last.Pos); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, rollback.LostDir)); err != nil {
		t.Fatal(err)
	}

	db, err = liege.Open(liege.Options{Dir: dir, ID: inspecttest.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, want := range map[journal.TxID]liege.TxnState{
		ids[0]: liege.TxnCommitted, ids[2]: liege.TxnCommitted, ids[3]: liege.TxnRolledBack, last.TxID: liege.TxnCommitted,
		{Origin: inspecttest.ID, OSeq: 99}: liege.TxnUnknown,
	} {
		st, err := db.TxnStatus(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != want {
			t.Errorf("TxnStatus(%v) = %s, want %s", id, st.State, want)
		}
		if id != last.TxID && st.Record != nil {
			t.Errorf("TxnStatus(%v) has the record at position %d: retention removed nothing", id, st.Record.Pos)
		}
	}
}

// TestTxnStatusWhileRetentionRuns: in a running instance whose journal
// front retention keeps truncating, an old TxID answers its fate from the
// durable TxID index, as after a restart; it used to fail, reading the
// position the in-memory index still had of it.
func TestTxnStatusWhileRetentionRuns(t *testing.T) {
	ctx := context.Background()
	db := openWithSet(t, liege.Options{Dir: t.TempDir(), ID: "A", CheckpointEvery: 500, SegmentSize: 64 << 10, JournalKeep: 128 << 10})
	var first, last journal.TxID
	for i := 0; ; i++ {
		res, err := db.Call(ctx, "set", string(rune('a'+i%26)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res.TxID
		}
		last = res.TxID
		if st, err := db.TxnStatus(ctx, first); err != nil || st.Record == nil || i > 50_000 {
			if i > 50_000 {
				t.Fatalf("after %d calls retention has not truncated the journal's front (TxnStatus of %v: %+v)", i, first, st)
			}
			break // the journal no longer holds first's record, or the read of it failed
		}
	}
	for id, want := range map[journal.TxID]liege.TxnState{first: liege.TxnCommitted, last: liege.TxnCommitted,
		{Origin: "A", OSeq: last.OSeq + 1}: liege.TxnUnknown} {
		st, err := db.TxnStatus(ctx, id)
		if err != nil {
			t.Fatalf("TxnStatus(%v) while retention runs: %v", id, err)
		}
		if st.State != want {
			t.Errorf("TxnStatus(%v) = %s, want %s", id, st.State, want)
		}
	}
}
