package liege_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/journal"
)

// The tests of the last-writer-wins baseline (Options.Merge "lww"): two
// in-process instances exchange their own records through ApplyPeer, with
// clocks the test moves by hand so that which write is newer is known.

// lwwClock is a physical clock the test sets.
type lwwClock struct{ ms atomic.Int64 }

func (c *lwwClock) now() time.Time   { return time.UnixMilli(c.ms.Load()) }
func (c *lwwClock) set(ms int64)     { c.ms.Store(ms) }
func newLWWClock(ms int64) *lwwClock { c := &lwwClock{}; c.set(ms); return c }

type lwwSetArgs struct{ Key, Value string }
type lwwAddArgs struct {
	Key   string
	Delta int64
}
type lwwKeyArgs struct{ Key string }

// lwwNode is one instance of the pair, with what it takes to reopen it.
type lwwNode struct {
	db   *liege.DB
	opts liege.Options
}

func lwwOpen(t *testing.T, opts liege.Options) *liege.DB {
	t.Helper()
	db, err := liege.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, err := range []error{
		liege.Register(db, liege.Procedure[lwwSetArgs, string]{Name: "set",
			Run: func(tx *liege.Tx, a lwwSetArgs) (string, error) {
				tx.Set(liege.K("k", a.Key), a.Value)
				return "ok", nil
			},
			Correct: func(*liege.Tx, lwwSetArgs, string, string) (any, error) { return nil, nil }}),
		liege.Register(db, liege.Procedure[lwwAddArgs, string]{Name: "add",
			Run: func(tx *liege.Tx, a lwwAddArgs) (string, error) {
				tx.Add(liege.K("k", a.Key), a.Delta)
				return "ok", nil
			},
			Correct: func(*liege.Tx, lwwAddArgs, string, string) (any, error) { return nil, nil }}),
		liege.Register(db, liege.Procedure[lwwKeyArgs, string]{Name: "delete",
			Run:     func(tx *liege.Tx, a lwwKeyArgs) (string, error) { tx.Delete(liege.K("k", a.Key)); return "ok", nil },
			Correct: func(*liege.Tx, lwwKeyArgs, string, string) (any, error) { return nil, nil }}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// lwwPair opens a liege A and a vassal B in lww mode, without checkpoints
// (so that a reopen replays the whole journal), on the clocks given.
func lwwPair(t *testing.T, ca, cb *lwwClock) (a, b *lwwNode) {
	t.Helper()
	a = &lwwNode{opts: liege.Options{Dir: t.TempDir(), ID: "A", PeerID: "B", Role: liege.RoleLiege, Merge: liege.MergeLWW, CheckpointEvery: -1, Now: ca.now}}
	b = &lwwNode{opts: liege.Options{Dir: t.TempDir(), ID: "B", PeerID: "A", Role: liege.RoleVassal, Merge: liege.MergeLWW, CheckpointEvery: -1, Now: cb.now}}
	a.db, b.db = lwwOpen(t, a.opts), lwwOpen(t, b.opts)
	for _, n := range []*lwwNode{a, b} {
		if m := n.db.Merge(); m != liege.MergeLWW {
			t.Fatalf("%s: Merge() = %q, want %q", n.db.ID(), m, liege.MergeLWW)
		}
	}
	return a, b
}

// reopen closes the instance and opens it again from its journal.
func (n *lwwNode) reopen(t *testing.T) {
	t.Helper()
	if err := n.db.Close(); err != nil {
		t.Fatal(err)
	}
	n.db = lwwOpen(t, n.opts)
	if n.db.Recovery.Checkpoint != "" || n.db.Recovery.Replayed == 0 {
		t.Fatalf("%s: reopened from checkpoint %q after replaying %d records; want a replay of the whole journal",
			n.db.ID(), n.db.Recovery.Checkpoint, n.db.Recovery.Replayed)
	}
}

func lwwCall(t *testing.T, db *liege.DB, proc string, args any) *liege.Result {
	t.Helper()
	r, err := db.Call(context.Background(), proc, args)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lwwShip delivers to `to` every own transaction of `from` above its
// watermark, through both Nodes over an in-memory link, and checks that
// each was applied without any rollback.
func lwwShip(t *testing.T, from, to *liege.DB) int {
	t.Helper()
	ctx := context.Background()
	before, err := to.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := enginetest.Connect(from, to, "lww")
	if err != nil {
		t.Fatal(err)
	}
	l.Down()
	n, err := l.Ship(ctx, from, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after, err := to.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch != before.Epoch {
		t.Fatalf("%s: epoch went from %d to %d: lww mode rolled back", to.ID(), before.Epoch, after.Epoch)
	}
	return n
}

// lwwGet returns key k's entry on db (ok false: absent).
func lwwGet(t *testing.T, db *liege.DB, k string) (liege.Entry, bool) {
	t.Helper()
	e, ok, err := db.Get(context.Background(), liege.K("k", k))
	if err != nil {
		t.Fatal(err)
	}
	return e, ok
}

func lwwStr(t *testing.T, db *liege.DB, k string) string {
	t.Helper()
	e, ok := lwwGet(t, db, k)
	if !ok {
		return "<absent>"
	}
	s, err := e.Value.Str()
	if err != nil {
		t.Fatalf("%s: key %s: %v", db.ID(), k, err)
	}
	return s
}

func lwwInt(t *testing.T, db *liege.DB, k string) int64 {
	t.Helper()
	e, ok := lwwGet(t, db, k)
	if !ok {
		t.Fatalf("%s: key %s absent", db.ID(), k)
	}
	n, err := e.Value.Int()
	if err != nil {
		t.Fatalf("%s: key %s: %v", db.ID(), k, err)
	}
	return n
}

func lwwHash(t *testing.T, db *liege.DB) [32]byte {
	t.Helper()
	h, err := db.Hash(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// peerWrites returns the writes of the peer record db journaled for id.
func peerWrites(t *testing.T, db *liege.DB, id journal.TxID) []journal.Write {
	t.Helper()
	st, err := db.TxnStatus(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Record == nil || st.Record.Kind != journal.KindPeer {
		t.Fatalf("%s: no peer record for %v: %+v", db.ID(), id, st)
	}
	return st.Record.Writes
}

// Concurrent sets of the same keys on both sides: after the exchange both
// instances hold, for each key, the write with the larger (HLC, origin),
// nothing was rolled back, the dropped writes are not in the journal, and a
// reopen replays to the same state.
func TestLWWConflictingSetsConverge(t *testing.T) {
	t0 := time.Now().UnixMilli()
	ca, cb := newLWWClock(t0), newLWWClock(t0)
	a, b := lwwPair(t, ca, cb)

	// k1: A writes later (by its clock) than B although B writes last: A wins.
	ca.set(t0 + 10)
	a1 := lwwCall(t, a.db, "set", lwwSetArgs{"k1", "a1"})
	cb.set(t0 + 5)
	b1 := lwwCall(t, b.db, "set", lwwSetArgs{"k1", "b1"})
	// k2: B's is newer.
	ca.set(t0 + 20)
	a2 := lwwCall(t, a.db, "set", lwwSetArgs{"k2", "a2"})
	cb.set(t0 + 30)
	b2 := lwwCall(t, b.db, "set", lwwSetArgs{"k2", "b2"})
	// k3: the same HLC on both sides; the larger origin id (B) wins.
	ca.set(t0 + 40)
	cb.set(t0 + 40)
	a3 := lwwCall(t, a.db, "set", lwwSetArgs{"k3", "a3"})
	b3 := lwwCall(t, b.db, "set", lwwSetArgs{"k3", "b3"})
	if a3.HLC != b3.HLC {
		t.Fatalf("k3: HLCs %d and %d differ; the test wants a tie", a3.HLC, b3.HLC)
	}
	// k4: only A writes it.
	lwwCall(t, a.db, "set", lwwSetArgs{"k4", "a4"})
	if a1.HLC <= b1.HLC || a2.HLC >= b2.HLC {
		t.Fatalf("clocks: k1 A %d B %d, k2 A %d B %d", a1.HLC, b1.HLC, a2.HLC, b2.HLC)
	}

	if n := lwwShip(t, a.db, b.db); n != 4 {
		t.Fatalf("shipped %d of A's transactions, want 4", n)
	}
	if n := lwwShip(t, b.db, a.db); n != 3 {
		t.Fatalf("shipped %d of B's transactions, want 3", n)
	}

	want := map[string]string{"k1": "a1", "k2": "b2", "k3": "b3", "k4": "a4"}
	check := func(when string) {
		t.Helper()
		for _, n := range []*lwwNode{a, b} {
			for k, v := range want {
				if got := lwwStr(t, n.db, k); got != v {
					t.Errorf("%s %s: %s = %q, want %q (the write with the larger HLC, then origin)", when, n.db.ID(), k, got, v)
				}
			}
		}
		for k := range want {
			ea, _ := lwwGet(t, a.db, k)
			eb, _ := lwwGet(t, b.db, k)
			if ea.Version != eb.Version {
				t.Errorf("%s: %s has version %v on A, %v on B", when, k, ea.Version, eb.Version)
			}
		}
		if ha, hb := lwwHash(t, a.db), lwwHash(t, b.db); ha != hb {
			t.Errorf("%s: state hashes differ: A %x, B %x", when, ha, hb)
		}
	}
	check("after the exchange")

	// The peer records hold only the writes applied.
	for _, c := range []struct {
		db    *liege.DB
		id    journal.TxID
		write bool
	}{
		{b.db, a1.TxID, true}, {b.db, a2.TxID, false}, {b.db, a3.TxID, false},
		{a.db, b1.TxID, false}, {a.db, b2.TxID, true}, {a.db, b3.TxID, true},
	} {
		ws := peerWrites(t, c.db, c.id)
		if got := len(ws) == 1; got != c.write || len(ws) > 1 {
			t.Errorf("%s: peer record of %v has %d writes, want applied=%v", c.db.ID(), c.id, len(ws), c.write)
		}
	}

	ha, hb := lwwHash(t, a.db), lwwHash(t, b.db)
	a.reopen(t)
	b.reopen(t)
	if lwwHash(t, a.db) != ha || lwwHash(t, b.db) != hb {
		t.Fatal("a reopen (replay of the journal) changed the state")
	}
	check("after a reopen")
}

// The baseline's cost: concurrent Adds to one counter do not add up. Each
// side's Add ships its after-image, and the newer one overwrites the other
// on both instances.
func TestLWWLosesConcurrentAdd(t *testing.T) {
	t0 := time.Now().UnixMilli()
	ca, cb := newLWWClock(t0), newLWWClock(t0)
	a, b := lwwPair(t, ca, cb)

	lwwCall(t, a.db, "add", lwwAddArgs{"balance", 100})
	lwwShip(t, a.db, b.db)
	if got := lwwInt(t, b.db, "balance"); got != 100 {
		t.Fatalf("B: balance %d after the first exchange, want 100", got)
	}

	ca.set(t0 + 10)
	lwwCall(t, a.db, "add", lwwAddArgs{"balance", 10}) // A: 110
	cb.set(t0 + 20)
	bAdd := lwwCall(t, b.db, "add", lwwAddArgs{"balance", 20}) // B: 120, newer
	lwwShip(t, a.db, b.db)
	lwwShip(t, b.db, a.db)

	check := func(when string) {
		t.Helper()
		for _, n := range []*lwwNode{a, b} {
			if got := lwwInt(t, n.db, "balance"); got != 120 {
				t.Errorf("%s %s: balance %d, want 120: B's after-image (the path protocol would give 130)", when, n.db.ID(), got)
			}
		}
		if ha, hb := lwwHash(t, a.db), lwwHash(t, b.db); ha != hb {
			t.Errorf("%s: state hashes differ", when)
		}
	}
	check("after the exchange")

	// A journaled B's add as an upsert of B's after-image.
	ws := peerWrites(t, a.db, bAdd.TxID)
	if len(ws) != 1 || ws[0].Op != journal.OpSet {
		t.Fatalf("A's peer record of B's add: %+v, want one set of 120", ws)
	}
	if n, err := liege.Value(ws[0].Value).Int(); err != nil || n != 120 {
		t.Fatalf("A's peer record of B's add: %+v, want one set of 120", ws)
	}

	a.reopen(t)
	b.reopen(t)
	check("after a reopen")
}

// Naive last-writer-wins keeps no tombstones: a set older than a delete
// that reaches the deleting side after the delete brings the key back
// there, while the other side applies the delete. The instances differ on
// that key, deterministically. This documents the baseline's weakness.
func TestLWWDeleteWithoutTombstoneResurrects(t *testing.T) {
	t0 := time.Now().UnixMilli()
	ca, cb := newLWWClock(t0), newLWWClock(t0)
	a, b := lwwPair(t, ca, cb)

	lwwCall(t, a.db, "set", lwwSetArgs{"k", "v0"})
	lwwShip(t, a.db, b.db)

	cb.set(t0 + 5)
	lwwCall(t, b.db, "set", lwwSetArgs{"k", "b"}) // older
	ca.set(t0 + 10)
	lwwCall(t, a.db, "delete", lwwKeyArgs{"k"}) // newer
	lwwShip(t, a.db, b.db)                      // B: the newer delete removes k
	lwwShip(t, b.db, a.db)                      // A: k is absent (version zero), so B's older set lands

	check := func(when string) {
		t.Helper()
		if got := lwwStr(t, a.db, "k"); got != "b" {
			t.Errorf("%s A: k = %q, want the resurrected %q", when, got, "b")
		}
		if got := lwwStr(t, b.db, "k"); got != "<absent>" {
			t.Errorf("%s B: k = %q, want it deleted", when, got)
		}
	}
	check("after the exchange")
	a.reopen(t)
	b.reopen(t)
	check("after a reopen")
}

func TestOpenRefusesUnknownMerge(t *testing.T) {
	_, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", Merge: "bogus"})
	if err == nil {
		t.Fatal("Open with Merge bogus succeeded")
	}
	for _, want := range []string{`"bogus"`, `"path"`, `"lww"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if m := db.Merge(); m != liege.MergePath {
		t.Fatalf("default Merge() = %q, want %q", m, liege.MergePath)
	}
}
