package liege_test

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/inspect/inspecttest"
)

// dirBytes is every regular file under dir with its contents.
func dirBytes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return out
}

// TestOpenRefusesDamagedAckedTail is the start-up-damage case of issue 13: a
// clean stop (which writes a checkpoint at the last position), then damage
// to the last record. That record was acknowledged (the checkpoint holds
// it), so Open refuses with ErrLostAcked, and before changing any file:
// the damaged record is still there for the operator to restore or inspect.
func TestOpenRefusesDamagedAckedTail(t *testing.T) {
	dir := t.TempDir()
	f := inspecttest.Build(t, dir)
	inspecttest.FlipFrameByte(t, dir, f.Last)
	before := dirBytes(t, dir)

	db, err := liege.Open(liege.Options{Dir: dir, ID: inspecttest.ID})
	if err == nil {
		db.Close()
		t.Fatal("Open of a journal whose acknowledged last record is damaged succeeded")
	}
	if !errors.Is(err, liege.ErrLostAcked) {
		t.Errorf("Open: %v; want ErrLostAcked", err)
	}
	for _, s := range []string{"torn tail at position 7", "holds the state up to position 7", "nothing was changed", "move every checkpoint at or above position 7"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the refusal does not say %q:\n%v", s, err)
		}
	}
	after := dirBytes(t, dir)
	if !maps.Equal(before, after) {
		t.Errorf("the refused Open changed the directory: files before %v, after %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
		for name, b := range before {
			if after[name] != b {
				t.Errorf("%s changed (%d bytes before, %d after)", name, len(b), len(after[name]))
			}
		}
	}
}
