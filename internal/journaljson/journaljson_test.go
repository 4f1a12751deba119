package journaljson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
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

// additiveHex matches the fields added to the forms after the golden file
// was written.
var additiveHex = regexp.MustCompile(`,"(value|before)_hex":"[0-9a-f]*"`)

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
	// The lossless hex fields were added after; without them the output is
	// the same, byte for byte.
	if !additiveHex.Match(got) {
		t.Fatal("no value_hex or before_hex in the output")
	}
	got = additiveHex.ReplaceAll(got, nil)
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
			// Exact through value_hex and before_hex only: bytes that are
			// not UTF-8, a bin that is, an unsigned and a whole float.
			{Key: tuple.Pack("bin"), Op: journal.OpSet, Value: pack([]byte{0xff, 0x00, 0xfe}), Before: pack([]byte("text")),
				BeforeVersion: journal.Version{HLC: 3, Origin: "B"}},
			{Key: tuple.Pack("num"), Op: journal.OpSet, Value: pack(uint64(7)), Before: pack(2.0), BeforeVersion: journal.Version{HLC: 3, Origin: "A"}},
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

// statedExactly clears the values (args, result) that EncodeValue may not
// give back byte for byte; written and before values come back exactly
// through value_hex and before_hex.
func statedExactly(r journal.Record) journal.Record {
	r.Args, r.Result = nil, nil
	return r
}

// An export without the hex fields (written before they were added, or by
// hand) still reads, the values re-encoded from their decoded forms; a
// hex field wins over the decoded form, and a bad one is refused.
func TestValueHex(t *testing.T) {
	var x Record
	in := `{"pos":2,"kind":"local","txid":"A/1","origin":"A","oseq":1,"writes":[` +
		`{"key":["a"],"op":"set","value":"text","before":null,"before_version":null},` +
		`{"key":["b"],"op":"set","value":"text","before":"x","before_version":{"hlc":1,"origin":"A"},"value_hex":"c404ff00fe01","before_hex":"c3"}]}`
	if err := json.Unmarshal([]byte(in), &x); err != nil {
		t.Fatal(err)
	}
	r, err := x.ToRecord()
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Writes[0]; string(w.Value) != "\xa4text" || w.Before != nil {
		t.Errorf("without hex: value %x, before %x; want a4 74657874 and none", w.Value, w.Before)
	}
	if w := r.Writes[1]; string(w.Value) != "\xc4\x04\xff\x00\xfe\x01" || string(w.Before) != "\xc3" {
		t.Errorf("with hex: value %x, before %x; want c404ff00fe01 and c3", w.Value, w.Before)
	}
	for _, bad := range []struct{ write, want string }{
		{`{"key":["a"],"op":"set","value":1,"before":null,"before_version":null,"value_hex":"zz"}`, "hex"},
		{`{"key":["a"],"op":"set","value":1,"before":null,"before_version":null,"value_hex":""}`, "empty hex"},
		{`{"key":["a"],"op":"delete","value":null,"before":null,"before_version":null,"value_hex":"c0"}`, "delete with a value_hex"},
	} {
		var y Record
		if err := json.Unmarshal([]byte(`{"pos":2,"kind":"local","txid":"A/1","origin":"A","oseq":1,"writes":[`+bad.write+`]}`), &y); err != nil {
			t.Fatal(err)
		}
		if _, err := y.ToRecord(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("write %s: error %v, want one about %q", bad.write, err, bad.want)
		}
	}
}

// ParseKey reads the keys journalctl prints, {"base64": ...} elements
// (strings that are not UTF-8) included, and refuses other objects.
func TestParseKey(t *testing.T) {
	key := tuple.Pack("seat", "bad\xffutf8", int64(12))
	j, err := json.Marshal(Key(key))
	if err != nil {
		t.Fatal(err)
	}
	if want := `["seat",{"base64":"YmFk/3V0Zjg="},12]`; string(j) != want {
		t.Fatalf("Key(%x) printed as %s, want %s", key, j, want)
	}
	back, err := ParseKey(j)
	if err != nil || !bytes.Equal(back, key) {
		t.Fatalf("ParseKey(%s) = %x %v, want %x", j, back, err, key)
	}
	for _, bad := range []string{`[{"hex":"ff"}]`, `[{"base64":"!!"}]`, `["a",1.5]`, `{"a":1}`} {
		if _, err := ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%s) accepted", bad)
		}
	}
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
		if !bytes.Equal(value, want.Value) { // exact through value_hex
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
