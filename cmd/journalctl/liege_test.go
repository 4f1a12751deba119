package main

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/inspect/inspecttest"
)

// TestRollbackRefusesAStoppedLiege is issue 13's report, end to end: a
// liege's directory written by the engine itself (not a synthetic journal)
// with a few transactions, stopped, then `journalctl rollback --to 4
// --yes`. It is refused, says why and what to do instead, and changes no
// file.
func TestRollbackRefusesAStoppedLiege(t *testing.T) {
	dir := t.TempDir()
	db, err := liege.Open(liege.Options{Dir: dir, ID: inspecttest.ID, PeerID: "B", Role: liege.RoleLiege, Cluster: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := inspecttest.Register(db); err != nil {
		t.Fatal(err)
	}
	for _, s := range inspecttest.Steps {
		if _, err := db.Call(context.Background(), s.Proc, s.Args); err != nil {
			t.Fatalf("call %s: %v", s.Proc, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := files(t, dir)
	fails(t, 1, []string{"refusing to roll back " + dir, "the instance is the liege (role record at position 2)",
		"a liege never rolls back, by hand either", "with a transaction of its own (its correction)", "make it the vassal first"},
		"rollback", dir, "--to", "4", "--yes")
	if after := files(t, dir); !maps.Equal(before, after) {
		t.Errorf("the refused rollback changed %s", dir)
	}
}

// files is every regular file under dir with its contents.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
