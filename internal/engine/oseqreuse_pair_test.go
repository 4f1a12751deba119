package engine_test

import (
	"bytes"
	"testing"

	"github.com/liege-db/liege/internal/sim"
)

// TestOSeqLostBeforeDurableIsReused shows that reusing an own OSeq lost
// before it was durable is harmless (DESIGN.md section 3 forbids reusing a
// shipped OSeq, a take-back's; this one never was): the liege A writes
// A/1, which is not yet durable when the vassal's B/1 arrives; the check
// counts A/1 (replicate.Node.OwnCommitted) and A rejects B/1. A crashes
// before the fsync: A/1 is gone, its caller was never answered, and it was
// never shipped (durable before shipped), so nothing at B names it; the
// rollback command is lost with the link. Restarted, A gives OSeq 1 to a
// different transaction. B/1 is resent and checked again against the new
// A/1, which it does not conflict with: both apply, and the pair converges
// with the new A/1 at both and B/1 in the path once.
func TestOSeqLostBeforeDurableIsReused(t *testing.T) {
	for seed := int64(1); seed <= 64; seed++ {
		c, a, b := connectedPair(t)
		v := b.call(sim.Op{Op: "set", K: "k", V: "B"})
		c.ms++ // v is clock-before o: the liege's mirror use check
		o := a.written(sim.Op{Op: "get", K: "k"}, sim.Op{Op: "set", K: "j", V: "A"})
		move(t, b, a)
		if st := a.in.Status(); st.Node.Discarding != v.Result.TxID {
			t.Fatalf("the liege is discarding for %v, want %v rejected on %v (not durable)", st.Node.Discarding, v.Result.TxID, o.Result.TxID)
		}
		a.in.Outbox() // the rollback command is lost with the link
		b.in.LinkDown()
		a.crash(seed)
		if own, _ := a.in.Applied(); own != 0 {
			continue // this crash kept the unsynced write: try another
		}
		if o.Done {
			t.Fatalf("%v was answered though it was never durable", o.Result.TxID)
		}
		n := a.call(sim.Op{Op: "set", K: "x", V: "A2"})
		if n.Result.TxID != o.Result.TxID {
			t.Fatalf("the restarted liege committed %v, want the lost %v's OSeq reused", n.Result.TxID, o.Result.TxID)
		}
		a.in.LinkUp()
		b.in.LinkUp()
		pump(t, c, a, b)
		if a.in.Hash() != b.in.Hash() {
			t.Fatal("state hashes differ")
		}
		for _, x := range []*node{a, b} {
			pos, _ := x.in.Locate(n.Result.TxID)
			r, err := x.in.ReadRecord(pos)
			if pos == 0 || err != nil || len(r.Writes) != 1 || !bytes.Equal(r.Writes[0].Key, sim.Key("x")) {
				t.Fatalf("%s: %v is not the new transaction (position %d, %v)", x.cfg.ID, n.Result.TxID, pos, err)
			}
			if pos, _ := x.in.Locate(v.Result.TxID); pos == 0 {
				t.Fatalf("%s: B/1 is not in the path", x.cfg.ID)
			}
		}
		if v, _, ok := b.in.Get(sim.Key("j")); ok {
			t.Fatalf("the vassal holds j=%q, written only by the lost transaction", v)
		}
		return
	}
	t.Fatal("no crash seed lost the unsynced write")
}
