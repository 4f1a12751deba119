package replicate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

func newTestNode(t *testing.T, id, role string, own ...*journal.Record) *Node {
	t.Helper()
	n, err := NewNode(NodeConfig{ID: id, PeerID: other(id), Cluster: "c"}, NodeState{Role: role, Reign: 1, Own: own})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func peerHello(from, role string, reign uint64) *link.Frame {
	return &link.Frame{Kind: link.KindHello, Cluster: "c", From: from, Version: link.ProtocolVersion, Role: role, Reign: reign, WallClock: 1}
}

// The handshake refuses what DESIGN.md sections 4, 5 and 10 refuse, and
// says what to do.
func TestHandshakeRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(f *link.Frame)
		offset time.Duration
		want   string
	}{
		{"another cluster", func(f *link.Frame) { f.Cluster = "d" }, 0, "is for cluster"},
		{"another protocol", func(f *link.Frame) { f.Version = link.ProtocolVersion + 1 }, 0, "run the same release on both"},
		{"another peer", func(f *link.Frame) { f.From = "C" }, 0, "--peer-id"},
		{"both lieges in one reign", func(f *link.Frame) { f.Role = RoleLiege }, 0, "exactly one must be liege"},
		{"clock ahead", nil, time.Second, "synchronize the clocks"},
		{"clock behind", nil, -time.Second, "synchronize the clocks"},
		{"not a hello", func(f *link.Frame) { f.Kind = link.KindHeartbeat }, 0, "not a hello"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newTestNode(t, "A", RoleLiege)
			n.Connected()
			n.Ready()
			n.Advance()
			f := peerHello("B", RoleVassal, 1)
			if c.change != nil {
				c.change(f)
			}
			err := n.Handshake(f, c.offset)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if st := n.Status(); st.Connected || st.Refused == "" {
				t.Fatalf("after a refusal: %+v", st)
			}
		})
	}
	// Within the bound, with the other role: accepted.
	n := newTestNode(t, "A", RoleLiege)
	n.Connected()
	n.Ready()
	n.Advance()
	if err := n.Handshake(peerHello("B", RoleVassal, 1), 400*time.Millisecond); err != nil || !n.Status().Connected {
		t.Fatalf("a good hello: %v, %+v", err, n.Status())
	}
}

// Two lieges of different reigns resolve by themselves: the older reign
// adopts the newer one as vassal, journaled before its Hello is sent.
func TestHandshakeAdoptsHigherReign(t *testing.T) {
	n := newTestNode(t, "A", RoleLiege)
	n.Connected()
	n.Ready()
	n.Advance()
	if err := n.Handshake(peerHello("B", RoleLiege, 2), 0); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	if rd.Role == nil || rd.Role.Role != RoleVassal || rd.Role.Reign != 2 {
		t.Fatalf("role change %+v, want vassal in reign 2", rd.Role)
	}
	if len(rd.Messages) == 0 || rd.Messages[0].Kind != link.KindHello || rd.Messages[0].Reign != 2 || rd.Messages[0].Role != RoleVassal {
		t.Fatalf("messages %+v: want a hello as vassal in reign 2 first", rd.Messages)
	}
}

func TestPromoteAndRollbackFloor(t *testing.T) {
	own := []*journal.Record{
		{Pos: 2, Kind: journal.KindLocal, Origin: "B", OSeq: 1, HLC: 1},
		{Pos: 4, Kind: journal.KindLocal, Origin: "B", OSeq: 2, HLC: 3},
	}
	n := newTestNode(t, "B", RoleVassal, own...)
	// Nothing known applied by the liege: the floor is the first own.
	if floor, ok, err := n.RollbackFloor(); err != nil || !ok || floor != 2 {
		t.Fatalf("floor %d %v %v, want 2", floor, ok, err)
	}
	n.Connected()
	n.Ready()
	n.Advance()
	hello := peerHello("A", RoleLiege, 1)
	hello.Watermark = 1 // the liege applied B/1
	if err := n.Handshake(hello, 0); err != nil {
		t.Fatal(err)
	}
	n.Ready()
	n.Advance()
	if floor, ok, err := n.RollbackFloor(); err != nil || !ok || floor != 4 {
		t.Fatalf("floor %d %v %v, want 4", floor, ok, err)
	}
	if err := n.Promote(false); !errors.Is(err, ErrHearsLiege) {
		t.Fatalf("promote with the link up: %v", err)
	}
	n.Disconnected()
	n.Ready()
	n.Advance()
	for range 3 {
		n.Tick()
	}
	if err := n.Promote(false); !errors.Is(err, ErrHearsLiege) {
		t.Fatalf("promote 3 ticks after the last frame: %v", err)
	}
	n.Tick()
	if err := n.Promote(false); err != nil {
		t.Fatalf("promote 4 ticks after the last frame: %v", err)
	}
	if rd := n.Ready(); rd.Role == nil || rd.Role.Reign != 2 || rd.Role.Role != RoleLiege {
		t.Fatalf("role change %+v, want liege in reign 2", rd.Role)
	}
	n.Advance()
	if _, _, err := n.RollbackFloor(); !errors.Is(err, ErrLiegeRollback) {
		t.Fatalf("a liege's rollback floor: %v", err)
	}
}

func TestInputBetweenReadyAndAdvancePanics(t *testing.T) {
	n := newTestNode(t, "A", RoleLiege)
	n.Connected()
	n.Ready()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "between Ready and Advance") {
			t.Fatalf("recovered %v", r)
		}
	}()
	n.Tick()
}

// A frame of a newer reign that is not a Hello does not say the peer's
// role: the node asks to reconnect and keeps its role until the handshake.
func TestNewerReignWithoutHelloReconnects(t *testing.T) {
	n := newTestNode(t, "A", RoleLiege)
	n.Connected()
	n.Ready()
	n.Advance()
	if err := n.Handshake(peerHello("B", RoleVassal, 1), 0); err != nil {
		t.Fatal(err)
	}
	n.Ready()
	n.Advance()
	if err := n.Step(&link.Frame{Kind: link.KindHeartbeat, Cluster: "c", From: "B", Reign: 2}); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	if rd.Disconnect == "" || rd.Role != nil {
		t.Fatalf("Ready %+v: want a disconnect and no role change", rd)
	}
	if st := n.Status(); st.Role != RoleLiege || st.Reign != 1 {
		t.Fatalf("status %+v: want liege in reign 1", st)
	}
}

// A node ships at most MaxUnsent Txn frames its driver has not said
// written, ships on as Written says more are, and starts afresh with a new
// link (the driver drops what it had not written).
func TestShipStopsAtMaxUnsent(t *testing.T) {
	var own []*journal.Record
	for i := uint64(1); i <= 20; i++ {
		own = append(own, &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: i, Pos: i, HLC: i})
	}
	n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c", MaxUnsent: 4}, NodeState{Role: RoleLiege, Reign: 1, Own: own})
	if err != nil {
		t.Fatal(err)
	}
	connect := func() {
		n.Connected()
		n.Ready()
		n.Advance()
		if err := n.Handshake(peerHello("B", RoleVassal, 1), 0); err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, w ...uint64) {
		t.Helper()
		var got []uint64
		for _, m := range n.Ready().Messages {
			if m.Kind == link.KindTxn {
				got = append(got, m.Txn.OSeq)
			}
		}
		n.Advance()
		if !slices.Equal(got, w) {
			t.Fatalf("%s: shipped %v, want %v", what, got, w)
		}
	}
	connect()
	want("at first", 1, 2, 3, 4)
	want("with 4 unwritten", []uint64(nil)...)
	n.Written(3)
	want("after 3 written", 5, 6, 7)
	n.Written(100) // more than it shipped: no credit beyond MaxUnsent
	want("after all written", 8, 9, 10, 11)
	n.Disconnected()
	connect()
	want("on a new link", 1, 2, 3, 4)
}

// A subject pending at start-up both as the vassal's own record (an older
// reconciliation log) and as the liege's rolled-off reprocess of it (a
// later one): the own record stands, whatever the order, so the vassal
// still sends it to the liege, as it did before the crash (RollbackDone
// keeps the own record too).
func TestPendingOwnRecordStandsOverThePeers(t *testing.T) {
	own := &journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: 1, Pos: 2}
	re := &journal.Record{Kind: journal.KindPeer, Origin: "A", OSeq: 2, Pos: 3, Subject: own.TxID()}
	for _, order := range [][]*journal.Record{{own, re}, {re, own}} {
		n, err := NewNode(NodeConfig{ID: "B", PeerID: "A", Cluster: "c"}, NodeState{Role: RoleVassal, Reign: 1, Pending: order})
		if err != nil {
			t.Fatal(err)
		}
		p, ok := n.pending[own.TxID()]
		if !ok || p.rec != own || !p.send || len(n.pending) != 1 {
			t.Fatalf("pending from %v then %v: %+v, want B/1's own record, to send", order[0].TxID(), order[1].TxID(), n.pending)
		}
	}
}
