package replicate

import (
	"reflect"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// backlogNode returns a liege holding nOwn durable own transactions,
// connected to a vassal that has seen none of them, and the Ready in
// which it ships them all (not yet Advanced).
func backlogNode(tb testing.TB, nOwn int) (*Node, Ready) {
	tb.Helper()
	own := make([]*journal.Record, nOwn)
	for i := range own {
		own[i] = &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: uint64(i + 1), Pos: uint64(i + 1), HLC: uint64(i+1) << 16,
			Writes: []journal.Write{{Key: []byte{'k', byte(i), byte(i >> 8)}, Op: journal.OpSet}}}
	}
	n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleLiege, Reign: 1, Own: own})
	if err != nil {
		tb.Fatal(err)
	}
	n.Connected()
	n.Ready()
	n.Advance()
	if err := n.Handshake(peerHello("B", RoleVassal, 1), 0); err != nil {
		tb.Fatal(err)
	}
	return n, n.Ready()
}

func countTxns(ms []Message) (k int) {
	for _, m := range ms {
		if m.Kind == link.KindTxn {
			k++
		}
	}
	return k
}

// The Node fills each Ready in the arrays of the last one, so after a
// Ready of hundreds of frames (a backlog shipped at connect) the next ones
// are short Readys in long arrays. Past their lengths those arrays hold
// nothing: no frame, record or verdict of an earlier Ready is kept alive
// by the Node.
func TestReadyAfterBacklogKeepsNothing(t *testing.T) {
	n, rd := backlogNode(t, 5000)
	if k := countTxns(rd.Messages); k < 100 {
		t.Fatalf("the backlog Ready ships %d transactions; the test wants a long one", k)
	}
	burst := rd.Messages[:cap(rd.Messages)]
	n.Advance()
	for i, m := range burst {
		if !reflect.ValueOf(m).IsZero() {
			t.Fatalf("after Advance, element %d of the backlog's Messages still holds %v at %d", i, m.Kind, m.Pos)
		}
	}
	for tick := range 3 * n.cfg.ResendTicks {
		n.Tick()
		rd := n.Ready()
		for i, m := range rd.Messages[len(rd.Messages):cap(rd.Messages)] {
			if !reflect.ValueOf(m).IsZero() {
				t.Fatalf("tick %d: a Ready of %d messages holds a %v frame at %d past its end (index %d of %d)",
					tick, len(rd.Messages), m.Kind, m.Pos, len(rd.Messages)+i, cap(rd.Messages))
			}
		}
		for _, s := range [][]*journal.Record{rd.Apply[len(rd.Apply):cap(rd.Apply)]} {
			for i, r := range s {
				if r != nil {
					t.Fatalf("tick %d: Apply holds a record past its end (index %d)", tick, len(rd.Apply)+i)
				}
			}
		}
		n.Advance()
	}
}

// BenchmarkReadyAfterBacklog is a Tick, Ready and Advance of a liege that
// has shipped a backlog of 256 frames at connect ("after-backlog") and of
// one that has not ("fresh"): the same work, so the same cost. (Ready
// once cleared its arrays' whole capacity, ~64 KB after one backlog, on
// every call: the executor takes a Ready per peer transaction.)
//
//	go test ./replicate -run '^$' -bench ReadyAfterBacklog
func BenchmarkReadyAfterBacklog(b *testing.B) {
	for _, c := range []struct {
		name string
		nOwn int
	}{{"fresh", 1}, {"after-backlog", 5000}} {
		b.Run(c.name, func(b *testing.B) {
			n, _ := backlogNode(b, c.nOwn)
			n.Advance()
			b.ReportAllocs()
			for b.Loop() {
				n.Tick()
				n.Ready()
				n.Advance()
			}
		})
	}
}
