package engine

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liege-db/liege/journal"
)

// TestTxnIndexReserve: room reserved for replay takes the records without
// growing, finds them as without it, and trim gives back what they left
// unused (a peer's room on an instance whose journal holds only its own).
func TestTxnIndexReserve(t *testing.T) {
	x := newTxnIndex()
	x.reserve(1000, "A", "B")
	room := &x.byOrigin["A"][:1][0]
	for p := uint64(1); p <= 990; p++ {
		x.add(&journal.Record{Pos: p, Kind: journal.KindLocal, Origin: "A", OSeq: p})
	}
	es := x.byOrigin["A"]
	if cap(es) < 1000 || len(es) != 990 || &es[0] != room {
		t.Fatalf("own entries: len %d cap %d", len(es), cap(es))
	}
	x.trim()
	if got := cap(x.byOrigin["A"]); got != cap(es) {
		t.Fatalf("trim shrank own entries using 990 of %d to %d", cap(es), got)
	}
	if got := cap(x.byOrigin["B"]); got != 0 {
		t.Fatalf("trim left the peer's unused room: cap %d", got)
	}
	for p := uint64(1); p <= 990; p++ {
		if got := x.find(journal.TxID{Origin: "A", OSeq: p}); got != p {
			t.Fatalf("find A/%d = %d", p, got)
		}
	}
	if got := x.find(journal.TxID{Origin: "B", OSeq: 1}); got != 0 {
		t.Fatalf("find B/1 = %d, want 0", got)
	}
}

// TestTxnIndexDropBefore: what retention truncated has no position any
// more but is still known as held, what it kept is found as before, a
// TxID never added is neither, and the entries dropped do not stay in
// memory (a steady run of truncations keeps the index at what the journal
// holds, and the OSeqs dropped in a few runs).
func TestTxnIndexDropBefore(t *testing.T) {
	x := newTxnIndex()
	pos := uint64(0)
	oseq := map[string]uint64{}
	at := map[journal.TxID]uint64{}
	add := func(n int) {
		for range n {
			pos++
			origin := "A"
			if pos%3 == 0 {
				origin = "B"
			}
			oseq[origin]++
			id := journal.TxID{Origin: origin, OSeq: oseq[origin]}
			at[id] = pos
			x.add(&journal.Record{Pos: pos, Kind: journal.KindLocal, Origin: origin, OSeq: id.OSeq})
		}
	}
	add(1000)
	x.dropBefore(400)
	for id, p := range at {
		want := p
		if p < 400 {
			want = 0
		}
		if got := x.find(id); got != want {
			t.Fatalf("after dropping before 400: find %v = %d, want %d", id, got, want)
		}
		if got := x.dropped(id); got != (p < 400) {
			t.Fatalf("after dropping before 400: dropped(%v) = %v for position %d", id, got, p)
		}
	}
	for _, id := range []journal.TxID{{Origin: "A", OSeq: oseq["A"] + 1}, {Origin: "C", OSeq: 1}} {
		if x.find(id) != 0 || x.dropped(id) {
			t.Fatalf("%v, never added, is found or dropped", id)
		}
	}
	// A long run: 1,000 records between truncations that keep the newest
	// 1,000 positions.
	for range 1000 {
		add(1000)
		x.dropBefore(pos - 1000)
	}
	for o, es := range x.byOrigin {
		if len(es) > 1000 || cap(es) > 4000 {
			t.Fatalf("after a million records with the journal holding 1,000: %s has %d entries in room for %d", o, len(es), cap(es))
		}
		if runs := x.gone[o]; len(runs) != 1 || runs[0].lo != 1 {
			t.Fatalf("the OSeqs of %s dropped are in runs %v, want one from 1", o, runs)
		}
	}
}

// TestHoldsAcrossRetention: in a running instance, a transaction whose
// record retention truncated is still held (DESIGN.md section 9: a
// reconciliation log naming it is skipped), though the index forgot its
// position. A TxID never seen is not held.
func TestHoldsAcrossRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{ID: "A", PeerID: "B", Role: RoleLiege, Dir: dir, Log: journal.NewMemLog(), Runner: noProcs{}, Now: time.Now, CheckpointEvery: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	in, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(from, to uint64) {
		for oseq := from; oseq <= to; oseq++ {
			r := &journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: oseq, HLC: 100 + oseq,
				Writes: []journal.Write{{Key: []byte("k"), Op: journal.OpSet, Value: []byte{byte(oseq)}}}}
			if err := in.applyPeer(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(1, 8)
	j := in.TakeCheckpoint(true)
	if j == nil {
		t.Fatal("no checkpoint job")
	}
	if err := j.Run(); err != nil {
		t.Fatal(err)
	}
	in.CheckpointDone(j)
	apply(9, 10)
	if err := in.flushTxnStatus(); err != nil {
		t.Fatal(err)
	}
	if err := in.truncateFront(j.Pos + 1); err != nil { // keeps B/9 and B/10
		t.Fatal(err)
	}
	defer in.Close()
	if p := in.index.find(journal.TxID{Origin: "B", OSeq: 1}); p != 0 {
		t.Errorf("the index still has B/1 at position %d, below the journal's first %d", p, in.w.first)
	}
	for oseq, want := range map[uint64]bool{1: true, 8: true, 9: true, 10: true, 11: false} {
		if got := in.holds(journal.TxID{Origin: "B", OSeq: oseq}); got != want {
			t.Errorf("holds(B/%d) = %v, want %v", oseq, got, want)
		}
	}
}
