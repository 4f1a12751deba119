package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/httpapi"
)

// leanJSON writes the bytes encoding/json writes in writeJSON, and leaves
// what it cannot write so to encoding/json.
func TestLeanJSONMatchesEncodingJSON(t *testing.T) {
	id := "A/18"
	ok := func(tx *string, result string) *httpapi.CallAnswer {
		return &httpapi.CallAnswer{TxID: tx, HLC: 117655400119730185, HLCTime: "2026-11-21T16:18:02.123Z+3", Pos: 42,
			ReadOnly: tx == nil, Result: json.RawMessage(result), Token: "A:18,B:4"}
	}
	cases := []struct {
		v    any
		lean bool
	}{
		{ok(&id, `"ok"`), true},
		{ok(nil, `{"found":true,"value":[1,"a<b"]}`), true},
		{ok(&id, ``), false},
		{&httpapi.CallAnswer{TxID: &id}, true},
		{&httpapi.CallAnswer{}, true},
		{&httpapi.BatchAnswer{Results: []httpapi.BatchResult{{Status: 200, CallAnswer: ok(&id, `"ok"`)}, {Status: 200, CallAnswer: ok(nil, `7`)}}, Token: "A:19"}, true},
		{&httpapi.BatchAnswer{Results: []httpapi.BatchResult{}, Token: ""}, true},
		{&httpapi.BatchAnswer{Results: []httpapi.BatchResult{{Status: 404, Error: &httpapi.ErrorDetail{Code: "unknown_procedure", Message: `unknown procedure "x"`}}}}, false},
		{&httpapi.CallAnswer{Token: "a\"b"}, false},
		{&httpapi.CallAnswer{HLCTime: "é"}, false},
		{httpapi.Health{Status: "ok"}, false},
	}
	for _, c := range cases {
		got, ok := leanJSON(c.v)
		if ok != c.lean {
			t.Errorf("leanJSON(%+v) took it: %v, want %v", c.v, ok, c.lean)
			continue
		}
		if !ok {
			continue
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("leanJSON:\n%s\nencoding/json:\n%s", got, want.Bytes())
		}
	}
}

// hlcTime writes what hlc.Timestamp.String writes, over the whole range
// of physical times and logical counters.
func TestHLCTimeIsTimestampString(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 10_000 {
		ts := r.Uint64N(hlc.MaxPhysicalMillis+1)<<hlc.LogicalBits | r.Uint64N(1<<hlc.LogicalBits)
		switch i {
		case 0:
			ts = 0
		case 1:
			ts = hlc.MaxPhysicalMillis<<hlc.LogicalBits | (1<<hlc.LogicalBits - 1)
		}
		if got, want := hlcTime(ts), hlc.Timestamp(ts).String(); got != want {
			t.Fatalf("hlcTime(%d) = %q, hlc.Timestamp.String %q", ts, got, want)
		}
	}
}
