package liege

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/liege-db/liege/journal"
)

// fn is a test procedure body; the harness runs it as one transaction.
type fn func(tx *Tx) error

// harness is an instance with one procedure, "run", whose argument names
// the test body to run.
type harness struct {
	*DB
	testBodies map[string]fn
}

func openTest(t *testing.T) *harness {
	t.Helper()
	db, err := Open(Options{Dir: t.TempDir(), ID: "A", CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{DB: db, testBodies: map[string]fn{}}
	err = Register(db, Procedure[string, string]{
		Name: "run",
		Run: func(tx *Tx, name string) (string, error) {
			return "ok", h.testBodies[name](tx)
		},
		Correct: func(*Tx, string, string, string) (any, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// commit runs body as a transaction and returns its journal record (nil if
// it was read-only).
func commit(t *testing.T, db *harness, body fn) *journal.Record {
	t.Helper()
	name := t.Name() + string(rune('a'+len(db.testBodies)))
	db.testBodies[name] = body
	res, err := db.Call(context.Background(), "run", name)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if res.ReadOnly() {
		return nil
	}
	var r *journal.Record
	if cerr := db.control(context.Background(), func() { r, err = db.in.ReadRecord(res.Pos) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func seed(t *testing.T, db *harness, keys ...Key) *journal.Record {
	return commit(t, db, func(tx *Tx) error {
		for _, k := range keys {
			tx.Set(k, "v")
		}
		return nil
	})
}

func rng(lo, hi Key, loInc, hiInc bool) journal.RangeRead {
	return journal.RangeRead{Lo: lo, Hi: hi, LoInclusive: loInc, HiInclusive: hiInc}
}

func wantReads(t *testing.T, r *journal.Record, want ...journal.PointRead) {
	t.Helper()
	if len(r.Reads) != len(want) {
		t.Fatalf("reads = %v, want %v", fmtReads(r.Reads), fmtReads(want))
	}
	for i := range want {
		if !bytes.Equal(r.Reads[i].Key, want[i].Key) || r.Reads[i].Version != want[i].Version {
			t.Fatalf("read %d = %v, want %v", i, fmtReads(r.Reads[i:i+1]), fmtReads(want[i:i+1]))
		}
	}
}

func fmtReads(rs []journal.PointRead) []string {
	var out []string
	for _, r := range rs {
		out = append(out, Key(r.Key).String()+"@"+r.Version.Origin)
	}
	return out
}

func wantRanges(t *testing.T, r *journal.Record, want ...journal.RangeRead) {
	t.Helper()
	if len(r.Ranges) != len(want) {
		t.Fatalf("got %d ranges, want %d: %+v", len(r.Ranges), len(want), r.Ranges)
	}
	for i, w := range want {
		g := r.Ranges[i]
		if !bytes.Equal(g.Lo, w.Lo) || !bytes.Equal(g.Hi, w.Hi) || g.LoInclusive != w.LoInclusive || g.HiInclusive != w.HiInclusive {
			t.Fatalf("range %d = [%s %v, %s %v], want [%s %v, %s %v]", i,
				Key(g.Lo), g.LoInclusive, Key(g.Hi), g.HiInclusive, Key(w.Lo), w.LoInclusive, Key(w.Hi), w.HiInclusive)
		}
	}
}

func TestReadSetPointAndAbsent(t *testing.T) {
	db := openTest(t)
	w := seed(t, db, K("k", 1))
	r := commit(t, db, func(tx *Tx) error {
		if _, ok := tx.Get(K("k", 1)); !ok {
			t.Error("k1 absent")
		}
		if _, ok := tx.Get(K("k", 2)); ok {
			t.Error("k2 present")
		}
		tx.Set(K("out"), 1)
		return nil
	})
	wantReads(t, r,
		journal.PointRead{Key: K("k", 1), Version: w.Version()},
		journal.PointRead{Key: K("k", 2)}, // absent: version zero
	)
	if r.Reads[0].Version.IsZero() || !r.Reads[1].Version.IsZero() {
		t.Fatalf("versions: %+v", r.Reads)
	}
}

func TestReadSetNextPrev(t *testing.T) {
	db := openTest(t)
	w := seed(t, db, K("p", "Nixon"), K("p", "Pierce"))
	r := commit(t, db, func(tx *Tx) error {
		k, _, ok := tx.Next(K("p", "Nixon"))
		if !ok || !bytes.Equal(k, K("p", "Pierce")) {
			t.Errorf("Next = %s", k)
		}
		k, _, ok = tx.Prev(K("p", "Pierce"))
		if !ok || !bytes.Equal(k, K("p", "Nixon")) {
			t.Errorf("Prev = %s", k)
		}
		if _, _, ok := tx.Next(K("p", "Pierce")); ok {
			t.Error("Next past the last key found something")
		}
		tx.Set(K("out"), 1)
		return nil
	})
	// Next("Nixon") = "Pierce": the open interval (Nixon, Pierce) and a
	// point read of Pierce, as DESIGN.md section 2 describes.
	wantRanges(t, r,
		rng(K("p", "Nixon"), K("p", "Pierce"), false, false),
		rng(K("p", "Nixon"), K("p", "Pierce"), false, false),
		rng(K("p", "Pierce"), nil, false, false), // (Pierce, end): proved empty
	)
	wantReads(t, r,
		journal.PointRead{Key: K("p", "Pierce"), Version: w.Version()},
		journal.PointRead{Key: K("p", "Nixon"), Version: w.Version()},
	)
}

func TestReadSetScan(t *testing.T) {
	db := openTest(t)
	w := seed(t, db, K("s", 1), K("s", 2), K("s", 3), K("t", 1))
	v := w.Version()
	lo, hi := K("s"), K("s").PrefixEnd()
	r := commit(t, db, func(tx *Tx) error {
		if got := tx.Scan(lo, hi, ScanOptions{}); len(got) != 3 {
			t.Errorf("full scan = %d keys", len(got))
		}
		got := tx.Scan(lo, hi, ScanOptions{Limit: 2})
		if len(got) != 2 || !bytes.Equal(got[1].Key, K("s", 2)) {
			t.Errorf("limited scan = %v", got)
		}
		got = tx.Scan(lo, hi, ScanOptions{Limit: 2, Desc: true})
		if len(got) != 2 || !bytes.Equal(got[0].Key, K("s", 3)) || !bytes.Equal(got[1].Key, K("s", 2)) {
			t.Errorf("descending scan = %v", got)
		}
		if got := tx.Scan(K("u"), K("u").PrefixEnd(), ScanOptions{}); len(got) != 0 {
			t.Errorf("empty scan = %v", got)
		}
		tx.Set(K("out"), 1)
		return nil
	})
	wantRanges(t, r,
		rng(lo, hi, true, false),                     // ran to the end: the whole range
		rng(lo, K("s", 2), true, true),               // stopped by the limit at s2
		rng(K("s", 2), hi, true, false),              // descending, stopped at s2
		rng(K("u"), K("u").PrefixEnd(), true, false), // proved empty
	)
	p := func(n int) journal.PointRead { return journal.PointRead{Key: K("s", n), Version: v} }
	wantReads(t, r, p(1), p(2), p(3), p(1), p(2), p(3), p(2))
}

func TestReadSetOwnWritesNotRecorded(t *testing.T) {
	db := openTest(t)
	seed(t, db, K("o", 1))
	r := commit(t, db, func(tx *Tx) error {
		tx.Set(K("o", 2), "mine")
		tx.Delete(K("o", 1))
		if v, ok := tx.Get(K("o", 2)); !ok {
			t.Error("own write invisible")
		} else if s, _ := v.Str(); s != "mine" {
			t.Errorf("own write reads %q", s)
		}
		if _, ok := tx.Get(K("o", 1)); ok {
			t.Error("own delete invisible")
		}
		got := tx.Scan(K("o"), K("o").PrefixEnd(), ScanOptions{})
		if len(got) != 1 || !bytes.Equal(got[0].Key, K("o", 2)) {
			t.Errorf("scan over own writes = %v", got)
		}
		return nil
	})
	wantReads(t, r) // nothing: every key read was written by the transaction
	wantRanges(t, r, rng(K("o"), K("o").PrefixEnd(), true, false))
	if len(r.Writes) != 2 || r.Writes[0].Op != journal.OpSet || r.Writes[1].Op != journal.OpDelete || r.Writes[1].Before == nil {
		t.Fatalf("writes = %+v", r.Writes)
	}
}

func TestAddIsNotARead(t *testing.T) {
	db := openTest(t)
	w := commit(t, db, func(tx *Tx) error { tx.Set(K("n"), 10); return nil })
	r := commit(t, db, func(tx *Tx) error {
		tx.Add(K("n"), 5)
		tx.Add(K("n"), 2)
		tx.Add(K("fresh"), -3)
		return nil
	})
	wantReads(t, r)
	if len(r.Writes) != 2 {
		t.Fatalf("writes = %+v", r.Writes)
	}
	a := r.Writes[0]
	if a.Op != journal.OpAdd || a.Delta != 7 || a.BeforeVersion != w.Version() {
		t.Fatalf("add write = %+v", a)
	}
	if n, _ := Value(a.Value).Int(); n != 17 {
		t.Fatalf("after-image %d, want 17", n)
	}
	if f := r.Writes[1]; f.Before != nil || f.Delta != -3 {
		t.Fatalf("add to absent key = %+v", f)
	}
	// Reading the key after our own Add reveals the value before it: that is
	// recorded as a read of the key as it was.
	r = commit(t, db, func(tx *Tx) error {
		tx.Add(K("n"), 1)
		v, _ := tx.Get(K("n"))
		if n, _ := v.Int(); n != 18 {
			t.Errorf("read after add = %d", n)
		}
		return nil
	})
	wantReads(t, r, journal.PointRead{Key: K("n"), Version: r.Writes[0].BeforeVersion})
}

func TestAddVersionIsMaxSoAddsCommute(t *testing.T) {
	db := openTest(t)
	commit(t, db, func(tx *Tx) error { tx.Add(K("c"), 1); return nil })
	r := commit(t, db, func(tx *Tx) error { tx.Add(K("c"), 1); return nil })
	_, ver, _ := db.in.Get(K("c"))
	if ver != r.Version() {
		t.Fatalf("version after add = %+v, want %+v", ver, r.Version())
	}
}

func TestErrorCommitsNothing(t *testing.T) {
	db := openTest(t)
	before := seed(t, db, K("e", 1))
	name := "fails"
	db.testBodies[name] = func(tx *Tx) error {
		tx.Set(K("e", 1), "changed")
		tx.Set(K("e", 2), "new")
		tx.Delete(K("e", 1))
		return errors.New("refused")
	}
	if _, err := db.Call(context.Background(), "run", name); err == nil || err.Error() != "refused" {
		t.Fatalf("err = %v", err)
	}
	v, ver, ok := db.in.Get(K("e", 1))
	if !ok || ver != before.Version() || string(v) != string(appendStr(nil, "v")) {
		t.Fatalf("e1 after failed call: %q %+v %v", v, ver, ok)
	}
	if _, _, ok := db.in.Get(K("e", 2)); ok {
		t.Fatal("e2 written by a failed call")
	}
	st, _ := db.Status(context.Background())
	if st.LastPos != before.Pos {
		t.Fatalf("failed call journaled: last %d, want %d", st.LastPos, before.Pos)
	}
}

func TestReadOnlyNotJournaled(t *testing.T) {
	db := openTest(t)
	w := seed(t, db, K("r"))
	if r := commit(t, db, func(tx *Tx) error { tx.Get(K("r")); return nil }); r != nil {
		t.Fatalf("read-only call journaled at %d", r.Pos)
	}
	st, _ := db.Status(context.Background())
	if st.LastPos != w.Pos || st.HighOSeq != w.OSeq {
		t.Fatalf("status after read-only call: %+v", st)
	}
}

func TestPanicInProcedureIsAnError(t *testing.T) {
	db := openTest(t)
	db.testBodies["boom"] = func(tx *Tx) error { tx.Set(K("x"), 1); panic("boom") }
	if _, err := db.Call(context.Background(), "run", "boom"); err == nil {
		t.Fatal("panic not reported")
	}
	if _, _, ok := db.in.Get(K("x")); ok {
		t.Fatal("write of a panicking procedure kept")
	}
}

func TestRegisterWithoutCorrectionRefused(t *testing.T) {
	db := openTest(t)
	err := Register(db.DB, Procedure[int, int]{Name: "nocorr", Run: func(*Tx, int) (int, error) { return 0, nil }})
	if !errors.Is(err, ErrNoCorrection) {
		t.Fatalf("err = %v", err)
	}
	err = Register(db.DB, Procedure[string, string]{Name: "run", Run: func(*Tx, string) (string, error) { return "", nil },
		Correct: func(*Tx, string, string, string) (any, error) { return nil, nil }})
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate err = %v", err)
	}
	if _, err := db.Call(context.Background(), "nope", 1); !errors.Is(err, ErrUnknownProcedure) {
		t.Fatalf("unknown err = %v", err)
	}
	if _, err := db.Call(context.Background(), "run", 42); !errors.Is(err, ErrBadArgs) {
		t.Fatalf("bad args err = %v", err)
	}
}

func TestTxIDAndPeerSeen(t *testing.T) {
	db := openTest(t)
	a := seed(t, db, K("i", 1))
	b := seed(t, db, K("i", 2))
	if a.Origin != "A" || b.OSeq != a.OSeq+1 || b.HLC <= a.HLC || a.PeerSeen != 0 || a.Kind != journal.KindLocal {
		t.Fatalf("records: %+v / %+v", a, b)
	}
}
