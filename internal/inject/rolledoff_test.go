package inject

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// TestRollbacksOf: a rollback whose epoch record a later rollback rolled
// off still counts, by its lost file; one in both counts once; another
// instance's lost files do not count; a lost file with a mangled name is
// an error.
func TestRollbacksOf(t *testing.T) {
	dir := t.TempDir()
	lost := filepath.Join(dir, rollback.LostDir)
	if err := os.MkdirAll(lost, 0o755); err != nil {
		t.Fatal(err)
	}
	touch := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Epoch 2 (8266-8560) was rolled off by epoch 3 (8260-8273): only its
	// lost file is left. Epoch 1 is in the journal and has its file.
	touch(rollback.LostFileName("B", 1, 5933, 5933))
	touch(rollback.LostFileName("B", 2, 8266, 8560))
	touch(rollback.LostFileName("B", 3, 8260, 8273))
	touch(rollback.LostFileName("A", 7, 1, 100))
	recs := []journal.Record{
		{Pos: 5933, Epoch: 1, Kind: journal.KindEpoch, Rollback: &journal.RollbackInfo{Records: 1}},
		{Pos: 5934, Epoch: 1, Kind: journal.KindLocal},
		{Pos: 8260, Epoch: 3, Kind: journal.KindEpoch, Rollback: &journal.RollbackInfo{Records: 14}},
	}
	got, err := rollbacksOf(dir, "B", recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint64]int{1: 1, 2: 295, 3: 14}; !maps.Equal(got, want) {
		t.Fatalf("rollbacks %v, want %v", got, want)
	}
	// Without the lost directory, the journal alone.
	got, err = rollbacksOf(t.TempDir(), "B", recs)
	if err != nil || !maps.Equal(got, map[uint64]int{1: 1, 3: 14}) {
		t.Fatalf("no lost files: %v, %v; want epochs 1 and 3 from the journal", got, err)
	}
	touch(filepath.Join(rollback.LostDir, "lost-B-e4-x.ltf"))
	if _, err := rollbacksOf(dir, "B", recs); err == nil {
		t.Fatal("a mangled lost file name was counted silently")
	}
}
