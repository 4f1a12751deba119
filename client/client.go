// Package client is a Go client for the HTTP API of `liege serve`
// (docs/http-api.md).
//
//	c := client.New("127.0.0.1:7070", client.WithToken(bearer))
//	var r string
//	res, err := c.Call(ctx, "transfer", map[string]any{"from": "ann", "to": "bob", "amount": 5}, &r)
//	// res.TxID is "A/18", r is "ok"
//	k, err := c.Get(ctx, []any{"kv", "bob"})
//
// A Client carries the session token for its caller: each answer's token
// is merged into the client's (per instance, the larger OSeq wins) and sent
// as min_token with the next read or call, so that a client reads its own
// writes and never reads backwards, even when it moves between the two
// instances of a pair (see SetToken to carry a token across clients).
//
// Reads (Get, Keys, Txn, Status) are retried when the connection fails or
// the instance answers 503, with exponential backoff, up to WithRetries
// times. Calls are retried in the same cases, and only because every call
// carries an Idempotency-Key header, generated once per logical call and
// reused by its retries: an instance that already committed the call
// answers its first outcome instead of committing it twice. No answer with
// a 4xx status (bad arguments, a procedure's own error, ...) is ever
// retried.
//
// Many goroutines calling through one Client made WithBatching share HTTP
// requests (POST /v1/calls): the calls made while earlier requests are in
// flight leave together, each with its own outcome and idempotency key.
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liege-db/liege/internal/httpapi"
)

// DefaultAddr is the address `liege serve` listens on by default.
const DefaultAddr = "127.0.0.1:7070"

// Defaults of the options.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultRetries    = 3
	DefaultBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// maxAnswer bounds the size of an answer the client reads (a GET /v1/keys
// of 100,000 keys with large values fits).
const maxAnswer = 256 << 20

// maxRetryAfter bounds how long a server's Retry-After may make a retry
// wait.
const maxRetryAfter = 30 * time.Second

// errTooLarge is an answer over maxAnswer bytes.
var errTooLarge = fmt.Errorf("the answer is larger than %d bytes", maxAnswer)

// Client talks to one liege instance.
type Client struct {
	base    string // scheme://host[:port][/path], no trailing slash
	baseErr error  // why addr is unusable, returned by every request
	hc      *http.Client
	bearer  string
	timeout time.Duration
	retries int
	backoff time.Duration
	maxBack time.Duration
	wait    *time.Duration // timeout_ms sent with min_token
	batch   *batcher       // WithBatching, or nil

	mu     sync.Mutex
	token  Token
	text   string // token.String()
	merged string // the last answer token merged into token
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the bearer token sent as "Authorization: Bearer <token>"
// to an instance started with --auth-token-file. (The session token is
// something else: see Client.Token.)
func WithToken(bearer string) Option {
	return func(c *Client) { c.bearer = strings.TrimSpace(bearer) }
}

// WithHTTPClient sets the HTTP client (its transport, TLS settings, ...).
// Its own Timeout, if any, applies to each attempt as well. Give its
// transport a MaxIdleConnsPerHost of about as many goroutines as call at
// once (http.DefaultTransport keeps 2): every request beyond those finds
// no idle connection and opens a new one, to close it after its answer.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithTimeout bounds each attempt of a request, from sending it to reading
// its answer (DefaultTimeout; 0 for no bound). An attempt that times out is
// retried like a failed connection. The context passed to a method bounds
// the whole request, retries included.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = max(d, 0) }
}

// WithRetries sets how many times a request is retried after its first
// attempt (DefaultRetries; 0 never retries).
func WithRetries(n int) Option {
	return func(c *Client) { c.retries = max(n, 0) }
}

// WithBackoff sets the wait before the first retry, doubled for each
// further retry up to most (DefaultBackoff, DefaultMaxBackoff). Each wait
// is drawn at random from its upper half, so that clients that failed
// together do not retry together.
func WithBackoff(first, most time.Duration) Option {
	return func(c *Client) {
		c.backoff = max(first, time.Millisecond)
		c.maxBack = max(most, c.backoff)
	}
}

// WithWaitTimeout sets the timeout_ms sent with every min_token: how long
// the instance may wait to catch up with the session token before it
// answers 503 not_caught_up (the server's default, 5s, if not set; bounded
// by its --max-wait).
func WithWaitTimeout(d time.Duration) Option {
	return func(c *Client) {
		d = max(d, 0)
		c.wait = &d
	}
}

// MaxIdleConnsPerHost is how many idle connections to one instance the
// clients made without WithHTTPClient keep open between requests: as many
// as the server serves at once by default, so that that many goroutines
// calling at once reuse their connections instead of opening one per
// request (http.DefaultTransport keeps 2 per host).
const MaxIdleConnsPerHost = 512

// transport is the transport of the clients made without WithHTTPClient,
// shared as http.DefaultTransport is: http.DefaultTransport's settings
// with MaxIdleConnsPerHost (or, if the program replaced
// http.DefaultTransport by a RoundTripper of its own, that one).
var transport = sync.OnceValue(func() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.MaxIdleConns = max(t.MaxIdleConns, MaxIdleConnsPerHost)
	return t
})

// New returns a client for the instance at addr: "host:port" (as
// 127.0.0.1:7070) or a URL ("http://host:port", "https://host/prefix"). An
// unusable addr makes every request fail, saying why.
func New(addr string, opts ...Option) *Client {
	c := &Client{
		hc:      &http.Client{Transport: transport()},
		timeout: DefaultTimeout,
		retries: DefaultRetries,
		backoff: DefaultBackoff,
		maxBack: DefaultMaxBackoff,
		token:   Token{},
	}
	c.base, c.baseErr = baseURL(addr)
	for _, o := range opts {
		o(c)
	}
	return c
}

// Addr returns the base URL the client sends its requests to.
func (c *Client) Addr() string { return c.base }

func baseURL(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("no instance address: want host:port, e.g. " + DefaultAddr)
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("instance address %q: %w", addr, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("instance address %q: the scheme must be http or https", addr)
	}
	if u.Host == "" {
		return "", fmt.Errorf("instance address %q has no host: want host:port, e.g. %s", addr, DefaultAddr)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("instance address %q: a query or fragment makes no sense here", addr)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// Version is a key's version: the largest (HLC, origin) of the
// transactions that wrote it.
type Version = httpapi.Version

// CallResult is the answer to a call.
type CallResult struct {
	// TxID is the committed transaction's id ("A/18"); empty for a
	// read-only call, which commits nothing.
	TxID string
	// HLC is the transaction's timestamp; HLCTime the same as text
	// (2026-11-21T16:18:02.123Z+3).
	HLC     uint64
	HLCTime string
	// Pos is the transaction's journal position at the instance (0 if
	// read-only).
	Pos      uint64
	ReadOnly bool
	// Token is the answer's session token (already merged into the
	// client's).
	Token string
	// Result is the procedure's result as JSON.
	Result json.RawMessage
	// Raw is the whole answer as received.
	Raw json.RawMessage
}

// KeyResult is the answer to Get.
type KeyResult struct {
	// Key is the key as a tuple of strings and int64s.
	Key    []any
	KeyHex string
	Found  bool
	// Value is the value as JSON ("null" when not found); Version is nil
	// when not found.
	Value   json.RawMessage
	Version *Version
	Token   string
	Raw     json.RawMessage
}

// KeyValue is one key of a KeysResult.
type KeyValue struct {
	Key     []any
	KeyHex  string
	Value   json.RawMessage
	Version Version
}

// KeysResult is the answer to Keys.
type KeysResult struct {
	Keys []KeyValue
	// Truncated says that more keys have the prefix than were returned;
	// NextCursor is then where KeysPage continues.
	Truncated  bool
	NextCursor string
	Token      string
	Raw        json.RawMessage
}

// Transaction states of TxnResult.State.
const (
	StateCommitted   = "committed"
	StateRolledBack  = "rolled_back"
	StateReprocessed = "reprocessed"
	StateCorrected   = "corrected"
	StateUnknown     = "unknown"
)

// TxnResult is what an instance knows of a transaction (GET /v1/txn).
type TxnResult struct {
	TxID string
	// State is one of the State constants.
	State string
	// Pos, Kind, Proc and Result are those of the record that stands for
	// the transaction: its own, or the reprocess or correction record
	// (whose Subject is TxID). They are zero when there is none.
	Pos     uint64
	Kind    string
	Proc    string
	Result  json.RawMessage
	Subject string
	// LostFile names the lost transaction file of a rolled-back one.
	LostFile string
	Raw      json.RawMessage
}

// Lag is an instance's replication lag.
type Lag = httpapi.Lag

// Build is the versions of an instance's binary, as `liege --version`
// prints them.
type Build = httpapi.Build

// Status is an instance's status (GET /status). Its Link is nil for a lone
// instance, its Build nil for an instance too old to report it, and its
// Raw is the whole answer, including fields this client does not know
// (its numbers are json.Numbers, exact whatever their size).
type Status = httpapi.Status

// Route is one procedure's route in Status (DESIGN.md section 13).
type Route = httpapi.Route

// CallOptions qualify a call.
type CallOptions struct {
	// IdempotencyKey replaces the random key the client generates: use
	// one key for every attempt at one logical call, also across
	// processes, to have it committed at most once.
	IdempotencyKey string
}

// Call calls procedure proc with args (any JSON-encodable value; a
// json.RawMessage is sent as it is; nil sends no args) and, if out is not
// nil, decodes the result into it. A procedure that fails answers an
// *Error with Code CodeProcedureError and commits nothing.
func (c *Client) Call(ctx context.Context, proc string, args any, out any) (*CallResult, error) {
	return c.CallWith(ctx, proc, args, out, CallOptions{})
}

// CallWith is Call with options.
func (c *Client) CallWith(ctx context.Context, proc string, args any, out any, o CallOptions) (*CallResult, error) {
	if proc == "" {
		return nil, errors.New("call: no procedure name")
	}
	var argJSON json.RawMessage
	if args != nil {
		a, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("call %s: encode args: %w", proc, err)
		}
		argJSON = a
	}
	key := o.IdempotencyKey
	if key == "" {
		key = newIdempotencyKey()
	}
	var raw []byte
	var err error
	var a httpapi.CallAnswer
	if c.batch != nil {
		var ans *httpapi.CallAnswer
		ans, raw, err = c.batch.call(ctx, httpapi.BatchCall{Proc: proc, Args: argJSON, IdempotencyKey: key})
		if ans != nil {
			a = *ans
		}
	} else {
		body := httpapi.CallRequest{Args: argJSON, MinToken: c.Token()}
		if body.MinToken != "" {
			body.TimeoutMS = c.waitMS()
		}
		b, merr := marshalBody(&body)
		if merr != nil {
			return nil, fmt.Errorf("call %s: encode the body: %w", proc, merr)
		}
		raw, err = c.do(ctx, request{method: http.MethodPost, path: "/v1/call/" + url.PathEscape(proc), body: b, idem: key})
		if err == nil {
			if lean, ok := httpapi.LeanCallAnswer(raw); ok {
				a = *lean
			} else if uerr := json.Unmarshal(raw, &a); uerr != nil {
				return nil, fmt.Errorf("call %s: the answer does not decode: %w", proc, uerr)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", proc, err)
	}
	c.mergeToken(a.Token)
	res := &CallResult{HLC: a.HLC, HLCTime: a.HLCTime, Pos: a.Pos, ReadOnly: a.ReadOnly, Token: a.Token, Result: a.Result, Raw: raw}
	if a.TxID != nil {
		res.TxID = *a.TxID
	}
	if len(res.Result) == 0 {
		res.Result = json.RawMessage("null")
	}
	if out != nil {
		if err := json.Unmarshal(res.Result, out); err != nil {
			what := "it committed nothing"
			if res.TxID != "" {
				what = "it committed as " + res.TxID
			}
			return res, fmt.Errorf("call %s: %s, but its result %s does not decode into %T: %w", proc, what, res.Result, out, err)
		}
	}
	return res, nil
}

// waitMS is the timeout_ms to send with a min_token, nil if none.
func (c *Client) waitMS() *int64 {
	if c.wait == nil {
		return nil
	}
	ms := c.wait.Milliseconds()
	return &ms
}

// readQuery adds min_token (and timeout_ms) to a read's query.
func (c *Client) readQuery(q url.Values) url.Values {
	if tok := c.Token(); tok != "" {
		q.Set("min_token", tok)
		if ms := c.waitMS(); ms != nil {
			q.Set("timeout_ms", strconv.FormatInt(*ms, 10))
		}
	}
	return q
}

// Get reads one key, a tuple of strings and integers like
// []any{"kv", "x"}.
func (c *Client) Get(ctx context.Context, key []any) (*KeyResult, error) {
	k, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("get: encode key: %w", err)
	}
	raw, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/key", query: c.readQuery(url.Values{"k": {string(k)}}), read: true})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	var a httpapi.KeyAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("get %s: the answer does not decode: %w", k, err)
	}
	c.mergeToken(a.Token)
	res := &KeyResult{KeyHex: a.KeyHex, Found: a.Found, Value: a.Value, Version: a.Version, Token: a.Token, Raw: raw}
	if res.Key, err = decodeKey(a.Key); err != nil {
		return nil, fmt.Errorf("get %s: the answer's key: %w", k, err)
	}
	if len(res.Value) == 0 {
		res.Value = json.RawMessage("null")
	}
	return res, nil
}

// Keys lists the keys having the tuple prefix (all keys for an empty
// prefix), in order, at most limit of them (0: the server's default,
// 1000), in one answer of at most 4 MiB: KeysPage continues from the
// result's NextCursor.
func (c *Client) Keys(ctx context.Context, prefix []any, limit int) (*KeysResult, error) {
	return c.KeysPage(ctx, prefix, limit, "")
}

// KeysPage is Keys from cursor, a NextCursor of an earlier answer for the
// same prefix ("" for the first page).
func (c *Client) KeysPage(ctx context.Context, prefix []any, limit int, cursor string) (*KeysResult, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	what := "[]"
	if len(prefix) > 0 {
		p, err := json.Marshal(prefix)
		if err != nil {
			return nil, fmt.Errorf("keys: encode prefix: %w", err)
		}
		what = string(p)
		q.Set("prefix", what)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	raw, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/keys", query: c.readQuery(q), read: true})
	if err != nil {
		return nil, fmt.Errorf("keys %s: %w", what, err)
	}
	var a httpapi.KeysAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("keys %s: the answer does not decode: %w", what, err)
	}
	c.mergeToken(a.Token)
	res := &KeysResult{Keys: make([]KeyValue, len(a.Keys)), Truncated: a.Truncated, Token: a.Token, Raw: raw}
	if a.NextCursor != nil {
		res.NextCursor = *a.NextCursor
	}
	for i, e := range a.Keys {
		k, err := decodeKey(e.Key)
		if err != nil {
			return nil, fmt.Errorf("keys %s: the answer's key %d: %w", what, i, err)
		}
		res.Keys[i] = KeyValue{Key: k, KeyHex: e.KeyHex, Value: e.Value, Version: e.Version}
	}
	return res, nil
}

// Txn reports what the instance knows of transaction txid ("A/17").
func (c *Client) Txn(ctx context.Context, txid string) (*TxnResult, error) {
	if txid == "" {
		return nil, errors.New("txn: no transaction id: want origin/oseq, e.g. A/17")
	}
	parts := strings.Split(txid, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	raw, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/txn/" + strings.Join(parts, "/"), read: true})
	if err != nil {
		return nil, fmt.Errorf("txn %s: %w", txid, err)
	}
	var a httpapi.TxnAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("txn %s: the answer does not decode: %w", txid, err)
	}
	res := &TxnResult{TxID: a.TxID, State: a.State, Result: a.Result, Raw: raw,
		Pos: deref(a.Pos), Kind: deref(a.Kind), Proc: deref(a.Proc), Subject: deref(a.Subject), LostFile: deref(a.LostFile)}
	if len(res.Result) == 0 {
		res.Result = json.RawMessage("null")
	}
	return res, nil
}

// Status returns the instance's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	raw, err := c.do(ctx, request{method: http.MethodGet, path: "/status", read: true})
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	var s Status
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("status: the answer does not decode: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&s.Raw); err != nil {
		return nil, fmt.Errorf("status: the answer does not decode: %w", err)
	}
	return &s, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// decodeKey decodes a key written as a JSON array: integers become int64,
// strings stay strings, anything else (a {"base64": ...} element) is
// decoded as JSON normally does. A null key is nil.
func decodeKey(b json.RawMessage) ([]any, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return nil, fmt.Errorf("%s is not a JSON array", b)
	}
	out := make([]any, len(elems))
	for i, e := range elems {
		dec := json.NewDecoder(bytes.NewReader(e))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if n, ok := v.(json.Number); ok {
			iv, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("element %d: %s is not a 64-bit integer", i, n)
			}
			v = iv
		}
		out[i] = v
	}
	return out, nil
}

// newIdempotencyKey returns 128 random bits in hex.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// request is one logical request, tried up to 1+retries times.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	idem         string // Idempotency-Key of a call
	read         bool   // safe to retry without an idempotency key
}

// do sends r until it gets an answer that is final, and returns a 200
// answer's body or the error.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	if c.baseErr != nil {
		return nil, c.baseErr
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	// Only reads and calls with an idempotency key may be sent twice.
	retries := 0
	if r.read || r.idem != "" {
		retries = c.retries
	}
	for attempt := 0; ; attempt++ {
		status, body, retryAfter, err := c.attempt(ctx, r, u)
		if err == nil && status == http.StatusOK {
			return body, nil
		}
		var final error
		retriable := false
		switch {
		case errors.Is(err, errTooLarge):
			return nil, err
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			final = &ConnError{Method: r.method, URL: u, Attempts: attempt + 1, Err: err}
			retriable = true
		default:
			final = decodeError(status, body)
			// 503: the instance did not run the request (shutting
			// down, journal failed, not caught up). 502 and 504: a
			// proxy in between did not reach it or gave up waiting.
			retriable = status == http.StatusServiceUnavailable || status == http.StatusBadGateway || status == http.StatusGatewayTimeout
		}
		if !retriable || attempt >= retries {
			return nil, final
		}
		if err := c.pause(ctx, attempt, retryAfter); err != nil {
			return nil, err
		}
	}
}

// attempt sends r once and reads the answer.
func (c *Client) attempt(ctx context.Context, r request, u string) (status int, body []byte, retryAfter time.Duration, err error) {
	actx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var rb io.Reader
	if r.body != nil {
		rb = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, u, rb)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "liege-go-client")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.idem != "" {
		req.Header.Set("Idempotency-Key", r.idem)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err = readAll(io.LimitReader(resp.Body, maxAnswer+1), min(resp.ContentLength, 1<<20))
	if err != nil {
		return 0, nil, 0, fmt.Errorf("read the answer: %w", err)
	}
	if len(body) > maxAnswer {
		return resp.StatusCode, nil, 0, fmt.Errorf("%s %s: %w", r.method, u, errTooLarge)
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			retryAfter = min(time.Duration(n)*time.Second, maxRetryAfter)
		}
	}
	return resp.StatusCode, body, retryAfter, nil
}

// pause waits before retry number attempt+1: exponential backoff with
// jitter, at least the server's Retry-After.
func (c *Client) pause(ctx context.Context, attempt int, retryAfter time.Duration) error {
	d := c.backoff
	for i := 0; i < attempt && d < c.maxBack; i++ {
		d *= 2
	}
	d = min(d, c.maxBack)
	d = d/2 + rand.N(d/2+1)
	d = max(d, retryAfter)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readAll is io.ReadAll starting with room for sizeHint bytes (an answer's
// Content-Length, bounded by the caller) and one more.
func readAll(r io.Reader, sizeHint int64) ([]byte, error) {
	b := make([]byte, 0, max(sizeHint, 511)+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
