package enginetest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
)

// These tests drive the real engine (files, executor, Node) of two
// instances over an in-memory Link, for the behaviour the Node brings
// (issue #11): window pruning by the stable watermark, and reigns.

type inst struct {
	t    *testing.T
	dir  string
	id   string
	peer string
	role string
	db   *liege.DB
}

func openInst(t *testing.T, dir, id, peer, role string) *inst {
	t.Helper()
	n := &inst{t: t, dir: dir, id: id, peer: peer, role: role}
	n.open()
	return n
}

func (n *inst) open() {
	n.t.Helper()
	db, err := liege.Open(liege.Options{Dir: n.dir, ID: n.id, PeerID: n.peer, Role: n.role, CheckpointEvery: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		n.t.Fatal(err)
	}
	if err := sim.RegisterOps(db); err != nil {
		n.t.Fatal(err)
	}
	n.db = db
	n.t.Cleanup(func() { db.Close() })
}

func (n *inst) call(ops ...sim.Op) journal.TxID {
	n.t.Helper()
	r, err := n.db.Call(context.Background(), "ops", sim.OpsArgs{Ops: ops})
	if err != nil {
		n.t.Fatal(err)
	}
	return r.TxID
}

func settle(t *testing.T, l *enginetest.Link) {
	t.Helper()
	if err := l.Settle(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

func pair(t *testing.T) (a, b *inst, l *enginetest.Link) {
	t.Helper()
	a = openInst(t, t.TempDir(), "A", "B", liege.RoleLiege)
	b = openInst(t, t.TempDir(), "B", "A", liege.RoleVassal)
	l, err := enginetest.Connect(a.db, b.db, "test")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, l)
	return a, b, l
}

// converged checks the running pair's hashes, then closes both and runs
// the oracle on their directories.
func converged(t *testing.T, a, b *inst, acked []journal.TxID) {
	t.Helper()
	ctx := context.Background()
	ha, err1 := a.db.Hash(ctx)
	hb, err2 := b.db.Hash(ctx)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if ha != hb {
		t.Fatalf("state hashes differ: A %x, B %x", ha[:8], hb[:8])
	}
	a.db.Close()
	b.db.Close()
	ia, err := oracle.Load(a.dir)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := oracle.Load(b.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Check(ia, ib, oracle.Options{Acked: acked}); err != nil {
		t.Fatalf("oracle: %v", err)
	}
}

// 2,400 liege-only writes with a read-only vassal: the liege's window
// holds them while the vassal has not applied them, and falls to zero once
// the vassal's stable watermark, carried by its heartbeats, passes them.
func TestLiegeWindowPrunedByStableWatermark(t *testing.T) {
	a, b, l := pair(t)
	l.Down()
	const n = 2400
	for i := range n {
		a.call(sim.Op{Op: "set", K: fmt.Sprint("k", i%50), V: "v"})
	}
	if w := a.db.ReplStatus().Window; w != n {
		t.Fatalf("liege window %d before the vassal applied anything, want %d", w, n)
	}
	l.Up()
	settle(t, l)
	if st := b.db.ReplStatus(); st.Watermark != n {
		t.Fatalf("vassal watermark %d, want %d", st.Watermark, n)
	}
	if w := a.db.ReplStatus().Window; w != 0 {
		t.Fatalf("liege window %d after the vassal applied everything, want 0 (pruned by its stable watermark %d)", w, a.db.ReplStatus().PeerStable)
	}
	st, err := a.db.Status(context.Background())
	if err != nil || st.HighOSeq != n {
		t.Fatalf("liege status %+v %v", st, err)
	}
}

// liege promote without --force refuses while the vassal still hears from
// its liege.
func TestPromoteRefusedWhileLiegeHeard(t *testing.T) {
	_, b, _ := pair(t)
	err := b.db.Promote(context.Background(), false)
	if !errors.Is(err, liege.ErrHearsLiege) {
		t.Fatalf("promote of a vassal that hears its liege = %v, want ErrHearsLiege", err)
	}
	if r := b.db.Role(); r != liege.RoleVassal {
		t.Fatalf("B is %s after a refused promote", r)
	}
}

// A forced promote while the old liege is up: the old liege, restarted
// with its usual role, learns the higher reign at the handshake, becomes
// the vassal by itself, and its transaction the new liege never received
// is checked, rolled back and reconciled; the pair converges.
func TestForcedPromoteOldLiegeRejoinsAsVassal(t *testing.T) {
	ctx := context.Background()
	a, b, l := pair(t)
	acked := []journal.TxID{a.call(sim.Op{Op: "set", K: "seat", V: "free"})}
	settle(t, l)
	l.Down() // a partition: both still run
	acked = append(acked,
		a.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "sold by A"}))
	if err := b.db.Promote(ctx, true); err != nil {
		t.Fatalf("forced promote: %v", err)
	}
	if r := b.db.Role(); r != liege.RoleLiege || b.db.ReplStatus().Reign != 2 {
		t.Fatalf("B after a forced promote: %s in reign %d, want liege in reign 2", r, b.db.ReplStatus().Reign)
	}
	bTx := b.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "sold by B"})
	acked = append(acked, bTx)
	aTx := acked[1]

	// The old liege restarts with its usual --role liege.
	a.db.Close()
	a.open()
	if r := a.db.Role(); r != liege.RoleLiege {
		t.Fatalf("A restarted as %s, want liege (its journal holds reign 1)", r)
	}
	l2, err := enginetest.Connect(a.db, b.db, "test")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, l2)
	if r, st := a.db.Role(), a.db.ReplStatus(); r != liege.RoleVassal || st.Reign != 2 {
		t.Fatalf("old liege after the handshake: %s in reign %d, want vassal in reign 2", r, st.Reign)
	}
	for _, n := range []*inst{a, b} {
		st, err := n.db.TxnStatus(ctx, aTx)
		if err != nil || st.State != liege.TxnCorrected {
			t.Errorf("%s: the old liege's %v is %+v %v, want corrected (the seat was sold by B meanwhile)", n.id, aTx, st.State, err)
		}
		st, err = n.db.TxnStatus(ctx, bTx)
		if err != nil || st.State != liege.TxnCommitted {
			t.Errorf("%s: the new liege's %v is %+v %v, want committed", n.id, bTx, st.State, err)
		}
	}
	// A restart with --role liege again keeps the reign's role.
	a.db.Close()
	a.open()
	if r := a.db.Role(); r != liege.RoleVassal || a.db.Recovery.RoleIgnored != liege.RoleLiege {
		t.Fatalf("A reopened with --role liege: %s (ignored %q), want vassal: the journal's later reign wins", r, a.db.Recovery.RoleIgnored)
	}
	l3, err := enginetest.Connect(a.db, b.db, "test")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, l3)
	converged(t, a, b, acked)
}

// A duplicate subject (DESIGN.md section 10): the old liege reconciled the
// vassal's rolled-off transaction, but its reprocess never reached the
// vassal; the vassal, promoted, reconciles the same subject itself. When
// the old liege rejoins as vassal, the new liege rejects its reprocess (it
// already holds that subject), the old liege rolls it back, and the pair
// converges with the subject reconciled once.
func TestDuplicateSubjectRejected(t *testing.T) {
	ctx := context.Background()
	a, b, l := pair(t)
	acked := []journal.TxID{a.call(sim.Op{Op: "set", K: "seat", V: "free"})}
	settle(t, l)
	l.Down()
	acked = append(acked, a.call(sim.Op{Op: "set", K: "seat", V: "A"}))
	b1 := b.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "B"})
	acked = append(acked, b1)
	// B's transactions reach A, A's never reach B: A rejects b1, B rolls
	// it back and sends its reconciliation log, A reconciles it.
	l.Only(b.db)
	l.Up()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := l.Move(); err != nil {
			t.Fatal(err)
		}
		st, err := a.db.TxnStatus(ctx, b1)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == liege.TxnReprocessed || st.State == liege.TxnCorrected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A never reconciled %v: %+v; A %+v, B %+v", b1, st, a.db.ReplStatus(), b.db.ReplStatus())
		}
		a.db.Tick()
		b.db.Tick()
		time.Sleep(time.Millisecond)
	}
	l.Down()
	if st, _ := b.db.TxnStatus(ctx, b1); st.State != liege.TxnRolledBack {
		t.Fatalf("B: %v is %s, want rolled_back (its reconciliation never came back)", b1, st.State)
	}
	// A is gone; B is promoted and reconciles b1 itself.
	a.db.Close()
	if err := b.db.Promote(ctx, true); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err := b.db.TxnStatus(ctx, b1)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == liege.TxnReprocessed || st.State == liege.TxnCorrected {
			if st.Record.Origin != "B" {
				t.Fatalf("B holds %v as %+v, want its own reconciliation", b1, st.Record.TxID())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the promoted B never reconciled %v: %s", b1, st.State)
		}
		time.Sleep(time.Millisecond)
	}
	// A rejoins (as liege, its usual role): it adopts the new reign; its
	// reprocess of b1 is a duplicate subject at B and rolls back.
	a.open()
	l2, err := enginetest.Connect(a.db, b.db, "test")
	if err != nil {
		t.Fatal(err)
	}
	settle(t, l2)
	if r := a.db.Role(); r != liege.RoleVassal {
		t.Fatalf("A rejoined as %s, want vassal", r)
	}
	if a.db.ReplStatus().Epoch == 0 {
		t.Fatal("A did not roll back its duplicate reprocess")
	}
	st, err := a.db.TxnStatus(ctx, b1)
	if err != nil || st.Record == nil || st.Record.Origin != "B" {
		t.Fatalf("A: %v stands as %+v %v, want B's reconciliation (A's own was a duplicate subject)", b1, st, err)
	}
	converged(t, a, b, acked)
}
