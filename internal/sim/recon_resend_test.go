package sim

import "testing"

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
		checkPinnedSeed(t, tc.seed, 300, tc.want)
	}
}
