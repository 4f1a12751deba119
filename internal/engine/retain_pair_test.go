package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
)

// checkpoint runs a checkpoint the instance offers, as a driver does once
// its position is durable.
func (n *node) checkpoint() {
	n.t.Helper()
	j := n.in.TakeCheckpoint(false)
	if j == nil {
		return
	}
	for n.in.Durable() < j.Pos {
		if !n.in.Step() {
			n.t.Fatalf("%s: checkpoint position %d never durable (durable %d)", n.cfg.ID, j.Pos, n.in.Durable())
		}
	}
	if err := j.Run(); err != nil {
		n.t.Fatal(err)
	}
	n.in.CheckpointDone(j)
}

// run ticks both instances n times, moving frames between them.
func run(t *testing.T, c *clock, a, b *node, n int) {
	t.Helper()
	for k := 0; k < n; k++ {
		exchangeFrames(t, a, b, nil)
		tick(c, a, b)
	}
}

// TestPairTruncatesAndRecovers runs a pair with frequent checkpoints and no
// keep floor: both journals lose their front while they commit, conflict
// and roll back, and a crash of each then recovers the same state, and the
// pair goes on converging (no OSeq reused, no stream stuck at a gap).
func TestPairTruncatesAndRecovers(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	for _, n := range []*node{a, b} {
		n.cfg.CheckpointEvery, n.cfg.JournalKeep = 40, 1
		if err := n.in.Close(); err != nil {
			t.Fatal(err)
		}
		l, err := n.log.Reopen()
		if err != nil {
			t.Fatal(err)
		}
		n.log = l
		n.open()
		n.in.LinkUp()
	}
	pump(t, c, a, b)
	for round := 0; round < 30; round++ {
		for i := 0; i < 10; i++ {
			a.call(sim.Op{Op: "add", K: fmt.Sprintf("a%d", i), N: 1})
			b.call(sim.Op{Op: "add", K: fmt.Sprintf("b%d", i), N: 1})
		}
		if round%5 == 4 {
			// A conflict: the vassal rolls back over a truncated journal.
			a.in.LinkDown()
			b.in.LinkDown()
			a.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "A"})
			b.call(sim.Op{Op: "get", K: "seat"}, sim.Op{Op: "set", K: "seat", V: "B"})
			a.in.LinkUp()
			b.in.LinkUp()
		}
		pump(t, c, a, b)
		a.checkpoint()
		b.checkpoint()
		run(t, c, a, b, 70) // retention passes run every few dozen ticks
	}
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ")
	}
	if a.in.FirstPos() < 200 || b.in.FirstPos() < 200 {
		t.Fatalf("journal fronts not truncated: A begins at %d of %d, B at %d of %d", a.in.FirstPos(), a.in.LastPos(), b.in.FirstPos(), b.in.LastPos())
	}
	want := a.in.Hash()
	ownA, _ := a.in.Applied()
	ownB, _ := b.in.Applied()
	a.crash(1)
	b.crash(2)
	if a.in.Hash() != want || b.in.Hash() != want {
		t.Fatal("a restart on the truncated journals does not recover the state")
	}
	if got, _ := a.in.Applied(); got != ownA {
		t.Fatalf("A's newest own OSeq after restart %d, want %d", got, ownA)
	}
	if got, _ := b.in.Applied(); got < ownB {
		t.Fatalf("B's newest own OSeq after restart %d, below %d: it would reuse one", got, ownB)
	}
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	ca := a.call(sim.Op{Op: "set", K: "after", V: "a"})
	cb := b.call(sim.Op{Op: "set", K: "after2", V: "b"})
	pump(t, c, a, b)
	if a.in.Hash() != b.in.Hash() {
		t.Fatal("state hashes differ after the restart")
	}
	if ca.Result.TxID.OSeq != ownA+1 || cb.Result.TxID.OSeq <= ownB {
		t.Fatalf("after restart A committed %v (want OSeq %d), B %v (want above %d)", ca.Result.TxID, ownA+1, cb.Result.TxID, ownB)
	}
}

// TestKeepFloorHolds: retention never truncates inside the newest
// JournalKeep bytes, yet truncates below them.
func TestKeepFloorHolds(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	n := newNode(t, c, "A", "", "")
	const keep = 20 << 10
	n.cfg.CheckpointEvery, n.cfg.JournalKeep = 500, keep
	if err := n.in.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := n.log.Reopen()
	if err != nil {
		t.Fatal(err)
	}
	n.log = l
	n.open()
	for i := 0; i < 2000; i++ {
		n.call(sim.Op{Op: "set", K: fmt.Sprintf("k%d", i), V: "some value of a few dozen bytes, to fill"})
		n.checkpoint()
		first, last := n.in.FirstPos(), n.in.Durable()
		var bytes int
		for p := first; p <= last; p++ {
			b, err := n.log.Read(p)
			if err != nil {
				t.Fatal(err)
			}
			bytes += len(b)
		}
		if first > 1 && bytes < keep {
			t.Fatalf("after %d calls the journal holds %d bytes (positions %d..%d), under the keep floor of %d", i+1, bytes, first, last, keep)
		}
	}
	if first, last := n.in.FirstPos(), n.in.LastPos(); first < 1000 || last-first > 400 {
		t.Fatalf("the journal holds positions %d..%d: retention did not truncate down to the keep floor", first, last)
	}
}
