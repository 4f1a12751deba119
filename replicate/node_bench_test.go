package replicate

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

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

func newBenchNode(b testing.TB) *Node {
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
			pass := func() {
				add(256)
				n.stepHeartbeat(&link.Frame{Kind: link.KindHeartbeat, Watermark: next - 1, Stable: next - 1})
				n.Compacted(n.own[256].pos)
			}
			add(nOwn)
			n.peerWM = math.MaxUint64
			for range 2 * nOwn / 256 { // the list's array grows once to its steady size
				pass()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				// A whole pass: the adds cost the same at any nOwn, so what
				// grows with nOwn is the pass's. (Timing Compacted alone,
				// the adds between untimed, ran b.N up to where the
				// untimed adds took minutes and the window gigabytes.)
				pass()
			}
			if len(n.own) != nOwn {
				b.Fatalf("%d own transactions after the passes, want %d", len(n.own), nOwn)
			}
		})
	}
}

// BenchmarkOwnCommittedSteady: a long-running instance's own list, about
// as long as the journal keeps (own transactions come, retention passes
// take 256 from the front as many came), once its array has grown to its
// steady size. worst-ns is the slowest single OwnCommitted: the list's
// growth into fresh memory, every million own transactions or so, stalled
// the executor there 0.55 s; moving back to the array's start costs a
// copy. Run it for more than a million (-benchtime 2000000x) to see one.
func BenchmarkOwnCommittedSteady(b *testing.B) {
	const nOwn = 1_000_000
	n := newBenchNode(b)
	next := uint64(1)
	rec := func() *journal.Record {
		r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: next, Pos: next, HLC: next << 16,
			Writes: []journal.Write{{Key: tuple.Append(nil, "k", int64(next)), Op: journal.OpSet}}}
		next++
		return r
	}
	for range nOwn {
		r := rec()
		n.OwnCommitted(r)
		n.OwnDurable(r)
	}
	n.peerWM = math.MaxUint64
	var worst time.Duration
	k := 0
	one := func(measure bool) {
		r := rec()
		t0 := time.Now()
		n.OwnCommitted(r)
		if measure {
			worst = max(worst, time.Since(t0))
		}
		n.OwnDurable(r)
		if k++; k == 256 {
			k = 0
			n.stepHeartbeat(&link.Frame{Kind: link.KindHeartbeat, Watermark: next - 1, Stable: next - 1})
			n.Compacted(n.own[256].pos)
		}
	}
	for range 2 * nOwn { // the array grows once to its steady size
		one(false)
	}
	for b.Loop() {
		one(true)
	}
	b.ReportMetric(float64(worst.Nanoseconds()), "worst-ns")
}

// BenchmarkDupSubject is the vassal's check of one reprocess or correction
// record against its own transactions (DESIGN.md section 10) in a journal
// holding a million of them, the peer having seen all but the last 100:
// the cost must be that of the window, not of the journal.
//
//	go test ./replicate -run '^$' -bench DupSubject
func BenchmarkDupSubject(b *testing.B) {
	const nOwn = 1_000_000
	n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleVassal, Reign: 1})
	if err != nil {
		b.Fatal(err)
	}
	for next := uint64(1); next <= nOwn; next++ {
		r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: next, Pos: next, HLC: next << 16,
			Writes: []journal.Write{{Key: tuple.Append(nil, "k", int64(next)), Op: journal.OpSet}}}
		n.OwnCommitted(r)
		n.OwnDurable(r)
	}
	n.stepHeartbeat(&link.Frame{Kind: link.KindHeartbeat, Watermark: nOwn - 100, Stable: nOwn - 100})
	subject := journal.TxID{Origin: "A", OSeq: nOwn - 10} // rolled off and come back
	rec := &journal.Record{Kind: journal.KindCorrection, Origin: "B", OSeq: 1, PeerSeen: nOwn - 50, Subject: subject}
	var v PeerVerdict
	for b.Loop() {
		v.Conflicts = v.Conflicts[:0]
		n.dupSubject(rec, &v)
	}
	if len(v.Conflicts) != 1 || v.Conflicts[0].Own != subject {
		b.Fatalf("conflicts %+v, want the own transaction %v", v.Conflicts, subject)
	}
}

// BenchmarkNodeStart is a node's start-up on a journal of a million own
// transactions (about what the default 1 GiB JournalKeep holds of the
// ticket workload's), and its reign change (a promote or switchover) with
// the peer's stable watermark at the last of them: the window takes them
// all back by DESIGN.md section 5, and must not build them all into the
// detect.Window for the first heartbeat to drop.
//
//	go test ./replicate -run '^$' -bench NodeStart -benchtime 3x
func BenchmarkNodeStart(b *testing.B) {
	const nOwn = 1_000_000
	recs := make([]*journal.Record, nOwn)
	for i := range recs {
		o := uint64(i + 1)
		recs[i] = &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: o, Pos: o + 1, HLC: o << 16, PeerSeen: o / 2,
			Reads:  []journal.PointRead{{Key: tuple.Append(nil, "seat", int64(o))}},
			Writes: []journal.Write{{Key: tuple.Append(nil, "seat", int64(o)), Op: journal.OpSet}, {Key: tuple.Append(nil, "owner", int64(o)), Op: journal.OpSet}}}
	}
	b.Run("start", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleLiege, Reign: 1, Own: recs}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reign-change", func(b *testing.B) {
		n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleLiege, Reign: 1, Own: recs})
		if err != nil {
			b.Fatal(err)
		}
		beat := &link.Frame{Kind: link.KindHeartbeat, Watermark: nOwn, Stable: nOwn}
		n.stepHeartbeat(beat) // the own transactions leave the window (packed)
		for b.Loop() {
			n.resetWindow() // and come back
			n.stepHeartbeat(beat)
		}
	})
}
