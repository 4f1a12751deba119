package replicate

import (
	"slices"
	"testing"

	"github.com/liege-db/liege/replicate/link"
)

// A vassal whose watermark does not move asks for a resend after
// ResendTicks, then twice as long each time, up to maxResendBackoff
// ResendTicks: each ask makes the liege ship its whole backlog again, and
// asking every ResendTicks while a busy liege ships a long one buried the
// link in duplicates (TestLiegeWindowPrunedByStableWatermark of
// internal/enginetest moved ~250k duplicate frames for 2,400 records).
func TestResendBacksOffWhileNothingComes(t *testing.T) {
	n := newTestNode(t, "B", RoleVassal)
	n.Connected()
	n.Ready()
	n.Advance()
	if err := n.Handshake(peerHello("A", RoleLiege, 1), 0); err != nil {
		t.Fatal(err)
	}
	resends := func() (k int) {
		for n.HasReady() {
			rd := n.Ready()
			for _, m := range rd.Messages {
				if m.Frame.Kind == link.KindResend {
					k++
				}
			}
			n.Advance()
		}
		return k
	}
	resends()
	rt := n.cfg.ResendTicks
	// The liege's heartbeats say it has 3 transactions; none arrives.
	beat := &link.Frame{Kind: link.KindHeartbeat, Cluster: "c", From: "A", Reign: 1, Prev: 3}
	var asked []int
	for tick := 1; tick <= 100*rt; tick++ {
		if err := n.Step(beat); err != nil {
			t.Fatal(err)
		}
		n.Tick()
		if k := resends(); k > 0 {
			asked = append(asked, tick)
		}
	}
	var want []int
	for at, wait := rt, rt; at <= 100*rt; at, wait = at+wait, min(2*wait, maxResendBackoff*rt) {
		want = append(want, at) // 5, 10, 20, 40, ... with ResendTicks 5
	}
	if !slices.Equal(asked, want) {
		t.Fatalf("resends asked at ticks %v, want %v", asked, want)
	}
	if st := n.Status(); !st.Connected {
		t.Fatalf("the link went down: %+v", st)
	}
}
