package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/client/clienttest"
	"github.com/liege-db/liege/internal/server"
)

// fast returns a client for url whose retries do not wait long.
func fast(url string, opts ...client.Option) *client.Client {
	return client.New(url, append([]client.Option{client.WithBackoff(time.Millisecond, 4*time.Millisecond)}, opts...)...)
}

func wantAPIError(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *client.Error", err, err)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("error %+v, want status %d code %q", e, status, code)
	}
	if !client.IsCode(err, code) {
		t.Fatalf("IsCode(%v, %q) is false", err, code)
	}
	return e
}

func TestParseTokenAndMerge(t *testing.T) {
	a, err := client.ParseToken("B:4, A:17,B:2")
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != "A:17,B:4" {
		t.Fatalf("ParseToken: %v", a)
	}
	b, _ := client.ParseToken("A:3,C:1")
	if got := a.Merge(b).String(); got != "A:17,B:4,C:1" {
		t.Fatalf("Merge: %s", got)
	}
	if e, err := client.ParseToken(""); err != nil || len(e) != 0 {
		t.Fatalf("empty token: %v, %v", e, err)
	}
	for _, bad := range []string{"A", "A:x", ":3", "A:-1", "A:1,"} {
		if _, err := client.ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) succeeded", bad)
		}
	}
	c := client.New("127.0.0.1:1")
	if err := c.SetToken("nonsense"); err == nil {
		t.Fatal("SetToken accepted a malformed token")
	}
	if err := c.SetToken("B:2,A:1"); err != nil || c.Token() != "A:1,B:2" {
		t.Fatalf("SetToken: %v, token %q", err, c.Token())
	}
}

func TestCallCarriesAndMergesTheSessionToken(t *testing.T) {
	s := clienttest.New(t)
	s.SetApplied("B", 4)
	c := fast(s.URL)
	if c.Token() != "" {
		t.Fatalf("a new client's token is %q", c.Token())
	}
	var r string
	res, err := c.Call(context.Background(), "set", map[string]any{"key": "x", "value": "hello"}, &r)
	if err != nil {
		t.Fatal(err)
	}
	if r != "ok" || res.TxID != "A/1" || res.ReadOnly || res.Pos == 0 || res.HLC == 0 || res.HLCTime == "" || string(res.Result) != `"ok"` {
		t.Fatalf("call: %+v, result %q", res, r)
	}
	if res.Token != "A:1,B:4" || c.Token() != "A:1,B:4" {
		t.Fatalf("answer token %q, client token %q, want A:1,B:4", res.Token, c.Token())
	}
	if reqs := s.Requests(); reqs[0].MinToken != "" {
		t.Fatalf("the first call sent min_token %q", reqs[0].MinToken)
	}
	// The next read and the next call carry the token.
	k, err := c.Get(context.Background(), []any{"kv", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Found || string(k.Value) != `"hello"` || k.Version == nil || k.Version.Origin != "A" || !reflect.DeepEqual(k.Key, []any{"kv", "x"}) {
		t.Fatalf("get: %+v", k)
	}
	if _, err := c.Call(context.Background(), "add", map[string]any{"key": "n", "delta": 2}, nil); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if reqs[1].MinToken != "A:1,B:4" || reqs[1].Query.Get("min_token") != "A:1,B:4" {
		t.Fatalf("the read sent min_token %q", reqs[1].MinToken)
	}
	if reqs[2].MinToken != "A:1,B:4" {
		t.Fatalf("the second call sent min_token %q", reqs[2].MinToken)
	}
	if c.Token() != "A:2,B:4" {
		t.Fatalf("token after the second call: %q", c.Token())
	}
}

// Each origin keeps the largest OSeq any answer named, even when a later
// answer (from an instance that is behind) names a smaller one.
func TestTokenMergeKeepsTheMaximumPerOrigin(t *testing.T) {
	answers := []string{"A:5,B:1", "A:3,B:4", "C:2"}
	var mu sync.Mutex
	var sent []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := len(sent)
		sent = append(sent, r.URL.Query().Get("min_token"))
		mu.Unlock()
		fmt.Fprintf(w, `{"key":["kv","x"],"found":false,"value":null,"version":null,"token":%q}`, answers[i])
	}))
	defer srv.Close()
	c := fast(srv.URL)
	want := []string{"A:5,B:1", "A:5,B:4", "A:5,B:4,C:2"}
	for i := range answers {
		if _, err := c.Get(context.Background(), []any{"kv", "x"}); err != nil {
			t.Fatal(err)
		}
		if c.Token() != want[i] {
			t.Fatalf("after answer %d the token is %q, want %q", i, c.Token(), want[i])
		}
	}
	if !reflect.DeepEqual(sent, []string{"", "A:5,B:1", "A:5,B:4"}) {
		t.Fatalf("min_tokens sent: %q", sent)
	}
}

var hex128 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestIdempotencyKeyPerLogicalCall(t *testing.T) {
	s := clienttest.New(t)
	c := fast(s.URL)
	ctx := context.Background()
	// The first attempt commits and its answer is lost; the retry gets the
	// first outcome, and nothing commits twice.
	s.Inject(clienttest.Fault{Drop: true, AfterServe: true}, clienttest.Fault{Status: 503, Code: client.CodeUnavailable})
	var r string
	res, err := c.Call(ctx, "add", map[string]any{"key": "n", "delta": 5}, &r)
	if err != nil {
		t.Fatal(err)
	}
	if res.TxID != "A/1" || r != "ok" || s.Commits() != 1 {
		t.Fatalf("retried call: %+v, %d commits", res, s.Commits())
	}
	first := s.Requests()
	if len(first) < 3 {
		t.Fatalf("%d requests, want at least 3 (dropped, 503, answered)", len(first))
	}
	for _, req := range first {
		if req.IdempotencyKey != first[0].IdempotencyKey || !hex128.MatchString(req.IdempotencyKey) {
			t.Fatalf("idempotency keys of one call's attempts: %q and %q", first[0].IdempotencyKey, req.IdempotencyKey)
		}
	}
	// A new call has a new key.
	if _, err := c.Call(ctx, "add", map[string]any{"key": "n", "delta": 5}, nil); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	second := reqs[len(reqs)-1].IdempotencyKey
	if !hex128.MatchString(second) || second == first[0].IdempotencyKey {
		t.Fatalf("second call's key %q (first %q)", second, first[0].IdempotencyKey)
	}
	k, err := c.Get(ctx, []any{"kv", "n"})
	if err != nil || string(k.Value) != "10" {
		t.Fatalf("n = %s, %v; want 10 (two calls, each committed once)", k.Value, err)
	}
	// A caller's own key is used as it is.
	res1, err := c.CallWith(ctx, "add", map[string]any{"key": "n", "delta": 1}, nil, client.CallOptions{IdempotencyKey: "order-17"})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := c.CallWith(ctx, "add", map[string]any{"key": "n", "delta": 1}, nil, client.CallOptions{IdempotencyKey: "order-17"})
	if err != nil {
		t.Fatal(err)
	}
	if res1.TxID != res2.TxID || s.Commits() != 3 {
		t.Fatalf("the same key committed twice: %s, %s, %d commits", res1.TxID, res2.TxID, s.Commits())
	}
}

func TestCallRetriesOnlyWithinTheLimit(t *testing.T) {
	s := clienttest.New(t)
	c := fast(s.URL, client.WithRetries(2))
	for range 3 {
		s.Inject(clienttest.Fault{Status: 503, Code: client.CodeUnavailable, Message: "shutting down"})
	}
	_, err := c.Call(context.Background(), "set", map[string]any{"key": "x", "value": 1}, nil)
	e := wantAPIError(t, err, 503, client.CodeUnavailable)
	if e.Message != "shutting down" {
		t.Fatalf("message %q", e.Message)
	}
	if n := len(s.Requests()); n != 3 {
		t.Fatalf("%d attempts, want 3 (1 + 2 retries)", n)
	}
	// WithRetries(0) tries once.
	s2 := clienttest.New(t)
	s2.Inject(clienttest.Fault{Status: 503, Code: client.CodeUnavailable})
	_, err = fast(s2.URL, client.WithRetries(0)).Call(context.Background(), "set", map[string]any{"key": "x", "value": 1}, nil)
	wantAPIError(t, err, 503, client.CodeUnavailable)
	if n := len(s2.Requests()); n != 1 {
		t.Fatalf("%d attempts with no retries", n)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		status int
		code   string
		do     func(c *client.Client) error
	}{
		{"procedure error", 422, client.CodeProcedureError, func(c *client.Client) error {
			_, err := c.Call(ctx, "fail", map[string]any{"message": "no such seat"}, nil)
			return err
		}},
		{"unknown procedure", 404, client.CodeUnknownProcedure, func(c *client.Client) error {
			_, err := c.Call(ctx, "bye", nil, nil)
			return err
		}},
		{"bad args", 400, client.CodeBadArgs, func(c *client.Client) error {
			_, err := c.Call(ctx, "set", map[string]any{"nope": 1}, nil)
			return err
		}},
		{"bad key", 400, client.CodeBadRequest, func(c *client.Client) error {
			_, err := c.Get(ctx, nil)
			return err
		}},
		{"unauthorized read", 401, client.CodeUnauthorized, func(c *client.Client) error {
			_, err := c.Status(ctx)
			return err
		}},
		{"too large", 413, client.CodeTooLarge, func(c *client.Client) error {
			_, err := c.Call(ctx, "set", map[string]any{"key": "x", "value": 1}, nil)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := clienttest.New(t)
			switch tc.code {
			case client.CodeUnauthorized, client.CodeTooLarge:
				s.Inject(clienttest.Fault{Status: tc.status, Code: tc.code})
			}
			err := tc.do(fast(s.URL))
			wantAPIError(t, err, tc.status, tc.code)
			if n := len(s.Requests()); n != 1 {
				t.Fatalf("%d attempts, want 1", n)
			}
		})
	}
	s := clienttest.New(t)
	_, err := fast(s.URL).Call(ctx, "fail", map[string]any{"message": "no such seat"}, nil)
	if e := wantAPIError(t, err, 422, client.CodeProcedureError); e.Message != "no such seat" || !strings.Contains(err.Error(), "no such seat (HTTP 422)") {
		t.Fatalf("error %q", err)
	}
}

func TestReadsRetryOn503AndCutConnections(t *testing.T) {
	ctx := context.Background()
	s := clienttest.New(t)
	c := fast(s.URL, client.WithRetries(3))
	if _, err := c.Call(ctx, "set", map[string]any{"key": "x", "value": "v"}, nil); err != nil {
		t.Fatal(err)
	}
	reads := []struct {
		name string
		do   func() error
	}{
		{"get", func() error { _, err := c.Get(ctx, []any{"kv", "x"}); return err }},
		{"keys", func() error { _, err := c.Keys(ctx, []any{"kv"}, 0); return err }},
		{"txn", func() error { _, err := c.Txn(ctx, "A/1"); return err }},
		{"status", func() error { _, err := c.Status(ctx); return err }},
	}
	for _, r := range reads {
		n := len(s.Requests())
		s.Inject(clienttest.Fault{Status: 503, Code: client.CodeNotCaughtUp},
			clienttest.Fault{Drop: true},
			clienttest.Fault{Status: 503, Code: client.CodeUnavailable})
		if err := r.do(); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if got := len(s.Requests()) - n; got < 4 {
			t.Fatalf("%s: %d attempts, want at least 4", r.name, got)
		}
	}
	// Past the limit the last error is returned.
	for range 4 {
		s.Inject(clienttest.Fault{Status: 503, Code: client.CodeNotCaughtUp})
	}
	_, err := c.Get(ctx, []any{"kv", "x"})
	wantAPIError(t, err, 503, client.CodeNotCaughtUp)
	// A 500 is a bug, not a passing condition: not retried.
	n := len(s.Requests())
	s.Inject(clienttest.Fault{Status: 500, Code: client.CodeInternal})
	_, err = c.Get(ctx, []any{"kv", "x"})
	wantAPIError(t, err, 500, client.CodeInternal)
	if got := len(s.Requests()) - n; got != 1 {
		t.Fatalf("500 tried %d times", got)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := clienttest.New(t)
	s.Inject(clienttest.Fault{Status: 503, Code: client.CodeUnavailable, RetryAfter: 1})
	start := time.Now()
	if _, err := fast(s.URL).Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("retried after %v, before the Retry-After of 1s", took)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = fast(addr, client.WithRetries(2)).Status(context.Background())
	var ce *client.ConnError
	if !errors.As(err, &ce) || ce.Attempts != 3 || ce.Timeout() {
		t.Fatalf("error %v, want a *client.ConnError after 3 attempts", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("error %v does not wrap the *net.OpError", err)
	}
}

func TestErrorDecoding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/key":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error": {"code": "not_found", "message": "no endpoint /v1/key"}}`)
		case "/status":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>bad gateway "+strings.Repeat("x", 500)+"</html>")
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	c := fast(srv.URL, client.WithRetries(1))
	_, err := c.Get(context.Background(), []any{"kv", "x"})
	if e := wantAPIError(t, err, 404, client.CodeNotFound); e.Message != "no endpoint /v1/key" {
		t.Fatalf("message %q", e.Message)
	}
	_, err = c.Status(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "" || !strings.HasPrefix(e.Message, "<html>bad gateway") || len(e.Message) > 210 {
		t.Fatalf("proxy error: %#v", err)
	}
	_, err = c.Txn(context.Background(), "A/1")
	if !errors.As(err, &e) || e.Status != 418 || !strings.Contains(err.Error(), "i'm_a_teapot") {
		t.Fatalf("empty error body: %v", err)
	}
}

func TestCancelStopsRetrying(t *testing.T) {
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error": {"code": "unavailable", "message": "down"}}`)
		arrived <- struct{}{}
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.WithBackoff(time.Hour, time.Hour), client.WithRetries(5))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Call(ctx, "set", nil, nil)
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// An attempt that times out is retried with the same idempotency key.
func TestAttemptTimeoutIsRetried(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body so that the server notices the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n == 1 {
			select { // the client gives up on this attempt
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		io.WriteString(w, `{"txid":"A/1","hlc":1,"hlc_time":"x","pos":2,"read_only":false,"result":"ok","token":"A:1"}`)
	}))
	defer srv.Close()
	defer close(release)
	c := fast(srv.URL, client.WithTimeout(100*time.Millisecond))
	res, err := c.Call(context.Background(), "set", nil, nil)
	if err != nil || res.TxID != "A/1" {
		t.Fatalf("%+v, %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != keys[1] || keys[0] == "" {
		t.Fatalf("keys %q", keys)
	}
}

func TestBearerToken(t *testing.T) {
	s := clienttest.New(t, clienttest.WithBearer("s3cret"))
	_, err := fast(s.URL).Status(context.Background())
	wantAPIError(t, err, 401, client.CodeUnauthorized)
	st, err := fast(s.URL, client.WithToken("s3cret\n")).Status(context.Background())
	if err != nil || st.ID != "A" {
		t.Fatalf("%+v, %v", st, err)
	}
	reqs := s.Requests()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Fatalf("Authorization %q", got)
	}
}

func TestAddresses(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:7070":             "http://127.0.0.1:7070",
		"http://h:1/":                "http://h:1",
		"https://h/prefix/":          "https://h/prefix",
		" localhost:7070 ":           "http://localhost:7070",
		"http://[::1]:7070":          "http://[::1]:7070",
		"http://h:1/a%2Fb/":          "http://h:1/a/b",
		"http://user@h:1":            "http://user@h:1",
		"http://h:1/with space/":     "http://h:1/with%20space",
		"http://h:1/v1/../x":         "http://h:1/v1/../x",
		"http://h:1/path/trailing//": "http://h:1/path/trailing",
	} {
		if got := client.New(addr).Addr(); got != want {
			t.Errorf("New(%q).Addr() = %q, want %q", addr, got, want)
		}
	}
	for _, bad := range []string{"", "ftp://h:1", "http://", "http://h:1/?q=1", "://x"} {
		if _, err := client.New(bad).Status(context.Background()); err == nil {
			t.Errorf("New(%q) made a request", bad)
		}
	}
}

func TestKeysTxnStatus(t *testing.T) {
	ctx := context.Background()
	s := clienttest.New(t)
	c := fast(s.URL)
	for i, k := range []string{"a", "b", "c"} {
		if _, err := c.Call(ctx, "set", map[string]any{"key": k, "value": i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := c.Keys(ctx, []any{"kv"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 2 || !ks.Truncated || !reflect.DeepEqual(ks.Keys[0].Key, []any{"kv", "a"}) || string(ks.Keys[1].Value) != "1" || ks.Token != "A:3" {
		t.Fatalf("keys: %+v", ks)
	}
	if q := s.Requests()[3].Query; q.Get("prefix") != `["kv"]` || q.Get("limit") != "2" {
		t.Fatalf("keys query %v", q)
	}
	if all, err := c.Keys(ctx, nil, 0); err != nil || len(all.Keys) != 3 || all.Truncated {
		t.Fatalf("all keys: %+v, %v", all, err)
	}
	if q := s.Requests()[4].Query; q.Has("prefix") || q.Has("limit") {
		t.Fatalf("keys query %v", q)
	}
	tx, err := c.Txn(ctx, "A/2")
	if err != nil || tx.State != client.StateCommitted || tx.Proc != "set" || tx.Kind != "local" || string(tx.Result) != `"ok"` || tx.Pos != 3 {
		t.Fatalf("txn: %+v, %v", tx, err)
	}
	tx, err = c.Txn(ctx, "A/99")
	if err != nil || tx.State != client.StateUnknown || tx.Pos != 0 || tx.Proc != "" || string(tx.Result) != "null" {
		t.Fatalf("unknown txn: %+v, %v", tx, err)
	}
	_, err = c.Txn(ctx, "A-1")
	wantAPIError(t, err, 400, client.CodeBadRequest)
	st, err := c.Status(ctx)
	if err != nil || st.ID != "A" || st.OSeq != 3 || st.Keys != 3 || st.Watermarks["A"] != 3 || st.Raw["app"] != "kv" {
		t.Fatalf("status: %+v, %v", st, err)
	}
	// Status and Txn carry no min_token: the API does not take one there.
	for _, r := range s.Requests() {
		if (r.Path == "/status" || strings.HasPrefix(r.Path, "/v1/txn/")) && len(r.Query) > 0 {
			t.Fatalf("%s sent %v", r.Path, r.Query)
		}
	}
	// A result that does not fit out is an error, with the result kept.
	var n int
	res, err := c.Call(ctx, "set", map[string]any{"key": "d", "value": 1}, &n)
	if err == nil || res == nil || res.TxID != "A/4" || !strings.Contains(err.Error(), "committed as A/4") {
		t.Fatalf("undecodable result: %+v, %v", res, err)
	}
}

// The client against the real server, with the kv application.
func TestAgainstServer(t *testing.T) {
	ctx := context.Background()
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := kv.Register(db); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(db, server.Options{App: kv.Name, AuthToken: "tok",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()
	c := fast(srv.URL, client.WithToken("tok"))

	var r string
	res, err := c.Call(ctx, "add", kv.AddArgs{Key: "ann", Delta: 10}, &r)
	if err != nil || r != "ok" || res.TxID != "A/1" || res.ReadOnly || c.Token() != "A:1" {
		t.Fatalf("add: %+v, %v, token %q", res, err, c.Token())
	}
	res, err = c.Call(ctx, "transfer", map[string]any{"from": "ann", "to": "bob", "amount": 99}, &r)
	if err != nil || r != "insufficient" || !res.ReadOnly || res.TxID != "" || res.Pos != 0 {
		t.Fatalf("refused transfer: %+v, %v", res, err)
	}
	res, err = c.Call(ctx, "transfer", map[string]any{"from": "ann", "to": "bob", "amount": 4}, &r)
	if err != nil || r != "ok" || res.TxID != "A/2" {
		t.Fatalf("transfer: %+v, %v", res, err)
	}
	var pos int64
	for i, v := range []string{"x", "y"} {
		if _, err := c.Call(ctx, "append", kv.AppendArgs{Key: "l", Value: v}, &pos); err != nil || pos != int64(i+1) {
			t.Fatalf("append %q: position %d, %v", v, pos, err)
		}
	}
	var g struct {
		Found bool     `json:"found"`
		Value []string `json:"value"`
	}
	if _, err := c.Call(ctx, "get", kv.KeyArgs{Key: "l"}, &g); err != nil || !g.Found || !reflect.DeepEqual(g.Value, []string{"x", "y"}) {
		t.Fatalf("get l: %+v, %v", g, err)
	}
	k, err := c.Get(ctx, []any{"kv", "bob"})
	if err != nil || !k.Found || string(k.Value) != "4" || k.Version == nil || k.Version.Origin != "A" || k.KeyHex == "" {
		t.Fatalf("get bob: %+v, %v", k, err)
	}
	ks, err := c.Keys(ctx, []any{"kv"}, 0)
	if err != nil || len(ks.Keys) != 3 || !reflect.DeepEqual(ks.Keys[0].Key, []any{"kv", "ann"}) || ks.Truncated {
		t.Fatalf("keys: %+v, %v", ks, err)
	}
	tx, err := c.Txn(ctx, "A/2")
	if err != nil || tx.State != client.StateCommitted || tx.Proc != "transfer" || string(tx.Result) != `"ok"` || tx.Kind != "local" {
		t.Fatalf("txn: %+v, %v", tx, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.ID != "A" || st.App != "kv" || st.OSeq != 4 || st.Raw["id"] != "A" {
		t.Fatalf("status: %+v, %v", st, err)
	}
	// The same idempotency key commits once.
	a, err := c.CallWith(ctx, "add", kv.AddArgs{Key: "ann", Delta: 1}, nil, client.CallOptions{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CallWith(ctx, "add", kv.AddArgs{Key: "ann", Delta: 1}, nil, client.CallOptions{IdempotencyKey: "k1"})
	if err != nil || a.TxID != b.TxID {
		t.Fatalf("same key: %s then %s, %v", a.TxID, b.TxID, err)
	}
	if k, err := c.Get(ctx, []any{"kv", "ann"}); err != nil || string(k.Value) != "7" {
		t.Fatalf("ann = %s, %v, want 7", k.Value, err)
	}
	// Errors.
	_, err = c.Call(ctx, "add", kv.AddArgs{Key: "ann", Delta: -1}, nil)
	wantAPIError(t, err, 422, client.CodeProcedureError)
	_, err = c.Call(ctx, "bye", nil, nil)
	if e := wantAPIError(t, err, 404, client.CodeUnknownProcedure); !strings.Contains(e.Message, "transfer") {
		t.Fatalf("message %q", e.Message)
	}
	_, err = c.Call(ctx, "add", map[string]any{"key": "ann", "delta": "x"}, nil)
	wantAPIError(t, err, 400, client.CodeBadArgs)
	_, err = fast(srv.URL).Status(ctx)
	wantAPIError(t, err, 401, client.CodeUnauthorized)
	// A token naming an instance this one does not apply, or more than it
	// has applied, is not served.
	if err := c.SetToken(c.Token() + ",Z:3"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, []any{"kv", "ann"})
	wantAPIError(t, err, 503, client.CodeNotCaughtUp)
	c2 := fast(srv.URL, client.WithToken("tok"), client.WithRetries(1), client.WithWaitTimeout(0))
	if err := c2.SetToken("A:999"); err != nil {
		t.Fatal(err)
	}
	_, err = c2.Get(ctx, []any{"kv", "ann"})
	wantAPIError(t, err, 503, client.CodeNotCaughtUp)
	if q := c2.Token(); q != "A:999" {
		t.Fatalf("a refused read changed the token to %q", q)
	}
}
