package reconcile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

func txn(origin string, oseq uint64) journal.Record {
	return journal.Record{Kind: journal.KindLocal, Origin: origin, OSeq: oseq, Proc: "buy", Result: []byte{0xa4, 's', 'o', 'l', 'd'}}
}

func lost() *rollback.LostFile {
	peer := txn("A", 7)
	peer.Kind = journal.KindPeer
	return &rollback.LostFile{
		Header:  rollback.LostHeader{Instance: "B", Epoch: 3},
		Records: []journal.Record{txn("B", 4), peer, txn("B", 5), {Kind: journal.KindCheckpoint}, txn("B", 6)},
	}
}

// A liege's reprocess of one of B's transactions, rolled off at B, stays
// in B's log (its subject is pending again, DESIGN.md section 10); the
// liege's other records do not.
func TestBuildKeepsLiegeRecordsOfOwnSubjects(t *testing.T) {
	lf := lost()
	re := txn("A", 8)
	re.Kind, re.Subject = journal.KindPeer, journal.TxID{Origin: "B", OSeq: 2}
	lf.Records = append(lf.Records, re)
	l := Build(lf, "lost/x.ltf", "B", nil)
	if len(l.Entries) != 4 {
		t.Fatalf("entries = %d, want the 3 own transactions and the reprocess of B/2", len(l.Entries))
	}
	e := l.Entries[3]
	if e.Record.TxID() != re.TxID() || e.Subject() != re.Subject {
		t.Fatalf("last entry %v standing for %v, want A/8 standing for B/2", e.Record.TxID(), e.Subject())
	}
	if !l.Resolve(re.Subject) || l.PendingCount() != 3 {
		t.Fatalf("B/2 coming back left %d pending, want 3", l.PendingCount())
	}
}

// Both entries standing for one subject (an own reprocess of it and the
// peer's) are resolved when it comes back: the log completes.
func TestResolveMarksEveryEntryOfTheSubject(t *testing.T) {
	s := journal.TxID{Origin: "B", OSeq: 2}
	mine, theirs := txn("B", 9), txn("A", 8)
	mine.Kind, mine.Subject = journal.KindReprocess, s
	theirs.Kind, theirs.Subject = journal.KindPeer, s
	l := Build(&rollback.LostFile{Header: rollback.LostHeader{Instance: "B", Epoch: 4}, Records: []journal.Record{mine, theirs}}, "lost/y.ltf", "B", nil)
	if len(l.Entries) != 2 {
		t.Fatalf("entries = %d, want 2", len(l.Entries))
	}
	if !l.Resolve(s) || !l.Complete() || l.Resolve(s) {
		t.Fatalf("after B/2 came back: pending %d, want the log complete (and a second Resolve false)", l.PendingCount())
	}
}

func TestBuildFiltersLiegeRecordsAndMarksConflicts(t *testing.T) {
	l := Build(lost(), "lost/x.ltf", "B", map[journal.TxID]bool{{Origin: "B", OSeq: 4}: true})
	if len(l.Entries) != 3 {
		t.Fatalf("entries = %d, want the 3 own transactions", len(l.Entries))
	}
	for i, want := range []uint64{4, 5, 6} {
		e := l.Entries[i]
		if e.Record.Origin != "B" || e.Record.OSeq != want || e.Conflicting != (want == 4) {
			t.Fatalf("entry %d = %s conflicting=%v", i, e.Record.TxID(), e.Conflicting)
		}
	}
	if l.Epoch != 3 || l.Instance != "B" {
		t.Fatalf("log header %+v", l)
	}
}

func TestLogIsKeptDurablyUntilEveryTxIDCameBack(t *testing.T) {
	dir := t.TempDir()
	l := Build(lost(), "lost/x.ltf", "B", nil)
	if err := l.Save(dir); err != nil {
		t.Fatal(err)
	}
	if !l.Resolve(journal.TxID{Origin: "B", OSeq: 5}) || l.Resolve(journal.TxID{Origin: "B", OSeq: 5}) {
		t.Fatal("Resolve must report a pending TxID once")
	}
	if l.Resolve(journal.TxID{Origin: "A", OSeq: 7}) {
		t.Fatal("resolved a TxID the log does not hold")
	}
	if err := l.Save(dir); err != nil {
		t.Fatal(err)
	}
	logs, err := Load(dir)
	if err != nil || len(logs) != 1 {
		t.Fatalf("load: %v %v", logs, err)
	}
	p := logs[0].Pending()
	if len(p) != 2 || p[0].OSeq != 4 || p[1].OSeq != 6 || logs[0].Complete() {
		t.Fatalf("pending after reload = %v", p)
	}
	logs[0].Resolve(journal.TxID{Origin: "B", OSeq: 4})
	logs[0].Resolve(journal.TxID{Origin: "B", OSeq: 6})
	if !logs[0].Complete() {
		t.Fatal("not complete")
	}
	if err := logs[0].Save(dir); err != nil {
		t.Fatal(err)
	}
	if logs, _ := Load(dir); len(logs) != 0 {
		t.Fatalf("a complete log was kept: %d", len(logs))
	}
}

func TestDamagedLogRefused(t *testing.T) {
	dir := t.TempDir()
	l := Build(lost(), "lost/x.ltf", "B", nil)
	if err := l.Save(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, Dir, l.fileName())
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0x10
	os.WriteFile(path, b, 0o644)
	if _, err := Load(dir); err == nil {
		t.Fatal("a damaged log loaded")
	}
}

// PendingLog is a copy: resolving in it must not touch the log, and the
// log's index must still find its own entries after the copy was made.
func TestPendingLogIsACopy(t *testing.T) {
	l := &Log{Epoch: 3}
	for i := uint64(1); i <= 3; i++ {
		l.Entries = append(l.Entries, Entry{Record: journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: i}})
	}
	l.Resolve(journal.TxID{Origin: "B", OSeq: 1})
	p := l.PendingLog()
	if len(p.Entries) != 2 || p.Entries[0].Record.OSeq != 2 {
		t.Fatalf("pending copy = %+v", p.Entries)
	}
	if !p.Resolve(journal.TxID{Origin: "B", OSeq: 3}) || p.Entries[1].Done != true || l.Entries[2].Done {
		t.Fatalf("resolving the copy: copy %+v, log %+v", p.Entries, l.Entries)
	}
	if !l.Resolve(journal.TxID{Origin: "B", OSeq: 3}) || l.PendingCount() != 1 {
		t.Fatalf("the log lost track of its own entries: %+v", l.Entries)
	}
}
