package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/journal"
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

// appendBatchAnswer writes what writeJSON writes for the BatchAnswer that
// callAnswer fills in for the same results, and declines an answer with an
// error in it or a token it does not write as encoding/json does.
func TestAppendBatchAnswerMatchesEncodingJSON(t *testing.T) {
	msgpack := func(v any) []byte {
		b, err := journal.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ts := uint64(117655400119730185)
	results := []*liege.Result{
		{TxID: journal.TxID{Origin: "A", OSeq: 18}, HLC: ts, Pos: 42, Raw: msgpack("ok")},
		{HLC: ts + 1, Raw: msgpack(map[string]any{"found": true, "value": []any{1, "a<b", "é"}})},
		{TxID: journal.TxID{Origin: "B", OSeq: 1 << 40}, HLC: ts + 2, Pos: 43, Raw: msgpack(nil)},
		{TxID: journal.TxID{Origin: "A", OSeq: 19}, HLC: ts + 3, Pos: 44, Raw: msgpack(int64(-7))},
		{TxID: journal.TxID{Origin: "A", OSeq: 20}, HLC: ts + 4, Pos: 45, Raw: msgpack("tab\there")},
	}
	s := &Server{}
	for _, tok := range []string{"A:20,B:1099511627776", ""} {
		ans := &httpapi.BatchAnswer{Results: make([]httpapi.BatchResult, len(results)), Token: tok}
		got, ok := appendBatchAnswer(ans, results)
		if !ok {
			t.Fatalf("token %q: appendBatchAnswer declined", tok)
		}
		for i, res := range results {
			a, e := s.callAnswer("p", res)
			if e != nil {
				t.Fatal(e)
			}
			a.Token = tok
			ans.Results[i] = httpapi.BatchResult{Status: 200, CallAnswer: a}
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ans); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendBatchAnswer:\n%s\nencoding/json:\n%s", got, want.Bytes())
		}
	}
	ans := &httpapi.BatchAnswer{Results: make([]httpapi.BatchResult, 2), Token: "A:1"}
	if _, ok := appendBatchAnswer(ans, []*liege.Result{results[0], nil}); ok {
		t.Error("appendBatchAnswer took an answer with a failed call")
	}
	ans = &httpapi.BatchAnswer{Results: make([]httpapi.BatchResult, 1), Token: `a"b`}
	if _, ok := appendBatchAnswer(ans, results[:1]); ok {
		t.Error(`appendBatchAnswer took the token a"b`)
	}
	ans.Token = "A:1"
	if _, ok := appendBatchAnswer(ans, []*liege.Result{{Raw: []byte{0xc1}}}); ok {
		t.Error("appendBatchAnswer took a result that is not msgpack")
	}
}
