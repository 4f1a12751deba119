package replicate_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/replicate/link"
)

// TestSwitchover swaps the roles in a planned switchover (DESIGN.md section
// 10): quiesce, drain, journal the role change on both, resume. Nothing is
// lost or applied twice, and afterwards the new vassal is the one that
// rolls back on a conflict.
func TestSwitchover(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, link.MemOptions{})
	p.call(p.a, op{Op: "set", K: "x", V: "a"})
	p.call(p.b, op{Op: "add", K: "n", N: 1})
	p.idle()

	p.a.db.Quiesce(true)
	p.b.db.Quiesce(true)
	if _, err := p.a.db.Call(ctx, "ops", opsArgs{Ops: []op{{Op: "set", K: "y", V: "1"}}}); err == nil {
		t.Fatal("a quiesced instance took a call")
	}
	p.idle()
	if err := p.a.db.SetRole(ctx, liege.RoleVassal); err != nil {
		t.Fatal(err)
	}
	if _, err := p.b.db.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	p.a.role, p.b.role = liege.RoleVassal, liege.RoleLiege
	p.a.db.Quiesce(false)
	p.b.db.Quiesce(false)
	p.idle()
	if st := p.a.rep.Status(); st.PeerRole != liege.RoleLiege {
		t.Fatalf("after the switchover A sees its peer as %q", st.PeerRole)
	}

	// A conflict now rolls back A, the new vassal.
	p.partition(true)
	a := p.call(p.a, op{Op: "set", K: "x", V: "from A"})
	b := p.call(p.b, op{Op: "set", K: "x", V: "from B"})
	p.partition(false)
	p.idle()
	if lost, _ := filepath.Glob(filepath.Join(p.a.dir, "lost", "*.ltf")); len(lost) == 0 {
		t.Fatal("the new vassal A did not roll back")
	}
	if lost, _ := filepath.Glob(filepath.Join(p.b.dir, "lost", "*.ltf")); len(lost) != 0 {
		t.Fatalf("the new liege B rolled back: %v", lost)
	}
	for _, n := range []*node{p.a, p.b} {
		if st := p.status(n, a.TxID); st != liege.TxnReprocessed && st != liege.TxnCorrected {
			t.Errorf("%s: %v is %s, want reprocessed or corrected", n.id, a.TxID, st)
		}
		if st := p.status(n, b.TxID); st != liege.TxnCommitted {
			t.Errorf("%s: %v is %s, want committed", n.id, b.TxID, st)
		}
	}
	p.converged()
}

// TestPromote promotes the vassal while the liege is gone; the old liege
// returns as vassal, and its transaction the new liege never received is
// checked, rolled back and reconciled.
func TestPromote(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, link.MemOptions{})
	p.call(p.a, op{Op: "set", K: "seat", V: "free"})
	p.idle()
	p.partition(true)
	a := p.call(p.a, op{Op: "get", K: "seat"}, op{Op: "set", K: "seat", V: "sold by A"})
	b := p.call(p.b, op{Op: "get", K: "seat"}, op{Op: "set", K: "seat", V: "sold by B"})
	p.stop(p.a) // the liege is gone
	if _, err := p.b.db.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	p.b.role, p.a.role = liege.RoleLiege, liege.RoleVassal
	p.partition(false)
	p.start(p.a) // the old liege rejoins as vassal
	p.idle()
	for _, n := range []*node{p.a, p.b} {
		if st := p.status(n, b.TxID); st != liege.TxnCommitted {
			t.Errorf("%s: the new liege's %v is %s, want committed", n.id, b.TxID, st)
		}
		if st := p.status(n, a.TxID); st != liege.TxnCorrected {
			t.Errorf("%s: the old liege's %v is %s, want corrected (the seat was sold by B meanwhile)", n.id, a.TxID, st)
		}
	}
	p.converged()
}
