package replicate_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

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
	if _, err := p.a.db.Call(ctx, "ops", opsArgs{Ops: []op{{Op: "set", K: "y", V: "1"}}}); !errors.Is(err, liege.ErrQuiesced) {
		t.Fatalf("a quiesced instance answered a call with %v, want ErrQuiesced", err)
	}
	p.a.db.Quiesce(false)
	// The switchover quiesces the liege, drains both streams, journals
	// vassal in the next reign, and the peer adopts the liege role.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.a.db.Switchover(sctx); err != nil {
		t.Fatal(err)
	}
	waitRole(t, p.b.db, liege.RoleLiege)
	p.a.role, p.b.role = liege.RoleVassal, liege.RoleLiege
	p.idle()
	if p.a.db.Quiesced() || p.b.db.Quiesced() {
		t.Fatal("an instance stayed quiesced after the switchover")
	}
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
	p := newPair(t, link.MemOptions{})
	p.call(p.a, op{Op: "set", K: "seat", V: "free"})
	p.idle()
	p.partition(true)
	a := p.call(p.a, op{Op: "get", K: "seat"}, op{Op: "set", K: "seat", V: "sold by A"})
	b := p.call(p.b, op{Op: "get", K: "seat"}, op{Op: "set", K: "seat", V: "sold by B"})
	p.stop(p.a) // the liege is gone
	promoteWhenQuiet(t, p.b.db)
	p.b.role = liege.RoleLiege
	p.partition(false)
	// The old liege restarts with its usual role: it learns the higher
	// reign at the handshake and becomes the vassal by itself.
	p.start(p.a)
	waitRole(t, p.a.db, liege.RoleVassal)
	p.a.role = liege.RoleVassal
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

// waitRole waits (budget 10s) until db holds role.
func waitRole(t *testing.T, db *liege.DB, role string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for db.Role() != role {
		if time.Now().After(deadline) {
			t.Fatalf("%s is still %s after 10s, want %s (%+v)", db.ID(), db.Role(), role, db.ReplStatus())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// promoteWhenQuiet promotes db without force, retrying while it still
// hears from its liege (budget 10s): a promote refuses until the liege has
// been silent for a few heartbeats.
func promoteWhenQuiet(t *testing.T, db *liege.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := db.Promote(context.Background(), false)
		if err == nil {
			return
		}
		if !errors.Is(err, liege.ErrHearsLiege) || time.Now().After(deadline) {
			t.Fatalf("promote %s: %v", db.ID(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
