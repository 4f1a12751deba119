package engine

import (
	"reflect"
	"testing"
	"time"
)

func TestRetainBefore(t *testing.T) {
	tests := []struct {
		name string
		in   RetainInput
		want uint64
	}{
		{"no checkpoint: nothing goes", RetainInput{First: 1, Durable: 1000}, 0},
		{"below the newest checkpoint, which stays", RetainInput{First: 1, Durable: 1000, Checkpoints: []uint64{300, 600}}, 600},
		{"a checkpoint not yet durable is not used", RetainInput{First: 1, Durable: 500, Checkpoints: []uint64{300, 600}}, 300},
		{"the peer still needs an own transaction", RetainInput{First: 1, Durable: 1000, Checkpoints: []uint64{300, 600}, OwnFloor: 700}, 600},
		{"own floor below the newest checkpoint: the one below it, as a rollback may remove the newer",
			RetainInput{First: 1, Durable: 1000, Checkpoints: []uint64{300, 600}, OwnFloor: 450}, 300},
		{"own floor at a checkpoint: a rollback from there removes it",
			RetainInput{First: 1, Durable: 1000, Checkpoints: []uint64{300, 600}, OwnFloor: 600}, 300},
		{"own floor below every checkpoint: nothing goes", RetainInput{First: 1, Durable: 1000, Checkpoints: []uint64{300, 600}, OwnFloor: 200}, 0},
		{"the keep floor wins", RetainInput{First: 1, Durable: 1000, Checkpoints: []uint64{600}, KeepFrom: 400}, 400},
		{"the keep floor at the start: nothing goes", RetainInput{First: 1, Durable: 1000, Checkpoints: []uint64{600}, KeepFrom: 1}, 0},
		{"already truncated that far", RetainInput{First: 600, Durable: 1000, Checkpoints: []uint64{600}}, 0},
		{"too small an advance", RetainInput{First: 500, Durable: 1000, Checkpoints: []uint64{600}, MinAdvance: 256}, 0},
		{"a large enough advance", RetainInput{First: 300, Durable: 1000, Checkpoints: []uint64{600}, MinAdvance: 256}, 600},
		{"every bound at once: the lowest", RetainInput{First: 10, Durable: 1000, Checkpoints: []uint64{200, 500, 900}, OwnFloor: 800, KeepFrom: 450}, 450},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetainBefore(tt.in); got != tt.want {
				t.Fatalf("RetainBefore(%+v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestKeepFrom(t *testing.T) {
	marks := []byteMark{{pos: 11, cum: 0}, {pos: 50, cum: 1000}, {pos: 90, cum: 2000}, {pos: 130, cum: 3000}}
	tests := []struct {
		name  string
		marks []byteMark
		total uint64
		keep  int64
		want  uint64
	}{
		{"no floor", marks, 3500, 0, 0},
		{"no marks yet", nil, 0, 100, 1},
		{"less than keep since open: nothing goes", marks, 3500, 4000, 1},
		{"exactly keep after the first mark", marks, 3500, 3500, 11},
		{"the newest mark with keep bytes after it", marks, 3500, 1500, 90},
		{"a small floor", marks, 3500, 1, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeepFrom(tt.marks, tt.total, tt.keep); got != tt.want {
				t.Fatalf("KeepFrom(total %d, keep %d) = %d, want %d", tt.total, tt.keep, got, tt.want)
			}
		})
	}
}

func TestExpiredSideFiles(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	old, young := now.Add(-48*time.Hour), now.Add(-time.Hour)
	files := []SideFile{
		{Path: "lost/e1", ModTime: old, Epoch: 1, Pos: 10, Lost: true},
		{Path: "recon/done-e1", ModTime: old, Epoch: 1},
		{Path: "lost/e2", ModTime: young, Epoch: 2, Lost: true},
		{Path: "recon/done-e2", ModTime: old, Epoch: 2},
		{Path: "lost/e3", ModTime: old, Epoch: 3, Lost: true},           // reconciliation not done
		{Path: "lost/e4", ModTime: old, Epoch: 4, Pos: 40, Lost: true},  // done marker young: done, the file old
		{Path: "lost/e7", ModTime: old, Epoch: 7, Pos: 100, Lost: true}, // its epoch record still in the journal
		{Path: "recon/done-e7", ModTime: old, Epoch: 7},
		{Path: "recon/done-e4", ModTime: young, Epoch: 4},
		{Path: "lost/e5", ModTime: old, Epoch: 5, Lost: true}, // still pending in memory
		{Path: "recon/done-e5", ModTime: old, Epoch: 5},
		{Path: "recon/done-e6", ModTime: old, Epoch: 6}, // its lost file already gone
	}
	done := map[uint64]bool{1: true, 2: true, 4: true, 5: true, 6: true, 7: true}
	pending := map[uint64]bool{5: true}
	tests := []struct {
		name string
		keep time.Duration
		want []string
	}{
		{"keep for ever", -1, nil},
		{"a day", 24 * time.Hour, []string{"lost/e1", "lost/e4", "recon/done-e1", "recon/done-e6"}},
		{"a week: nothing is that old", 7 * 24 * time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExpiredSideFiles(files, done, pending, 50, now, tt.keep)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ExpiredSideFiles(keep %v) = %q, want %q", tt.keep, got, tt.want)
			}
		})
	}
}
