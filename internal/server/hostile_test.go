package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/failpoint"
	dto "github.com/prometheus/client_model/go"
)

// A string that is not valid UTF-8 text, in a procedure's arguments or in
// a key, is refused with 400 naming where it is: encoding/json would have
// stored it as U+FFFD without a word.
func TestInvalidUTF8IsRefused(t *testing.T) {
	e := newEnv(t, Options{})
	for name, body := range map[string]string{
		"raw byte":       "{\"args\": {\"acct\": \"al\xffce\", \"amount\": 5}}",
		"lone surrogate": `{"args": {"acct": "al\ud800ce", "amount": 5}}`,
		"truncated rune": "{\"args\": {\"acct\": \"al\xc3\", \"amount\": 5}}",
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			e.mustErr(e.call("deposit", body), 400, CodeBadArgs, "args.acct", "UTF-8")
		})
	}
	e.t = t
	// The same in a batch (POST /v1/calls): the request is refused whole.
	e.mustErr(e.do("POST", "/v1/calls", "{\"calls\": [{\"proc\": \"deposit\", \"args\": {\"acct\": \"al\xffce\", \"amount\": 5}}]}"),
		400, CodeBadRequest, "calls[0].args.acct", "UTF-8")
	e.mustErr(e.call("deposit", "{\"args\": {\"acct\": \"a\", \"amount\": 5}, \"min_token\": \"\xfe\"}"), 400, CodeBadRequest, "min_token")
	if st := e.status(); num(t, st["oseq"]) != 0 {
		t.Fatalf("a refused call committed: oseq %v", st["oseq"])
	}

	// Text is taken as sent, U+FFFD included when the client means it.
	e.must(e.call("deposit", `{"args": {"acct": "h\u00e9llo \ufffd", "amount": 5}}`), 200)
	e.must(e.call("deposit", "{\"args\": {\"acct\": \"h\u00e9llo \uFFFD\", \"amount\": 5}}"), 200)
	if got := e.balance("héllo \uFFFD"); got != 10 {
		t.Fatalf("balance of the text key: %d, want 10", got)
	}

	e.mustErr(e.do("GET", "/v1/key?k="+url.QueryEscape("[\"acct\",\"\xff\"]"), ""), 400, CodeBadRequest, "query parameter k", "[1]", "UTF-8")
	e.mustErr(e.do("GET", "/v1/keys?prefix="+url.QueryEscape(`["\udfff"]`), ""), 400, CodeBadRequest, "query parameter prefix", "[0]")
}

func TestInvalidTextPaths(t *testing.T) {
	for _, c := range []struct {
		in, path string
	}{
		{"\"\xff\"", "the value"},
		{"{\"a\": [1, \"ok\", {\"b\": \"\xff\"}]}", "a[2].b"},
		{"{\"a b\": \"\xff\"}", `["a b"]`},
		{"{\"\xff\": 1}", "[\"\\ufffd\"] (a member's name)"},
		{`{"x": {"y": 1}, "z": ["\ud800"]}`, "z[0]"},
	} {
		got, bad := invalidText([]byte(c.in))
		if !bad || got != c.path {
			t.Errorf("invalidText(%q) = %q, %v; want %q, true", c.in, got, bad, c.path)
		}
	}
	for _, ok := range []string{`{"a": "\ud83d\ude00", "b": "\ufffd"}`, "[\"\uFFFD\", 1, null, true]", `{"a":`, ``} {
		if got, bad := invalidText([]byte(ok)); bad {
			t.Errorf("invalidText(%q) = %q, true; want false", ok, got)
		}
	}
}

// Once the journal fails (an fsync error, as with a full disk), /healthz
// answers 503 and /readyz says why the instance takes no calls.
func TestHealthAfterJournalFailure(t *testing.T) {
	e := newEnv(t, Options{AuthToken: "secret"})
	e.must(e.call("deposit", `{"args": {"acct": "a", "amount": 1}}`, "Authorization", "Bearer secret"), 200)
	e.must(e.get("/healthz"), 200)
	ready := e.must(e.get("/readyz"), 200)
	if ready.body["ready"] != true || len(ready.body["reasons"].([]any)) != 0 {
		t.Fatalf("healthy instance: /readyz %v", ready)
	}

	t.Cleanup(failpoint.Reset)
	failpoint.Set("journal-before-sync", "error", 1)
	e.mustErr(e.call("deposit", `{"args": {"acct": "a", "amount": 1}}`, "Authorization", "Bearer secret"), 503, CodeUnavailable, "journal")
	failpoint.Reset()

	h := e.must(e.get("/healthz"), 503)
	if h.body["status"] != "failed" || !strings.Contains(h.raw, failpoint.ErrInjected.Error()) {
		t.Fatalf("/healthz after the journal failed: %v", h)
	}
	r := e.must(e.get("/readyz"), 503)
	j, _ := r.body["journal"].(map[string]any)
	reasons, _ := r.body["reasons"].([]any)
	if r.body["ready"] != false || j["ok"] != false || len(reasons) != 1 || !strings.Contains(fmt.Sprint(reasons[0]), "journal failed") {
		t.Fatalf("/readyz after the journal failed: %v", r)
	}
}

type putArgs struct {
	Key   string `json:"key" codec:"key"`
	Value string `json:"value" codec:"value"`
}

// putLarge stores n values of size bytes at ("big", "k00".."kNN") through
// a procedure registered for the test.
func (e *env) putLarge(n, size int) {
	e.t.Helper()
	if err := liege.Register(e.db, liege.Procedure[putArgs, string]{Name: "put",
		Run: func(tx *liege.Tx, a putArgs) (string, error) {
			tx.Set(liege.K("big", a.Key), a.Value)
			return "ok", nil
		}, Correct: noCorrection[putArgs, string]}); err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		v := strings.Repeat(string(rune('a'+i%26)), size)
		if _, err := e.db.Call(context.Background(), "put", putArgs{Key: fmt.Sprintf("k%02d", i), Value: v}); err != nil {
			e.t.Fatalf("put %d: %v", i, err)
		}
	}
}

// GET /v1/keys bounds the bytes of one answer, whatever limit asks, and
// next_cursor pages through every key exactly once.
func TestKeysPagesByBytes(t *testing.T) {
	const n, size, bound = 40, 8 << 10, 64 << 10 // 320 KiB in all, over the bound of one answer
	e := newEnv(t, Options{MaxAnswer: bound})
	e.putLarge(n, size)
	var got []string
	params := []string{"prefix", `["big"]`, "limit", "100000"}
	for pages := 1; ; pages++ {
		if pages > n {
			t.Fatalf("more than %d pages for %d keys: %v", n, n, got)
		}
		a := e.must(e.get("/v1/keys", params...), 200)
		if len(a.raw) > bound+1024 {
			t.Fatalf("page %d is %d bytes, over the bound of %d", pages, len(a.raw), bound)
		}
		keys, _ := a.body["keys"].([]any)
		if len(keys) == 0 {
			t.Fatalf("page %d holds no key: %.300s", pages, a.raw)
		}
		for _, k := range keys {
			got = append(got, fmt.Sprint(k.(map[string]any)["key"]))
		}
		next, _ := a.body["next_cursor"].(string)
		if a.body["truncated"] != (next != "") {
			t.Fatalf("page %d: truncated %v with next_cursor %q", pages, a.body["truncated"], next)
		}
		if next == "" {
			if pages == 1 {
				t.Fatalf("all %d bytes came in one answer", n*size)
			}
			break
		}
		params = []string{"prefix", `["big"]`, "limit", "100000", "cursor", next}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("[big k%02d]", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("keys over all pages:\n got %v\nwant %v", got, want)
	}
	e.mustErr(e.get("/v1/keys", "prefix", `["big"]`, "cursor", "zz"), 400, CodeBadRequest, "cursor")
	e.mustErr(e.get("/v1/keys", "prefix", `["big"]`, "cursor", "1e6b7600"), 400, CodeBadRequest, "same prefix")
}

// Requests beyond MaxInFlight are refused at once with 503 and
// Retry-After, not queued; probes still answer.
func TestInFlightCap(t *testing.T) {
	e := newEnv(t, Options{MaxInFlight: 2})
	done := make(chan int, 2)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // runs before the server closes
	for range 2 {
		go func() {
			// Waits for an OSeq the instance never reaches, until
			// timeout_ms or the test's end: a request held in flight.
			req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/v1/key?k=%5B%22x%22%5D&min_token=T:99&timeout_ms=20000", nil)
			resp, err := e.http.Client().Do(req)
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	waitFor(t, 10*time.Second, "two requests in flight", func() bool { return len(e.srv.slots) == 2 })
	a := e.get("/status")
	e.mustErr(a, 503, CodeUnavailable, "in flight")
	if ra := a.header.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After %q, want 1", ra)
	}
	e.must(e.get("/healthz"), 200)
	e.must(e.get("/readyz"), 200)
}

// Clients that never read their answer are cut off after WriteGrace: the
// handler returns and the answer's memory is freed, instead of being held
// for as long as the client stays connected.
func TestNonReadingClientsAreCutOff(t *testing.T) {
	e := newEnv(t, Options{WriteGrace: 300 * time.Millisecond})
	e.putLarge(16, 16<<10) // 256 KiB answers: more than the small socket buffers below hold
	// A server of its own, whose connections have small send buffers.
	hs := httptest.NewUnstartedServer(e.srv.Handler())
	hs.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(4096)
		}
		return ctx
	}
	hs.Start()
	t.Cleanup(hs.Close)
	served := func() float64 {
		var m dto.Metric
		if err := e.srv.requests.WithLabelValues("GET /v1/keys", "200").Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	const clients = 8
	addr := strings.TrimPrefix(hs.URL, "http://")
	for range clients {
		d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := fmt.Fprintf(c, "GET /v1/keys?limit=100000 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("the %d handlers of clients that never read to return", clients),
		func() bool { return served() >= clients })
}

// waitFor polls cond until it holds or budget passes.
func waitFor(t *testing.T, budget time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(budget)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", budget, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
