package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// retain does what journal retention does to n: a checkpoint, then the
// journal's front truncated below it and the lost transaction files
// removed; n is then restarted on what is left.
func (n *node) retain() {
	n.t.Helper()
	j := n.in.TakeCheckpoint(true)
	if j == nil {
		n.t.Fatal("no checkpoint job")
	}
	if err := j.Run(); err != nil {
		n.t.Fatal(err)
	}
	n.in.CheckpointDone(j)
	if err := n.in.Close(); err != nil {
		n.t.Fatal(err)
	}
	l, err := n.log.Reopen()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := l.TruncateFront(j.Pos + 1); err != nil {
		n.t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(n.cfg.Dir, rollback.LostDir)); err != nil {
		n.t.Fatal(err)
	}
	n.log = l
	n.open()
}

// TestTxnStatusSurvivesRetention: every TxID committed, rolled back or
// corrected at B answers its fate from the durable TxID index once the
// journal no longer holds its record and its lost transaction file is
// gone; a TxID never seen answers nothing.
func TestTxnStatusSurvivesRetention(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)

	a1 := a.call(sim.Op{Op: "set", K: "x", V: "a"}).Result.TxID
	b1 := b.call(sim.Op{Op: "add", K: "n", N: 2}).Result.TxID
	pump(t, c, a, b)
	a.in.LinkDown()
	b.in.LinkDown()
	a.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "A"})
	conflict := b.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "B"}).Result.TxID
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	b3 := b.call(sim.Op{Op: "add", K: "n", N: 1}).Result.TxID
	pump(t, c, a, b)
	corrected, _ := b.in.Locate(conflict)
	if corrected == 0 {
		t.Fatalf("B's journal holds no correction of %v before retention", conflict)
	}
	a.in.LinkDown()
	b.in.LinkDown()

	b.retain()
	if first := b.in.FirstPos(); first <= corrected {
		t.Fatalf("retention kept position %d (the correction is at %d): the test removes nothing", first, corrected)
	}
	for _, w := range []struct {
		id   journal.TxID
		want string
	}{
		{a1, engine.FateCommitted}, {b1, engine.FateCommitted}, {b3, engine.FateCommitted},
		{conflict, engine.FateCorrected},
		{journal.TxID{Origin: "B", OSeq: 99}, ""}, {journal.TxID{Origin: "Z", OSeq: 1}, ""},
	} {
		if pos, lost := b.in.Locate(w.id); pos != 0 || lost != "" {
			t.Errorf("%v: the journal still holds it (pos %d, lost file %q)", w.id, pos, lost)
		}
		if got, by := b.in.Fate(w.id); got != w.want {
			t.Errorf("Fate(%v) = %q (by %v), want %q", w.id, got, by, w.want)
		} else if got == engine.FateCorrected && by.Origin != "A" {
			t.Errorf("Fate(%v) is corrected by %v, want a transaction of the liege A", w.id, by)
		}
	}
}

// TestTxnStatusRolledBackLone: a lone instance's transaction rolled back by
// hand answers rolled_back once its lost transaction file is removed, and
// the transactions before the rollback stay committed.
func TestTxnStatusRolledBackLone(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	n := newNode(t, c, "L", "", "")
	kept := n.call(sim.Op{Op: "set", K: "x", V: "1"})
	off := n.call(sim.Op{Op: "set", K: "x", V: "2"})
	if _, _, _, err := n.in.RollbackTo(off.Result.Pos, "test"); err != nil {
		t.Fatal(err)
	}
	after := n.call(sim.Op{Op: "set", K: "y", V: "3"}).Result.TxID
	n.retain()
	for id, want := range map[journal.TxID]string{kept.Result.TxID: engine.FateCommitted, off.Result.TxID: engine.FateRolledBack, after: engine.FateCommitted} {
		if got, _ := n.in.Fate(id); got != want {
			t.Errorf("Fate(%v) = %q, want %q", id, got, want)
		}
	}
}

// TestTxnStatusRollbackFinishedAtStartUp: a rollback interrupted after its
// undo (here by an error injected once it journaled its epoch) and
// finished at the next start-up is recorded in the TxID index: the own
// transactions it rolled off answer rolled back, not committed, once
// retention removed their records and lost file. That start-up does not
// learn them from the undo; they are in the lost file.
func TestTxnStatusRollbackFinishedAtStartUp(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	n := newNode(t, c, "L", "", "")
	kept := n.call(sim.Op{Op: "set", K: "x", V: "1"})
	off1 := n.call(sim.Op{Op: "set", K: "x", V: "2"})
	off2 := n.call(sim.Op{Op: "set", K: "y", V: "3"})
	j := n.in.TakeCheckpoint(true) // which writes the index's pending runs
	if j == nil {
		t.Fatal("no checkpoint job")
	}
	if err := j.Run(); err != nil {
		t.Fatal(err)
	}
	n.in.CheckpointDone(j)
	failpoint.Set("rollback-after-epoch", "error", 1)
	_, _, _, err := n.in.RollbackTo(off1.Result.Pos, "test")
	failpoint.Reset()
	if !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("RollbackTo: %v, want the injected error", err)
	}
	n.restartFinishingRollback()
	after := n.call(sim.Op{Op: "set", K: "z", V: "4"}).Result.TxID
	n.retain()
	for id, want := range map[journal.TxID]string{kept.Result.TxID: engine.FateCommitted, off1.Result.TxID: engine.FateRolledBack,
		off2.Result.TxID: engine.FateRolledBack, after: engine.FateCommitted} {
		if got, _ := n.in.Fate(id); got != want {
			t.Errorf("Fate(%v) = %q, want %q", id, got, want)
		}
	}
}

// TestRoleRolledOffAndFinishedAtStartUp: a vassal's rollback that rolls off
// the role record of the reign it adopted, interrupted after its epoch
// record (an error injected there) and finished at the next start-up,
// leaves the instance in that reign: the running path journals the role
// again after such a rollback (afterRollback), and so must the start-up.
// It restarted as the liege of the older reign (simulator seed 19).
func TestRoleRolledOffAndFinishedAtStartUp(t *testing.T) {
	c, a, b := connectedPair(t)
	a.in.LinkDown()
	b.in.LinkDown()
	if err := b.in.Promote(true); err != nil {
		t.Fatal(err)
	}
	a.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "A"})
	b.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "B"})
	failpoint.Set("rollback-after-epoch", "error", 1)
	defer failpoint.Reset()
	a.in.LinkUp()
	b.in.LinkUp()
	for range 200 {
		if failpoint.Hits("rollback-after-epoch") > 0 {
			break
		}
		for _, d := range [][2]*node{{a, b}, {b, a}} {
			for d[0].in.Step() {
			}
			frames, _ := d[0].in.Outbox()
			for _, f := range frames {
				_ = d[1].in.Deliver(f)
			}
		}
		c.ms += 50
		a.in.Tick()
		b.in.Tick()
	}
	if failpoint.Hits("rollback-after-epoch") == 0 {
		t.Fatalf("A did not roll back (status %+v): the test interrupts nothing", a.in.Status())
	}
	failpoint.Reset()
	a.restartFinishingRollback()
	if st := a.in.Status(); st.Role != engine.RoleVassal || st.Reign != 2 {
		t.Errorf("A after the start-up that finished its rollback: %s in reign %d, want vassal in reign 2", st.Role, st.Reign)
	}
}

// restartFinishingRollback opens n again on what its log kept after a
// rollback failed (an injected error), and fails the test unless the
// start-up finished that rollback.
func (n *node) restartFinishingRollback() {
	n.t.Helper()
	n.in.Close() // the instance failed: Close says so
	l, err := n.log.Reopen()
	if err != nil {
		n.t.Fatal(err)
	}
	n.log = l
	n.open()
	if n.in.Recovery.Rollback == nil {
		n.t.Fatal("the start-up finished no rollback: the test interrupts none")
	}
}
