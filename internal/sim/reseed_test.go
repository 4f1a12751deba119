package sim

import (
	"bytes"
	"strings"
	"testing"
)

// TestRetentionPromoteSeeds pins the retaining seeds that failed once
// promotes ran with retention (issue 13's hole): in seed 132 the old
// liege, vassal after a promote, rolls back below the new liege's journal
// front and must be re-seeded although it is not empty; in seed 684 a
// rollback reaches the journal's truncated front and must take the peer
// watermark the front file kept, not one inside the new liege's OSeq gap.
func TestRetentionPromoteSeeds(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		want string // a line the trace must hold
	}{
		{132, "A seeded from B's checkpoint"},
		{684, "B promoted"},
	} {
		var trace bytes.Buffer
		r := Run(Options{Seed: tc.seed, Steps: 300, Trace: &trace})
		if r.Failure != nil {
			failed(t, &r, "")
		}
		if !strings.Contains(trace.String(), tc.want) {
			t.Fatalf("seed %d no longer exercises what it pins: its trace has no %q", tc.seed, tc.want)
		}
	}
}
