package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/journal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// The test application: accounts at ("acct", name) holding integers.

type acctArgs struct {
	Acct   string `json:"acct" codec:"acct"`
	Amount int64  `json:"amount" codec:"amount"`
}

var errInsufficient = errors.New("insufficient funds")

func noCorrection[A, R any](*liege.Tx, A, R, R) (any, error) { return nil, nil }

func registerTestApp(t *testing.T, db *liege.DB) {
	t.Helper()
	balance := func(tx *liege.Tx, acct string) int64 {
		v, ok := tx.Get(liege.K("acct", acct))
		if !ok {
			return 0
		}
		n, err := v.Int()
		if err != nil {
			panic(err)
		}
		return n
	}
	err := errors.Join(
		liege.Register(db, liege.Procedure[acctArgs, string]{Name: "deposit",
			Run: func(tx *liege.Tx, a acctArgs) (string, error) {
				tx.Add(liege.K("acct", a.Acct), a.Amount)
				return "ok", nil
			}, Correct: noCorrection[acctArgs, string]}),
		liege.Register(db, liege.Procedure[acctArgs, string]{Name: "withdraw",
			Run: func(tx *liege.Tx, a acctArgs) (string, error) {
				tx.Add(liege.K("acct", a.Acct), -a.Amount) // written first: the error must undo it
				if balance(tx, a.Acct) < 0 {
					return "", fmt.Errorf("withdraw %d from %s: %w", a.Amount, a.Acct, errInsufficient)
				}
				return "ok", nil
			}, Correct: noCorrection[acctArgs, string]}),
		liege.Register(db, liege.Procedure[acctArgs, int64]{Name: "balance",
			Run:     func(tx *liege.Tx, a acctArgs) (int64, error) { return balance(tx, a.Acct), nil },
			Correct: noCorrection[acctArgs, int64]}),
		liege.Register(db, liege.Procedure[struct{}, map[string]any]{Name: "describe",
			Run: func(*liege.Tx, struct{}) (map[string]any, error) {
				return map[string]any{"bytes": []byte{0xff, 0x00}, "text": []byte("héllo"), "n": int64(7), "list": []any{"a", int64(1)}}, nil
			}, Correct: noCorrection[struct{}, map[string]any]}),
		liege.Register(db, liege.Procedure[struct{}, string]{Name: "boom",
			Run:     func(*liege.Tx, struct{}) (string, error) { panic("kaboom") },
			Correct: noCorrection[struct{}, string]}),
	)
	if err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	t    *testing.T
	db   *liege.DB
	srv  *Server
	http *httptest.Server
	logs *lockedBuffer
}

func newEnv(t *testing.T, opts Options, dbOpts ...func(*liege.Options)) *env {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o := liege.Options{Dir: t.TempDir(), ID: "T", Logger: logger, Registerer: reg}
	for _, f := range dbOpts {
		f(&o)
	}
	db, err := liege.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	registerTestApp(t, db)
	opts.Logger, opts.Registry = logger, reg
	if opts.App == "" {
		opts.App = "bank"
	}
	s := New(db, opts)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &env{t: t, db: db, srv: s, http: hs, logs: logs}
}

// answer is an HTTP answer: status, headers, raw body and the body decoded
// as a JSON object (nil if it is not one).
type answer struct {
	status int
	header http.Header
	length int64 // resp.ContentLength: -1 when sent chunked
	raw    string
	body   map[string]any
}

func (a *answer) String() string { return fmt.Sprintf("%d %s", a.status, a.raw) }

// errCode returns the error code of an error answer.
func (a *answer) errCode() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (a *answer) errMessage() string {
	e, _ := a.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// do sends a request; headers alternate names and values.
func (e *env) do(method, path, body string, headers ...string) *answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) *answer {
	e.t.Helper()
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	a := &answer{status: resp.StatusCode, header: resp.Header, length: resp.ContentLength, raw: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && req.Method != "HEAD" {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&a.body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", req.Method, req.URL, err, b)
		}
	}
	return a
}

func (e *env) call(proc, body string, headers ...string) *answer {
	e.t.Helper()
	return e.do("POST", "/v1/call/"+proc, body, headers...)
}

func (e *env) get(path string, params ...string) *answer {
	e.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return e.do("GET", path, "")
}

// must checks an answer's status.
func (e *env) must(a *answer, status int) *answer {
	e.t.Helper()
	if a.status != status {
		e.t.Fatalf("got %v, want status %d", a, status)
	}
	return a
}

// mustErr checks an error answer's status, code and that its message
// contains each of parts.
func (e *env) mustErr(a *answer, status int, code string, parts ...string) {
	e.t.Helper()
	if a.status != status || a.errCode() != code {
		e.t.Fatalf("got %v, want %d %s", a, status, code)
	}
	for _, p := range parts {
		if !strings.Contains(a.errMessage(), p) {
			e.t.Errorf("error message %q lacks %q", a.errMessage(), p)
		}
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("error Content-Type is %q", ct)
	}
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%#v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// balance reads an account through GET /v1/key (0 if absent).
func (e *env) balance(acct string) int64 {
	e.t.Helper()
	a := e.must(e.get("/v1/key", "k", fmt.Sprintf(`["acct",%q]`, acct)), 200)
	if a.body["found"] != true {
		return 0
	}
	return num(e.t, a.body["value"])
}

func (e *env) status() map[string]any {
	e.t.Helper()
	return e.must(e.get("/status"), 200).body
}

func TestCallCommits(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 100}}`), 200)
	b := a.body
	if b["txid"] != "T/1" || b["read_only"] != false || b["result"] != "ok" || b["token"] != "T:1" {
		t.Fatalf("answer %v", a)
	}
	if num(t, b["pos"]) < 2 {
		t.Errorf("pos %v: position 1 is the journal's open record", b["pos"])
	}
	h := num(t, b["hlc"])
	if b["hlc_time"] != hlc.Timestamp(h).String() {
		t.Errorf("hlc_time %v, want %s", b["hlc_time"], hlc.Timestamp(h))
	}
	for _, f := range []string{"txid", "hlc", "hlc_time", "pos", "read_only", "result", "token"} {
		if _, ok := b[f]; !ok {
			t.Errorf("answer lacks %s: %v", f, a)
		}
	}
	if got := e.balance("alice"); got != 100 {
		t.Errorf("balance %d, want 100", got)
	}
	// An empty body is the empty request: a procedure with no arguments.
	e.must(e.call("describe", ""), 200)
}

func TestCallReadOnly(t *testing.T) {
	e := newEnv(t, Options{})
	e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 5}}`), 200)
	a := e.must(e.call("balance", `{"args": {"acct": "alice"}}`), 200)
	if !strings.Contains(a.raw, `"txid":null`) || a.body["read_only"] != true || num(t, a.body["pos"]) != 0 ||
		num(t, a.body["result"]) != 5 || a.body["token"] != "T:1" {
		t.Fatalf("read-only answer %v", a)
	}
	if num(t, a.body["hlc"]) == 0 || a.body["hlc_time"] == "" {
		t.Errorf("read-only answer lacks its hlc: %v", a)
	}
	if st := e.status(); num(t, st["oseq"]) != 1 {
		t.Errorf("a read-only call committed: oseq %v", st["oseq"])
	}
}

func TestCallResultConversion(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.must(e.call("describe", `{}`), 200)
	want := `{"bytes":{"base64":"/wA="},"list":["a",1],"n":7,"text":"héllo"}`
	got, _ := json.Marshal(a.body["result"])
	if string(got) != want {
		t.Errorf("result %s, want %s", got, want)
	}
}

func TestProcedureErrorCommitsNothing(t *testing.T) {
	e := newEnv(t, Options{})
	e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 10}}`), 200)
	before := e.status()
	e.mustErr(e.call("withdraw", `{"args": {"acct": "alice", "amount": 11}}`), 422, CodeProcedureError,
		"withdraw 11 from alice: insufficient funds")
	after := e.status()
	for _, f := range []string{"last_pos", "oseq", "keys"} {
		if before[f] != after[f] {
			t.Errorf("%s went from %v to %v: the failed call committed something", f, before[f], after[f])
		}
	}
	if got := e.balance("alice"); got != 10 {
		t.Errorf("balance %d after a failed withdraw, want 10", got)
	}
	// A panicking procedure is a bug, not a refusal: a 500 without the
	// stack trace (which is logged), nothing committed, and the server goes
	// on.
	a := e.call("boom", `{}`)
	e.mustErr(a, 500, CodeInternal, "nothing was committed")
	if strings.Contains(a.errMessage(), "\n") || strings.Contains(a.errMessage(), "goroutine") {
		t.Errorf("the panic's stack reached the client: %q", a.errMessage())
	}
	if !strings.Contains(e.logs.String(), "goroutine") {
		t.Error("the panic's stack was not logged")
	}
	e.must(e.call("withdraw", `{"args": {"acct": "alice", "amount": 4}}`), 200)
	if got := e.balance("alice"); got != 6 {
		t.Errorf("balance %d, want 6", got)
	}
}

func TestCallErrors(t *testing.T) {
	e := newEnv(t, Options{MaxBody: 1 << 10})
	big := `{"args": {"acct": "` + strings.Repeat("x", 1<<10) + `"}}`
	for _, tc := range []struct {
		name, proc, body string
		headers          []string
		status           int
		code             string
		parts            []string
	}{
		{"unknown procedure", "bye", `{}`, nil, 404, CodeUnknownProcedure,
			[]string{`unknown procedure "bye"`, "app bank with balance, boom, deposit, describe, withdraw"}},
		{"args of the wrong type", "deposit", `{"args": {"acct": "a", "amount": "5"}}`, nil, 400, CodeBadArgs,
			[]string{"args do not decode into deposit's arguments", "amount", "int64"}},
		{"args not an object", "deposit", `{"args": [1]}`, nil, 400, CodeBadArgs, []string{"deposit's arguments"}},
		{"unknown argument", "deposit", `{"args": {"acct": "a", "amout": 5}}`, nil, 400, CodeBadArgs, []string{`unknown field "amout"`}},
		{"malformed JSON", "deposit", `{"args": {`, nil, 400, CodeBadRequest, []string{"not valid JSON"}},
		{"syntax error", "deposit", `{"args" 1}`, nil, 400, CodeBadRequest, []string{"not valid JSON", "at byte"}},
		{"body not an object", "deposit", `[1]`, nil, 400, CodeBadRequest, []string{"must be an object"}},
		{"trailing data", "deposit", `{} {}`, nil, 400, CodeBadRequest, []string{"data after"}},
		{"unknown body field", "deposit", `{"arg": {}}`, nil, 400, CodeBadRequest,
			[]string{`unknown field "arg"`, "args, min_token and timeout_ms"}},
		{"timeout of the wrong type", "deposit", `{"timeout_ms": "5"}`, nil, 400, CodeBadRequest, []string{`"timeout_ms" must be an integer`}},
		{"negative timeout", "deposit", `{"min_token": "T:1", "timeout_ms": -1}`, nil, 400, CodeBadRequest, []string{"timeout_ms must be 0 or more"}},
		{"malformed token", "deposit", `{"min_token": "T=1"}`, nil, 400, CodeBadRequest, []string{"min_token", "malformed session token"}},
		{"long idempotency key", "deposit", `{}`, []string{"Idempotency-Key", strings.Repeat("k", MaxIdempotencyKey+1)}, 400, CodeBadRequest,
			[]string{"Idempotency-Key", "1 to 256 bytes"}},
		{"two idempotency keys", "deposit", `{}`, []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}, 400, CodeBadRequest,
			[]string{"one Idempotency-Key"}},
		{"body too large", "deposit", big, nil, 413, CodeTooLarge, []string{"body is larger than 1024 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.mustErr(e.call(tc.proc, tc.body, tc.headers...), tc.status, tc.code, tc.parts...)
		})
	}
	e.t = t
	// A body too large without a Content-Length (chunked).
	req, _ := http.NewRequest("POST", e.http.URL+"/v1/call/deposit", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	e.mustErr(e.send(req), 413, CodeTooLarge, "1024 bytes")
	if st := e.status(); num(t, st["oseq"]) != 0 {
		t.Errorf("a refused call committed: %v", st)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.do("GET", "/v1/call/deposit", "")
	e.mustErr(a, 405, CodeMethodNotAllowed, "GET", "use POST")
	if a.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", a.header.Get("Allow"))
	}
	a = e.do("POST", "/v1/key", "")
	e.mustErr(a, 405, CodeMethodNotAllowed, "use GET")
	if a.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow %q", a.header.Get("Allow"))
	}
	for _, p := range []string{"/status", "/metrics", "/healthz", "/v1/keys", "/v1/txn/T/1"} {
		e.mustErr(e.do("DELETE", p, ""), 405, CodeMethodNotAllowed)
	}
	e.mustErr(e.do("GET", "/v2/key", ""), 404, CodeNotFound, "/v2/key", "GET /v1/key")
	e.mustErr(e.do("POST", "/v1/call/", ""), 404, CodeNotFound)
	e.mustErr(e.get("/status", "verbose", "1"), 400, CodeBadRequest, `unknown query parameter "verbose"`)
	e.mustErr(e.do("POST", "/v1/call/deposit?x=1", `{}`), 400, CodeBadRequest, `unknown query parameter "x"`)
}

func TestKeyAndKeys(t *testing.T) {
	e := newEnv(t, Options{})
	for _, acct := range []string{"carol", "alice", "bob"} {
		e.must(e.call("deposit", fmt.Sprintf(`{"args": {"acct": %q, "amount": 7}}`, acct)), 200)
	}
	a := e.must(e.get("/v1/key", "k", `["acct","alice"]`), 200)
	want := `{"key":["acct","alice"],"key_hex":"1e6163637400011e616c6963650001","found":true,"value":7,"version":{"hlc":%d,"origin":"T"},"token":"T:3"}`
	if h := num(t, a.body["version"].(map[string]any)["hlc"]); strings.TrimSpace(a.raw) != fmt.Sprintf(want, h) {
		t.Errorf("got  %s\nwant %s", a.raw, fmt.Sprintf(want, h))
	}
	a = e.must(e.get("/v1/key", "k", `["acct","dave"]`), 200)
	if strings.TrimSpace(a.raw) != `{"key":["acct","dave"],"key_hex":"1e6163637400011e646176650001","found":false,"value":null,"version":null,"token":"T:3"}` {
		t.Errorf("absent key: %s", a.raw)
	}
	e.mustErr(e.get("/v1/key"), 400, CodeBadRequest, "k is required")
	e.mustErr(e.get("/v1/key", "k", `["acct",1.5]`), 400, CodeBadRequest, "k is not a tuple", "element 1", "1.5 is not an integer")
	e.mustErr(e.get("/v1/key", "k", `{"a":1}`), 400, CodeBadRequest, "k is not a tuple", "JSON array")
	e.mustErr(e.get("/v1/key", "k", `["acct"`), 400, CodeBadRequest, "k is not a tuple")
	e.mustErr(e.do("GET", `/v1/key?k=["a"]&k=["b"]`, ""), 400, CodeBadRequest, "k is given 2 times")

	a = e.must(e.get("/v1/keys", "prefix", `["acct"]`), 200)
	keys := a.body["keys"].([]any)
	var names []string
	for _, k := range keys {
		m := k.(map[string]any)
		names = append(names, m["key"].([]any)[1].(string))
		if num(t, m["value"]) != 7 || m["version"].(map[string]any)["origin"] != "T" || m["key_hex"] == "" {
			t.Errorf("entry %v", m)
		}
	}
	if strings.Join(names, ",") != "alice,bob,carol" || a.body["truncated"] != false || a.body["token"] != "T:3" {
		t.Errorf("keys answer %v", a)
	}
	a = e.must(e.get("/v1/keys", "prefix", `["acct"]`, "limit", "2"), 200)
	if len(a.body["keys"].([]any)) != 2 || a.body["truncated"] != true {
		t.Errorf("limit 2: %v", a)
	}
	a = e.must(e.get("/v1/keys", "prefix", `["acct"]`, "limit", "3"), 200)
	if len(a.body["keys"].([]any)) != 3 || a.body["truncated"] != false {
		t.Errorf("limit 3 of 3: %v", a)
	}
	a = e.must(e.get("/v1/keys", "prefix", `["nobody"]`), 200)
	if !strings.Contains(a.raw, `"keys":[]`) {
		t.Errorf("empty prefix answer: %s", a.raw)
	}
	a = e.must(e.get("/v1/keys"), 200) // no prefix: every key
	if len(a.body["keys"].([]any)) != 3 {
		t.Errorf("every key: %v", a)
	}
	e.mustErr(e.get("/v1/keys", "prefix", `"acct"`), 400, CodeBadRequest, "prefix is not a tuple")
	for _, l := range []string{"0", "-1", "100001", "x"} {
		e.mustErr(e.get("/v1/keys", "limit", l), 400, CodeBadRequest, "limit must be an integer from 1 to 100000")
	}
}

func TestTxn(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 3}}`), 200)
	for _, path := range []string{"/v1/txn/T/1", "/v1/txn/T%2F1"} {
		a := e.must(e.get(path), 200)
		want := fmt.Sprintf(`{"txid":"T/1","state":"committed","pos":%s,"kind":"local","proc":"deposit","result":"ok","subject":null,"lost_file":null}`, c.body["pos"])
		if strings.TrimSpace(a.raw) != want {
			t.Errorf("%s:\ngot  %s\nwant %s", path, a.raw, want)
		}
	}
	a := e.must(e.get("/v1/txn/T/99"), 200)
	if strings.TrimSpace(a.raw) != `{"txid":"T/99","state":"unknown","pos":null,"kind":null,"proc":null,"result":null,"subject":null,"lost_file":null}` {
		t.Errorf("unknown txn: %s", a.raw)
	}
	for _, bad := range []string{"/v1/txn/T1", "/v1/txn/T/0", "/v1/txn/T/x", "/v1/txn/"} {
		e.mustErr(e.get(bad), 400, CodeBadRequest, "malformed TxID")
	}
}

func TestTxnRolledBack(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 3}}`), 200)
	if _, err := e.db.RollbackTo(context.Background(), uint64(num(t, c.body["pos"])), "test"); err != nil {
		t.Fatal(err)
	}
	a := e.must(e.get("/v1/txn/T/1"), 200)
	lost, _ := a.body["lost_file"].(string)
	if a.body["state"] != "rolled_back" || !strings.HasSuffix(lost, ".ltf") || a.body["pos"] != nil {
		t.Errorf("rolled-back txn: %s", a.raw)
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, Options{})
	body := `{"args": {"acct": "alice", "amount": 10}}`
	first := e.must(e.call("deposit", body, "Idempotency-Key", "req-1"), 200)
	again := e.must(e.call("deposit", body, "Idempotency-Key", "req-1"), 200)
	if first.body["txid"] != again.body["txid"] || first.body["pos"] != again.body["pos"] || first.body["hlc"] != again.body["hlc"] {
		t.Errorf("retry answered differently:\n%v\n%v", first, again)
	}
	if got := e.balance("alice"); got != 10 {
		t.Errorf("balance %d: the retried call committed twice", got)
	}
	other := e.must(e.call("deposit", body, "Idempotency-Key", "req-2"), 200)
	if other.body["txid"] == first.body["txid"] {
		t.Errorf("a new key answered with the old txid %v", other.body["txid"])
	}
	if got := e.balance("alice"); got != 20 {
		t.Errorf("balance %d, want 20", got)
	}
}

func TestSessionTokens(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 1}}`), 200)
	tok := c.body["token"].(string)
	if tok != "T:1" {
		t.Fatalf("token %q", tok)
	}
	// Read-your-writes: a read with the token is served at once.
	a := e.must(e.get("/v1/key", "k", `["acct","alice"]`, "min_token", tok, "timeout_ms", "0"), 200)
	if num(t, a.body["value"]) != 1 || a.body["token"] != "T:1" {
		t.Errorf("read with token: %v", a)
	}
	e.must(e.get("/v1/keys", "min_token", tok), 200)
	// A call with a token gets back a token at least as new.
	c = e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 1}, "min_token": "T:1"}`), 200)
	if c.body["token"] != "T:2" {
		t.Errorf("token after call %v", c.body["token"])
	}

	// A token naming an OSeq not yet committed: 503 after the timeout.
	t0 := time.Now()
	e.mustErr(e.get("/v1/key", "k", `["acct","alice"]`, "min_token", "T:5", "timeout_ms", "30"), 503, CodeNotCaughtUp,
		"min_token T:5", "it has applied T:2", "retry later or at the other instance")
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Errorf("answered not_caught_up after %v, before its 30ms timeout", d)
	}
	e.mustErr(e.call("deposit", `{"args": {"acct": "alice", "amount": 1}, "min_token": "T:5", "timeout_ms": 0}`), 503, CodeNotCaughtUp)
	e.mustErr(e.get("/v1/keys", "min_token", "T:5", "timeout_ms", "1"), 503, CodeNotCaughtUp)
	// An origin this instance knows nothing of: 503 at once, naming it.
	e.mustErr(e.get("/v1/keys", "min_token", "Z:1", "timeout_ms", "60000"), 503, CodeNotCaughtUp, `instance "Z"`)
	e.mustErr(e.get("/v1/key", "k", `["a"]`, "min_token", "T:x"), 400, CodeBadRequest, "malformed session token")
	e.mustErr(e.get("/v1/key", "k", `["a"]`, "min_token", "T:1", "timeout_ms", "soon"), 400, CodeBadRequest, "timeout_ms must be an integer")
	if st := e.status(); num(t, st["oseq"]) != 2 {
		t.Errorf("a call refused for its token committed: oseq %v", st["oseq"])
	}

	// A read waiting for T:3 is answered once T:3 commits.
	done := make(chan *answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", e.http.URL+"/v1/key?"+url.Values{"k": {`["acct","alice"]`},
			"min_token": {"T:3"}, "timeout_ms": {"60000"}}.Encode(), nil)
		resp, err := e.http.Client().Do(req)
		if err != nil {
			done <- &answer{status: -1, raw: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		a := &answer{status: resp.StatusCode, raw: string(b)}
		_ = json.Unmarshal(b, &a.body)
		done <- a
	}()
	e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 1}}`), 200)
	a = <-done
	if a.status != 200 || a.body["token"] != "T:3" || a.body["value"] != float64(3) {
		t.Errorf("waiting read answered %v", a)
	}
}

func TestMaxWaitBoundsTimeout(t *testing.T) {
	e := newEnv(t, Options{MaxWait: 20 * time.Millisecond})
	t0 := time.Now()
	e.mustErr(e.get("/v1/keys", "min_token", "T:1", "timeout_ms", "600000"), 503, CodeNotCaughtUp, "within 20ms")
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("waited %v despite MaxWait 20ms", d)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Options{AuthToken: "s3cret"})
	for _, path := range []string{"/v1/key?k=[1]", "/v1/keys", "/status", "/metrics", "/v1/txn/T/1", "/nope"} {
		a := e.do("GET", path, "")
		e.mustErr(a, 401, CodeUnauthorized, "missing Authorization header")
		if a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", path)
		}
		e.mustErr(e.do("GET", path, "", "Authorization", "Bearer wrong"), 401, CodeUnauthorized, "wrong bearer token")
		e.mustErr(e.do("GET", path, "", "Authorization", "Basic czNjcmV0"), 401, CodeUnauthorized, "Bearer")
	}
	e.mustErr(e.call("deposit", `{"args": {"acct": "a", "amount": 1}}`, "Authorization", "Bearer s3cre"), 401, CodeUnauthorized)
	e.must(e.call("deposit", `{"args": {"acct": "a", "amount": 1}}`, "Authorization", "Bearer s3cret"), 200)
	e.must(e.do("GET", "/status", "", "Authorization", "bearer s3cret"), 200)
	e.must(e.do("GET", "/metrics", "", "Authorization", "Bearer s3cret"), 200)
	e.must(e.do("GET", "/healthz", ""), 200) // open
	if st := e.must(e.do("GET", "/status", "", "Authorization", "Bearer s3cret"), 200).body; num(t, st["oseq"]) != 1 {
		t.Errorf("oseq %v: an unauthorized call committed", st["oseq"])
	}
}

func TestHealthzStatusMetrics(t *testing.T) {
	e := newEnv(t, Options{App: "bank", Role: "vassal"})
	a := e.must(e.get("/healthz"), 200)
	if a.body["status"] != "ok" {
		t.Errorf("healthz %v", a)
	}
	e.must(e.do("HEAD", "/healthz", ""), 200)
	e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 1}}`), 200)
	e.must(e.call("deposit", `{"args": {"acct": "bob", "amount": 1}}`), 200)
	st := e.status()
	for f, want := range map[string]any{"id": "T", "role": "vassal", "app": "bank"} {
		if st[f] != want {
			t.Errorf("status %s = %v, want %v", f, st[f], want)
		}
	}
	for f, want := range map[string]int64{"epoch": 0, "oseq": 2, "peer_watermark": 0, "window": 0, "keys": 2} {
		if got := num(t, st[f]); got != want {
			t.Errorf("status %s = %d, want %d", f, got, want)
		}
	}
	if lp, dp := num(t, st["last_pos"]), num(t, st["durable_pos"]); lp < 3 || dp != lp {
		t.Errorf("last_pos %d durable_pos %d", lp, dp)
	}
	if wm := st["watermarks"].(map[string]any); len(wm) != 1 || num(t, wm["T"]) != 2 {
		t.Errorf("watermarks %v", wm)
	}
	if lag := st["lag"].(map[string]any); num(t, lag["transactions"]) != 0 || num(t, lag["ms"]) != 0 {
		t.Errorf("lag %v", lag)
	}
	if u, err := st["uptime_s"].(json.Number).Float64(); err != nil || u <= 0 {
		t.Errorf("uptime_s %v", st["uptime_s"])
	}

	m := e.must(e.get("/metrics"), 200)
	for _, want := range []string{"\nliege_commits_total 2\n", "\ngo_goroutines ", "\nprocess_", "liege_commit_latency_seconds_bucket",
		"liege_fsyncs_total", `liege_http_requests_total{code="200",route="POST /v1/call/{proc}"} 2`} {
		if !strings.Contains(m.raw, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if ct := m.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	if !strings.Contains(e.logs.String(), `msg="http request" method=GET path=/status`) {
		t.Error("requests are not logged at debug level")
	}
}

func TestClosedInstanceIsUnavailable(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.mustErr(e.get("/healthz"), 503, CodeUnavailable, "shutting down")
	// Not a call: DB.submit after Close can block forever (its select
	// between the buffered request channel and quit may pick the send after
	// the executor has gone), an engine bug reported separately.
	e.mustErr(e.get("/v1/key", "k", `["a"]`), 503, CodeUnavailable)
	e.mustErr(e.get("/v1/keys"), 503, CodeUnavailable)
	e.mustErr(e.get("/status"), 503, CodeUnavailable)
	e.mustErr(e.get("/v1/txn/T/1"), 503, CodeUnavailable)
}

func TestPanicInHandlerIs500(t *testing.T) {
	e := newEnv(t, Options{})
	h := e.srv.observe(e.srv.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler bug")
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"code":"internal"`) {
		t.Errorf("panic answered %d %s", w.Code, w.Body)
	}
	if !strings.Contains(e.logs.String(), "handler bug") {
		t.Error("the panic is not logged")
	}
	// An internal error from a handler is a logged 500 too, its cause kept
	// out of the answer.
	w = httptest.NewRecorder()
	e.srv.api(func(*http.Request) (any, error) { return nil, errors.New("disk on fire") })(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "disk on fire") || !strings.Contains(e.logs.String(), "disk on fire") {
		t.Errorf("internal error answered %d %s", w.Code, w.Body)
	}
}

func TestConcurrentCalls(t *testing.T) {
	e := newEnv(t, Options{})
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", e.http.URL+"/v1/call/deposit",
				strings.NewReader(fmt.Sprintf(`{"args": {"acct": "acct%d", "amount": 1}}`, i%4)))
			resp, err := e.http.Client().Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- resp.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var total int64
	for i := range 4 {
		total += e.balance(fmt.Sprintf("acct%d", i))
	}
	if total != n {
		t.Errorf("total %d, want %d", total, n)
	}
}

func TestCallErrorMapping(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{liege.ErrClosed, 503, CodeUnavailable},
		{&journal.FatalError{Err: errors.New("fsync: EIO")}, 503, CodeUnavailable},
		{fmt.Errorf("%w for procedure %q: boom", liege.ErrBadArgs, "deposit"), 400, CodeBadArgs},
		{fmt.Errorf("%w %q", liege.ErrUnknownProcedure, "deposit"), 404, CodeUnknownProcedure},
		{context.Canceled, 503, CodeUnavailable},
		{errors.New("account frozen"), 422, CodeProcedureError},
	} {
		got := e.srv.callError("deposit", tc.err)
		if got.Status != tc.status || got.Code != tc.code {
			t.Errorf("%v: got %d %s, want %d %s", tc.err, got.Status, got.Code, tc.status, tc.code)
		}
	}
}
