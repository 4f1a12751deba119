package oracle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// ---- building hand-made histories ------------------------------------------

func key(s string) []byte { return tuple.Pack("k", s) }

func ival(n int64) []byte { return oracle.AppendInt(nil, n) }

func sval(t testing.TB, s string) []byte {
	b, err := journal.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ver(hlc uint64, origin string) journal.Version {
	return journal.Version{HLC: hlc, Origin: origin}
}

func id(origin string, oseq uint64) journal.TxID { return journal.TxID{Origin: origin, OSeq: oseq} }

type opt func(*journal.Record)

func set(k string, v []byte) opt {
	return func(r *journal.Record) {
		r.Writes = append(r.Writes, journal.Write{Key: key(k), Op: journal.OpSet, Value: v})
	}
}

// add records an Add; its Value is garbage on purpose: the oracle must not
// use it (it is the holder's local after-value).
func add(k string, d int64) opt {
	return func(r *journal.Record) {
		r.Writes = append(r.Writes, journal.Write{Key: key(k), Op: journal.OpAdd, Delta: d, Value: ival(-999)})
	}
}

func del(k string) opt {
	return func(r *journal.Record) {
		r.Writes = append(r.Writes, journal.Write{Key: key(k), Op: journal.OpDelete})
	}
}

func read(k string, v journal.Version) opt {
	return func(r *journal.Record) {
		r.Reads = append(r.Reads, journal.PointRead{Key: key(k), Version: v})
	}
}

// rng records a range read; an empty bound is unbounded.
func rng(lo string, loInc bool, hi string, hiInc bool) opt {
	return func(r *journal.Record) {
		rr := journal.RangeRead{LoInclusive: loInc, HiInclusive: hiInc}
		if lo != "" {
			rr.Lo = key(lo)
		}
		if hi != "" {
			rr.Hi = key(hi)
		}
		r.Ranges = append(r.Ranges, rr)
	}
}

func subject(kind journal.Kind, s journal.TxID) opt {
	return func(r *journal.Record) { r.Kind, r.Subject = kind, s }
}

// tx is a transaction as its origin journals it.
func tx(origin string, oseq, hlc uint64, opts ...opt) journal.Record {
	r := journal.Record{Kind: journal.KindLocal, Origin: origin, OSeq: oseq, HLC: hlc, Proc: "p"}
	for _, o := range opts {
		o(&r)
	}
	return r
}

// journalOf builds the journal of instance self from transactions, in the
// order given: its own with their kinds, the other's as peer copies.
// Positions start at 2 (position 1 is the open record).
func journalOf(self string, txs ...journal.Record) []journal.Record {
	out := make([]journal.Record, 0, len(txs)+1)
	out = append(out, journal.Record{Pos: 1, Kind: journal.KindOpen, Instance: self})
	for i, r := range txs {
		c := r
		c.Pos = uint64(i + 2)
		c.Writes = slices.Clone(r.Writes)
		if r.Origin != self {
			c.Kind = journal.KindPeer
			for j := range c.Writes {
				c.Writes[j].Before = []byte{0xc0} // this instance's own before-image
				if c.Writes[j].Op == journal.OpAdd {
					c.Writes[j].Value = ival(12345) // another local after-value
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// scenario is a converged history of A (the liege) and B.
type scenario struct {
	a, b oracle.Instance
	o    oracle.Options
	txs  map[string]journal.Record // by TxID
}

func base(t testing.TB) *scenario {
	a1 := tx("A", 1, 10, set("x", sval(t, "hello")), add("c", 5))
	b1 := tx("B", 1, 11, add("c", 3))
	// A/2 saw B/1: it reads c, scans [a, d) (holding c) and writes y, which
	// lies in a second range it scans: its own write is not a phantom.
	a2 := tx("A", 2, 12, read("x", ver(10, "A")), rng("a", true, "d", false), read("c", ver(11, "B")),
		set("y", ival(7)), rng("x", false, "z", false))
	b2 := tx("B", 2, 13, read("x", ver(10, "A")), del("x"))
	// A/3 proves (w, y) empty (x is gone), reads y and adds to it.
	a3 := tx("A", 3, 14, rng("w", false, "y", false), read("y", ver(12, "A")), add("y", 10), read("z", journal.Version{}))
	// A/4 reprocesses B/9, rolled off B.
	a4 := tx("A", 4, 15, subject(journal.KindReprocess, id("B", 9)), set("r", sval(t, "re")))
	// B/3 is clock-before A/4 but B had not seen it: Add to a new key.
	b3 := tx("B", 3, 15, add("n", -4))
	s := &scenario{
		a: oracle.Instance{ID: "A", Records: journalOf("A", a1, b1, a2, b2, a3, a4, b3)},
		b: oracle.Instance{ID: "B", Records: journalOf("B", b1, a1, a2, b2, a3, b3, a4)},
		o: oracle.Options{Acked: []journal.TxID{id("A", 1), id("A", 2), id("A", 3), id("B", 1), id("B", 2), id("B", 9), id("B", 3)}},
		txs: map[string]journal.Record{
			"A/1": a1, "A/2": a2, "A/3": a3, "A/4": a4, "B/1": b1, "B/2": b2, "B/3": b3,
		},
	}
	state := []oracle.Entry{
		{Key: key("c"), Value: ival(8), Version: ver(11, "B")},
		{Key: key("n"), Value: ival(-4), Version: ver(15, "B")},
		{Key: key("r"), Value: sval(t, "re"), Version: ver(15, "A")},
		{Key: key("y"), Value: ival(17), Version: ver(14, "A")},
	}
	s.a.State, s.b.State = state, cloneState(state)
	return s
}

func cloneState(s []oracle.Entry) []oracle.Entry {
	out := make([]oracle.Entry, len(s))
	for i, e := range s {
		out[i] = oracle.Entry{Key: bytes.Clone(e.Key), Value: bytes.Clone(e.Value), Version: e.Version}
	}
	return out
}

// recOf returns the record of TxID s in in's journal.
func recOf(t *testing.T, in *oracle.Instance, s string) *journal.Record {
	t.Helper()
	for i := range in.Records {
		if in.Records[i].Kind.IsTxn() && in.Records[i].TxID().String() == s {
			return &in.Records[i]
		}
	}
	t.Fatalf("%s holds no %s", in.ID, s)
	return nil
}

// both applies f to s's record on both instances.
func both(t *testing.T, sc *scenario, s string, f func(r *journal.Record)) {
	t.Helper()
	f(recOf(t, &sc.a, s))
	f(recOf(t, &sc.b, s))
}

// stateOf returns the entry of key k in in's state.
func stateOf(t *testing.T, in *oracle.Instance, k string) *oracle.Entry {
	t.Helper()
	for i := range in.State {
		if bytes.Equal(in.State[i].Key, key(k)) {
			return &in.State[i]
		}
	}
	t.Fatalf("%s's state has no %s", in.ID, k)
	return nil
}

// bothState applies f to the entry of k in both states.
func bothState(t *testing.T, sc *scenario, k string, f func(e *oracle.Entry)) {
	t.Helper()
	f(stateOf(t, &sc.a, k))
	f(stateOf(t, &sc.b, k))
}

func removeTx(t *testing.T, in *oracle.Instance, s string) {
	t.Helper()
	n := len(in.Records)
	in.Records = slices.DeleteFunc(in.Records, func(r journal.Record) bool {
		return r.Kind.IsTxn() && r.TxID().String() == s
	})
	if len(in.Records) != n-1 {
		t.Fatalf("removing %s from %s removed %d records", s, in.ID, n-len(in.Records))
	}
}

func appendTx(in *oracle.Instance, r journal.Record) {
	c := r
	if r.Origin != in.ID {
		c.Kind = journal.KindPeer
	}
	c.Pos = in.Records[len(in.Records)-1].Pos + 1
	in.Records = append(in.Records, c)
}

// wantViolation checks that err is a *Violation of item with every one of
// parts in its message.
func wantViolation(t *testing.T, err error, item int, parts ...string) *oracle.Violation {
	t.Helper()
	var v *oracle.Violation
	if !errors.As(err, &v) {
		t.Fatalf("want a violation of item %d, got %v", item, err)
	}
	if v.Item != item {
		t.Fatalf("want a violation of item %d, got item %d: %s", item, v.Item, v.Msg)
	}
	for _, p := range parts {
		if !strings.Contains(v.Msg, p) {
			t.Errorf("violation message does not name %q: %s", p, v.Msg)
		}
	}
	if !strings.Contains(v.Error(), fmt.Sprintf("item %d", item)) || !strings.Contains(v.Error(), v.Msg) {
		t.Errorf("Error() = %q", v.Error())
	}
	return v
}

var allChecks = []string{
	oracle.CheckTxIDs, oracle.CheckState, oracle.CheckCopies, oracle.CheckOrder, oracle.CheckReplay,
	oracle.CheckFinalState, oracle.CheckSubjects, oracle.CheckAcked, oracle.CheckMaybe, oracle.CheckOnce,
}

// ---- passing histories -----------------------------------------------------

func TestConvergedPasses(t *testing.T) {
	sc := base(t)
	invoked := false
	sc.o.Invariant = func(state []oracle.Entry) []string {
		invoked = true
		if len(state) != 4 {
			return []string{fmt.Sprintf("invariant saw %d keys", len(state))}
		}
		return nil
	}
	rep, err := oracle.Check(sc.a, sc.b, sc.o)
	if err != nil {
		t.Fatal(err)
	}
	if !invoked {
		t.Error("the invariant was not called")
	}
	want := append(slices.Clone(allChecks), oracle.CheckInvariant)
	if !slices.Equal(rep.Checks, want) {
		t.Errorf("checks = %v, want %v", rep.Checks, want)
	}
	if rep.Transactions != 14 || rep.PathLength != 7 || rep.Keys != 4 || rep.Acked != 7 {
		t.Errorf("report = %+v, want 14 records, path of 7, 4 keys, 7 acked", rep)
	}
	if rep.HashA != rep.HashB || rep.HashA != oracle.StateHash(sc.a.State) || rep.HashA == oracle.StateHash(nil) {
		t.Errorf("hashes %x %x, want both %x", rep.HashA, rep.HashB, oracle.StateHash(sc.a.State))
	}
	if h := oracle.StoreOf(sc.a.State).Hash(); h != rep.HashA {
		t.Errorf("HashA %x is not the store's hash %x", rep.HashA, h)
	}
}

func TestPassesAgainstItself(t *testing.T) {
	sc := base(t)
	for _, in := range []oracle.Instance{sc.a, sc.b} {
		rep, err := oracle.Check(in, in, sc.o)
		if err != nil {
			t.Fatalf("%s against itself: %v", in.ID, err)
		}
		if rep.PathLength != 7 || !slices.Equal(rep.Checks, allChecks) {
			t.Errorf("%s against itself: report %+v", in.ID, rep)
		}
	}
}

func TestEmptyInstancesPass(t *testing.T) {
	rep, err := oracle.Check(oracle.Instance{ID: "A"}, oracle.Instance{ID: "B"}, oracle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PathLength != 0 || rep.HashA != oracle.StateHash(nil) || !slices.Equal(rep.Checks, allChecks) {
		t.Errorf("report %+v", rep)
	}
}

// The records of other kinds are ignored; the order of an instance's
// records does not matter to the path.
func TestIgnoresBookkeepingRecords(t *testing.T) {
	sc := base(t)
	sc.a.Records = append(sc.a.Records, journal.Record{Pos: 9, Kind: journal.KindEpoch, Epoch: 1},
		journal.Record{Pos: 10, Kind: journal.KindRole, Role: "liege"})
	if _, err := oracle.Check(sc.a, sc.b, sc.o); err != nil {
		t.Fatal(err)
	}
}

// Keys a transaction writes are not phantoms of its ranges, whether they
// existed before it or not; a key that equals an exclusive bound is outside.
func TestRangeBounds(t *testing.T) {
	sc := base(t)
	// A/3's range (w, y) excludes y, which exists. Make it inclusive: y is
	// point-read, so still fine; then drop the point read: a phantom.
	both(t, sc, "A/3", func(r *journal.Record) { r.Ranges[0].HiInclusive = true })
	if _, err := oracle.Check(sc.a, sc.b, sc.o); err != nil {
		t.Fatalf("y is point-read: %v", err)
	}
	both(t, sc, "A/3", func(r *journal.Record) { r.Reads = r.Reads[1:] })
	// A/3 still adds to y, so y is its own write: no phantom either.
	if _, err := oracle.Check(sc.a, sc.b, sc.o); err != nil {
		t.Fatalf("y is written by A/3: %v", err)
	}
	// B/2 deletes x and could have scanned over it: make it scan (-inf, +inf).
	both(t, sc, "B/2", func(r *journal.Record) { r.Ranges = []journal.RangeRead{{}} })
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "B/2", `("k", "c")`, "phantom", "(-inf .. +inf)")
}

// ---- item 1 ----------------------------------------------------------------

func TestMissingTxID(t *testing.T) {
	sc := base(t)
	removeTx(t, &sc.b, "B/2")
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 1, "B/2", "peer at A pos 5", "only by A")

	sc = base(t)
	removeTx(t, &sc.a, "A/3")
	rep, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 1, "A/3", "only by B", "peer at B pos 6", "not by A")
	if len(rep.Checks) != 0 {
		t.Errorf("checks passed before item 1: %v", rep.Checks)
	}
}

func TestTxIDTwiceInOneJournal(t *testing.T) {
	sc := base(t)
	appendTx(&sc.b, sc.txs["A/2"])
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 1, "B holds A/2 twice", "peer at B pos 4", "peer at B pos 9")
}

func TestOwnRecordOfAnotherOrigin(t *testing.T) {
	sc := base(t)
	recOf(t, &sc.b, "A/1").Kind = journal.KindLocal
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 1, "A/1", "local at B pos 3", `origin is "A"`)
}

func TestDifferentValue(t *testing.T) {
	sc := base(t)
	stateOf(t, &sc.b, "y").Value = ival(18)
	rep, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 1, `("k", "y")`, "value 17", "value 18", "A has", "B has")
	if rep.HashA == rep.HashB {
		t.Error("different states have the same hash")
	}
	if !slices.Equal(rep.Checks, []string{oracle.CheckTxIDs}) {
		t.Errorf("checks = %v", rep.Checks)
	}
}

func TestDifferentVersionAndMissingKey(t *testing.T) {
	sc := base(t)
	stateOf(t, &sc.a, "c").Version = ver(10, "A")
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 1, `("k", "c")`, "version (10, A)", "version (11, B)")

	sc = base(t)
	sc.b.State = sc.b.State[:3]
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 1, `("k", "y")`, "only in A's state")
}

func TestUnsortedStateIsAnError(t *testing.T) {
	sc := base(t)
	sc.b.State[0], sc.b.State[1] = sc.b.State[1], sc.b.State[0]
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	if err == nil || oracle.AsViolation(err) != nil || !strings.Contains(err.Error(), "not sorted") {
		t.Fatalf("want a plain error about sorting, got %v", err)
	}
}

// ---- item 2 ----------------------------------------------------------------

func TestStaleReadVersion(t *testing.T) {
	sc := base(t)
	// A/2 claims it read c as A/1 left it: it did not see B/1's add.
	both(t, sc, "A/2", func(r *journal.Record) { r.Reads[1].Version = ver(10, "A") })
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "A/2", `("k", "c")`, "version (10, A) written by A/1", "version (11, B) written by B/1", "#3 in the path")
}

func TestReadOfAbsentKey(t *testing.T) {
	sc := base(t)
	// A/3 read z as absent (fine); claim it read x, which B/2 deleted, as present.
	both(t, sc, "A/3", func(r *journal.Record) { r.Reads[1] = journal.PointRead{Key: key("x"), Version: ver(10, "A")} })
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "A/3", `("k", "x")`, "version zero (absent)")
}

func TestPhantomInRange(t *testing.T) {
	sc := base(t)
	// A/3's range (w, y) becomes (b, y): c is inside, and A/3 did not see it.
	both(t, sc, "A/3", func(r *journal.Record) { r.Ranges[0].Lo = key("b") })
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "A/3", `("k", "c")`, "phantom", `(("k", "b") .. ("k", "y"))`, "written by B/1")

	// A/2's scan [a, d) dropped its point read of c.
	sc = base(t)
	both(t, sc, "A/2", func(r *journal.Record) { r.Reads = r.Reads[:1] })
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "A/2", `("k", "c")`, "phantom")
}

func TestAddReplayedWrongly(t *testing.T) {
	// Both instances lost B/1's add to c (5, not 8): they agree, the path
	// does not.
	sc := base(t)
	bothState(t, sc, "c", func(e *oracle.Entry) { e.Value = ival(5) })
	rep, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, `("k", "c")`, "replay's final state (value 8", "instances' (value 5")
	if !slices.Equal(rep.Checks, allChecks[:5]) {
		t.Errorf("checks = %v", rep.Checks)
	}

	// The version of an add is the largest writer's, not the last one's.
	sc = base(t)
	bothState(t, sc, "y", func(e *oracle.Entry) { e.Version = ver(12, "A") })
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, `("k", "y")`, "version (14, A) written by A/3", "version (12, A) written by A/2")

	// A negative sum is encoded as the engine does.
	sc = base(t)
	bothState(t, sc, "n", func(e *oracle.Entry) { e.Value = []byte{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc} })
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, `("k", "n")`)
}

func TestAddToNonInteger(t *testing.T) {
	sc := base(t)
	// B/2 adds to x (a string) instead of deleting it.
	both(t, sc, "B/2", func(r *journal.Record) { r.Writes[0] = journal.Write{Key: key("x"), Op: journal.OpAdd, Delta: 1} })
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "B/2", `("k", "x")`, "not an integer", `"hello"`)
}

func TestCopiesDisagree(t *testing.T) {
	sc := base(t)
	recOf(t, &sc.b, "A/2").HLC = 20
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "A/2", "HLC 12", "HLC 20", "local at A pos 4", "peer at B pos 4")

	sc = base(t)
	recOf(t, &sc.a, "B/1").Writes[0].Delta = 4
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "B/1", `add 3 to ("k", "c")`, `add 4 to ("k", "c")`)

	sc = base(t)
	recOf(t, &sc.b, "A/4").Subject = id("B", 8)
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "A/4", "B/9", "B/8")
}

func TestSameHLCAndOrigin(t *testing.T) {
	sc := base(t)
	both(t, sc, "A/3", func(r *journal.Record) { r.HLC = 12 })
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 2, "A/2", "A/3", "(12, A)")
}

// ---- item 3 ----------------------------------------------------------------

func TestAckedMissing(t *testing.T) {
	sc := base(t)
	sc.o.Acked = append(sc.o.Acked, id("B", 7))
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "B/7", "not in the path")
}

// b9 is B/9 committed and kept: it reads q (absent) and writes nothing the
// state shows.
func addB9(t *testing.T, sc *scenario) {
	b9 := tx("B", 9, 9, read("q", journal.Version{}))
	appendTx(&sc.a, b9)
	appendTx(&sc.b, b9)
}

func TestAckedAsItselfAndSubject(t *testing.T) {
	sc := base(t)
	addB9(t, sc)
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "acknowledged B/9", "2 times", "as itself", "subject of reprocess A/4")

	// Not acked: still in the path twice.
	sc.o.Acked = slices.DeleteFunc(sc.o.Acked, func(x journal.TxID) bool { return x == id("B", 9) })
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "B/9", "both as itself", "A/4")
}

func addA5(t *testing.T, sc *scenario) {
	a5 := tx("A", 5, 16, subject(journal.KindCorrection, id("B", 9)))
	appendTx(&sc.a, a5)
	appendTx(&sc.b, a5)
}

func TestSubjectTwice(t *testing.T) {
	sc := base(t)
	addA5(t, sc)
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "acknowledged B/9", "2 times", "reprocess A/4", "correction A/5")

	sc.o.Acked = nil
	rep, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "B/9 is the subject of two transactions", "A/4", "A/5", "correction at A pos 9")
	if !slices.Equal(rep.Checks, allChecks[:9]) {
		t.Errorf("checks = %v", rep.Checks)
	}
}

func TestMaybeTwice(t *testing.T) {
	sc := base(t)
	addA5(t, sc)
	sc.o.Acked = nil
	sc.o.Maybe = []journal.TxID{id("A", 1), id("B", 7), id("B", 9)}
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "B/9", "answer was lost", "2 times")

	// Once or not at all is fine.
	sc = base(t)
	sc.o.Maybe = []journal.TxID{id("A", 1), id("B", 7), id("B", 9)}
	if _, err := oracle.Check(sc.a, sc.b, sc.o); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedSubjects(t *testing.T) {
	sc := base(t)
	both(t, sc, "A/4", func(r *journal.Record) { r.Subject = journal.TxID{} })
	_, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "A/4", "without a subject")

	sc = base(t)
	both(t, sc, "A/1", func(r *journal.Record) { r.Subject = id("B", 5) })
	_, err = oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 3, "A/1", "local record", "B/5")
}

// ---- item 4 ----------------------------------------------------------------

func TestInvariantFails(t *testing.T) {
	sc := base(t)
	sc.o.Invariant = func(state []oracle.Entry) []string {
		var out []string
		for _, e := range state {
			if n, ok := oracle.DecodeInt(e.Value); ok && n < 0 {
				out = append(out, fmt.Sprintf("%s is negative: %d", tuple.Format(e.Key), n))
			}
		}
		return out
	}
	rep, err := oracle.Check(sc.a, sc.b, sc.o)
	wantViolation(t, err, 4, `("k", "n") is negative: -4`)
	if !slices.Equal(rep.Checks, allChecks) {
		t.Errorf("checks = %v", rep.Checks)
	}
}

// ---- values ----------------------------------------------------------------

func TestIntegersAsTheEngine(t *testing.T) {
	ns := []int64{0, 1, 127, 128, 255, 256, -1, -32, -33, -128, -129, 32767, 32768, -32768, -32769,
		math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64}
	for _, n := range ns {
		b := oracle.AppendInt(nil, n)
		m, err := journal.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, m) {
			t.Errorf("AppendInt(%d) = %x, go-msgpack writes %x", n, b, m)
		}
		if got, ok := oracle.DecodeInt(b); !ok || got != n {
			t.Errorf("DecodeInt(%x) = %d, %v", b, got, ok)
		}
		if got, err := liege.Value(b).Int(); err != nil || got != n {
			t.Errorf("engine: Int(%x) = %d, %v", b, got, err)
		}
	}
	// Every form the engine accepts, and what it refuses.
	forms := [][]byte{
		{0xcc, 0xff}, {0xcd, 0x01, 0x00}, {0xce, 0, 0, 1, 0}, {0xcf, 0, 0, 0, 0, 0, 0, 1, 0},
		{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, {0xd0, 0x80}, {0xd1, 0x80, 0}, {0xd2, 0x80, 0, 0, 0},
		{0x05, 0x00}, {0xcc}, {0xa1, 'x'}, {0xc0}, {}, {0xd3, 1, 2, 3},
	}
	for _, f := range forms {
		got, ok := oracle.DecodeInt(f)
		want, err := liege.Value(f).Int()
		if ok != (err == nil) || got != want {
			t.Errorf("DecodeInt(%x) = %d, %v; engine says %d, %v", f, got, ok, want, err)
		}
	}
}

// ---- real instances --------------------------------------------------------

// OpArgs is the argument of the test procedure "op": a list of operations
// on keys ("t", Key).
type OpArgs struct {
	Ops []Op
}

// Op is one operation on ("t", Key): "set" Str, "add" N, "del", "get",
// "next", "prev", or a scan (see runOps).
type Op struct {
	Kind string
	Key  string
	Str  string
	N    int64
}

func tkey(k string) liege.Key { return liege.K("t", k) }

func runOps(tx *liege.Tx, a OpArgs) (string, error) {
	for _, op := range a.Ops {
		switch op.Kind {
		case "set":
			tx.Set(tkey(op.Key), op.Str)
		case "add":
			tx.Add(tkey(op.Key), op.N)
		case "del":
			tx.Delete(tkey(op.Key))
		case "get":
			tx.Get(tkey(op.Key))
		case "scan": // all of ("t", ...), at most N keys (0: all), descending if Str is "desc"
			tx.Scan(liege.K("t"), tuple.PrefixEnd(liege.K("t")), liege.ScanOptions{Limit: int(op.N), Desc: op.Str == "desc"})
		case "scanfrom": // [Key, end of ("t", ...))
			tx.Scan(tkey(op.Key), tuple.PrefixEnd(liege.K("t")), liege.ScanOptions{Limit: int(op.N), Desc: op.Str == "desc"})
		case "next":
			tx.Next(tkey(op.Key))
		case "prev":
			tx.Prev(tkey(op.Key))
		default:
			return "", fmt.Errorf("unknown op %q", op.Kind)
		}
	}
	return "ok", nil
}

func open(t *testing.T, dir, self, peer, role string) *liege.DB {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: dir, ID: self, PeerID: peer, Role: role, CheckpointEvery: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	err = liege.Register(db, liege.Procedure[OpArgs, string]{
		Name:    "op",
		Run:     runOps,
		Correct: func(tx *liege.Tx, a OpArgs, _, _ string) (any, error) { return runOps(tx, a) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func call(t *testing.T, db *liege.DB, ops ...Op) journal.TxID {
	t.Helper()
	res, err := db.Call(context.Background(), "op", OpArgs{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	if res.ReadOnly() {
		t.Fatalf("%v committed nothing", ops)
	}
	return res.TxID
}

func TestLoadOneInstance(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, "A", "", "")
	acked := []journal.TxID{
		call(t, db, Op{Kind: "set", Key: "a", Str: "x"}, Op{Kind: "add", Key: "n", N: 200}),
		call(t, db, Op{Kind: "get", Key: "a"}, Op{Kind: "add", Key: "n", N: -500}, Op{Kind: "set", Key: "b", Str: "y"}),
		call(t, db, Op{Kind: "scan"}, Op{Kind: "del", Key: "a"}, Op{Kind: "add", Key: "m", N: 1 << 40}),
		call(t, db, Op{Kind: "next", Key: "a"}, Op{Kind: "add", Key: "n", N: 7}, Op{Kind: "add", Key: "n", N: 1}),
		call(t, db, Op{Kind: "set", Key: "s", Str: "v"}, Op{Kind: "add", Key: "s2", N: 1}, Op{Kind: "del", Key: "s2"}, Op{Kind: "add", Key: "s2", N: 3}),
	}
	liveHash, err := db.Hash(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	in, err := oracle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != "A" || len(in.Records) != len(acked) {
		t.Fatalf("loaded id %q with %d transaction records, want A with %d", in.ID, len(in.Records), len(acked))
	}
	rep, err := oracle.Check(in, in, oracle.Options{Acked: acked})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := inspect.Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.HashA != rec.Store.Hash() || rep.HashA != liveHash {
		t.Errorf("HashA %x, journalctl state's hash %x, the live instance's %x", rep.HashA, rec.Store.Hash(), liveHash)
	}
	if rep.Keys != 5 || rep.PathLength != 5 || rep.Acked != 5 {
		t.Errorf("report %+v, want 5 keys (b, m, n, s, s2), 5 transactions, 5 acked", rep)
	}
	n := findEntry(t, in.State, "n")
	if v, ok := oracle.DecodeInt(n.Value); !ok || v != -292 {
		t.Errorf("n = %x, want -292", n.Value)
	}

	// The loaded history can fail: a state the path does not produce.
	bad := in
	bad.State = cloneState(in.State)
	findEntry(t, bad.State, "n").Value = oracle.AppendInt(nil, -291)
	_, err = oracle.Check(bad, bad, oracle.Options{Acked: acked})
	wantViolation(t, err, 2, `("t", "n")`)
}

func findEntry(t *testing.T, s []oracle.Entry, k string) *oracle.Entry {
	t.Helper()
	for i := range s {
		if bytes.Equal(s[i].Key, tkey(k)) {
			return &s[i]
		}
	}
	t.Fatalf("no key %s", k)
	return nil
}

func TestLoadMissingDir(t *testing.T) {
	if _, err := oracle.Load(t.TempDir() + "/nope"); err == nil {
		t.Fatal("Load of a missing directory succeeded")
	}
}

// TestLoadTwoInstances: two replicated instances, linked in memory, with
// concurrent adds (C4), a conflicting pair of sets that the protocol
// resolves (the vassal's rolls back and the liege reprocesses it), loaded
// and checked by the oracle.
func TestLoadTwoInstances(t *testing.T) {
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := open(t, dirA, "A", "B", liege.RoleLiege)
	b := open(t, dirB, "B", "A", liege.RoleVassal)
	l, err := enginetest.Connect(a, b, "oracle")
	if err != nil {
		t.Fatal(err)
	}
	settle := func() {
		t.Helper()
		if err := l.Settle(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	acked := []journal.TxID{
		call(t, a, Op{Kind: "set", Key: "x", Str: "1"}),
		call(t, b, Op{Kind: "set", Key: "y", Str: "2"}),
	}
	settle()
	acked = append(acked,
		call(t, a, Op{Kind: "add", Key: "c", N: 5}),
		call(t, b, Op{Kind: "add", Key: "c", N: 3}, Op{Kind: "get", Key: "x"}))
	settle()
	ka := call(t, a, Op{Kind: "set", Key: "k", Str: "a"})
	kb := call(t, b, Op{Kind: "set", Key: "k", Str: "b"})
	acked = append(acked, ka, kb)
	settle()
	if st, err := b.TxnStatus(ctx, kb); err != nil || st.State != liege.TxnReprocessed {
		t.Fatalf("B's conflicting %v: %+v %v, want reprocessed by the liege", kb, st, err)
	}

	for _, db := range []*liege.DB{a, b} {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ia, err := oracle.Load(dirA)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := oracle.Load(dirB)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := oracle.Check(ia, ib, oracle.Options{Acked: acked})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PathLength != 6 || rep.Acked != 6 || rep.Keys != 4 || !slices.Equal(rep.Checks, allChecks) {
		t.Errorf("report %+v", rep)
	}
	if v := findEntry(t, ia.State, "k").Value; !bytes.Equal(v, sval(t, "b")) {
		t.Errorf("k = %x, want the reprocessed \"b\"", v)
	}

	// The loaded pair can fail: a copy of the reprocess that names another
	// subject.
	bad := ib
	bad.Records = slices.Clone(ib.Records)
	for i := range bad.Records {
		if bad.Records[i].Subject == kb {
			bad.Records[i].Subject = journal.TxID{Origin: "B", OSeq: 99}
		}
	}
	_, err = oracle.Check(ia, bad, oracle.Options{Acked: acked})
	wantViolation(t, err, 2, "the copies of A/", "B/99")
}

// A random workload on a real instance: every way the engine records reads
// (Get after its own Set or Add, Next, Prev, Scan with limits, both
// directions) passes the oracle, and the loaded history still catches a
// tampered read.
func TestRandomWorkloadOnEngine(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, "A", "", "")
	rnd := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "c", "d", "e", "f"}
	var acked []journal.TxID
	for len(acked) < 300 {
		var ops []Op
		writes := false
		for range 1 + rnd.IntN(6) {
			op := Op{Key: keys[rnd.IntN(len(keys))]}
			switch rnd.IntN(9) {
			case 0:
				op.Kind, op.Str, writes = "set", fmt.Sprint(rnd.IntN(100)), true
			case 1, 2:
				op.Kind, op.N, writes = "add", int64(rnd.IntN(2000)-1000), true
			case 3:
				op.Kind, writes = "del", true
			case 4:
				op.Kind = "get"
			case 5:
				op.Kind = "next"
			case 6:
				op.Kind = "prev"
			case 7:
				op.Kind, op.N = "scan", int64(rnd.IntN(3))
			case 8:
				op.Kind, op.N = "scanfrom", int64(rnd.IntN(3))
			}
			if rnd.IntN(2) == 0 {
				op.Str = "desc"
			}
			if op.Kind == "add" {
				op.Str = ""
			}
			ops = append(ops, op)
		}
		if !writes {
			continue
		}
		res, err := db.Call(context.Background(), "op", OpArgs{Ops: ops})
		if err != nil {
			// An add to a string: the engine refuses it, nothing commits.
			if strings.Contains(err.Error(), "not an integer") {
				continue
			}
			t.Fatal(err)
		}
		acked = append(acked, res.TxID)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	in, err := oracle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Check(in, in, oracle.Options{Acked: acked}); err != nil {
		t.Fatal(err)
	}

	// Tamper with the first recorded read of a present key: the replay
	// catches it.
	for i := range in.Records {
		r := &in.Records[i]
		for j := range r.Reads {
			if r.Reads[j].Version.IsZero() {
				continue
			}
			bad := in
			bad.Records = slices.Clone(in.Records)
			br := &bad.Records[i]
			br.Reads = slices.Clone(r.Reads)
			br.Reads[j].Version.HLC--
			_, err := oracle.Check(bad, bad, oracle.Options{Acked: acked})
			wantViolation(t, err, 2, r.TxID().String(), tuple.Format(r.Reads[j].Key))
			return
		}
	}
	t.Fatal("no read of a present key in the workload")
}

func BenchmarkCheck(b *testing.B) {
	sc := base(b)
	// A longer history: 1000 more transactions alternating origins, each
	// reading the counter it adds to and scanning a small range.
	hlc := uint64(100)
	var extra []journal.Record
	last := map[string]journal.Version{}
	for i := range 1000 {
		origin := []string{"A", "B"}[i%2]
		k := fmt.Sprint("p", i%50)
		hlc++
		extra = append(extra, tx(origin, uint64(10+i), hlc, read(k, last[k]), rng(k, false, k+"\x00", false), add(k, 1)))
		last[k] = ver(hlc, origin)
	}
	for _, r := range extra {
		appendTx(&sc.a, r)
		appendTx(&sc.b, r)
	}
	var state []oracle.Entry
	for i := range 50 {
		k := fmt.Sprint("p", i)
		state = append(state, oracle.Entry{Key: key(k), Value: ival(20), Version: last[k]})
	}
	state = append(state, sc.a.State...)
	slices.SortFunc(state, func(x, y oracle.Entry) int { return bytes.Compare(x.Key, y.Key) })
	sc.a.State, sc.b.State = state, state
	if _, err := oracle.Check(sc.a, sc.b, sc.o); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oracle.Check(sc.a, sc.b, sc.o); err != nil {
			b.Fatal(err)
		}
	}
}
