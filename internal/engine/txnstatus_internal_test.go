package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
)

// TestTxnStatusFile: runs are merged, the newest entry wins, a torn last
// entry is cut at open, and damage before the last entry is refused.
func TestTxnStatusFile(t *testing.T) {
	dir := t.TempDir()
	x, err := openTxnStatus(dir, "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	rec := func(pos uint64, origin string, oseq uint64) *journal.Record {
		return &journal.Record{Pos: pos, Kind: journal.KindLocal, Origin: origin, OSeq: oseq}
	}
	for i := uint64(1); i <= 1000; i++ {
		x.add(rec(2*i, "A", i))
		x.add(rec(2*i+1, "B", i))
	}
	if err := x.flush(2001); err != nil {
		t.Fatal(err)
	}
	if err := x.rolledBack(2001, []journal.TxID{{Origin: "A", OSeq: 999}, {Origin: "A", OSeq: 1000}}, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, TxnStatusFile))
	if err != nil {
		t.Fatal(err)
	}
	// 2 committed runs + mark, 1 rolled-back run + mark.
	if want := int64(5 * statusEntrySize); fi.Size() != want {
		t.Errorf("the index of 2,000 transactions and a rollback is %d bytes, want %d", fi.Size(), want)
	}
	check := func(x *txnStatus) {
		t.Helper()
		for _, c := range []struct {
			id   journal.TxID
			want uint8
		}{{journal.TxID{Origin: "A", OSeq: 1}, stCommitted}, {journal.TxID{Origin: "A", OSeq: 999}, stRolledBack},
			{journal.TxID{Origin: "B", OSeq: 1000}, stCommitted}, {journal.TxID{Origin: "B", OSeq: 1001}, 0}, {journal.TxID{Origin: "C", OSeq: 1}, 0}} {
			if got, _ := x.lookup(c.id); got != c.want {
				t.Errorf("lookup(%v) = %d, want %d", c.id, got, c.want)
			}
		}
	}
	check(x)

	path := filepath.Join(dir, TxnStatusFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 17)) // a torn append
	f.Close()
	y, err := openTxnStatus(dir, "A", "B")
	if err != nil {
		t.Fatalf("open with a torn last entry: %v", err)
	}
	check(y)
	if y.mark != 2001 {
		t.Errorf("mark %d after reopening, want 2001", y.mark)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(5*statusEntrySize) {
		t.Errorf("the torn entry was not cut: %d bytes", fi.Size())
	}

	data, _ := os.ReadFile(path)
	data[statusEntrySize+9] ^= 1
	os.WriteFile(path, data, 0o644)
	if _, err := openTxnStatus(dir, "A", "B"); err == nil || !strings.Contains(err.Error(), "is damaged at byte 40 (entry 2 of 5)") {
		t.Errorf("open of a damaged index: %v", err)
	}
}

// TestTxnStatusPositionsFreedByARollback: the transactions written at the
// positions a rollback freed are recorded, while running and after a
// reopen (the mark of the rollback is the newest, and lower). They were
// skipped as at or below the mark of the flush before the rollback, and
// answered unknown once retention had truncated them.
func TestTxnStatusPositionsFreedByARollback(t *testing.T) {
	dir := t.TempDir()
	x, err := openTxnStatus(dir, "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	own := func(pos, oseq uint64) *journal.Record {
		return &journal.Record{Pos: pos, Kind: journal.KindLocal, Origin: "A", OSeq: oseq}
	}
	for p := uint64(1); p <= 5; p++ {
		x.add(own(p, p))
	}
	if err := x.flush(5); err != nil {
		t.Fatal(err)
	}
	// A/3..A/5 rolled off; A/6..A/8 written at positions 3..5.
	if err := x.rolledBack(2, []journal.TxID{{Origin: "A", OSeq: 3}, {Origin: "A", OSeq: 4}, {Origin: "A", OSeq: 5}}, nil); err != nil {
		t.Fatal(err)
	}
	if y, err := openTxnStatus(dir, "A", "B"); err != nil {
		t.Fatal(err)
	} else if y.mark != 2 {
		t.Fatalf("reopened after the rollback, the mark is %d, want 2 (the rollback's): the journal after it is read back from there", y.mark)
	}
	for p := uint64(3); p <= 5; p++ {
		x.add(own(p, p+3))
	}
	check := func(when string, x *txnStatus) {
		t.Helper()
		for oseq, want := range map[uint64]uint8{2: stCommitted, 3: stRolledBack, 5: stRolledBack, 6: stCommitted, 8: stCommitted, 9: 0} {
			if got, _ := x.lookup(journal.TxID{Origin: "A", OSeq: oseq}); got != want {
				t.Errorf("%s: lookup(A/%d) = %d, want %d", when, oseq, got, want)
			}
		}
	}
	check("running", x)
	if err := x.flush(5); err != nil {
		t.Fatal(err)
	}
	y, err := openTxnStatus(dir, "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	check("reopened", y)
}

// TestTxnStatusSubjectOfARolledOffReprocess: a reprocess rolled off (a
// former liege's, rolled back as a vassal) no longer stands for its
// subject, which answers rolled back again, not reprocessed by a
// transaction that is gone.
func TestTxnStatusSubjectOfARolledOffReprocess(t *testing.T) {
	x, err := openTxnStatus(t.TempDir(), "A", "B")
	if err != nil {
		t.Fatal(err)
	}
	subject := journal.TxID{Origin: "A", OSeq: 2}
	rp := &journal.Record{Pos: 7, Kind: journal.KindReprocess, Origin: "A", OSeq: 16, Subject: subject}
	x.add(rp)
	if err := x.flush(7); err != nil {
		t.Fatal(err)
	}
	if st, by := x.lookup(subject); st != stReprocessed || by != rp.TxID() {
		t.Fatalf("before the rollback: lookup(%v) = %d by %v, want reprocessed by %v", subject, st, by, rp.TxID())
	}
	if err := x.rolledBack(6, []journal.TxID{rp.TxID()}, []*journal.Record{rp}); err != nil {
		t.Fatal(err)
	}
	if st, _ := x.lookup(subject); st != stRolledBack {
		t.Errorf("after its reprocess %v was rolled off: lookup(%v) = %d, want rolled back (%d)", rp.TxID(), subject, st, stRolledBack)
	}
	if st, _ := x.lookup(rp.TxID()); st != stRolledBack {
		t.Errorf("lookup(%v) = %d, want rolled back", rp.TxID(), st)
	}
}
