package replicate

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
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

// BenchmarkNodeOwnMemory reports the heap a node holds per own transaction
// of the ticket workload (an absent seat read, the seat and the owner
// written, tuple keys) while it is in the window (B/own-window) and once
// the peer's stable watermark pruned it and packOwn packed it
// (B/own-packed): what a journal of 1 GiB, kept by default, costs the
// node in memory.
//
//	go test ./replicate -run '^$' -bench NodeOwnMemory -benchtime 3x
func BenchmarkNodeOwnMemory(b *testing.B) {
	const nOwn = 200_000
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var inWindow, packed float64
	for range b.N {
		h0 := heap()
		n := newBenchNode(b)
		for i := range nOwn {
			seat := tuple.Append(nil, "seat", "gala", int64(i))
			r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: uint64(i + 1), Pos: uint64(2*i + 2), HLC: uint64(i+1) << 16,
				Reads:  []journal.PointRead{{Key: seat}},
				Writes: []journal.Write{{Key: seat, Op: journal.OpSet}, {Key: tuple.Append(nil, "owner", "customer-104729", int64(i)), Op: journal.OpSet}}}
			n.OwnCommitted(r)
			n.OwnDurable(r)
		}
		h1 := heap()
		n.peerWM, n.floor = nOwn, 0
		n.stepHeartbeat(&link.Frame{Kind: link.KindHeartbeat, Watermark: nOwn, Stable: nOwn})
		h2 := heap()
		if n.window.Len() != 0 || len(n.own) != nOwn {
			b.Fatalf("window %d, own %d after the stable watermark: want 0 and %d", n.window.Len(), len(n.own), nOwn)
		}
		inWindow, packed = float64(h1-h0)/nOwn, float64(h2-h0)/nOwn
		runtime.KeepAlive(n)
	}
	b.ReportMetric(inWindow, "B/own-window")
	b.ReportMetric(packed, "B/own-packed")
}

func newBenchNode(b *testing.B) *Node {
	n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleLiege, Reign: 1})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkNodeCompacted is the node's share of a retention pass in a
// long-running instance: a journal holding nOwn own transactions (the
// default 1 GiB JournalKeep holds about 1.3M of the ticket workload's)
// loses its oldest 256 positions (MinAdvance) and gains as many. The cost
// per pass must not grow with the journal.
//
//	go test ./replicate -run '^$' -bench NodeCompacted -benchmem
func BenchmarkNodeCompacted(b *testing.B) {
	for _, nOwn := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("own=%d", nOwn), func(b *testing.B) {
			n := newBenchNode(b)
			next := uint64(1)
			add := func(k int) {
				for range k {
					r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: next, Pos: next, HLC: next << 16,
						Writes: []journal.Write{{Key: tuple.Append(nil, "k", int64(next)), Op: journal.OpSet}}}
					n.OwnCommitted(r)
					n.OwnDurable(r)
					next++
				}
			}
			add(nOwn)
			n.peerWM = math.MaxUint64
			n.stepHeartbeat(&link.Frame{Kind: link.KindHeartbeat, Watermark: next - 1, Stable: next - 1})
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				add(256)
				b.StartTimer()
				n.Compacted(n.own[256].pos)
			}
			if len(n.own) != nOwn {
				b.Fatalf("%d own transactions after the passes, want %d", len(n.own), nOwn)
			}
		})
	}
}
