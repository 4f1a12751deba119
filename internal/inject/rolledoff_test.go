package inject

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// writeLost writes the lost file of instance id's rollback to epoch over
// positions from..to: own transactions at the positions in own, peer
// records elsewhere.
func writeLost(t *testing.T, dir, id string, epoch, from, to uint64, own ...uint64) {
	t.Helper()
	enc := journal.NewEncoder()
	read := func(pos uint64) ([]byte, error) {
		r := &journal.Record{Pos: pos, Epoch: epoch - 1, Kind: journal.KindPeer, Origin: "peer", OSeq: pos}
		for _, p := range own {
			if p == pos {
				r.Kind, r.Origin = journal.KindLocal, id
			}
		}
		f, err := enc.Frame(r)
		return append([]byte(nil), f...), err
	}
	hdr := rollback.LostHeader{Instance: id, Epoch: epoch, PrevEpoch: epoch - 1, From: from, To: to}
	if err := rollback.WriteLostFile(filepath.Join(dir, rollback.LostFileName(id, epoch, from, to)), hdr, read); err != nil {
		t.Fatal(err)
	}
}

// TestRollbacksOf: a rollback whose epoch record a later rollback rolled
// off still counts, by its lost file; one in both counts once; own
// transactions are told from the peer records rolled off with them;
// another instance's lost files do not count; a lost file with a mangled
// name is an error.
func TestRollbacksOf(t *testing.T) {
	dir := t.TempDir()
	// Epoch 2 (20-29) was rolled off by epoch 3 (18-24): only its lost
	// file is left. Epoch 1 is in the journal and has its file.
	writeLost(t, dir, "B", 1, 10, 10, 10)
	writeLost(t, dir, "B", 2, 20, 29, 20, 21, 25)
	writeLost(t, dir, "B", 3, 18, 24, 18)
	writeLost(t, dir, "A", 7, 1, 5, 1, 2, 3)
	recs := []journal.Record{
		{Pos: 10, Epoch: 1, Kind: journal.KindEpoch, Rollback: &journal.RollbackInfo{Records: 1}},
		{Pos: 11, Epoch: 1, Kind: journal.KindLocal},
		{Pos: 18, Epoch: 3, Kind: journal.KindEpoch, Rollback: &journal.RollbackInfo{Records: 7}},
	}
	got, err := rollbacksOf(dir, "B", recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint64]rolledOff{1: {1, 1}, 2: {10, 3}, 3: {7, 1}}; !maps.Equal(got, want) {
		t.Fatalf("rollbacks %v, want %v", got, want)
	}
	// Without the lost directory, the journal alone; own unknown.
	got, err = rollbacksOf(t.TempDir(), "B", recs)
	if want := map[uint64]rolledOff{1: {1, -1}, 3: {7, -1}}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("no lost files: %v, %v; want %v", got, err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, rollback.LostDir, "lost-B-e4-x.ltf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rollbacksOf(dir, "B", recs); err == nil {
		t.Fatal("a mangled lost file name was counted silently")
	}
}
