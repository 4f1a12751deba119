package main

import (
	"context"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/inspect/inspecttest"
)

// TestTruncatedJournal: inspect and verify on a journal whose front
// retention truncated say where it begins, and verify replays it from the
// checkpoint that holds the positions before it.
func TestTruncatedJournal(t *testing.T) {
	dir := t.TempDir()
	db, err := liege.Open(liege.Options{Dir: dir, ID: inspecttest.ID, CheckpointEvery: 200, JournalKeep: 1, SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := inspecttest.Register(db); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 1200; i++ {
		if _, err := db.Call(ctx, "book", inspecttest.BookArgs{Show: "gala", Seat: i, Name: "n"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	r := ok(t, "verify", dir)
	if !strings.Contains(r.stdout, "the journal begins at position ") || !strings.Contains(r.stdout, "replay starts from checkpoint") ||
		!strings.HasSuffix(r.stdout, "\nOK\n") {
		t.Fatalf("verify of a truncated journal:\n%v", r)
	}
	if strings.Contains(r.stdout, "journal positions 1..") {
		t.Fatalf("the journal was not truncated:\n%v", r)
	}
	r = ok(t, "inspect", dir)
	if !strings.Contains(r.stderr, "the journal begins at position ") {
		t.Fatalf("inspect of a truncated journal does not say where it begins:\n%v", r)
	}
}
