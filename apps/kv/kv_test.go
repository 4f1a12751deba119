package kv_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/internal/apptest"
	"github.com/liege-db/liege/journal"
)

// open opens a fresh instance with kv and the correction test procedures
// registered.
func open(t *testing.T) *liege.DB {
	t.Helper()
	db := apptest.Open(t, "A", kv.Register)
	registerFix(t, db, "fix-set", kv.CorrectSet)
	registerFix(t, db, "fix-get", kv.CorrectGet)
	registerFix(t, db, "fix-delete", kv.CorrectDelete)
	registerFix(t, db, "fix-add", kv.CorrectAdd)
	registerFix(t, db, "fix-transfer", kv.CorrectTransfer)
	registerFix(t, db, "fix-append", kv.CorrectAppend)
	if err := liege.Register(db, liege.Procedure[struct{}, []kv.CorrectionRecord]{
		Name: "fix-twice",
		Run: func(tx *liege.Tx, _ struct{}) ([]kv.CorrectionRecord, error) {
			var out []kv.CorrectionRecord
			for _, key := range []string{"p", "q"} {
				r, err := kv.CorrectSet(tx, kv.SetArgs{Key: key, Value: "v"}, kv.ResultOK, "")
				if err != nil {
					return nil, err
				}
				out = append(out, r.(kv.CorrectionRecord))
			}
			return out, nil
		},
		Correct: noCorrection[struct{}, []kv.CorrectionRecord],
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

// fixArgs are the arguments of a test procedure that runs a correction:
// the corrected call's args, what its client was told, and what
// re-executing it gave.
type fixArgs[A, R any] struct {
	Args       A
	Told       R
	Reexecuted R
}

func noCorrection[A, R any](*liege.Tx, A, R, R) (any, error) { return nil, nil }

// registerFix registers a procedure that runs correction fix in its own
// transaction, as the liege would during reconciliation.
func registerFix[A, R any](t *testing.T, db *liege.DB, name string, fix func(*liege.Tx, A, R, R) (any, error)) {
	t.Helper()
	err := liege.Register(db, liege.Procedure[fixArgs[A, R], kv.CorrectionRecord]{
		Name: name,
		Run: func(tx *liege.Tx, f fixArgs[A, R]) (kv.CorrectionRecord, error) {
			r, err := fix(tx, f.Args, f.Told, f.Reexecuted)
			if err != nil {
				return kv.CorrectionRecord{}, err
			}
			return r.(kv.CorrectionRecord), nil
		},
		Correct: noCorrection[fixArgs[A, R], kv.CorrectionRecord],
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The shared helpers (internal/apptest), under the names these tests use.
var (
	call    = apptest.Call
	word    = apptest.Word
	state   = apptest.State
	lastPos = apptest.LastPos
	wantErr = apptest.WantErr
)

func checkHolds(t *testing.T, db *liege.DB) {
	t.Helper()
	apptest.CheckHolds(t, db, kv.Check)
}

func get(t *testing.T, db *liege.DB, key string) kv.GetResult {
	t.Helper()
	var g kv.GetResult
	if res := call(t, db, kv.ProcGet, kv.KeyArgs{Key: key}, &g); !res.ReadOnly() {
		t.Fatalf("get %q committed %v", key, res.TxID)
	}
	return g
}

func balanceOf(t *testing.T, db *liege.DB, key string) int64 {
	t.Helper()
	e, ok, err := db.Get(context.Background(), kv.Key(key))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	n, err := e.Value.Int()
	if err != nil {
		t.Fatalf("%q: %v", key, err)
	}
	return n
}

func listOf(t *testing.T, db *liege.DB, key string) []string {
	t.Helper()
	e, ok, err := db.Get(context.Background(), kv.Key(key))
	if err != nil || !ok {
		t.Fatalf("list %q: found %v, %v", key, ok, err)
	}
	var l []string
	if err := e.Value.Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRegisterRegistersEveryProcedure(t *testing.T) {
	apptest.RegistersEveryProcedure(t, "kv", kv.Register, kv.Procedures())
}

func TestSetGetDelete(t *testing.T) {
	db := open(t)
	if g := get(t, db, "x"); g.Found || g.Value != nil {
		t.Fatalf("get of an absent key: %+v", g)
	}
	r, res := word(t, db, kv.ProcSet, kv.SetArgs{Key: "x", Value: "hello"})
	if r != kv.ResultOK || res.ReadOnly() {
		t.Fatalf("set: %q, read-only %v", r, res.ReadOnly())
	}
	if g := get(t, db, "x"); !g.Found || g.Value != "hello" {
		t.Fatalf("get after set: %+v", g)
	}
	// A string that looks like a number stays a string.
	word(t, db, kv.ProcSet, kv.SetArgs{Key: "n", Value: "12"})
	if g := get(t, db, "n"); g.Value != "12" {
		t.Fatalf("get n: %#v", g.Value)
	}
	if r, res := word(t, db, kv.ProcDelete, kv.KeyArgs{Key: "x"}); r != kv.ResultOK || res.ReadOnly() {
		t.Fatalf("delete: %q, read-only %v", r, res.ReadOnly())
	}
	if g := get(t, db, "x"); g.Found {
		t.Fatalf("get after delete: %+v", g)
	}
	before := lastPos(t, db)
	if r, res := word(t, db, kv.ProcDelete, kv.KeyArgs{Key: "x"}); r != kv.ResultAbsent || !res.ReadOnly() {
		t.Fatalf("delete of an absent key: %q, read-only %v", r, res.ReadOnly())
	}
	if lastPos(t, db) != before {
		t.Fatal("deleting an absent key journaled something")
	}
	wantErr(t, db, kv.ProcSet, kv.SetArgs{Value: "v"}, "key must not be empty")
	wantErr(t, db, kv.ProcGet, kv.KeyArgs{}, "key must not be empty")
	wantErr(t, db, kv.ProcDelete, kv.KeyArgs{}, "key must not be empty")
	checkHolds(t, db)
}

func TestAdd(t *testing.T) {
	db := open(t)
	for _, d := range []int64{5, 7, 0} {
		if r, _ := word(t, db, kv.ProcAdd, kv.AddArgs{Key: "c", Delta: d}); r != kv.ResultOK {
			t.Fatalf("add %d: %q", d, r)
		}
	}
	if g := get(t, db, "c"); !g.Found || !reflect.DeepEqual(g.Value, int64(12)) {
		t.Fatalf("get c: %#v", g)
	}
	wantErr(t, db, kv.ProcAdd, kv.AddArgs{Key: "c", Delta: -1}, "negative")
	word(t, db, kv.ProcSet, kv.SetArgs{Key: "s", Value: "text"})
	wantErr(t, db, kv.ProcAdd, kv.AddArgs{Key: "s", Delta: 1}, "not an integer")
	if balanceOf(t, db, "c") != 12 {
		t.Fatal("a refused add changed the balance")
	}
	checkHolds(t, db)
}

func TestTransfer(t *testing.T) {
	db := open(t)
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "a", Delta: 10})
	if r, res := word(t, db, kv.ProcTransfer, kv.TransferArgs{From: "a", To: "b", Amount: 4}); r != kv.ResultOK || res.ReadOnly() {
		t.Fatalf("transfer: %q, read-only %v", r, res.ReadOnly())
	}
	if a, b := balanceOf(t, db, "a"), balanceOf(t, db, "b"); a != 6 || b != 4 {
		t.Fatalf("balances after transfer: a=%d b=%d, want 6 and 4", a, b)
	}
	// Refusal commits nothing: read-only, the journal and state unchanged.
	before, stBefore := lastPos(t, db), state(t, db)
	if r, res := word(t, db, kv.ProcTransfer, kv.TransferArgs{From: "a", To: "b", Amount: 7}); r != kv.ResultInsufficient || !res.ReadOnly() || !res.TxID.IsZero() {
		t.Fatalf("overdrawing transfer: %q, read-only %v, txid %v", r, res.ReadOnly(), res.TxID)
	}
	if r, _ := word(t, db, kv.ProcTransfer, kv.TransferArgs{From: "nobody", To: "b", Amount: 1}); r != kv.ResultInsufficient {
		t.Fatalf("transfer from an absent balance: %q", r)
	}
	if lastPos(t, db) != before || !reflect.DeepEqual(state(t, db), stBefore) {
		t.Fatal("a refused transfer changed the journal or state")
	}
	// The whole balance may move.
	if r, _ := word(t, db, kv.ProcTransfer, kv.TransferArgs{From: "a", To: "c", Amount: 6}); r != kv.ResultOK {
		t.Fatalf("transfer of the whole balance: %q", r)
	}
	if a, c := balanceOf(t, db, "a"), balanceOf(t, db, "c"); a != 0 || c != 6 {
		t.Fatalf("a=%d c=%d", a, c)
	}
	wantErr(t, db, kv.ProcTransfer, kv.TransferArgs{From: "b", To: "b", Amount: 1}, "same key")
	wantErr(t, db, kv.ProcTransfer, kv.TransferArgs{From: "b", To: "c", Amount: 0}, "must be positive")
	wantErr(t, db, kv.ProcTransfer, kv.TransferArgs{From: "b", To: "c", Amount: -3}, "must be positive")
	wantErr(t, db, kv.ProcTransfer, kv.TransferArgs{To: "c", Amount: 1}, "must not be empty")
	word(t, db, kv.ProcSet, kv.SetArgs{Key: "s", Value: "text"})
	wantErr(t, db, kv.ProcTransfer, kv.TransferArgs{From: "s", To: "c", Amount: 1}, "not a balance")
	wantErr(t, db, kv.ProcTransfer, kv.TransferArgs{From: "b", To: "s", Amount: 1}, "not a balance")
	if b, c := balanceOf(t, db, "b"), balanceOf(t, db, "c"); b != 4 || c != 6 {
		t.Fatalf("failed transfers moved money: b=%d c=%d", b, c)
	}
	checkHolds(t, db)
}

func TestAppendOrder(t *testing.T) {
	db := open(t)
	for i, v := range []string{"x", "y", "z"} {
		var pos int64
		call(t, db, kv.ProcAppend, kv.AppendArgs{Key: "l", Value: v}, &pos)
		if pos != int64(i+1) {
			t.Fatalf("append %q: position %d, want %d", v, pos, i+1)
		}
	}
	if g := get(t, db, "l"); !reflect.DeepEqual(g.Value, []any{"x", "y", "z"}) && !reflect.DeepEqual(g.Value, []string{"x", "y", "z"}) {
		t.Fatalf("get l: %#v", g.Value)
	}
	// Concurrent appends: every position is taken exactly once, and the
	// list's order is the order the positions tell.
	const n = 64
	pos := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := db.Call(context.Background(), kv.ProcAppend, kv.AppendArgs{Key: "m", Value: string(rune('A' + i))})
			if err == nil {
				err = res.Decode(&pos[i])
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	list := listOf(t, db, "m")
	if len(list) != n {
		t.Fatalf("list has %d values, want %d", len(list), n)
	}
	for i, p := range pos {
		if p < 1 || p > n || list[p-1] != string(rune('A'+i)) {
			t.Fatalf("append %d was told position %d, but the list is %v", i, p, list)
		}
	}
	word(t, db, kv.ProcSet, kv.SetArgs{Key: "s", Value: "text"})
	wantErr(t, db, kv.ProcAppend, kv.AppendArgs{Key: "s", Value: "v"}, "not a list")
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "i", Delta: 1})
	wantErr(t, db, kv.ProcAppend, kv.AppendArgs{Key: "i", Value: "v"}, "not a list")
	checkHolds(t, db)
}

// JSON (over HTTP) and msgpack (in the journal) name the arguments alike.
func TestArgsJSONAndMsgpackAgree(t *testing.T) {
	db := open(t)
	cases := map[string]string{
		kv.ProcSet:      `{"key":"x","value":"v"}`,
		kv.ProcAdd:      `{"key":"c","delta":3}`,
		kv.ProcTransfer: `{"from":"c","to":"d","amount":2}`,
		kv.ProcAppend:   `{"key":"l","value":"v"}`,
		kv.ProcGet:      `{"key":"x"}`,
		kv.ProcDelete:   `{"key":"x"}`,
	}
	for _, proc := range kv.Procedures() {
		args, err := db.NewArgs(proc)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(cases[proc]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(args); err != nil {
			t.Fatalf("%s: %v", proc, err)
		}
		b, err := journal.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := journal.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var j map[string]any
		if err := json.Unmarshal([]byte(cases[proc]), &j); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(slices.Sorted(mapsKeys(m)), slices.Sorted(mapsKeys(j))) {
			t.Fatalf("%s: msgpack names %v, JSON names %v", proc, slices.Sorted(mapsKeys(m)), slices.Sorted(mapsKeys(j)))
		}
		if _, err := db.Call(context.Background(), proc, args); err != nil {
			t.Fatalf("%s: %v", proc, err)
		}
	}
	if balanceOf(t, db, "d") != 2 {
		t.Fatal("the JSON-decoded transfer did not run")
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// records returns the correction records in the state.
func records(t *testing.T, db *liege.DB) []kv.CorrectionRecord {
	t.Helper()
	lo := liege.K(kv.CorrectionPrefix)
	es, err := db.Scan(context.Background(), lo, lo.PrefixEnd(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []kv.CorrectionRecord
	for _, e := range es {
		var r kv.CorrectionRecord
		if err := e.Value.Decode(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// fix runs a correction through its test procedure and returns the record
// it returned, checking that it was also stored and that Check holds.
func fix(t *testing.T, db *liege.DB, name string, args any) kv.CorrectionRecord {
	t.Helper()
	n := len(records(t, db))
	var rec kv.CorrectionRecord
	res := call(t, db, name, args, &rec)
	if res.ReadOnly() {
		t.Fatalf("%s committed nothing: a correction must always be journaled", name)
	}
	rs := records(t, db)
	if len(rs) != n+1 || !reflect.DeepEqual(rs[n], rec) {
		t.Fatalf("%s: records %+v, want one more: %+v", name, rs, rec)
	}
	if rec.At == "" || rec.Action == "" {
		t.Fatalf("%s: incomplete record %+v", name, rec)
	}
	checkHolds(t, db)
	return rec
}

func TestCorrectTransferHonoursOverdraft(t *testing.T) {
	db := open(t)
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "a", Delta: 3})
	// The client was told "ok"; re-executed on the liege's state it says
	// "insufficient": the money moves anyway and a is overdrawn.
	rec := fix(t, db, "fix-transfer", fixArgs[kv.TransferArgs, string]{
		Args: kv.TransferArgs{From: "a", To: "b", Amount: 5}, Told: kv.ResultOK, Reexecuted: kv.ResultInsufficient,
	})
	if a, b := balanceOf(t, db, "a"), balanceOf(t, db, "b"); a != -2 || b != 5 {
		t.Fatalf("after correction a=%d b=%d, want -2 and 5", a, b)
	}
	if !slices.Equal(rec.Overdrawn, []string{"a"}) || !slices.Equal(rec.Keys, []string{"a", "b"}) ||
		rec.Proc != kv.ProcTransfer || rec.Told != `"ok"` || rec.Reexecuted != `"insufficient"` ||
		rec.Args != `{"from":"a","to":"b","amount":5}` || !strings.Contains(rec.Action, "overdrawing") {
		t.Fatalf("record %+v", rec)
	}
	// Without its correction record, a's negative balance breaks the
	// invariant.
	var stripped []liege.Entry
	for _, e := range state(t, db) {
		if !strings.HasPrefix(e.Key.String(), `("`+kv.CorrectionPrefix) {
			stripped = append(stripped, e)
		}
	}
	if v := kv.Check(stripped); len(v) != 1 || !strings.Contains(v[0], "negative") {
		t.Fatalf("Check without the record: %q", v)
	}
	// An overdrawn account refuses further transfers until refilled.
	if r, _ := word(t, db, kv.ProcTransfer, kv.TransferArgs{From: "a", To: "b", Amount: 1}); r != kv.ResultInsufficient {
		t.Fatalf("transfer from an overdrawn account: %q", r)
	}
}

func TestCorrectTransferWithinBalance(t *testing.T) {
	db := open(t)
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "a", Delta: 10})
	rec := fix(t, db, "fix-transfer", fixArgs[kv.TransferArgs, string]{
		Args: kv.TransferArgs{From: "a", To: "b", Amount: 5}, Told: kv.ResultOK, Reexecuted: "",
	})
	if a, b := balanceOf(t, db, "a"), balanceOf(t, db, "b"); a != 5 || b != 5 || len(rec.Overdrawn) != 0 {
		t.Fatalf("a=%d b=%d record %+v", a, b, rec)
	}
}

func TestCorrectTransferToldInsufficient(t *testing.T) {
	db := open(t)
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "a", Delta: 10})
	rec := fix(t, db, "fix-transfer", fixArgs[kv.TransferArgs, string]{
		Args: kv.TransferArgs{From: "a", To: "b", Amount: 5}, Told: kv.ResultInsufficient, Reexecuted: kv.ResultOK,
	})
	if a, b := balanceOf(t, db, "a"), balanceOf(t, db, "b"); a != 10 || b != 0 {
		t.Fatalf("a correction of a refused transfer moved money: a=%d b=%d", a, b)
	}
	if !strings.Contains(rec.Action, "no money moved") {
		t.Fatalf("record %+v", rec)
	}
}

func TestCorrectTransferNonIntegerSide(t *testing.T) {
	db := open(t)
	word(t, db, kv.ProcSet, kv.SetArgs{Key: "s", Value: "text"})
	rec := fix(t, db, "fix-transfer", fixArgs[kv.TransferArgs, string]{
		Args: kv.TransferArgs{From: "a", To: "s", Amount: 5}, Told: kv.ResultOK, Reexecuted: "",
	})
	if a := balanceOf(t, db, "a"); a != -5 || !slices.Equal(rec.Overdrawn, []string{"a"}) || !strings.Contains(rec.Action, "not conserved") {
		t.Fatalf("a=%d record %+v", a, rec)
	}
	if g := get(t, db, "s"); g.Value != "text" {
		t.Fatalf("s = %#v", g.Value)
	}
	rec = fix(t, db, "fix-transfer", fixArgs[kv.TransferArgs, string]{
		Args: kv.TransferArgs{From: "s", To: "b", Amount: 2}, Told: kv.ResultOK, Reexecuted: "",
	})
	if b := balanceOf(t, db, "b"); b != 2 || len(rec.Overdrawn) != 0 || !strings.Contains(rec.Action, "not conserved") {
		t.Fatalf("b=%d record %+v", b, rec)
	}
}

func TestCorrectAppend(t *testing.T) {
	db := open(t)
	call(t, db, kv.ProcAppend, kv.AppendArgs{Key: "l", Value: "y"}, nil)
	// The client was told its "x" went first; in the path "y" is first.
	rec := fix(t, db, "fix-append", fixArgs[kv.AppendArgs, int64]{
		Args: kv.AppendArgs{Key: "l", Value: "x"}, Told: 1, Reexecuted: 2,
	})
	if l := listOf(t, db, "l"); !slices.Equal(l, []string{"y", "x"}) {
		t.Fatalf("list after correction: %v", l)
	}
	if rec.Told != "1" || rec.Reexecuted != "2" || !strings.Contains(rec.Action, "position 2") || !strings.Contains(rec.Action, "told position 1") {
		t.Fatalf("record %+v", rec)
	}
	word(t, db, kv.ProcSet, kv.SetArgs{Key: "s", Value: "text"})
	rec = fix(t, db, "fix-append", fixArgs[kv.AppendArgs, int64]{
		Args: kv.AppendArgs{Key: "s", Value: "x"}, Told: 1, Reexecuted: 0,
	})
	if g := get(t, db, "s"); g.Value != "text" || !strings.Contains(rec.Action, "missing") {
		t.Fatalf("s = %#v, record %+v", g.Value, rec)
	}
}

func TestCorrectDelete(t *testing.T) {
	db := open(t)
	// Told "ok" but an earlier transaction in the path deleted the key.
	rec := fix(t, db, "fix-delete", fixArgs[kv.KeyArgs, string]{Args: kv.KeyArgs{Key: "x"}, Told: kv.ResultOK, Reexecuted: kv.ResultAbsent})
	if !strings.Contains(rec.Action, "already deleted") {
		t.Fatalf("record %+v", rec)
	}
	// Told "absent": whatever the path holds now was not the client's to
	// remove.
	word(t, db, kv.ProcSet, kv.SetArgs{Key: "x", Value: "v"})
	fix(t, db, "fix-delete", fixArgs[kv.KeyArgs, string]{Args: kv.KeyArgs{Key: "x"}, Told: kv.ResultAbsent, Reexecuted: kv.ResultOK})
	if g := get(t, db, "x"); !g.Found {
		t.Fatal("a correction of a delete told absent deleted the key")
	}
	// Told "ok" and the key is there: the client's delete stands.
	fix(t, db, "fix-delete", fixArgs[kv.KeyArgs, string]{Args: kv.KeyArgs{Key: "x"}, Told: kv.ResultOK, Reexecuted: ""})
	if g := get(t, db, "x"); g.Found {
		t.Fatal("a correction of a delete told ok left the key")
	}
}

func TestCorrectSetAddGet(t *testing.T) {
	db := open(t)
	fix(t, db, "fix-set", fixArgs[kv.SetArgs, string]{Args: kv.SetArgs{Key: "x", Value: "v"}, Told: kv.ResultOK, Reexecuted: ""})
	if g := get(t, db, "x"); g.Value != "v" {
		t.Fatalf("x = %#v", g.Value)
	}
	fix(t, db, "fix-add", fixArgs[kv.AddArgs, string]{Args: kv.AddArgs{Key: "c", Delta: 4}, Told: kv.ResultOK, Reexecuted: ""})
	if c := balanceOf(t, db, "c"); c != 4 {
		t.Fatalf("c = %d", c)
	}
	rec := fix(t, db, "fix-add", fixArgs[kv.AddArgs, string]{Args: kv.AddArgs{Key: "x", Delta: 4}, Told: kv.ResultOK, Reexecuted: ""})
	if g := get(t, db, "x"); g.Value != "v" || !strings.Contains(rec.Action, "missing") {
		t.Fatalf("x = %#v, record %+v", g.Value, rec)
	}
	before := state(t, db)
	rec = fix(t, db, "fix-get", fixArgs[kv.KeyArgs, kv.GetResult]{
		Args: kv.KeyArgs{Key: "x"}, Told: kv.GetResult{Found: true, Value: "v"}, Reexecuted: kv.GetResult{},
	})
	if rec.Told != `{"found":true,"value":"v"}` || len(state(t, db)) != len(before)+1 {
		t.Fatalf("record %+v", rec)
	}
}

// Two corrections in one transaction share an HLC and still get a record
// each.
func TestCorrectionRecordsDoNotCollide(t *testing.T) {
	db := open(t)
	var recs []kv.CorrectionRecord
	call(t, db, "fix-twice", struct{}{}, &recs)
	if len(recs) != 2 || recs[0].At != recs[1].At {
		t.Fatalf("records %+v", recs)
	}
	if rs := records(t, db); len(rs) != 2 {
		t.Fatalf("stored %d records, want 2", len(rs))
	}
	checkHolds(t, db)
}

func mustMarshal(t *testing.T, v any) liege.Value {
	t.Helper()
	b, err := journal.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckFindsViolations(t *testing.T) {
	good := kv.CorrectionRecord{Proc: kv.ProcTransfer, Args: "{}", Told: `"ok"`, Reexecuted: `"insufficient"`,
		Action: "moved", Keys: []string{"a", "b"}, Overdrawn: []string{"a"}, At: "2026-11-21T16:18:02.123Z+3"}
	bad := good
	bad.Proc, bad.Overdrawn, bad.At, bad.Keys = "bye", []string{"z"}, "yesterday", nil
	cases := []struct {
		name  string
		entry liege.Entry
		want  string // "" for no violation
	}{
		{"string", liege.Entry{Key: kv.Key("s"), Value: mustMarshal(t, "v")}, ""},
		{"integer", liege.Entry{Key: kv.Key("i"), Value: mustMarshal(t, 7)}, ""},
		{"list", liege.Entry{Key: kv.Key("l"), Value: mustMarshal(t, []string{"x"})}, ""},
		{"empty list", liege.Entry{Key: kv.Key("e"), Value: mustMarshal(t, []string{})}, ""},
		{"record", liege.Entry{Key: liege.K(kv.CorrectionPrefix, 1, 0), Value: mustMarshal(t, good)}, ""},
		{"map value", liege.Entry{Key: kv.Key("m"), Value: mustMarshal(t, map[string]int{"a": 1})}, "not an integer, string or list"},
		{"mixed list", liege.Entry{Key: kv.Key("m"), Value: mustMarshal(t, []any{"a", 1})}, "not an integer, string or list"},
		{"garbage", liege.Entry{Key: kv.Key("g"), Value: liege.Value{0xc1}}, "not an integer, string or list"},
		{"foreign key", liege.Entry{Key: liege.K("acct", 1), Value: mustMarshal(t, 1)}, "outside kv's key space"},
		{"long key", liege.Entry{Key: liege.K("kv", "a", 1), Value: mustMarshal(t, 1)}, "is not"},
		{"integer key", liege.Entry{Key: liege.K("kv", 1), Value: mustMarshal(t, 1)}, "is not"},
		{"bad tuple", liege.Entry{Key: liege.Key{0xff}, Value: mustMarshal(t, 1)}, "does not decode as a tuple"},
		{"record key", liege.Entry{Key: liege.K(kv.CorrectionPrefix, "x"), Value: mustMarshal(t, good)}, "is not"},
		{"record value", liege.Entry{Key: liege.K(kv.CorrectionPrefix, 1, 0), Value: mustMarshal(t, "v")}, "does not decode"},
		{"negative balance", liege.Entry{Key: kv.Key("n"), Value: mustMarshal(t, -1)}, "no correction record names it"},
	}
	for _, c := range cases {
		v := kv.Check([]liege.Entry{c.entry})
		switch {
		case c.want == "" && len(v) > 0:
			t.Errorf("%s: unexpected violations %q", c.name, v)
		case c.want != "" && (len(v) != 1 || !strings.Contains(v[0], c.want)):
			t.Errorf("%s: violations %q, want one containing %q", c.name, v, c.want)
		}
	}
	v := kv.Check([]liege.Entry{{Key: liege.K(kv.CorrectionPrefix, 1, 0), Value: mustMarshal(t, bad)}})
	for _, want := range []string{`procedure "bye"`, "names no keys", `names "z" overdrawn`, "malformed time"} {
		if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("bad record: violations %q lack %q", v, want)
		}
	}
	// A negative balance named overdrawn by a record is accepted.
	if v := kv.Check([]liege.Entry{
		{Key: kv.Key("a"), Value: mustMarshal(t, -3)},
		{Key: liege.K(kv.CorrectionPrefix, 1, 0), Value: mustMarshal(t, good)},
	}); len(v) > 0 {
		t.Errorf("overdrawn by a correction: %q", v)
	}
	// Many violations are summarised.
	var many []liege.Entry
	for i := range 150 {
		many = append(many, liege.Entry{Key: liege.K("x", i), Value: mustMarshal(t, 1)})
	}
	if v := kv.Check(many); len(v) != 101 || !strings.Contains(v[100], "and 50 more") {
		t.Errorf("150 violations reported as %d lines, last %q", len(v), v[len(v)-1])
	}
}

func TestAppsRegistry(t *testing.T) {
	a, err := apps.Lookup(kv.Name)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != kv.Name || a.Description == "" || a.Register == nil || a.Check == nil {
		t.Fatalf("apps.Lookup(kv) = %+v", a)
	}
	if !slices.Contains(apps.Names(), kv.Name) || !slices.IsSorted(apps.Names()) {
		t.Fatalf("apps.Names() = %v", apps.Names())
	}
	if _, err := apps.Lookup("nope"); err == nil || !strings.Contains(err.Error(), kv.Name) {
		t.Fatalf("apps.Lookup(nope): %v, want an error listing %q", err, kv.Name)
	}
	db := open(t)
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "a", Delta: 1})
	if v := a.Check(state(t, db)); len(v) > 0 {
		t.Fatal(v)
	}
}
