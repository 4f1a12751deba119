package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestPruneKeeping(t *testing.T) {
	tests := []struct {
		name  string
		have  []uint64
		max   uint64
		below uint64
		want  []uint64
	}{
		{"the newest two", []uint64{10, 20, 30, 40}, 100, 0, []uint64{30, 40}},
		{"and the newest below the floor", []uint64{10, 20, 30, 40}, 100, 25, []uint64{20, 30, 40}},
		{"the floor above them all: nothing more", []uint64{10, 20, 30, 40}, 100, 50, []uint64{30, 40}},
		{"above maxPos goes whatever the floor", []uint64{10, 20, 30, 40}, 35, 25, []uint64{20, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, Dir), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.have {
				if err := os.WriteFile(filepath.Join(dir, Dir, "checkpoint-"+pad(p)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := PruneKeeping(dir, 2, tt.max, tt.below); err != nil {
				t.Fatal(err)
			}
			files, err := List(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, f := range files {
				got = append(got, f.Pos)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("kept %v, want %v", got, tt.want)
			}
		})
	}
}

func pad(p uint64) string { return fmt.Sprintf("%020d", p) }
