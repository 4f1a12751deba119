package engine

import (
	"testing"

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
