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
