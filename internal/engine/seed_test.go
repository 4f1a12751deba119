package engine_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// reconnecting moves frames like run, but a side that closes the link has
// both sides reconnect, as the drivers' dial loops do. It returns the
// reasons the link was closed.
func reconnecting(t *testing.T, c *clock, a, b *node, n int) []string {
	t.Helper()
	var closed []string
	for k := 0; k < n; k++ {
		for _, d := range [][2]*node{{a, b}, {b, a}} {
			for d[0].in.Step() {
			}
			frames, disc := d[0].in.Outbox()
			for _, f := range frames {
				if err := d[1].in.Deliver(f); err != nil {
					disc = fmt.Sprintf("%s refused a %v frame: %v", d[1].cfg.ID, f.Kind, err)
					break
				}
			}
			if disc != "" {
				closed = append(closed, disc)
				for _, x := range []*node{a, b} {
					x.in.Outbox() // frames of the closed session are lost
					x.in.LinkDown()
					x.in.LinkUp()
				}
			}
		}
		if a.in.Status().Node.Idle() && b.in.Status().Node.Idle() {
			return closed
		}
		c.ms += 100
		a.in.Tick()
		b.in.Tick()
	}
	t.Fatalf("not idle after %d rounds (link closed for %q): %+v / %+v", n, closed, a.in.Status().Node, b.in.Status().Node)
	return nil
}

// TestEmptiedVassalIsSeeded: the liege truncated its journal's front; the
// vassal's directory is lost. Started empty, the vassal is given the
// liege's checkpoint, catches up from the stream, and goes on without
// reusing an OSeq the liege applied.
func TestEmptiedVassalIsSeeded(t *testing.T) {
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
	for round := 0; round < 20; round++ {
		for i := 0; i < 10; i++ {
			a.call(sim.Op{Op: "add", K: fmt.Sprintf("a%d", i), N: 1})
			b.call(sim.Op{Op: "add", K: fmt.Sprintf("b%d", i), N: 1})
		}
		pump(t, c, a, b)
		a.checkpoint()
		run(t, c, a, b, 70)
	}
	if a.in.FirstPos() < 100 {
		t.Fatalf("the liege's journal was not truncated: it begins at %d", a.in.FirstPos())
	}
	_, bApplied := a.in.Applied() // B's OSeqs the liege holds

	// B's directory is lost; the liege goes on committing meanwhile.
	a.in.LinkDown()
	b.in.Close()
	for i := 0; i < 30; i++ {
		a.call(sim.Op{Op: "set", K: fmt.Sprintf("while%d", i), V: "x"})
	}
	a.checkpoint()
	fresh := newNode(t, c, "B", "A", engine.RoleVassal)
	a.in.LinkUp()
	fresh.in.LinkUp()
	closed := reconnecting(t, c, a, fresh, 500)
	if len(closed) == 0 {
		t.Fatal("the vassal was not seeded (the link never closed for it)")
	}
	if a.in.Hash() != fresh.in.Hash() {
		t.Fatalf("state hashes differ after seeding (link closed for %q)", closed)
	}
	// The checkpoint arrived in a file of the directory, decoded from
	// there; it is gone once installed.
	if tmps, _ := filepath.Glob(filepath.Join(fresh.cfg.Dir, "*.tmp")); len(tmps) > 0 {
		t.Fatalf("the received checkpoint's file is left behind: %v", tmps)
	}
	if _, wm := fresh.in.Applied(); wm == 0 {
		t.Fatal("the seeded vassal applied none of the liege's OSeqs")
	}
	cb := fresh.call(sim.Op{Op: "set", K: "new", V: "b"})
	if cb.Result.TxID.OSeq <= bApplied {
		t.Fatalf("the seeded vassal committed %v, reusing an OSeq the liege applied (up to %d)", cb.Result.TxID, bApplied)
	}
	a.call(sim.Op{Op: "set", K: "new2", V: "a"})
	reconnecting(t, c, a, fresh, 500)
	if a.in.Hash() != fresh.in.Hash() {
		t.Fatal("state hashes differ after the seeded vassal committed")
	}
	// A restart of the seeded vassal recovers from the installed checkpoint.
	want := fresh.in.Hash()
	fresh.crash(3)
	if fresh.in.Hash() != want {
		t.Fatal("the seeded vassal does not recover its state after a crash")
	}
	if r, err := fresh.in.ReadRecord(fresh.in.FirstPos()); err != nil || r.Kind != journal.KindCheckpoint {
		t.Fatalf("the seeded vassal's journal: first record %+v, %v", r, err)
	}
}

// TestEmptiedInstanceWaitsForItsSeed: the vassal's directory is lost after
// the liege applied its own transactions B/1..B/3. Started empty, it learns
// at the handshake that the liege holds them and asks for the liege's
// checkpoint; until that is installed it refuses calls with
// ErrAwaitingPeer, which says why (DESIGN.md section 3: an own transaction
// committed meanwhile would take B/1 again), also once the session that
// asked is lost. Seeded, it takes calls after B/3.
func TestEmptiedInstanceWaitsForItsSeed(t *testing.T) {
	c, a, b := connectedPair(t)
	for i := 0; i < 3; i++ {
		b.call(sim.Op{Op: "set", K: fmt.Sprintf("b%d", i), V: "old"})
		a.call(sim.Op{Op: "set", K: fmt.Sprintf("a%d", i), V: "old"})
	}
	pump(t, c, a, b)
	if _, wm := a.in.Applied(); wm != 3 {
		t.Fatalf("the liege applied B's OSeqs up to %d, want 3", wm)
	}

	// B's directory is lost.
	a.in.LinkDown()
	if err := b.in.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := newNode(t, c, "B", "A", engine.RoleVassal)
	refused := func(when, why string) {
		t.Helper()
		call := fresh.submit(sim.Op{Op: "set", K: "new", V: "b"})
		if !errors.Is(call.Err, engine.ErrAwaitingPeer) {
			t.Fatalf("a call at the emptied vassal %s: %v (TxID %v); want ErrAwaitingPeer", when, call.Err, call.Result.TxID)
		}
		if !strings.Contains(call.Err.Error(), why) {
			t.Fatalf("the refusal %s does not say what it waits for (%q): %v", when, why, call.Err)
		}
	}
	refusedUntilSeeded := func(when string) { t.Helper(); refused(when, "seeded from the peer's checkpoint") }
	// Rebuilt with --await-peer, it takes no call before the handshake
	// either (it cannot yet know that the liege holds B/1..B/3).
	if err := fresh.in.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := fresh.log.Reopen()
	if err != nil {
		t.Fatal(err)
	}
	fresh.log, fresh.cfg.AwaitPeer = l, true
	fresh.open()
	refused("before the handshake", "--await-peer")
	// One exchange of hellos: the fresh vassal hears that the liege holds
	// B/1..B/3 and asks for its checkpoint, which has not come yet.
	a.in.LinkUp()
	fresh.in.LinkUp()
	for _, d := range [][2]*node{{a, fresh}, {fresh, a}} {
		for d[0].in.Step() {
		}
		frames, _ := d[0].in.Outbox()
		for _, f := range frames {
			if err := d[1].in.Deliver(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	for fresh.in.Step() {
	}
	if !fresh.in.Status().Node.Connected {
		t.Fatal("the emptied vassal did not take the liege's hello")
	}
	refusedUntilSeeded("after the handshake")
	// Promoting it is refused too, forced or not: as liege it would give
	// B/1..B/3's OSeqs to new transactions. The refusal says what to do.
	noPromote := func(when string, force bool) {
		t.Helper()
		err := fresh.in.Promote(force)
		if !errors.Is(err, replicate.ErrAwaitingSeed) {
			t.Fatalf("promote (force %v) of the emptied vassal %s: %v; want ErrAwaitingSeed", force, when, err)
		}
		for _, says := range []string{"checkpoint", "once the checkpoint is installed", "backup"} {
			if !strings.Contains(err.Error(), says) {
				t.Fatalf("the promote refusal %s does not say %q: %v", when, says, err)
			}
		}
		if r := fresh.in.Status().Role; r != engine.RoleVassal {
			t.Fatalf("the refused promote %s left role %q", when, r)
		}
	}
	noPromote("after the handshake", true)
	// The session is lost before the checkpoint came: still refused.
	for _, n := range []*node{a, fresh} {
		n.in.Outbox()
		n.in.LinkDown()
	}
	refusedUntilSeeded("after the link was lost")
	noPromote("after the link was lost", false)
	noPromote("after the link was lost", true)
	a.in.LinkUp()
	fresh.in.LinkUp()
	if closed := reconnecting(t, c, a, fresh, 500); len(closed) == 0 {
		t.Fatal("the emptied vassal was not seeded (the link never closed for it)")
	}
	cb := fresh.call(sim.Op{Op: "set", K: "new", V: "b"})
	if cb.Result.TxID.OSeq <= 3 {
		t.Fatalf("the seeded vassal committed %v, reusing an OSeq the liege holds (up to 3)", cb.Result.TxID)
	}
	reconnecting(t, c, a, fresh, 500)
	if a.in.Hash() != fresh.in.Hash() {
		t.Fatal("state hashes differ after the seeded vassal committed")
	}
}

// TestAwaitPeerEndsAtTheHandshake: an instance started with AwaitPeer whose
// peer holds none of its own transactions takes calls once the handshake
// is done (there is nothing to be seeded with).
func TestAwaitPeerEndsAtTheHandshake(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	if err := b.in.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := b.log.Reopen()
	if err != nil {
		t.Fatal(err)
	}
	b.log, b.cfg.AwaitPeer = l, true
	b.open()
	if call := b.submit(sim.Op{Op: "set", K: "x", V: "1"}); !errors.Is(call.Err, engine.ErrAwaitingPeer) {
		t.Fatalf("a call before the handshake: %v (TxID %v); want ErrAwaitingPeer", call.Err, call.Result.TxID)
	}
	a.in.LinkUp()
	b.in.LinkUp()
	pump(t, c, a, b)
	if call := b.call(sim.Op{Op: "set", K: "x", V: "1"}); call.Result.TxID.OSeq != 1 {
		t.Fatalf("the first call after the handshake committed %v, want B/1", call.Result.TxID)
	}
}
