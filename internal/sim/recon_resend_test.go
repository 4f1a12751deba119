package sim

import (
	"bytes"
	"strings"
	"testing"
)

// TestReconResendSeeds pins seeds in which a reconciliation log frame is
// lost while the link stays up (a partition one way, or a drop: no
// disconnect, so no handshake resends it) and the vassal resends it on its
// tick budget (replicate.NodeConfig.ReconResendTicks): in seed 98 B, the
// vassal, loses 3 records to a partition; in seed 106 A, vassal after B's
// promote, loses 35. The liege reconciles each once and the pair converges.
func TestReconResendSeeds(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		want string
	}{
		{98, "B->A resends 3 reconciliation record(s) lost while the link stayed up"},
		{106, "A->B resends 35 reconciliation record(s) lost while the link stayed up"},
	} {
		var trace bytes.Buffer
		r := Run(Options{Seed: tc.seed, Steps: 300, Trace: &trace})
		if r.Failure != nil {
			t.Fatalf("seed %d: %s violated: %s\ntrace tail:\n%s", r.Seed, r.Failure.Item, r.Failure.Msg, r.Failure.Trace)
		}
		if !strings.Contains(trace.String(), tc.want) {
			t.Fatalf("seed %d no longer exercises what it pins: its trace has no %q", tc.seed, tc.want)
		}
	}
}
