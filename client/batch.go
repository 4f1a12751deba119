package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"

	"github.com/liege-db/liege/internal/httpapi"
)

// Defaults of WithBatching.
const (
	DefaultBatchCalls    = 256
	DefaultBatchRequests = 4
)

// WithBatching makes the calls that goroutines sharing this client make
// at the same time share HTTP requests: instead of one POST
// /v1/call/{proc} each, they go as POST /v1/calls (docs/http-api.md), at
// most maxCalls calls per request (DefaultBatchCalls if < 1, at most
// httpapi's 1000) and at most maxRequests requests in flight
// (DefaultBatchRequests if < 1). A call waits only while maxRequests
// requests are already in flight; the calls that arrive meanwhile leave
// together in the next one. This saves most of the cost of HTTP per call
// when many goroutines call at once; a lone caller sees no difference but
// the endpoint.
//
// Every call keeps its own idempotency key and outcome: a request that
// fails as a whole (no answer, 503) is retried as Call would retry it,
// with the same keys; a call the instance refused or failed inside a
// request returns its *Error and is not retried. The calls of one request
// run in no particular order among them, as if sent in parallel. A
// call's context bounds its wait, not the request it travels in (bounded
// by WithTimeout per attempt).
func WithBatching(maxCalls, maxRequests int) Option {
	return func(c *Client) {
		if maxCalls < 1 {
			maxCalls = DefaultBatchCalls
		}
		if maxRequests < 1 {
			maxRequests = DefaultBatchRequests
		}
		c.batch = &batcher{c: c, maxCalls: min(maxCalls, httpapi.MaxBatch), maxReq: maxRequests}
	}
}

// batcher gathers concurrent calls into POST /v1/calls requests. It owns
// no goroutine while idle: a call that finds fewer than maxReq requests in
// flight starts one, which sends what is queued until the queue is empty.
type batcher struct {
	c        *Client
	maxCalls int
	maxReq   int

	mu       sync.Mutex
	queue    []*pending
	inflight int
}

// pending is one call waiting for its batch's answer; pooled, with a
// reusable channel, when its caller took the answer.
type pending struct {
	ctx  context.Context
	call httpapi.BatchCall
	ans  *httpapi.CallAnswer // when its status was 200
	raw  []byte              // its result object as received
	err  error
	done chan struct{} // one send when answered
}

var pendingPool = sync.Pool{New: func() any { return &pending{done: make(chan struct{}, 1)} }}

// answered returns p's outcome and p to the pool (its answer received).
func (p *pending) answered() (*httpapi.CallAnswer, []byte, error) {
	ans, raw, err := p.ans, p.raw, p.err
	*p = pending{done: p.done}
	pendingPool.Put(p)
	return ans, raw, err
}

// call queues one call and waits for its answer and the JSON of its
// result object.
func (b *batcher) call(ctx context.Context, bc httpapi.BatchCall) (*httpapi.CallAnswer, []byte, error) {
	p := pendingPool.Get().(*pending)
	p.ctx, p.call = ctx, bc
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := b.inflight < b.maxReq
	if start {
		b.inflight++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
	if ctx.Done() == nil { // context.Background and the like: never ends
		<-p.done
		return p.answered()
	}
	select {
	case <-p.done:
		return p.answered()
	case <-ctx.Done():
		// The call may still commit with the request it went in; its
		// idempotency key makes a retry safe. p is not pooled again: its
		// batch may still hold it.
		return nil, nil, ctx.Err()
	}
}

// run sends batches until the queue is empty.
func (b *batcher) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.maxCalls)
		if n == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		batch := make([]*pending, n)
		copy(batch, b.queue)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		b.send(batch)
		// The callers just answered call again at once: let them queue
		// those calls before the next batch is taken, rather than send
		// the few that made it and make the rest wait for a request to
		// come back (with 256 goroutines and 4 requests, batches of ~39
		// calls without this, ~53 with it; less CPU per call). Yield
		// while the queue still grows, a few times at most.
		for i, n := 0, -1; i < 4; i++ {
			runtime.Gosched()
			b.mu.Lock()
			m := len(b.queue)
			b.mu.Unlock()
			if m == n {
				break
			}
			n = m
		}
	}
}

// send sends one batch and hands each call its outcome.
func (b *batcher) send(batch []*pending) {
	live := batch[:0:0]
	for _, p := range batch {
		if p.ctx.Err() != nil {
			continue // abandoned before it left: never sent, nor answered
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	results, err := b.c.sendBatch(live)
	for i, p := range live {
		if err != nil {
			p.err = err
		} else {
			p.ans, p.raw, p.err = results[i].CallAnswer, results[i].Raw, results[i].err
		}
		p.done <- struct{}{}
	}
}

type batchOutcome struct {
	httpapi.BatchResult
	err error
}

// sendBatch sends the calls of live as one POST /v1/calls.
func (c *Client) sendBatch(live []*pending) ([]batchOutcome, error) {
	req := httpapi.BatchRequest{Calls: make([]httpapi.BatchCall, len(live)), MinToken: c.Token()}
	for i, p := range live {
		req.Calls[i] = p.call
	}
	if req.MinToken != "" {
		req.TimeoutMS = c.waitMS()
	}
	body, err := marshalBody(&req)
	if err != nil {
		return nil, fmt.Errorf("encode the batch: %w", err)
	}
	// Safe to retry: every call carries its own idempotency key.
	raw, err := c.do(context.Background(), request{method: http.MethodPost, path: "/v1/calls", body: body, read: true})
	if err != nil {
		return nil, err
	}
	ans, ok := httpapi.LeanBatchAnswer(raw) // it checks the JSON as it reads
	if !ok {
		ans = &httpapi.BatchAnswer{}
		if err := json.Unmarshal(raw, ans); err != nil {
			return nil, fmt.Errorf("the answer of POST /v1/calls does not decode: %w", err)
		}
	}
	if len(ans.Results) != len(live) {
		return nil, fmt.Errorf("the answer of POST /v1/calls has %d results for %d calls", len(ans.Results), len(live))
	}
	out := make([]batchOutcome, len(live))
	for i, br := range ans.Results {
		out[i].BatchResult = br
		switch {
		case br.Status == http.StatusOK && br.CallAnswer != nil:
		case br.Error != nil:
			out[i].err = &Error{Status: br.Status, Code: br.Error.Code, Message: br.Error.Message}
		default:
			out[i].err = &Error{Status: br.Status, Message: "the batch answered this call with neither a result nor an error"}
		}
	}
	return out, nil
}
