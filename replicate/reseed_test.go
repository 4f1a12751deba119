package replicate

import (
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// A seed offer to an instance that is not empty: a vassal asks for the
// checkpoint (it is re-seeded, reseed.go); a liege refuses it, saying what
// to do, and ships nothing it would have to take back.
func TestSeedOfferToInstanceNotEmpty(t *testing.T) {
	own := &journal.Record{Pos: 2, Kind: journal.KindLocal, Origin: "A", OSeq: 1, HLC: 1}
	for _, c := range []struct {
		role, peerRole string
		request        bool
		refusal        string
	}{
		{RoleVassal, RoleLiege, true, ""},
		{RoleLiege, RoleVassal, false, "cannot be seeded from the peer's checkpoint"},
	} {
		t.Run(c.role, func(t *testing.T) {
			n := newTestNode(t, "A", c.role, own)
			n.Connected()
			n.Ready()
			n.Advance()
			hello := peerHello("B", c.peerRole, 1)
			hello.Watermark = 1 // the peer holds A/1: nothing to ship
			if err := n.Handshake(hello, 0); err != nil {
				t.Fatal(err)
			}
			n.Ready()
			n.Advance()
			if err := n.Step(&link.Frame{Kind: link.KindSeedOffer, Cluster: "c", From: "B", Reign: 1, Watermark: 5}); err != nil {
				t.Fatal(err)
			}
			rd := n.Ready()
			asked := false
			for _, m := range rd.Messages {
				asked = asked || m.Kind == link.KindSeedRequest
			}
			n.Advance() // rd's slices are the Node's again
			if asked != c.request {
				t.Fatalf("seed request sent: %v, want %v (Ready %+v)", asked, c.request, rd)
			}
			if c.refusal == "" && rd.Disconnect != "" || c.refusal != "" && !strings.Contains(rd.Disconnect, c.refusal) {
				t.Fatalf("disconnect %q, want %q", rd.Disconnect, c.refusal)
			}
			if c.request {
				// While the checkpoint comes the vassal ships nothing and
				// acts on no rollback command.
				n.OwnDurable(&journal.Record{Pos: 3, Kind: journal.KindLocal, Origin: "A", OSeq: 2, HLC: 2})
				if err := n.Step(&link.Frame{Kind: link.KindRollbackCommand, Cluster: "c", From: "B", Reign: 1, Subject: "A/2"}); err != nil {
					t.Fatal(err)
				}
				rd := n.Ready()
				n.Advance()
				if len(rd.Messages) > 0 || rd.Rollback != nil {
					t.Fatalf("a vassal awaiting its re-seed sent %+v, rollback %+v", rd.Messages, rd.Rollback)
				}
			}
		})
	}
}
