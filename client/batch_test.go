package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/internal/server"
)

// batchEnv is a real server with app kv behind a handler that counts the
// requests to POST /v1/calls and can hold the first one.
type batchEnv struct {
	url      string
	batches  atomic.Int64
	calls    atomic.Int64  // calls carried by those requests
	hold     chan struct{} // the first batch waits for it to close, if set
	holdOnce sync.Once
}

func newBatchEnv(t *testing.T, hold bool) *batchEnv {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Register(db); err != nil {
		t.Fatal(err)
	}
	h := server.New(db, server.Options{App: kv.Name, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
	e := &batchEnv{}
	if hold {
		e.hold = make(chan struct{})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/calls" {
			e.batches.Add(1)
			body, _ := io.ReadAll(r.Body)
			var req struct {
				Calls []json.RawMessage `json:"calls"`
			}
			_ = json.Unmarshal(body, &req)
			e.calls.Add(int64(len(req.Calls)))
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if e.hold != nil {
				first := false
				e.holdOnce.Do(func() { first = true })
				if first {
					<-e.hold
				}
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e.url = srv.URL
	return e
}

// Calls made while a request is in flight leave together in the next one,
// and each gets its own outcome.
func TestBatchingGathersConcurrentCalls(t *testing.T) {
	e := newBatchEnv(t, true)
	c := New(e.url, WithBatching(0, 1), WithRetries(0))
	ctx := context.Background()
	const n = 40
	results := make([]*CallResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	call := func(i int) {
		defer wg.Done()
		var r string
		results[i], errs[i] = c.Call(ctx, kv.ProcSet, kv.SetArgs{Key: fmt.Sprint("k", i), Value: "v"}, &r)
		if errs[i] == nil && r != kv.ResultOK {
			errs[i] = fmt.Errorf("result %q", r)
		}
	}
	wg.Add(1)
	go call(0)
	// The first call's request is held at the server; the others queue.
	waitFor(t, "the first batch to reach the server", func() bool { return e.batches.Load() == 1 })
	for i := 1; i < n; i++ {
		wg.Add(1)
		go call(i)
	}
	waitFor(t, fmt.Sprintf("%d calls to queue behind the held request", n-1), func() bool {
		c.batch.mu.Lock()
		defer c.batch.mu.Unlock()
		return len(c.batch.queue) == n-1
	})
	close(e.hold)
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if r := results[i]; r.TxID == "" || r.Pos == 0 || seen[r.TxID] || len(r.Raw) == 0 || string(r.Result) != `"ok"` {
			t.Fatalf("call %d: %+v (a TxID twice, or no TxID, position, raw answer or result)", i, r)
		}
		seen[results[i].TxID] = true
	}
	if b, calls := e.batches.Load(), e.calls.Load(); b != 2 || calls != n {
		t.Fatalf("%d requests carried %d calls, want 2 requests (the held one, then all the others) carrying %d", b, calls, n)
	}
	if tok := c.Token(); tok != fmt.Sprintf("A:%d", n) {
		t.Fatalf("token after the calls %q, want A:%d", tok, n)
	}
}

// A call refused inside a batch returns its own *Error; an idempotency key
// works as with one call per request; read-only calls answer as usual.
func TestBatchingOutcomes(t *testing.T) {
	e := newBatchEnv(t, false)
	c := New(e.url, WithBatching(8, 2), WithRetries(0))
	ctx := context.Background()
	_, err := c.Call(ctx, "nope", nil, nil)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != CodeUnknownProcedure || !strings.Contains(err.Error(), "call nope") {
		t.Fatalf("unknown procedure: %v", err)
	}
	_, err = c.Call(ctx, kv.ProcSet, map[string]any{"key": "a", "valu": "x"}, nil)
	if !IsCode(err, CodeBadArgs) {
		t.Fatalf("bad args: %v", err)
	}
	first, err := c.CallWith(ctx, kv.ProcAdd, kv.AddArgs{Key: "n", Delta: 2}, nil, CallOptions{IdempotencyKey: "once"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CallWith(ctx, kv.ProcAdd, kv.AddArgs{Key: "n", Delta: 2}, nil, CallOptions{IdempotencyKey: "once"})
	if err != nil || again.TxID != first.TxID {
		t.Fatalf("the retried call: %+v, %v; want the first outcome %s", again, err, first.TxID)
	}
	var got kv.GetResult
	res, err := c.Call(ctx, kv.ProcGet, kv.KeyArgs{Key: "n"}, &got)
	if err != nil || !res.ReadOnly || res.TxID != "" || !got.Found || fmt.Sprint(got.Value) != "2" {
		t.Fatalf("get: %+v %+v, %v; want n = 2, read-only", res, got, err)
	}
	if e.batches.Load() != 5 {
		t.Fatalf("%d requests to /v1/calls for 5 calls one after another", e.batches.Load())
	}
	// A call whose context is done before it leaves is never sent.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Call(cctx, kv.ProcSet, kv.SetArgs{Key: "late", Value: "x"}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a canceled call: %v", err)
	}
	waitFor(t, "the batcher to go idle", func() bool {
		c.batch.mu.Lock()
		defer c.batch.mu.Unlock()
		return c.batch.inflight == 0
	})
	if e.batches.Load() != 5 {
		t.Fatalf("the canceled call was sent")
	}
}

// A request that fails as a whole fails each of its calls, with the
// client's usual error.
func TestBatchingRequestFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error": {"code": "unavailable", "message": "shutting down"}}`)
	}))
	defer srv.Close()
	c := New(srv.URL, WithBatching(0, 0), WithRetries(1), WithBackoff(time.Millisecond, time.Millisecond))
	_, err := c.Call(context.Background(), kv.ProcSet, kv.SetArgs{Key: "a"}, nil)
	if !IsCode(err, CodeUnavailable) {
		t.Fatalf("got %v, want unavailable", err)
	}
}

// waitFor polls cond every millisecond for at most 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
