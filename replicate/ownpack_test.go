package replicate

import (
	"fmt"
	"testing"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
	"pgregory.net/rapid"
)

func genTxn(t *rapid.T) *detect.Txn {
	key := rapid.SliceOfN(rapid.Byte(), 0, 300)
	tx := &detect.Txn{
		ID:       journal.TxID{Origin: "A", OSeq: rapid.Uint64Min(1).Draw(t, "oseq")},
		HLC:      rapid.Uint64().Draw(t, "hlc"),
		PeerSeen: rapid.Uint64().Draw(t, "peerSeen"),
		Pos:      rapid.Uint64().Draw(t, "pos"),
		Reads:    rapid.SliceOfN(key, 0, 40).Draw(t, "reads"),
	}
	for range rapid.IntRange(0, 40).Draw(t, "writes") {
		tx.Writes = append(tx.Writes, detect.Write{Key: key.Draw(t, "w"), Add: rapid.Bool().Draw(t, "add")})
	}
	for range rapid.IntRange(0, 5).Draw(t, "ranges") {
		tx.Ranges = append(tx.Ranges, journal.RangeRead{Lo: key.Draw(t, "lo"), Hi: key.Draw(t, "hi"),
			LoInclusive: rapid.Bool().Draw(t, "loIn"), HiInclusive: rapid.Bool().Draw(t, "hiIn")})
	}
	return tx
}

// TestPackTxnRoundTrip: a packed transaction unpacks to the same one, the
// bytes carved are packTxn's, and the blocks they are carved from keep the
// bytes of those packed before it.
func TestPackTxnRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s packSlabs
		var txns []*detect.Txn
		var packed [][]byte
		for range rapid.IntRange(1, 20).Draw(t, "n") {
			tx := genTxn(t)
			p := s.pack(tx)
			if want := packTxn(nil, tx); string(p) != string(want) {
				t.Fatalf("carved %d bytes, packTxn makes %d", len(p), len(want))
			}
			txns, packed = append(txns, tx), append(packed, p)
		}
		for i, tx := range txns {
			got, err := unpackTxn(packed[i], tx.ID, tx.Pos, tx.PeerSeen)
			if err != nil {
				t.Fatal(err)
			}
			if d := txnDiff(got, tx); d != "" {
				t.Fatalf("transaction %d unpacked differs: %s", i, d)
			}
		}
	})
}

// TestUnpackTxnRefusesBrokenBytes: every cut of a packed transaction, and
// one with a byte after it, is refused with an error, not a panic or a
// wrong transaction.
func TestUnpackTxnRefusesBrokenBytes(t *testing.T) {
	tx := &detect.Txn{ID: journal.TxID{Origin: "A", OSeq: 3}, HLC: 1 << 40, Reads: [][]byte{[]byte("r")},
		Writes: []detect.Write{{Key: []byte("w1")}, {Key: []byte("w2"), Add: true}},
		Ranges: []journal.RangeRead{{Lo: []byte("a"), Hi: []byte("b"), LoInclusive: true}}}
	p := packTxn(nil, tx)
	for n := range len(p) {
		if _, err := unpackTxn(p[:n], tx.ID, 0, 0); err == nil {
			t.Errorf("the first %d of %d bytes unpacked without an error", n, len(p))
		}
	}
	if _, err := unpackTxn(append(p[:len(p):len(p)], 0), tx.ID, 0, 0); err == nil {
		t.Error("a byte after the ranges unpacked without an error")
	}
}

// TestOwnPackedOncePrunedAndBackAfterAReign: own transactions the peer's
// stable watermark prunes from the window are packed (their detect.Txns
// go); a reign change puts them back in the window as they were, and an
// incoming transaction that has seen none of them conflicts with them as
// before.
func TestOwnPackedOncePrunedAndBackAfterAReign(t *testing.T) {
	const n = 300
	var recs []*journal.Record
	for i := range n {
		r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: uint64(i + 1), HLC: uint64(10 * (i + 1)),
			Pos: uint64(i + 2), Proc: "op",
			Reads:  []journal.PointRead{{Key: []byte(fmt.Sprintf("r%d", i))}},
			Writes: []journal.Write{{Key: []byte(fmt.Sprintf("w%d", i)), Op: journal.OpSet}, {Key: []byte("total"), Op: journal.OpAdd}}}
		if i%50 == 0 {
			r.Ranges = []journal.RangeRead{{Lo: []byte("s"), Hi: []byte(fmt.Sprintf("s%d", i)), LoInclusive: true}}
		}
		recs = append(recs, r)
	}
	nd := newTestNode(t, "A", RoleLiege, recs...)
	nd.Connected()
	nd.Ready()
	nd.Advance()
	if err := nd.Handshake(peerHello("B", RoleVassal, 1), 0); err != nil {
		t.Fatal(err)
	}
	if got := nd.windowLen(); got != n {
		t.Fatalf("window holds %d own transactions after start-up, want %d", got, n)
	}
	nd.materialize(0) // as a peer transaction that has seen none of them does
	const stable = 200
	if err := nd.Step(&link.Frame{Kind: link.KindHeartbeat, Cluster: "c", From: "B", Reign: 1, Watermark: n, Stable: stable}); err != nil {
		t.Fatal(err)
	}
	if got := nd.window.Len(); got != n-stable {
		t.Fatalf("window holds %d own transactions after a stable watermark of %d, want %d", got, stable, n-stable)
	}
	for i, o := range nd.own {
		if packed := o.t == nil && o.packed != nil; !packed {
			t.Fatalf("own %d (OSeq %d) recovered at start-up is not packed", i, o.seq)
		}
	}

	if err := nd.Switchover(); err != nil { // reign 2: every own transaction back in the window
		t.Fatal(err)
	}
	if got := nd.windowLen(); got != n {
		t.Fatalf("window holds %d own transactions after the reign change, want %d", got, n)
	}
	if got := nd.window.Len(); got != 0 {
		t.Fatalf("the detect.Window holds %d own transactions right after the reign change, want 0 (built when a peer transaction needs them)", got)
	}
	for i, r := range recs {
		if d := txnDiff(nd.ownTxn(i), detect.FromRecord(r)); d != "" {
			t.Fatalf("own %d after the reign change: %s", i, d)
		}
	}
	// B's transaction, clock-before all of A's and having seen none of
	// them, writes what A/8 read (after it, by the clock), what A/9 wrote,
	// and a key inside the range A/51 read.
	in := &detect.Txn{ID: journal.TxID{Origin: "B", OSeq: 1}, HLC: 1, PeerSeen: 0,
		Writes: []detect.Write{{Key: []byte("r7")}, {Key: []byte("w8")}, {Key: []byte("s3")}}}
	var got []string
	nd.materialize(in.PeerSeen)
	if nd.window.Len() != n {
		t.Fatalf("the detect.Window holds %d own transactions for a PeerSeen of 0, want %d", nd.window.Len(), n)
	}
	for _, h := range nd.window.Check(in) {
		got = append(got, fmt.Sprintf("%v %v %s", h.Own.ID, h.Check, h.Key))
	}
	want := []string{"A/8 mirror_use r7", "A/9 update w8", "A/51 mirror_use s3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hits after the reign change:\n got %q\nwant %q", got, want)
	}
}

// TestOwnCommittedPackedAtTheStableWatermark: an own transaction
// committed while running stays unpacked (the window checks against it)
// until the peer's stable watermark prunes it.
func TestOwnCommittedPackedAtTheStableWatermark(t *testing.T) {
	nd := newTestNode(t, "A", RoleLiege)
	for i := range 4 {
		r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: uint64(i + 1), HLC: uint64(10 * (i + 1)),
			Pos: uint64(i + 2), Writes: []journal.Write{{Key: []byte(fmt.Sprintf("w%d", i)), Op: journal.OpSet}}}
		nd.OwnCommitted(r)
		nd.OwnDurable(r)
	}
	nd.stepHeartbeat(&link.Frame{Kind: link.KindHeartbeat, Watermark: 4, Stable: 2})
	for i, o := range nd.own {
		if packed := o.t == nil && o.packed != nil; packed != (o.seq <= 2) {
			t.Fatalf("own %d (OSeq %d): packed %v with the stable watermark at 2", i, o.seq, packed)
		}
	}
}

// TestCompactedKeepsTheRestAndBoundsMemory: retention passes that each
// take the oldest few own transactions off, in a long run, leave exactly
// the newer ones (with OwnBefore and RetainFloor answering from them), and
// the list's array stays within a few times what it holds: the head a
// pass leaves behind goes at the next growth.
func TestCompactedKeepsTheRestAndBoundsMemory(t *testing.T) {
	nd := newTestNode(t, "A", RoleLiege)
	next := uint64(1)
	add := func(k int) {
		for range k {
			r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: next, Pos: 2 * next, HLC: next,
				Writes: []journal.Write{{Key: []byte(fmt.Sprintf("k%d", next)), Op: journal.OpSet}}}
			nd.OwnCommitted(r)
			nd.OwnDurable(r)
			next++
		}
	}
	const keep = 1200 // more than the array held when it grew (1,024): the move copies them all
	add(keep)
	var arr *own // the list's array once it has grown to hold the steady state
	moves, lastFront := 0, 0
	for pass := range 3000 {
		add(37)
		first := nd.own[len(nd.own)-keep].pos
		nd.Compacted(first)
		if len(nd.own) != keep || nd.own[0].pos != first || nd.own[keep-1].seq != next-1 {
			t.Fatalf("pass %d: %d own transactions from position %d to OSeq %d, want %d from %d to %d",
				pass, len(nd.own), nd.own[0].pos, nd.own[len(nd.own)-1].seq, keep, first, next-1)
		}
		if got, want := nd.OwnBefore(first), first/2-1; got != want {
			t.Fatalf("pass %d: OwnBefore(%d) = %d, want %d", pass, first, got, want)
		}
		if c := cap(nd.ownArr); c > 4*keep {
			t.Fatalf("pass %d: the list's array holds room for %d own transactions, %d of them live", pass, c, keep)
		}
		// Once grown, the list moves back to its array's start: no new
		// array (fresh memory to fault in) however long the instance runs.
		front := cap(nd.ownArr) - cap(nd.own) // what passes took off its front
		switch a := &nd.ownArr[0]; {
		case pass == 100:
			arr = a
		case pass > 100 && a != arr:
			t.Fatalf("pass %d: the list took a new array of %d", pass, cap(nd.ownArr))
		case pass > 100 && front < lastFront:
			moves++
		}
		lastFront = front
		for i := range nd.own {
			if o := &nd.own[i]; o.seq != nd.own[0].seq+uint64(i) || o.t == nil && o.packed == nil {
				t.Fatalf("pass %d: own[%d] is OSeq %d, want %d", pass, i, o.seq, nd.own[0].seq+uint64(i))
			}
		}
		for _, o := range nd.ownArr[:cap(nd.ownArr)] { // nothing outside the list holds a Txn
			if (o.t != nil || o.packed != nil) && (o.seq < nd.own[0].seq || o.seq > nd.own[keep-1].seq) {
				t.Fatalf("pass %d: the array holds own transaction %d outside the list (%d..%d)", pass, o.seq, nd.own[0].seq, nd.own[keep-1].seq)
			}
		}
	}
	if moves == 0 {
		t.Fatal("the list never moved back to its array's start: the test tests nothing")
	}
	// A compaction of most of the list copies the rest.
	nd.Compacted(nd.own[keep-10].pos)
	if len(nd.own) != 10 || cap(nd.own) > 16 { // a copy, its size rounded up to the allocator's
		t.Fatalf("after taking off all but 10: len %d, cap %d; want a copy of the 10", len(nd.own), cap(nd.own))
	}
}
