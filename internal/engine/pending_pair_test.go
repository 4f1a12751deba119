package engine_test

import (
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
)

// A peer transaction is checked against own transactions committed but not
// yet durable (replicate.Node.OwnCommitted) instead of waiting for them to
// be durable.

// written submits ops and runs them into the journal, not yet durable.
func (n *node) written(ops ...sim.Op) *engine.Call {
	n.t.Helper()
	c := n.opsCall(ops...)
	n.in.Submit(c)
	if !n.in.Write() || c.Done {
		n.t.Fatal("Write did not run the call, or answered it before the fsync")
	}
	return c
}

func connectedPair(t *testing.T) (*clock, *node, *node) {
	t.Helper()
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	t.Cleanup(func() { a.in.Close(); b.in.Close() })
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	return c, a, b
}

// The liege's transaction arrives while the vassal's own transactions are
// written but not durable, the second conflicting with it: the vassal rolls
// back at once. The rollback makes both durable first (their callers are
// answered), rolls off the conflicting one (reconciled at the liege) and
// keeps the other, which must still be shipped.
func TestPeerTxnRollsBackOwnNotDurable(t *testing.T) {
	c, a, b := connectedPair(t)
	keep := b.written(sim.Op{Op: "set", K: "x", V: "B"})
	lose := b.written(sim.Op{Op: "get", K: "k"}, sim.Op{Op: "set", K: "k", V: "B"})
	a.call(sim.Op{Op: "set", K: "k", V: "A"})
	move(t, a, b)
	if st := b.in.Status(); !st.Node.RollingBack {
		t.Fatalf("the vassal did not start a rollback on the conflicting liege transaction: %+v", st.Node)
	}
	for _, o := range []*engine.Call{keep, lose} {
		if !o.Done || o.Err != nil {
			t.Fatalf("%v: done %v, error %v; a rollback makes what it may roll off durable (and answered) first", o.Result.TxID, o.Done, o.Err)
		}
	}
	pump(t, c, a, b)
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ after the rollback")
	}
	if st := b.in.Status(); st.Epoch != 1 || st.ReconPending != 0 {
		t.Fatalf("the vassal after the rollback: %+v", st)
	}
	pos, _ := a.in.Locate(keep.Result.TxID)
	if r, err := a.in.ReadRecord(pos); pos == 0 || err != nil || r.TxID() != keep.Result.TxID || r.Kind != journal.KindPeer {
		t.Fatalf("the vassal's %v, left by the rollback, is not applied at the liege (position %d, %v)", keep.Result.TxID, pos, err)
	}
	pos, _ = a.in.Locate(lose.Result.TxID)
	if r, err := a.in.ReadRecord(pos); pos == 0 || err != nil || r.Subject != lose.Result.TxID || r.Origin != "A" {
		t.Fatalf("the vassal's rolled-off %v is not reconciled at the liege (position %d, %v)", lose.Result.TxID, pos, err)
	}
}

// A liege transaction that conflicts with no own transaction is applied
// while the vassal's own one is still not durable: it does not wait for
// the vassal's next fsync.
func TestPeerTxnAppliedBeforeOwnIsDurable(t *testing.T) {
	c, a, b := connectedPair(t)
	o := b.written(sim.Op{Op: "set", K: "x", V: "B"})
	p := a.call(sim.Op{Op: "get", K: "k"}, sim.Op{Op: "set", K: "k", V: "A"})
	move(t, a, b)
	if st := b.in.Status(); st.PeerWatermark != p.Result.TxID.OSeq || o.Done {
		t.Fatalf("vassal: peer watermark %d (want %d at once), own %v answered %v (want not yet)",
			st.PeerWatermark, p.Result.TxID.OSeq, o.Result.TxID, o.Done)
	}
	pump(t, c, a, b)
	if !o.Done || o.Err != nil || a.in.Hash() != b.in.Hash() {
		t.Fatalf("own %v: done %v, error %v; hashes equal %v", o.Result.TxID, o.Done, o.Err, a.in.Hash() == b.in.Hash())
	}
}

// The liege rejects a vassal transaction because of an own transaction that
// is not durable yet, at once.
func TestLiegeRejectsOnOwnNotDurable(t *testing.T) {
	c, a, b := connectedPair(t)
	v := b.call(sim.Op{Op: "set", K: "k", V: "B"})
	c.ms++ // v is clock-before o: C1, the liege's mirror use check
	o := a.written(sim.Op{Op: "get", K: "k"}, sim.Op{Op: "set", K: "j", V: "A"})
	move(t, b, a)
	if st := a.in.Status(); st.Node.Discarding != v.Result.TxID {
		t.Fatalf("the liege is discarding for %v, want %v rejected at once (mirror use with %v, not durable)",
			st.Node.Discarding, v.Result.TxID, o.Result.TxID)
	}
	pump(t, c, a, b)
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ")
	}
	pos, _ := a.in.Locate(v.Result.TxID)
	if r, err := a.in.ReadRecord(pos); pos == 0 || err != nil || r.Subject != v.Result.TxID {
		t.Fatalf("the rejected %v is not reconciled at the liege (position %d, %v)", v.Result.TxID, pos, err)
	}
}
