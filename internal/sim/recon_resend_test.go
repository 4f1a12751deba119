package sim

import "testing"

// TestReconResendSeeds pins seeds in which a reconciliation log frame is
// lost while the link stays up (a partition one way, or a drop: no
// disconnect, so no handshake resends it) and the vassal resends it on its
// tick budget (replicate.NodeConfig.ReconResendTicks): in seed 29 B, the
// vassal, loses 7 records; in seed 59 A, vassal after B's promote,
// loses 46 (seeds 98 and 106 until the traces moved). The liege reconciles each once and the pair converges.
func TestReconResendSeeds(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		want string
	}{
		{29, "B->A resends 7 reconciliation record(s) lost while the link stayed up"},
		{59, "A->B resends 46 reconciliation record(s) lost while the link stayed up"},
	} {
		checkPinnedSeed(t, tc.seed, 300, tc.want)
	}
}
