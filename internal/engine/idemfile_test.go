package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
)

// retainPast has n take a checkpoint and truncate its journal's front
// below it, as running retention does (Config.JournalKeep 1), and fails
// the test unless the journal no longer holds position pos.
func (n *node) retainPast(pos uint64) {
	n.t.Helper()
	j := n.in.TakeCheckpoint(true)
	if j == nil {
		n.t.Fatalf("%s: no checkpoint job", n.cfg.ID)
	}
	if err := j.Run(); err != nil {
		n.t.Fatal(err)
	}
	n.in.CheckpointDone(j)
	if first := n.in.FirstPos(); first <= pos {
		n.t.Fatalf("%s: retention kept position %d (the journal begins at %d): the test removes nothing", n.cfg.ID, pos, first)
	}
}

// keyedForward submits a keyed call, forwarded to the liege if forward
// is set; the caller steps until it is answered.
func (n *node) keyedForward(key string, forward bool, ops ...sim.Op) *engine.Call {
	n.t.Helper()
	c := n.opsCall(ops...)
	c.IdempotencyKey, c.Forward = key, forward
	n.in.Submit(c)
	return c
}

// TestIdempotencyKeySurvivesRetention: a key whose record retention
// removed from the journal still answers its first outcome after a clean
// restart and after a crash, is refused with other arguments, and is a new
// call once its keep time has passed (issue 13 item 5).
func TestIdempotencyKeySurvivesRetention(t *testing.T) {
	for _, stop := range []string{"restart", "crash"} {
		t.Run(stop, func(t *testing.T) {
			c := &clock{ms: time.Now().UnixMilli()}
			n := newNode(t, c, "L", "", "")
			n.cfg.IdempotencyKeep, n.cfg.JournalKeep = time.Hour, 1
			n.restart()

			set1 := sim.Op{Op: "set", K: "x", V: "1"}
			first := n.keyed("k1", set1)
			if first.Err != nil {
				t.Fatal(first.Err)
			}
			for i := range 20 {
				n.call(sim.Op{Op: "set", K: "y", V: string(rune('a' + i))})
			}
			n.retainPast(first.Result.Pos)
			n.call(sim.Op{Op: "set", K: "z", V: "after the checkpoint"})
			c.ms += (30 * time.Minute).Milliseconds()
			if stop == "crash" {
				n.crash(3) // no Close: the key must be durable already
			} else {
				n.restart()
			}
			if first := n.in.FirstPos(); first <= 1 {
				t.Fatalf("the journal begins at %d after the %s: retention did not stick", first, stop)
			}
			if retry := n.keyed("k1", set1); retry.Err != nil || retry.Result.TxID != first.Result.TxID || string(retry.Result.Raw) != string(first.Result.Raw) {
				t.Fatalf("retry after retention and a %s: %v, %v %q; want the first outcome %v %q", stop, retry.Err, retry.Result.TxID, retry.Result.Raw, first.Result.TxID, first.Result.Raw)
			}
			if other := n.keyed("k1", sim.Op{Op: "set", K: "x", V: "2"}); !errors.Is(other.Err, engine.ErrIdempotencyKeyReused) {
				t.Fatalf("the key with other arguments after retention and a %s: %v (TxID %v); want ErrIdempotencyKeyReused", stop, other.Err, other.Result.TxID)
			}
			if other := n.keyed("k1", sim.Op{Op: "get", K: "x"}); !errors.Is(other.Err, engine.ErrIdempotencyKeyReused) {
				t.Fatalf("the key with another call after retention and a %s: %v; want ErrIdempotencyKeyReused", stop, other.Err)
			}
			c.ms += (31 * time.Minute).Milliseconds()
			n.restart()
			late := n.keyed("k1", sim.Op{Op: "set", K: "x", V: "2"})
			if late.Err != nil || late.Result.TxID == first.Result.TxID || late.Result.TxID.IsZero() {
				t.Fatalf("the key after its keep time: %v, TxID %v; want a new transaction", late.Err, late.Result.TxID)
			}
			// The file now holds the key twice; with a longer keep time
			// both are young enough, and the later outcome wins.
			n.call(sim.Op{Op: "set", K: "z", V: "2"})
			n.retainPast(late.Result.Pos)
			n.cfg.IdempotencyKeep = 48 * time.Hour
			n.restart()
			if retry := n.keyed("k1", sim.Op{Op: "set", K: "x", V: "2"}); retry.Err != nil || retry.Result.TxID != late.Result.TxID {
				t.Fatalf("retry of the key used again, after a restart with a longer keep time: %v, %v; want the later outcome %v", retry.Err, retry.Result.TxID, late.Result.TxID)
			}
		})
	}
}

// TestIdempotencyKeyFileCompacts: keys past their keep time leave the
// file at a compaction, so it stays bounded by the keys kept; the ones
// kept still answer after a crash.
func TestIdempotencyKeyFileCompacts(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	n := newNode(t, c, "L", "", "")
	n.cfg.IdempotencyKeep, n.cfg.JournalKeep = time.Minute, 1
	n.restart()
	const rounds, perRound = 12, 1000
	var last *engine.Call
	for round := range rounds {
		for i := range perRound {
			last = n.keyed(fmt.Sprintf("key-%02d-%04d", round, i), sim.Op{Op: "set", K: "x", V: "v"})
		}
		n.retainPast(last.Result.Pos - 1) // the checkpoint stays at the last
		c.ms += (2 * time.Minute).Milliseconds()
	}
	c.ms -= (2 * time.Minute).Milliseconds()
	n.crash(5)
	st, err := os.Stat(filepath.Join(n.cfg.Dir, engine.IdemFile))
	if err != nil {
		t.Fatal(err)
	}
	// An entry is at least 8 bytes of header, 33 of fixed fields, the
	// origin, the key and three lengths. All 12,000 written would be over
	// twice the limit; the newest 1,000 kept, with the slack a compaction
	// leaves (2 x kept + 1,024 entries), are under it.
	minEntry := int64(8 + 33 + 3 + len("L") + len("key-00-0000"))
	if limit := rounds * perRound / 2 * minEntry; st.Size() > limit {
		t.Fatalf("the keys file is %d bytes after %d keys of which %d are kept: over %d, not compacted", st.Size(), rounds*perRound, perRound, limit)
	}
	if retry := n.keyed(fmt.Sprintf("key-%02d-%04d", rounds-1, perRound-1), sim.Op{Op: "set", K: "x", V: "v"}); retry.Err != nil || retry.Result.TxID != last.Result.TxID {
		t.Fatalf("retry of the newest key after compactions and a crash: %v, %v; want %v", retry.Err, retry.Result.TxID, last.Result.TxID)
	}
	if old := n.keyed("key-00-0000", sim.Op{Op: "set", K: "x", V: "other"}); old.Err != nil || old.Result.TxID.IsZero() {
		t.Fatalf("an expired key with other arguments: %v, TxID %v; want a new transaction", old.Err, old.Result.TxID)
	}
}

// TestIdempotencyPeerKeySurvivesRetention: a vassal's call forwarded to
// the liege commits there once; after both sites truncated their journals
// past it and crashed, a retry with its key at either site answers the
// first outcome, and the key with other arguments is refused at both.
func TestIdempotencyPeerKeySurvivesRetention(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	for _, n := range []*node{a, b} {
		n.cfg.IdempotencyKeep, n.cfg.JournalKeep = time.Hour, 1
		n.restart()
		n.in.LinkUp()
	}
	pump(t, c, a, b)
	add := sim.Op{Op: "add", K: "n", N: 5}
	fc := b.keyedForward("order-1", true, add)
	pump(t, c, a, b)
	if !fc.Done || fc.Err != nil || fc.Result.TxID.Origin != "A" {
		t.Fatalf("forwarded call: done %v, err %v, TxID %v; want a transaction of the liege A", fc.Done, fc.Err, fc.Result.TxID)
	}
	for i := range 10 {
		a.call(sim.Op{Op: "set", K: "y", V: string(rune('a'+i)) + "-a"})
		b.call(sim.Op{Op: "set", K: "w", V: string(rune('a'+i)) + "-b"})
	}
	pump(t, c, a, b)
	posA, _ := a.in.Locate(fc.Result.TxID)
	posB, _ := b.in.Locate(fc.Result.TxID)
	if posA == 0 || posB == 0 {
		t.Fatalf("the forwarded transaction %v is not in both journals (A %d, B %d)", fc.Result.TxID, posA, posB)
	}
	a.retainPast(posA)
	b.retainPast(posB)
	a.crash(11)
	b.crash(12)
	for _, n := range []*node{a, b} {
		retry := n.keyed("order-1", add)
		if retry.Err != nil || retry.Result.TxID != fc.Result.TxID {
			t.Fatalf("retry at %s after retention and a crash: %v, %v; want the first outcome %v", n.cfg.ID, retry.Err, retry.Result.TxID, fc.Result.TxID)
		}
		if other := n.keyed("order-1", sim.Op{Op: "add", K: "n", N: 6}); !errors.Is(other.Err, engine.ErrIdempotencyKeyReused) {
			t.Fatalf("order-1 with other arguments at %s: %v (TxID %v); want ErrIdempotencyKeyReused", n.cfg.ID, other.Err, other.Result.TxID)
		}
	}
}
