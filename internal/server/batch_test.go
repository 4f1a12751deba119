package server

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/internal/jsonval"
	"github.com/liege-db/liege/journal"
)

func (e *env) batch(body string, headers ...string) *answer {
	e.t.Helper()
	return e.do("POST", "/v1/calls", body, headers...)
}

// batchAnswer decodes a 200 answer of POST /v1/calls.
func (e *env) batchAnswer(a *answer) httpapi.BatchAnswer {
	e.t.Helper()
	e.must(a, 200)
	var ans httpapi.BatchAnswer
	dec := json.NewDecoder(strings.NewReader(a.raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ans); err != nil {
		e.t.Fatalf("the answer %s does not decode: %v", a.raw, err)
	}
	return ans
}

func TestBatchRunsEveryCall(t *testing.T) {
	e := newEnv(t, Options{})
	e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 10}}`), 200)
	ans := e.batchAnswer(e.batch(`{"calls": [
		{"proc": "deposit", "args": {"acct": "alice", "amount": 5}, "idempotency_key": "k1"},
		{"proc": "deposit", "args": {"acct": "bob", "amount": 7}},
		{"proc": "withdraw", "args": {"acct": "carol", "amount": 1}},
		{"proc": "bye"},
		{"proc": "deposit", "args": {"acct": "x", "amout": 1}},
		{"proc": "balance", "args": {"acct": "alice"}},
		{"proc": "boom"}
	], "min_token": "T:1"}`))
	if len(ans.Results) != 7 {
		t.Fatalf("%d results for 7 calls", len(ans.Results))
	}
	want := []struct {
		status int
		code   string
	}{{200, ""}, {200, ""}, {422, CodeProcedureError}, {404, CodeUnknownProcedure}, {400, CodeBadArgs}, {200, ""}, {500, CodeInternal}}
	for i, w := range want {
		r := ans.Results[i]
		if r.Status != w.status {
			t.Errorf("result %d: status %d, want %d (%+v)", i, r.Status, w.status, r)
		}
		switch {
		case w.status == 200 && (r.CallAnswer == nil || r.Error != nil):
			t.Errorf("result %d: a 200 without an answer, or with an error: %+v", i, r)
		case w.status != 200 && (r.CallAnswer != nil || r.Error == nil || r.Error.Code != w.code || r.Error.Message == ""):
			t.Errorf("result %d: want error %s with a message, got %+v", i, w.code, r)
		}
	}
	for _, i := range []int{0, 1} {
		if a := ans.Results[i].CallAnswer; a == nil || a.TxID == nil || a.Pos == 0 || string(a.Result) != `"ok"` || a.Token != ans.Token {
			t.Errorf("result %d: %+v, want a committed ok with the batch's token %s", i, a, ans.Token)
		}
	}
	if a := ans.Results[5].CallAnswer; a == nil || !a.ReadOnly || a.TxID != nil {
		t.Errorf("the balance call: %+v, want read-only", a)
	}
	// The balance read 10 or 15: the calls of a batch run in no order.
	if ans.Token != "T:3" {
		t.Errorf("batch token %q, want T:3 (one deposit before, two in the batch)", ans.Token)
	}
	if got := e.balance("alice"); got != 15 {
		t.Errorf("alice has %d, want 15", got)
	}
	if got := e.balance("bob"); got != 7 {
		t.Errorf("bob has %d, want 7", got)
	}
	if !strings.Contains(e.logs.String(), "kaboom") {
		t.Errorf("the panic of boom is not logged")
	}
	// The idempotency key of a call of a batch works as the header does.
	again := e.batchAnswer(e.batch(`{"calls": [{"proc": "deposit", "args": {"acct": "alice", "amount": 5}, "idempotency_key": "k1"}]}`))
	if r := again.Results[0]; r.Status != 200 || r.CallAnswer == nil || *r.TxID != *ans.Results[0].TxID {
		t.Errorf("a retried call answered %+v, want the first outcome %s", r, *ans.Results[0].TxID)
	}
	if got := e.balance("alice"); got != 15 {
		t.Errorf("alice has %d after the retry, want 15", got)
	}
}

// A batch's answer, larger than net/http's 2 KiB response buffer, is
// sent with its Content-Length, not chunked.
func TestBatchAnswerDeclaresItsLength(t *testing.T) {
	e := newEnv(t, Options{})
	var calls []string
	for i := range 40 {
		calls = append(calls, fmt.Sprintf(`{"proc": "deposit", "args": {"acct": "a%d", "amount": 1}}`, i))
	}
	a := e.batch(`{"calls": [` + strings.Join(calls, ",") + `]}`)
	e.batchAnswer(a)
	if len(a.raw) <= 2048 || a.length != int64(len(a.raw)) {
		t.Fatalf("an answer of %d bytes came with Content-Length %d (-1: chunked)", len(a.raw), a.length)
	}
}

func TestBatchRefusesMalformedRequests(t *testing.T) {
	e := newEnv(t, Options{MaxBody: 64 << 10})
	many := `{"calls": [` + strings.Repeat(`{"proc": "deposit"},`, httpapi.MaxBatch) + `{"proc": "deposit"}]}`
	for _, c := range []struct {
		name, body string
		headers    []string
		status     int
		code       string
		parts      []string
	}{
		{"empty body", ``, nil, 400, CodeBadRequest, []string{"empty", `"calls"`}},
		{"no calls", `{"calls": []}`, nil, 400, CodeBadRequest, []string{"no calls"}},
		{"calls null", `{"calls": null}`, nil, 400, CodeBadRequest, []string{"no calls"}},
		{"too many calls", many, nil, 400, CodeBadRequest, []string{fmt.Sprintf("at most %d", httpapi.MaxBatch)}},
		{"not JSON", `{"calls": [`, nil, 400, CodeBadRequest, []string{"not valid JSON"}},
		{"trailing data", `{"calls": [{"proc": "deposit"}]} {}`, nil, 400, CodeBadRequest, []string{"data after"}},
		{"calls not an array", `{"calls": {"proc": "deposit"}}`, nil, 400, CodeBadRequest, []string{"calls", "must be an array"}},
		{"unknown field", `{"calls": [{"proc": "deposit"}], "token": "T:1"}`, nil, 400, CodeBadRequest, []string{`unknown field "token"`, "proc, args and idempotency_key"}},
		{"unknown call field", `{"calls": [{"procedure": "deposit"}]}`, nil, 400, CodeBadRequest, []string{`unknown field "procedure"`}},
		{"proc not a string", `{"calls": [{"proc": 1}]}`, nil, 400, CodeBadRequest, []string{"proc", "must be a string"}},
		{"malformed token", `{"calls": [{"proc": "deposit"}], "min_token": "T=1"}`, nil, 400, CodeBadRequest, []string{"min_token", "malformed session token"}},
		{"negative timeout", `{"calls": [{"proc": "deposit"}], "min_token": "T:1", "timeout_ms": -1}`, nil, 400, CodeBadRequest, []string{"timeout_ms must be 0 or more"}},
		{"an Idempotency-Key header", `{"calls": [{"proc": "deposit"}]}`, []string{"Idempotency-Key", "k"}, 400, CodeBadRequest, []string{"idempotency_key"}},
		{"token not caught up", `{"calls": [{"proc": "deposit"}], "min_token": "T:99", "timeout_ms": 0}`, nil, 503, CodeNotCaughtUp, []string{"T:99"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.status()["oseq"]
			e.mustErr(e.batch(c.body, c.headers...), c.status, c.code, c.parts...)
			if after := e.status()["oseq"]; after != before {
				t.Errorf("a refused batch committed: oseq %v, then %v", before, after)
			}
		})
	}
	e.mustErr(e.do("GET", "/v1/calls", ""), 405, CodeMethodNotAllowed, "POST")
}

func TestBatchRefusesABadCallAlone(t *testing.T) {
	e := newEnv(t, Options{})
	long := strings.Repeat("k", MaxIdempotencyKey+1)
	ans := e.batchAnswer(e.batch(`{"calls": [{"args": {}}, {"proc": "deposit", "idempotency_key": "` + long + `"},
		{"proc": "deposit", "args": [1]}, {"proc": "deposit", "args": {"acct": "a", "amount": 2}}]}`))
	for i, part := range []string{`no "proc"`, "1 to 256 bytes", "deposit's arguments"} {
		r := ans.Results[i]
		if r.Status != 400 || r.Error == nil || !strings.Contains(r.Error.Message, part) {
			t.Errorf("result %d: %+v, want a 400 saying %q", i, r, part)
		}
	}
	if r := ans.Results[3]; r.Status != 200 || r.CallAnswer == nil {
		t.Errorf("the good call of the batch: %+v", r)
	}
}

// plainMsgpackJSON writes what the general path writes, for every value
// it takes, and leaves the others to it.
func TestPlainMsgpackJSONMatchesTheGeneralPath(t *testing.T) {
	values := []any{nil, true, false, int64(0), int64(1), int64(127), int64(128), int64(-1), math.MaxInt64,
		"", "ok", "sold", strings.Repeat("x", 31), strings.Repeat("y", 32), strings.Repeat("z", 255), strings.Repeat("w", 256),
		`a"b`, `a\b`, "tab\t", "<&>", "é", "\x7f", "\x00", []byte("ok"), 1.5, []any{"a"}, map[string]any{"a": int64(1)}}
	taken := 0
	for _, v := range values {
		b, err := journal.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		general, err := jsonval.FromMsgpack(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := toJSON(general)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := plainMsgpackJSON(b)
		if ok {
			taken++
			if string(got) != string(want) {
				t.Errorf("%#v (msgpack % x): fast path %s, general path %s", v, b, got, want)
			}
		}
		if all, err := msgpackJSON(b); err != nil || string(all) != string(want) {
			t.Errorf("%#v: msgpackJSON %s, %v, want %s", v, all, err, want)
		}
	}
	if taken < 10 {
		t.Errorf("the fast path took only %d of %d values: it is not exercised", taken, len(values))
	}
}
