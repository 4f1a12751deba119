package replicate

import (
	"testing"

	"github.com/liege-db/liege/journal"
)

// BenchmarkNodeStatus is Status on a node holding 100k own transactions
// (its journal's), half of them durable and applied by the peer: what the
// root package's executor reads after every step (DB.publish). Status
// finds the durable ones and the stable watermark by binary search over
// the own transactions.
//
//	go test ./replicate -run '^$' -bench NodeStatus -benchmem
func BenchmarkNodeStatus(b *testing.B) {
	const nOwn = 100_000
	own := make([]*journal.Record, nOwn)
	for i := range own {
		own[i] = &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: uint64(i + 1), Pos: uint64(2*i + 2), PeerSeen: uint64(i), HLC: uint64(i+1) << 16,
			Writes: []journal.Write{{Key: []byte("seat/" + string(rune('a'+i%26))), Op: journal.OpSet}}}
	}
	n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleLiege, Reign: 1, Own: own[:nOwn/2]})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range own[nOwn/2:] {
		n.OwnCommitted(r)
	}
	n.peerWM = nOwn / 4
	b.ReportAllocs()
	b.ResetTimer()
	var s NodeStatus
	for range b.N {
		s = n.Status()
	}
	if s.LastOwn != nOwn/2 || s.Stable != nOwn/4 {
		b.Fatalf("status %+v: want the last durable own OSeq %d and the stable watermark %d", s, nOwn/2, nOwn/4)
	}
}
