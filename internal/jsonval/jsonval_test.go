package jsonval

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// encode renders v as compact JSON, failing the test if encoding/json
// cannot encode it.
func encode(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%#v): %v", v, err)
	}
	return string(b)
}

func TestFromMsgpack(t *testing.T) {
	type point struct {
		X int64  `codec:"x"`
		Y string `codec:"y"`
	}
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"bool", true, `true`},
		{"int", int64(-42), `-42`},
		{"uint", uint64(math.MaxUint64), `18446744073709551615`},
		{"float", 1.5, `1.5`},
		{"nan", math.NaN(), `"NaN"`},
		{"inf", math.Inf(1), `"+Inf"`},
		{"-inf", math.Inf(-1), `"-Inf"`},
		{"string", "ok", `"ok"`},
		{"string not utf8", "a\xffb", `{"base64":"Yf9i"}`},
		{"bytes utf8", []byte("héllo"), `"héllo"`},
		{"bytes not utf8", []byte{0xff, 0x00, 0x01}, `{"base64":"/wAB"}`},
		{"array", []any{int64(1), "two", []byte{0xfe}}, `[1,"two",{"base64":"/g=="}]`},
		{"map int keys", map[int64]string{2: "b", 1: "a"}, `{"1":"a","2":"b"}`},
		{"map nested", map[string]any{"a": map[string]any{"b": []any{nil, false}}}, `{"a":{"b":[null,false]}}`},
		{"struct", point{X: 3, Y: "z"}, `{"x":3,"y":"z"}`},
		{"time", time.Date(2026, 11, 21, 16, 18, 2, 123e6, time.UTC), `"2026-11-21T16:18:02.123Z"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := journal.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			v, err := FromMsgpack(b)
			if err != nil {
				t.Fatalf("FromMsgpack: %v", err)
			}
			if got := encode(t, v); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFromMsgpackEmptyAndGarbage(t *testing.T) {
	if v, err := FromMsgpack(nil); v != nil || err != nil {
		t.Errorf("FromMsgpack(nil) = %v, %v; want nil, nil", v, err)
	}
	if _, err := FromMsgpack([]byte{0xc1}); err == nil { // 0xc1 is never used
		t.Error("FromMsgpack accepted the reserved byte 0xc1")
	}
	if _, err := FromMsgpack([]byte{0x92, 0x01}); err == nil { // array of 2 with 1 element
		t.Error("FromMsgpack accepted a truncated array")
	}
}

func TestMapKeys(t *testing.T) {
	in := map[any]any{"s": 1, int64(7): 3, true: 4, nil: 5, "\xfe": 6}
	got := encode(t, FromValue(in))
	want := `{"7":3,"base64:/g==":6,"null":5,"s":1,"true":4}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestBinMapKey(t *testing.T) {
	// A msgpack map whose key is bin 0xff: {bin(ff): 1}.
	v, err := FromMsgpack([]byte{0x81, 0xc4, 0x01, 0xff, 0x01})
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, v); got != `{"base64:/w==":1}` {
		t.Errorf("got %s", got)
	}
}

func TestKey(t *testing.T) {
	k := tuple.Pack("seat", "gala", int64(12), "\xff")
	if got := encode(t, Key(k)); got != `["seat","gala",12,{"base64":"/w=="}]` {
		t.Errorf("Key = %s", got)
	}
	if got := encode(t, Key(tuple.Pack())); got != `[]` {
		t.Errorf("Key(empty tuple) = %s, want []", got)
	}
	if got := Key([]byte{0xff, 0x00}); got != nil {
		t.Errorf("Key(non-tuple) = %#v, want nil", got)
	}
	// What Key gives back, ParseJSON takes (for valid UTF-8 strings).
	k = tuple.Pack("acct", int64(-5), "")
	back, err := tuple.ParseJSON([]byte(encode(t, Key(k))))
	if err != nil || string(back) != string(k) {
		t.Errorf("ParseJSON(Key(k)) = %x, %v; want %x", back, err, k)
	}
}
