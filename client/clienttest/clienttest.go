// Package clienttest is a stub of the HTTP API of `liege serve`
// (docs/http-api.md) for testing clients without an engine: an in-memory
// key/value store serving a few of the kv application's procedures, with
// session tokens, idempotency keys, bearer authentication, a record of
// every request, and faults to inject (error answers, cut connections).
//
// It is a stub, not a model of the engine: keys are ordered by their JSON
// text rather than as tuples, a min_token the stub has not reached is
// answered 503 at once, and there is no journal, rollback or replication.
package clienttest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/internal/httpapi"
)

// Procedures the stub serves, on keys ("kv", key):
//
//	set  {key, value}  stores value (any JSON); "ok"
//	get  {key}         {found, value}; read-only
//	add  {key, delta}  adds an integer; "ok"
//	fail {message}     answers 422 procedure_error with message
var Procedures = []string{"add", "fail", "get", "set"}

// Request is a request the stub received.
type Request struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
	// MinToken is the min_token of the query or of a call's body.
	MinToken string
	// IdempotencyKey is the Idempotency-Key header.
	IdempotencyKey string
}

// Fault is what the stub does to a request instead of answering it
// normally.
type Fault struct {
	// Status, Code and Message: answer this error instead of serving the
	// request (Message defaults to a note that the fault was injected).
	Status  int
	Code    string
	Message string
	// RetryAfter, if positive, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Drop cuts the connection without answering. With AfterServe the
	// request is served first (a call commits) and its answer lost.
	Drop       bool
	AfterServe bool
}

// Server is a running stub.
type Server struct {
	// URL is the stub's base URL, http://127.0.0.1:port.
	URL string

	srv     *httptest.Server
	id      string
	bearer  string
	started time.Time

	mu      sync.Mutex
	oseq    uint64
	applied client.Token // other origins' OSeqs the stub pretends to have applied
	data    map[string]entry
	txns    map[string]txn
	idem    map[string][]byte // idempotency key -> first answer
	faults  []Fault
	reqs    []Request
}

type entry struct {
	key     []any
	value   json.RawMessage
	version httpapi.Version
}

type txn struct {
	pos    uint64
	proc   string
	result any
}

// Option configures a stub.
type Option func(*Server)

// WithID sets the instance id the stub answers as ("A" by default).
func WithID(id string) Option { return func(s *Server) { s.id = id } }

// WithBearer makes the stub require "Authorization: Bearer <token>" on
// every path but /healthz.
func WithBearer(token string) Option { return func(s *Server) { s.bearer = token } }

// New starts a stub, closed when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{id: "A", started: time.Now(), applied: client.Token{}, data: map[string]entry{},
		txns: map[string]txn{}, idem: map[string][]byte{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Close stops the stub.
func (s *Server) Close() { s.srv.Close() }

// Addr returns the stub's host:port.
func (s *Server) Addr() string { return strings.TrimPrefix(s.URL, "http://") }

// Inject queues faults: each request the stub receives from now on takes
// the next one, until they are used up.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Commits returns how many calls have committed.
func (s *Server) Commits() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oseq
}

// SetApplied makes the stub behave as if it had applied origin's
// transactions up to oseq (a peer's): its tokens name them, and a
// min_token naming more of them is answered 503 not_caught_up.
func (s *Server) SetApplied(origin string, oseq uint64) {
	s.mu.Lock()
	s.applied[origin] = oseq
	s.mu.Unlock()
}

// apiError is an answer other than 200.
type apiError struct {
	status     int
	code, msg  string
	retryAfter int
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
		MinToken: r.URL.Query().Get("min_token"), IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if r.Method == http.MethodPost {
		var b httpapi.CallRequest
		_ = json.Unmarshal(body, &b)
		req.MinToken = b.MinToken
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	var fault *Fault
	if len(s.faults) > 0 {
		fault = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()

	if fault != nil && !fault.Drop {
		msg := fault.Message
		if msg == "" {
			msg = "fault injected by clienttest"
		}
		writeAnswer(w, nil, &apiError{status: fault.Status, code: fault.Code, msg: msg, retryAfter: fault.RetryAfter})
		return
	}
	if fault != nil && !fault.AfterServe {
		panic(http.ErrAbortHandler) // net/http cuts the connection
	}
	ans, err := s.route(r, req)
	if fault != nil {
		panic(http.ErrAbortHandler) // served; the answer is lost
	}
	writeAnswer(w, ans, err)
}

func writeAnswer(w http.ResponseWriter, ans any, err *apiError) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		if err.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(err.retryAfter))
		}
		if err.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="liege"`)
		}
		w.WriteHeader(err.status)
		_ = json.NewEncoder(w).Encode(httpapi.ErrorBody{Error: &httpapi.ErrorDetail{Code: err.code, Message: err.msg}})
		return
	}
	if raw, ok := ans.(json.RawMessage); ok {
		_, _ = w.Write(raw)
		return
	}
	_ = json.NewEncoder(w).Encode(ans)
}

func (s *Server) route(r *http.Request, req Request) (any, *apiError) {
	if r.URL.Path == "/healthz" {
		return map[string]string{"status": "ok"}, nil
	}
	if s.bearer != "" && r.Header.Get("Authorization") != "Bearer "+s.bearer {
		return nil, errorf(http.StatusUnauthorized, client.CodeUnauthorized, "missing or wrong bearer token")
	}
	method := http.MethodGet
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/call/"):
		method = http.MethodPost
	case r.URL.Path == "/v1/key", r.URL.Path == "/v1/keys", r.URL.Path == "/status", strings.HasPrefix(r.URL.Path, "/v1/txn/"):
	default:
		return nil, errorf(http.StatusNotFound, client.CodeNotFound, "no endpoint %s", r.URL.Path)
	}
	if r.Method != method {
		return nil, errorf(http.StatusMethodNotAllowed, client.CodeMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case method == http.MethodPost:
		return s.call(strings.TrimPrefix(r.URL.Path, "/v1/call/"), req)
	case r.URL.Path == "/v1/key":
		return s.key(req)
	case r.URL.Path == "/v1/keys":
		return s.keys(req)
	case r.URL.Path == "/status":
		return s.status(), nil
	default:
		return s.txn(strings.TrimPrefix(r.URL.Path, "/v1/txn/"))
	}
}

// token is what the stub has applied (s.mu held).
func (s *Server) token() client.Token {
	t := client.Token{s.id: s.oseq}
	return t.Merge(s.applied)
}

// waitFor checks a min_token (s.mu held).
func (s *Server) waitFor(minToken string) (client.Token, *apiError) {
	t, err := client.ParseToken(minToken)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, client.CodeBadRequest, "min_token: %v", err)
	}
	have := s.token()
	for o, n := range t {
		if have[o] < n {
			return nil, errorf(http.StatusServiceUnavailable, client.CodeNotCaughtUp,
				"this instance has not applied everything min_token %s names (it has applied %s); retry later or at the other instance", t, have)
		}
	}
	return t, nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(v)
}

func (s *Server) call(proc string, req Request) (any, *apiError) {
	if !slices.Contains(Procedures, proc) {
		return nil, errorf(http.StatusNotFound, client.CodeUnknownProcedure,
			"unknown procedure %q: this instance serves app kv with %s", proc, strings.Join(Procedures, ", "))
	}
	if req.IdempotencyKey != "" {
		if first, ok := s.idem[req.IdempotencyKey]; ok {
			return json.RawMessage(first), nil
		}
	}
	var body httpapi.CallRequest
	if len(bytes.TrimSpace(req.Body)) > 0 {
		if err := decodeStrict(req.Body, &body); err != nil {
			return nil, errorf(http.StatusBadRequest, client.CodeBadRequest, "the body does not decode: %v", err)
		}
	}
	minTok, aerr := s.waitFor(body.MinToken)
	if aerr != nil {
		return nil, aerr
	}
	var args struct {
		Key     string          `json:"key"`
		Value   json.RawMessage `json:"value"`
		Delta   int64           `json:"delta"`
		Message string          `json:"message"`
	}
	if len(body.Args) > 0 {
		if err := decodeStrict(body.Args, &args); err != nil {
			return nil, errorf(http.StatusBadRequest, client.CodeBadArgs, "args do not decode into %s's arguments: %v", proc, err)
		}
	}
	if proc == "fail" {
		return nil, errorf(http.StatusUnprocessableEntity, client.CodeProcedureError, "%s", args.Message)
	}
	if args.Key == "" {
		return nil, errorf(http.StatusUnprocessableEntity, client.CodeProcedureError, "%s: key must not be empty", proc)
	}
	k := []any{"kv", args.Key}
	kj, _ := json.Marshal(k)
	hlc := uint64(time.Now().UnixMilli())<<16 | s.oseq&0xffff
	var result any = "ok"
	switch proc {
	case "get":
		e, ok := s.data[string(kj)]
		result = map[string]any{"found": ok, "value": e.value}
		return s.answer(req, nil, hlc, result, minTok), nil
	case "set":
		if len(args.Value) == 0 {
			args.Value = json.RawMessage("null")
		}
		s.commit(string(kj), k, args.Value, hlc)
	case "add":
		var n int64
		if e, ok := s.data[string(kj)]; ok {
			if err := json.Unmarshal(e.value, &n); err != nil {
				return nil, errorf(http.StatusUnprocessableEntity, client.CodeProcedureError, "add to %s: the value there is not an integer", kj)
			}
		}
		s.commit(string(kj), k, json.RawMessage(strconv.FormatInt(n+args.Delta, 10)), hlc)
	}
	id := fmt.Sprintf("%s/%d", s.id, s.oseq)
	s.txns[id] = txn{pos: s.oseq + 1, proc: proc, result: result}
	return s.answer(req, &id, hlc, result, minTok), nil
}

// commit writes one key as a new transaction (s.mu held).
func (s *Server) commit(kj string, key []any, value json.RawMessage, hlc uint64) {
	s.oseq++
	s.data[kj] = entry{key: key, value: value, version: httpapi.Version{HLC: hlc, Origin: s.id}}
}

// answer builds a call's answer and remembers it under its idempotency key
// (s.mu held).
func (s *Server) answer(req Request, txid *string, hlc uint64, result any, minTok client.Token) json.RawMessage {
	var pos uint64
	if txid != nil {
		pos = s.txns[*txid].pos
	}
	res, _ := json.Marshal(result)
	b, _ := json.Marshal(httpapi.CallAnswer{
		TxID: txid, HLC: hlc, HLCTime: time.UnixMilli(int64(hlc>>16)).UTC().Format("2006-01-02T15:04:05.000Z") + "+" + strconv.FormatUint(hlc&0xffff, 10),
		Pos: pos, ReadOnly: txid == nil, Result: res, Token: s.token().Merge(minTok).String(),
	})
	if req.IdempotencyKey != "" && txid != nil {
		s.idem[req.IdempotencyKey] = b
	}
	return b
}

// checkQuery refuses query parameters other than allowed.
func checkQuery(q url.Values, allowed ...string) *apiError {
	for name := range q {
		if !slices.Contains(allowed, name) {
			return errorf(http.StatusBadRequest, client.CodeBadRequest, "unknown query parameter %q", name)
		}
	}
	return nil
}

func parseTuple(param, s string) ([]any, *apiError) {
	var k []any
	if err := json.Unmarshal([]byte(s), &k); err != nil || k == nil {
		return nil, errorf(http.StatusBadRequest, client.CodeBadRequest, "%s is not a tuple: write a key as a JSON array of strings and integers, e.g. [\"acct\",1]", param)
	}
	return k, nil
}

func (s *Server) key(req Request) (any, *apiError) {
	if err := checkQuery(req.Query, "k", "min_token", "timeout_ms"); err != nil {
		return nil, err
	}
	k, aerr := parseTuple("k", req.Query.Get("k"))
	if aerr != nil {
		return nil, aerr
	}
	minTok, aerr := s.waitFor(req.MinToken)
	if aerr != nil {
		return nil, aerr
	}
	kj, _ := json.Marshal(k)
	ans := httpapi.KeyAnswer{Key: kj, KeyHex: hex.EncodeToString(kj), Value: json.RawMessage("null"),
		Token: s.token().Merge(minTok).String()}
	if e, ok := s.data[string(kj)]; ok {
		v := e.version
		ans.Found, ans.Value, ans.Version = true, e.value, &v
	}
	return ans, nil
}

func (s *Server) keys(req Request) (any, *apiError) {
	if err := checkQuery(req.Query, "prefix", "limit", "min_token", "timeout_ms"); err != nil {
		return nil, err
	}
	var prefix []any
	if req.Query.Has("prefix") {
		var aerr *apiError
		if prefix, aerr = parseTuple("prefix", req.Query.Get("prefix")); aerr != nil {
			return nil, aerr
		}
	}
	limit := 1000
	if req.Query.Has("limit") {
		n, err := strconv.Atoi(req.Query.Get("limit"))
		if err != nil || n < 1 {
			return nil, errorf(http.StatusBadRequest, client.CodeBadRequest, "limit must be a positive integer")
		}
		limit = n
	}
	minTok, aerr := s.waitFor(req.MinToken)
	if aerr != nil {
		return nil, aerr
	}
	names := make([]string, 0, len(s.data))
	for kj, e := range s.data {
		if len(prefix) == 0 || len(e.key) >= len(prefix) && equalJSON(e.key[:len(prefix)], prefix) {
			names = append(names, kj)
		}
	}
	slices.Sort(names)
	truncated := len(names) > limit
	if truncated {
		names = names[:limit]
	}
	keys := make([]httpapi.KeyEntry, len(names))
	for i, kj := range names {
		e := s.data[kj]
		keys[i] = httpapi.KeyEntry{Key: json.RawMessage(kj), KeyHex: hex.EncodeToString([]byte(kj)), Value: e.value, Version: e.version}
	}
	return httpapi.KeysAnswer{Keys: keys, Truncated: truncated, Token: s.token().Merge(minTok).String()}, nil
}

func equalJSON(a, b []any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func (s *Server) txn(id string) (any, *apiError) {
	i := strings.LastIndexByte(id, '/')
	if n, err := strconv.ParseUint(id[i+1:], 10, 64); i <= 0 || err != nil || n == 0 {
		return nil, errorf(http.StatusBadRequest, client.CodeBadRequest, "malformed TxID %q: want origin/oseq, e.g. A/17", id)
	}
	ans := httpapi.TxnAnswer{TxID: id, State: "unknown", Result: json.RawMessage("null")}
	if t, ok := s.txns[id]; ok {
		pos, kind, proc := t.pos, "local", t.proc
		res, _ := json.Marshal(t.result)
		ans.State, ans.Pos, ans.Kind, ans.Proc, ans.Result = "committed", &pos, &kind, &proc, res
	}
	return ans, nil
}

func (s *Server) status() any {
	return map[string]any{
		"id": s.id, "role": "liege", "app": "kv", "epoch": 0, "last_pos": s.oseq + 1, "durable_pos": s.oseq + 1,
		"oseq": s.oseq, "peer_watermark": 0, "watermarks": s.token(), "window": 0,
		"lag": map[string]any{"transactions": 0, "ms": 0}, "keys": len(s.data), "uptime_s": time.Since(s.started).Seconds(),
	}
}
