package detect

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// Builders for hand-written transactions.
type op func(*Txn)

func read(k string) op { return func(t *Txn) { t.Reads = append(t.Reads, []byte(k)) } }
func set(k string) op  { return func(t *Txn) { t.Writes = append(t.Writes, Write{Key: []byte(k)}) } }
func del(k string) op  { return set(k) } // the predicate does not tell Set from Delete
func add(k string) op {
	return func(t *Txn) { t.Writes = append(t.Writes, Write{Key: []byte(k), Add: true}) }
}

// scan records a range read; "" is unbounded, as in journal.RangeRead.
func scan(lo string, loIncl bool, hi string, hiIncl bool) op {
	return func(t *Txn) {
		t.Ranges = append(t.Ranges, journal.RangeRead{Lo: []byte(lo), Hi: []byte(hi), LoInclusive: loIncl, HiInclusive: hiIncl})
	}
}

func txn(origin string, hlc uint64, ops ...op) *Txn {
	t := &Txn{ID: journal.TxID{Origin: origin, OSeq: 1}, HLC: hlc, Pos: 1}
	for _, o := range ops {
		o(t)
	}
	return t
}

// mirror is the check the other instance sees for the same pair.
func mirror(c Check) Check {
	switch c {
	case CheckUse:
		return CheckMirrorUse
	case CheckMirrorUse:
		return CheckUse
	}
	return c
}

type order int

const (
	aThenB  order = iota // a clock-before b
	bThenA               // b clock-before a
	either               // the row holds in both orders
	sameHLC              // equal HLCs: the origin decides, A before B
)

// The case table of DESIGN.md section 6 (C1..C9) and rows found while
// building it, at the predicate level. a is the liege transaction (origin
// A), b the vassal transaction (origin B); they did not see each other. The
// check column is the vassal's view (incoming a, own b), as in the doc; the
// liege (incoming b, own a) must see the same pair conflict, with use and
// mirror use swapped, and the same witness key.
var caseTable = []struct {
	name  string
	order order
	a, b  []op
	check Check // 0: no conflict
	key   string
}{
	{"C1 b writes k, a reads k", bThenA, []op{read("k"), set("x")}, []op{set("k")}, CheckUse, "k"},
	{"C2 a writes k, b reads k", aThenB, []op{set("k")}, []op{read("k"), set("y")}, CheckMirrorUse, "k"},
	{"C3 set/set", either, []op{set("k")}, []op{set("k")}, CheckUpdate, "k"},
	{"C3 set/delete", either, []op{set("k")}, []op{del("k")}, CheckUpdate, "k"},
	{"C3 delete/delete", either, []op{del("k")}, []op{del("k")}, CheckUpdate, "k"},
	{"C4 add/add", either, []op{add("k")}, []op{add("k")}, 0, ""},
	{"C5 b inserts inside a's scan", bThenA,
		[]op{scan("seat/", true, "seat0", false), set("x")}, []op{set("seat/12")}, CheckUse, "seat/12"},
	{"C6 a reads k, b writes k", aThenB, []op{read("k"), set("x")}, []op{set("k")}, 0, ""},
	{"C7 a deletes inside b's scan", aThenB,
		[]op{del("seat/12")}, []op{scan("seat/", true, "seat0", false), set("y")}, CheckMirrorUse, "seat/12"},
	{"C8 a adds to k, b reads k", aThenB, []op{add("k")}, []op{read("k"), set("y")}, CheckMirrorUse, "k"},
	{"C9 b reads k, a adds to k", bThenA, []op{add("k")}, []op{read("k"), set("y")}, 0, ""},

	// Rows found while building the table.
	{"set/add is an update", either, []op{set("k")}, []op{add("k")}, CheckUpdate, "k"},
	{"add/delete is an update", either, []op{add("k")}, []op{del("k")}, CheckUpdate, "k"},
	{"add and set of one key by a, add by b: the set conflicts", either,
		[]op{add("k"), set("k")}, []op{add("k")}, CheckUpdate, "k"},
	{"read then add by a, add by b first: add/add is exempt, the read is not", bThenA,
		[]op{read("k"), add("k")}, []op{add("k")}, CheckUse, "k"},
	{"read then add by a first, add by b: b read nothing", aThenB,
		[]op{read("k"), add("k")}, []op{add("k")}, 0, ""},
	{"absent key read by a, inserted by b first", bThenA,
		[]op{read("new"), set("x")}, []op{set("new")}, CheckUse, "new"},
	{"both read and write k: update before use", aThenB,
		[]op{read("k"), set("k")}, []op{read("k"), set("k")}, CheckUpdate, "k"},
	{"update fires first though use holds too", bThenA,
		[]op{read("j"), set("k")}, []op{set("j"), set("k")}, CheckUpdate, "k"},
	{"witness is the smallest key", bThenA,
		[]op{read("c"), read("a"), set("x")}, []op{set("c"), set("a")}, CheckUse, "a"},
	{"range hi exclusive at the written key", bThenA,
		[]op{scan("a", true, "m", false), set("x")}, []op{set("m")}, 0, ""},
	{"range hi inclusive at the written key", bThenA,
		[]op{scan("a", true, "m", true), set("x")}, []op{set("m")}, CheckUse, "m"},
	{"range lo exclusive at the written key", bThenA,
		[]op{scan("a", false, "m", true), set("x")}, []op{set("a")}, 0, ""},
	{"range lo inclusive at the written key", bThenA,
		[]op{scan("a", true, "m", true), set("x")}, []op{set("a")}, CheckUse, "a"},
	{"range unbounded below", aThenB,
		[]op{del("a")}, []op{scan("", false, "c", false), set("y")}, CheckMirrorUse, "a"},
	{"range unbounded below holds the empty key", aThenB,
		[]op{set("")}, []op{scan("", false, "c", false), set("y")}, CheckMirrorUse, ""},
	{"range unbounded above", bThenA,
		[]op{scan("x", false, "", false), set("a")}, []op{set("zzz")}, CheckUse, "zzz"},
	{"range unbounded both ways", bThenA,
		[]op{scan("", false, "", false), set("a")}, []op{add("q")}, CheckUse, "q"},
	{"empty range between a key and the next one", bThenA,
		[]op{scan("k", false, "k\x00", false), set("x")}, []op{set("k"), set("k\x00")}, 0, ""},
	{"range written before it was read, clock order a then b", aThenB,
		[]op{scan("a", true, "z", true), set("x")}, []op{set("m")}, 0, ""},
	{"range against range", either,
		[]op{scan("a", true, "z", true), set("0x")}, []op{scan("a", true, "z", true), set("0y")}, 0, ""},
	{"read against read", either, []op{read("k"), set("x")}, []op{read("k"), set("y")}, 0, ""},
	{"disjoint keys", either, []op{read("a"), set("b")}, []op{read("c"), set("d")}, 0, ""},
	{"equal HLCs, A before B: like C2", sameHLC, []op{set("k")}, []op{read("k"), set("y")}, CheckMirrorUse, "k"},
	{"equal HLCs, A before B: like C6", sameHLC, []op{read("k"), set("x")}, []op{set("k")}, 0, ""},
}

func TestCaseTable(t *testing.T) {
	for _, row := range caseTable {
		orders := []order{row.order}
		if row.order == either {
			orders = []order{aThenB, bThenA}
		}
		for _, ord := range orders {
			aHLC, bHLC := uint64(10), uint64(20)
			switch ord {
			case bThenA:
				aHLC, bHLC = 20, 10
			case sameHLC:
				aHLC, bHLC = 15, 15
			}
			t.Run(fmt.Sprintf("%s/%s", row.name, [...]string{"a then b", "b then a", "", "same HLC"}[ord]), func(t *testing.T) {
				a, b := txn("A", aHLC, row.a...), txn("B", bHLC, row.b...)
				vc, vk, vok := Conflict(b, a) // at the vassal: own b, incoming a
				lc, lk, lok := Conflict(a, b) // at the liege: own a, incoming b
				want := row.check != 0
				if vok != want || lok != want {
					t.Fatalf("conflict: vassal %v (%v %q), liege %v (%v %q), want %v", vok, vc, vk, lok, lc, lk, want)
				}
				if !want {
					return
				}
				if vc != row.check || lc != mirror(row.check) {
					t.Errorf("checks: vassal %v, liege %v; want %v, %v", vc, lc, row.check, mirror(row.check))
				}
				if string(vk) != row.key || string(lk) != row.key {
					t.Errorf("witness: vassal %q, liege %q; want %q", vk, lk, row.key)
				}
			})
		}
	}
}

// The keys random transactions use: few, so that they overlap, with the
// empty key, keys followed by the key right after them ("a", "a\x00"), and
// keys around the 15 bytes of an order key (longer keys share order keys,
// and the window's trees find them all).
var testKeys = []string{"", "a", "a\x00", "ab", "b", "ba", "c",
	"ppppppppppppppp", "ppppppppppppppp\x00", "pppppppppppppppq", // around 15 bytes
	"pppppppppppppppp", "pppppppppppppppp\x00", "ppppppppppppppppq", "pppppppppppppppq"} // around 16 bytes

func keyGen() *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte { return []byte(rapid.SampledFrom(testKeys).Draw(t, "key")) })
}

// txnGen draws the read and write sets of a transaction.
func txnGen(t *rapid.T, label string) *Txn {
	x := &Txn{}
	x.Reads = rapid.SliceOfN(keyGen(), 0, 3).Draw(t, label+".reads")
	for range rapid.IntRange(0, 2).Draw(t, label+".ranges") {
		x.Ranges = append(x.Ranges, journal.RangeRead{
			Lo: keyGen().Draw(t, label+".lo"), Hi: keyGen().Draw(t, label+".hi"),
			LoInclusive: rapid.Bool().Draw(t, label+".loIncl"), HiInclusive: rapid.Bool().Draw(t, label+".hiIncl"),
		})
	}
	for range rapid.IntRange(0, 3).Draw(t, label+".writes") {
		x.Writes = append(x.Writes, Write{Key: keyGen().Draw(t, label+".w"), Add: rapid.Bool().Draw(t, label+".add")})
	}
	return x
}

// The predicate is symmetric across the two instances: what one finds for
// (own o, incoming t), the other finds for (own t, incoming o), with use and
// mirror use swapped and the same witness.
func TestConflictSymmetric(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o, u := txnGen(t, "o"), txnGen(t, "t")
		o.ID, u.ID = journal.TxID{Origin: "A", OSeq: 1}, journal.TxID{Origin: "B", OSeq: 1}
		o.HLC, u.HLC = rapid.Uint64Range(0, 3).Draw(t, "o.hlc"), rapid.Uint64Range(0, 3).Draw(t, "t.hlc")
		c1, k1, ok1 := Conflict(o, u)
		c2, k2, ok2 := Conflict(u, o)
		if ok1 != ok2 || c1 != mirror(c2) || !bytes.Equal(k1, k2) {
			t.Fatalf("here (%v %v %q), at the peer (%v %v %q)", ok1, c1, k1, ok2, c2, k2)
		}
	})
}

// modelConflict is the conflict function of model/epc_model.py, with sets,
// returning also the check and the smallest witness.
func modelConflict(o, t *Txn) (Check, string, bool) {
	keys := func(x *Txn, adds bool) map[string]bool {
		m := map[string]bool{}
		for _, w := range x.Writes {
			if adds || !w.Add {
				m[string(w.Key)] = true
			}
		}
		return m
	}
	first := func(ks []string) (string, bool) {
		if len(ks) == 0 {
			return "", false
		}
		return slices.Min(ks), true
	}
	readsHit := func(x *Txn, ws map[string]bool) (hits []string) {
		for k := range ws {
			if slices.ContainsFunc(x.Reads, func(r []byte) bool { return string(r) == k }) ||
				slices.ContainsFunc(x.Ranges, func(r journal.RangeRead) bool { return r.Contains([]byte(k)) }) {
				hits = append(hits, k)
			}
		}
		return hits
	}
	ow, tw, oww, tww := keys(o, true), keys(t, true), keys(o, false), keys(t, false)
	var ww []string
	for k := range ow {
		if tw[k] && (oww[k] || tww[k]) {
			ww = append(ww, k)
		}
	}
	if k, ok := first(ww); ok {
		return CheckUpdate, k, true
	}
	ob := o.Before(t)
	if k, ok := first(readsHit(t, ow)); ob && ok {
		return CheckUse, k, true
	}
	if k, ok := first(readsHit(o, tw)); !ob && ok {
		return CheckMirrorUse, k, true
	}
	return 0, "", false
}

// Conflict agrees with the sketch's set formulation.
func TestConflictMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o, u := txnGen(t, "o"), txnGen(t, "t")
		o.ID, u.ID = journal.TxID{Origin: "A", OSeq: 1}, journal.TxID{Origin: "B", OSeq: 1}
		if rapid.Bool().Draw(t, "swap") {
			o.ID, u.ID = u.ID, o.ID
		}
		o.HLC, u.HLC = rapid.Uint64Range(0, 3).Draw(t, "o.hlc"), rapid.Uint64Range(0, 3).Draw(t, "t.hlc")
		c, k, ok := Conflict(o, u)
		mc, mk, mok := modelConflict(o, u)
		if ok != mok || c != mc || string(k) != mk {
			t.Fatalf("Conflict (%v %v %q), model (%v %v %q)", ok, c, k, mok, mc, mk)
		}
	})
}

func TestCheckString(t *testing.T) {
	for c, want := range map[Check]string{CheckUpdate: "update", CheckUse: "use", CheckMirrorUse: "mirror_use", 0: "check(0)"} {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", c, c.String(), want)
		}
	}
}

func TestBefore(t *testing.T) {
	a, b := txn("A", 5), txn("B", 5)
	if !a.Before(b) || b.Before(a) || a.Before(a) {
		t.Error("equal HLCs: origin A must be before B, and nothing before itself")
	}
	b.HLC = 4
	if !b.Before(a) || a.Before(b) {
		t.Error("the smaller HLC must be before")
	}
}

// Two transactions with the same clock are in no order (only possible with
// one origin): use and mirror use need an order, so only update can fire.
func TestConflictSameClock(t *testing.T) {
	o, u := txn("A", 5, read("k"), set("x")), txn("A", 5, read("x"), set("k"))
	if c, k, ok := Conflict(o, u); ok {
		t.Fatalf("Conflict = %v %q, want none", c, k)
	}
	u.Writes = append(u.Writes, Write{Key: []byte("x"), Add: true})
	if c, k, ok := Conflict(o, u); !ok || c != CheckUpdate || string(k) != "x" {
		t.Fatalf("Conflict = %v %q %v, want update on x", c, k, ok)
	}
}

func TestFromRecordCopies(t *testing.T) {
	r := &journal.Record{
		Pos: 7, Kind: journal.KindLocal, Origin: "B", OSeq: 3, HLC: 99, PeerSeen: 2,
		Reads:  []journal.PointRead{{Key: []byte("r1")}, {Key: []byte("")}},
		Ranges: []journal.RangeRead{{Lo: []byte("lo"), Hi: nil, LoInclusive: true}},
		Writes: []journal.Write{{Key: []byte("w1"), Op: journal.OpSet}, {Key: []byte("w2"), Op: journal.OpAdd}, {Key: []byte("w3"), Op: journal.OpDelete}},
	}
	got := FromRecord(r)
	want := &Txn{
		ID: journal.TxID{Origin: "B", OSeq: 3}, HLC: 99, PeerSeen: 2, Pos: 7,
		Reads:  [][]byte{[]byte("r1"), {}},
		Ranges: []journal.RangeRead{{Lo: []byte("lo"), Hi: []byte{}, LoInclusive: true}},
		Writes: []Write{{Key: []byte("w1")}, {Key: []byte("w2"), Add: true}, {Key: []byte("w3")}},
	}
	check := func() {
		t.Helper()
		if s, w := txnString(got), txnString(want); s != w {
			t.Fatalf("FromRecord:\n got %s\nwant %s", s, w)
		}
	}
	check()
	// The record's buffers are reused by the caller.
	for _, b := range [][]byte{r.Reads[0].Key, r.Ranges[0].Lo, r.Writes[0].Key, r.Writes[1].Key} {
		for i := range b {
			b[i] = 'X'
		}
	}
	r.Reset()
	check()
	// Growing one key must not overwrite the next one in the shared buffer.
	got.Reads[0] = append(got.Reads[0], 'Z')
	if string(got.Reads[1]) != "" || string(got.Ranges[0].Lo) != "lo" {
		t.Fatalf("keys share storage: %s", txnString(got))
	}
}

func txnString(t *Txn) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v hlc %d peerSeen %d pos %d reads", t.ID, t.HLC, t.PeerSeen, t.Pos)
	for _, k := range t.Reads {
		fmt.Fprintf(&b, " %q", k)
	}
	b.WriteString(" ranges")
	for i := range t.Ranges {
		r := &t.Ranges[i]
		fmt.Fprintf(&b, " %q %v %q %v", r.Lo, r.LoInclusive, r.Hi, r.HiInclusive)
	}
	b.WriteString(" writes")
	for _, w := range t.Writes {
		fmt.Fprintf(&b, " %q add=%v", w.Key, w.Add)
	}
	return b.String()
}
