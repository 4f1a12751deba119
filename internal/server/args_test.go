package server

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/liege-db/liege/internal/httpapi"
)

type flatArgs struct {
	Key  string  `json:"key"`
	N    int64   `json:"n"`
	F    float64 `json:"f"`
	On   bool
	Skip string `json:"-"`
	//lint:ignore U1000 an unexported field is no JSON field: the test sends one
	hidden int
}

type nestedArgs struct {
	Key   string          `json:"key"`
	Inner struct{ A int } `json:"inner"`
}

// dupArgs has two fields named X: encoding/json drops both.
type dupArgs struct {
	A string `json:"X"`
	X string
}

// decodeArgs decodes and refuses exactly what decodeStrict does, for valid
// JSON (its args come from a body already checked).
func TestDecodeArgsAsDecodeStrict(t *testing.T) {
	if !httpapi.LeanArgs([]byte(`{"key": "a"}`), &flatArgs{}) {
		t.Fatal("flatArgs is not decoded leanly: the fast path is not exercised")
	}
	for _, v := range []any{&nestedArgs{}, &dupArgs{}, new(int), &map[string]any{}} {
		if httpapi.LeanArgs([]byte(`{}`), v) {
			t.Errorf("%T is decoded leanly", v)
		}
	}
	inputs := []string{
		`{"key": "a", "n": 5, "f": 1.5, "On": true}`, `{}`, `{"key": "a"}`, `{"KEY": "a"}`, `{"on": true}`,
		`{"key": "a", "key": "b"}`, `{"key": "a", "nope": 1}`, `{"Skip": "x"}`, `{"hidden": 1}`, `{"n": "5"}`,
		`{"n": 1.5}`, `{"key": 1}`, `[1]`, `"s"`, `null`, `{"inner": {"A": 1}}`, `{"inner": {"B": 1}}`,
		`{"X": "1"}`, `{"x": "1"}`, `{"key": "\u0061"}`, `{"n": 99999999999999999999}`, `{"key": null}`,
		`{"n": -0, "f": -1.5e-3}`, `{"f": 1e999}`, `{"n": 9223372036854775808}`, `{"n": -9223372036854775808}`,
		` { "key" : "a" , "n" : 2 } `, `{"key": "é"}`, `{"key": "a\tb"}`, `{"On": null}`, `{"n": 1e2}`,
	}
	for _, mk := range []func() any{func() any { return &flatArgs{} }, func() any { return &nestedArgs{} }, func() any { return &dupArgs{} }} {
		for _, in := range inputs {
			got, want := mk(), mk()
			gerr, werr := decodeArgs([]byte(in), got), decodeStrict([]byte(in), want)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
				t.Errorf("%T %s: decodeArgs %+v, %v; decodeStrict %+v, %v", got, in, got, gerr, want, werr)
			}
		}
	}
}
