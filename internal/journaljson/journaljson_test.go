package journaljson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// encodeLines writes values one per line as journalctl does (no HTML
// escaping).
func encodeLines[T any](t *testing.T, vs []T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	return b.Bytes()
}

func fromRecords(t *testing.T, recs []journal.Record) []*Record {
	t.Helper()
	var out []*Record
	for i := range recs {
		d, err := FromRecord(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestGolden checks that the JSON of the fixture records and state keys is
// byte for byte what journalctl printed before the JSON forms moved here
// (testdata/golden.jsonl was written by the code this package replaced).
func TestGolden(t *testing.T) {
	want, err := os.ReadFile("testdata/golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	got := encodeLines(t, fromRecords(t, fixtureRecords()))
	var keys []StateKey
	for _, k := range fixtureState() {
		sk, err := StateKeyOf(k.Key, k.Value, k.Version)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, sk)
	}
	got = append(got, encodeLines(t, keys)...)
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d differs:\ngot  %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("got %d lines, want %d", len(gl), len(wl))
	}
}

// decodeLines reads what encodeLines wrote, as the oracle reads an export.
func decodeLines[T any](t *testing.T, b []byte) []T {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []T
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestRoundTrip converts records to JSON and back (ToRecord). What the
// JSON states exactly (positions, kinds, ids, HLCs, keys, versions, ops,
// deltas, bookkeeping) comes back equal for every record; values come back
// byte for byte where EncodeValue is exact; and for every record, values
// the JSON cannot give back exactly included, converting the result to
// JSON again gives the same bytes.
func TestRoundTrip(t *testing.T) {
	pack := func(v any) []byte {
		b, err := journal.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	exact := journal.Record{Pos: 8, Epoch: 2, Kind: journal.KindReprocess, Origin: "A", OSeq: 9, HLC: 1 << 50, PeerSeen: 3,
		Proc: "book", Subject: journal.TxID{Origin: "B", OSeq: 4},
		Args:   pack(map[string]any{"show": "gala", "seats": []any{int64(1), int64(-2)}, "vip": true, "price": 12.5, "note": nil, "raw": []byte{0xfe}}),
		Result: pack("booked"),
		Reads:  []journal.PointRead{{Key: tuple.Pack("a", int64(1)), Version: journal.Version{HLC: 4, Origin: "A"}}, {Key: []byte{0xff}}},
		Ranges: []journal.RangeRead{{Lo: tuple.Pack("a"), LoInclusive: true}, {Hi: tuple.Pack("b"), HiInclusive: true}},
		Writes: []journal.Write{
			{Key: tuple.Pack("a", int64(1)), Op: journal.OpSet, Value: pack("x"), Before: pack(int64(7)), BeforeVersion: journal.Version{HLC: 4, Origin: "A"}},
			{Key: tuple.Pack("n"), Op: journal.OpAdd, Delta: 3, Value: pack(int64(3))},
			{Key: tuple.Pack("d"), Op: journal.OpDelete, Before: pack("old"), BeforeVersion: journal.Version{HLC: 2, Origin: "B"}},
		},
		IdempotencyKey: "k"}
	recs := append(fixtureRecords(), exact)
	first := encodeLines(t, fromRecords(t, recs))
	var back []journal.Record
	for i, x := range decodeLines[Record](t, first) {
		r, err := x.ToRecord()
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		back = append(back, r)
	}
	if len(back) != len(recs) {
		t.Fatalf("%d records came back, want %d", len(back), len(recs))
	}
	for i := range recs {
		want, got := statedExactly(recs[i]), statedExactly(back[i])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d came back as\n%+v\nwant\n%+v", i+1, got, want)
		}
	}
	if !reflect.DeepEqual(back[len(back)-1], exact) {
		t.Errorf("the record of exact values came back as\n%+v\nwant\n%+v", back[len(back)-1], exact)
	}
	if second := encodeLines(t, fromRecords(t, back)); !bytes.Equal(second, first) {
		t.Errorf("JSON -> record -> JSON changed the JSON:\n%s\nthen\n%s", first, second)
	}
}

// statedExactly clears the values (args, result, written and before
// values) that EncodeValue may not give back byte for byte.
func statedExactly(r journal.Record) journal.Record {
	r.Args, r.Result = nil, nil
	r.Writes = append([]journal.Write(nil), r.Writes...)
	for i := range r.Writes {
		r.Writes[i].Value, r.Writes[i].Before = nil, nil
	}
	return r
}

// TestStateKeyRoundTrip converts state keys to JSON and back.
func TestStateKeyRoundTrip(t *testing.T) {
	var keys []StateKey
	for _, k := range fixtureState() {
		sk, err := StateKeyOf(k.Key, k.Value, k.Version)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, sk)
	}
	for i, x := range decodeLines[StateKey](t, encodeLines(t, keys)) {
		key, value, ver, err := x.Decode()
		if err != nil {
			t.Fatalf("key %d: %v", i+1, err)
		}
		want := fixtureState()[i]
		if !bytes.Equal(key, want.Key) || ver != want.Version {
			t.Errorf("key %d came back as %x %v, want %x %v", i+1, key, ver, want.Key, want.Version)
		}
		if i < 2 && !bytes.Equal(value, want.Value) { // the third holds values JSON cannot keep exactly
			t.Errorf("key %d: value came back as %x, want %x", i+1, value, want.Value)
		}
	}
	var noVersion StateKey
	if err := json.Unmarshal([]byte(`{"key":["a"],"value":1}`), &noVersion); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := noVersion.Decode(); err == nil || !strings.Contains(err.Error(), "no version") {
		t.Errorf("a state key without a version decoded: %v", err)
	}
}
