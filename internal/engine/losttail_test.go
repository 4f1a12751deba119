package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
)

// submit submits ops and steps until the call is answered, returning it
// with its error (call fails the test on an error).
func (n *node) submit(ops ...sim.Op) *engine.Call {
	n.t.Helper()
	c := n.opsCall(ops...)
	n.submitAndStep(c)
	return c
}

// restart closes the instance cleanly and opens it again on what it wrote.
func (n *node) restart() {
	n.t.Helper()
	if err := n.in.Close(); err != nil {
		n.t.Fatal(err)
	}
	l, err := n.log.Reopen()
	if err != nil {
		n.t.Fatal(err)
	}
	n.log = l
	n.open()
}

// valueAt returns the string value the record of id (in n's journal) sets.
func valueAt(t *testing.T, n *node, id journal.TxID) string {
	t.Helper()
	pos, _ := n.in.Locate(id)
	if pos == 0 {
		t.Fatalf("%s's journal does not hold %v", n.cfg.ID, id)
	}
	r, err := n.in.ReadRecord(pos)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Writes) != 1 {
		t.Fatalf("%v at %d in %s's journal writes %d keys, want 1", id, pos, n.cfg.ID, len(r.Writes))
	}
	var v string
	if err := journal.Unmarshal(r.Writes[0].Value, &v); err != nil {
		t.Fatalf("%v's value: %v", id, err)
	}
	return v
}

// TestLostAckedTailNeverReusesAnOSeq is the lost-tail case of issue 13:
// A's last own transaction, acknowledged and applied by its peer B, is cut
// from A's journal at start-up (a disk that lied about the fsync). A must
// not give the next call that TxID again: it refuses calls until B's
// handshake says B holds A/2, then continues after it, durably (a clean
// restart before any new call still does not reuse A/2).
func TestLostAckedTailNeverReusesAnOSeq(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)

	a.call(sim.Op{Op: "set", K: "x", V: "first"})
	lost := a.call(sim.Op{Op: "set", K: "y", V: "acknowledged"}).Result.TxID
	pump(t, c, a, b)
	if _, wm := b.in.Applied(); wm != lost.OSeq {
		t.Fatalf("B applied A's OSeqs up to %d, want %d", wm, lost.OSeq)
	}
	a.in.LinkDown()
	b.in.LinkDown()

	a.log = a.log.CrashTearingSynced(3)
	a.open()
	if a.in.Recovery.TornTail == "" {
		t.Fatal("A's start-up cut no torn tail")
	}
	if own, _ := a.in.Applied(); own != lost.OSeq-1 {
		t.Fatalf("A's journal holds own OSeqs up to %d after the cut, want %d", own, lost.OSeq-1)
	}
	refused := a.submit(sim.Op{Op: "set", K: "z", V: "before the handshake"})
	if !errors.Is(refused.Err, engine.ErrAwaitingPeer) {
		t.Fatalf("a call before the peer's handshake: %v (TxID %v); want ErrAwaitingPeer", refused.Err, refused.Result.TxID)
	}

	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	if own, _ := a.in.Applied(); own != lost.OSeq {
		t.Fatalf("after the handshake A assigns OSeqs after %d, want after %d (B holds %v)", own, lost.OSeq, lost)
	}
	// The skip is durable: a clean restart, link down, then a call.
	a.in.LinkDown()
	b.in.LinkDown()
	a.restart()
	next := a.call(sim.Op{Op: "set", K: "z", V: "next"}).Result.TxID
	if next.OSeq <= lost.OSeq {
		t.Fatalf("the call after a restart got %v: OSeq %d of %v was reused", next, next.OSeq, lost)
	}
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	if got := valueAt(t, b, lost); got != "acknowledged" {
		t.Errorf("B's %v sets %q, want the acknowledged transaction's value", lost, got)
	}
	if got := valueAt(t, b, next); got != "next" {
		t.Errorf("B's %v sets %q, want %q", next, got, "next")
	}
}

// TestPromoteEndsTheWaitForThePeer: a vassal that cut a torn tail waits for
// its liege's handshake before taking calls; promoting it (the liege is
// gone) ends the wait.
func TestPromoteEndsTheWaitForThePeer(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	b.call(sim.Op{Op: "set", K: "x", V: "1"})
	b.log = b.log.CrashTearingSynced(2)
	b.open()
	if c := b.submit(sim.Op{Op: "set", K: "y", V: "2"}); !errors.Is(c.Err, engine.ErrAwaitingPeer) {
		t.Fatalf("a call after the cut: %v; want ErrAwaitingPeer", c.Err)
	}
	if err := b.in.Promote(true); err != nil {
		t.Fatal(err)
	}
	for b.in.Step() {
	}
	if c := b.submit(sim.Op{Op: "set", K: "y", V: "2"}); c.Err != nil {
		t.Fatalf("a call after the promote: %v", c.Err)
	}
}
