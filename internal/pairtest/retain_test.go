package pairtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/pairtest"
)

// TestDeletedVassalIsSeeded: the vassal's directory is deleted while the
// liege keeps committing and truncating its journal. Restarted empty, the
// vassal is seeded from the liege's checkpoint, catches up from the
// stream and takes calls again: both hold every acknowledged write (each
// call writes its own key) and the same state.
func TestDeletedVassalIsSeeded(t *testing.T) {
	p := pairtest.New(t, register, pairtest.WithOptions(func(o *liege.Options) {
		o.CheckpointEvery, o.JournalKeep, o.SegmentSize = 100, 1, 16<<10
	}))
	ctx := context.Background()
	n := 0
	put := func(db *liege.DB) {
		n++
		p.Call(db, "put", putArgs{K: fmt.Sprintf("k%04d", n), V: db.ID()})
	}
	for i := 0; i < 300; i++ {
		put(p.A())
		put(p.B())
	}
	p.Idle()
	a := p.A()
	p.Partition(true)     // the vassal is away while the liege goes on,
	p.RestartEmpty(p.B()) // and its directory is gone: it comes back empty
	for i := 0; i < 300; i++ {
		put(a)
	}
	if err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	aDir, _ := p.Dirs()
	if _, err := os.Stat(filepath.Join(aDir, "journal-front")); err != nil {
		t.Fatalf("the liege did not truncate its journal: %v", err)
	}
	p.Partition(false)
	p.Idle()
	if _, bDir := p.Dirs(); !fileExists(filepath.Join(bDir, "journal-front")) {
		t.Fatal("the vassal caught up without being seeded: the liege's journal still held what it needed")
	}
	for i := 0; i < 20; i++ {
		put(p.B())
		put(a)
	}
	p.Idle()
	ha, err := a.Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := p.B().Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ha != hb {
		t.Fatalf("state hashes differ after seeding: A %x, B %x", ha[:8], hb[:8])
	}
	for _, db := range []*liege.DB{a, p.B()} {
		if got := len(p.State(db)); got != n {
			t.Fatalf("%s holds %d keys, want the %d acknowledged writes", db.ID(), got, n)
		}
	}
	// The seeded vassal restarts from its installed checkpoint.
	p.Restart(p.B())
	p.Idle()
	if hb, err := p.B().Hash(ctx); err != nil || hb != ha {
		t.Fatalf("the seeded vassal after a restart: hash %x, %v; want %x", hb[:8], err, ha[:8])
	}
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }
