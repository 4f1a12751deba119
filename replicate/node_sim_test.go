package replicate

import (
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// Fixes the simulator (internal/sim) found in the Node, one test each.

// A frame of a newer reign other than a Hello does not say the peer's role
// in it: the node reconnects to learn it, and stays what it is (it once
// adopted the reign as liege beside a promoted liege: two lieges in one
// reign, refusing each other forever).
func TestNewerReignFrameReconnects(t *testing.T) {
	n := newTestNode(t, "A", RoleLiege)
	n.Connected()
	n.Ready()
	n.Advance()
	if err := n.Handshake(peerHello("B", RoleVassal, 1), 0); err != nil {
		t.Fatal(err)
	}
	n.Ready()
	n.Advance()
	// B was promoted (reign 2) and its Hello was lost: a heartbeat comes.
	if err := n.Step(&link.Frame{Kind: link.KindHeartbeat, Cluster: "c", From: "B", Reign: 2}); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	n.Advance()
	if rd.Role != nil || !strings.Contains(rd.Disconnect, "reconnect to handshake") {
		t.Fatalf("a heartbeat of reign 2: role change %+v, disconnect %q; want no role change and a reconnect", rd.Role, rd.Disconnect)
	}
	if st := n.Status(); st.Role != RoleLiege || st.Reign != 1 {
		t.Fatalf("after the heartbeat: %s in reign %d, want liege in reign 1 until a Hello says more", st.Role, st.Reign)
	}
}

// A liege that starts with pending reconciliation records (promoted, then
// restarted before its reconciliations committed) reconciles them at
// once, in a total order: subjects of both origins may be pending, and map
// order must not decide (the simulator replays seeds byte for byte).
func TestLiegeStartsWithPendingReconciles(t *testing.T) {
	rec := func(origin string, oseq uint64, subject journal.TxID) *journal.Record {
		return &journal.Record{Kind: journal.KindLocal, Origin: origin, OSeq: oseq, Subject: subject}
	}
	pending := []*journal.Record{
		rec("A", 7, journal.TxID{}),
		rec("A", 3, journal.TxID{Origin: "B", OSeq: 5}), // a reprocess of B's, rolled off here
		rec("A", 5, journal.TxID{}),
	}
	for range 20 {
		n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleLiege, Reign: 2, Pending: pending})
		if err != nil {
			t.Fatal(err)
		}
		rd := n.Ready()
		n.Advance()
		var got []string
		for _, r := range rd.Reconcile {
			got = append(got, standsFor(r).String())
		}
		if want := "A/5 B/5 A/7"; strings.Join(got, " ") != want {
			t.Fatalf("a liege started with pending records reconciles %v, want %s in that order", got, want)
		}
	}
}
