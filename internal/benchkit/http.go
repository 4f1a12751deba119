package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/internal/server"
	"github.com/prometheus/client_golang/prometheus"
)

// GoalHTTPRatio is the goal of `liege bench http`: kv set over HTTP with
// GoalCommitCallers clients reaches this fraction of the engine's ticket
// txn/s in process with as many callers, measured in the same run.
const GoalHTTPRatio = 0.5

// How RunHTTP's clients send their calls.
const (
	// HTTPSingle: one client.Client per client goroutine, one POST
	// /v1/call/{proc} per call (JSON over HTTP/1.1, the documented API).
	HTTPSingle = "single"
	// HTTPBatch: the client goroutines share one client.Client made
	// WithBatching, as the goroutines of one application process would:
	// the calls made at the same time share POST /v1/calls requests.
	HTTPBatch = "batch"
)

// HTTPModes lists the modes RunHTTP knows.
var HTTPModes = []string{HTTPSingle, HTTPBatch}

// HTTPResult is one measurement of RunHTTP.
type HTTPResult struct {
	Mode    string
	Clients int
	Calls   int
	Elapsed time.Duration
	// CallsPerSec is calls answered 200 per second, each durable when
	// answered.
	CallsPerSec float64
	// Latency is that of one call, from the client's Call to its return.
	Latency Latency
	// Requests is the HTTP requests the server answered, ServerTime their
	// mean time in the server's handler (from the request's headers to its
	// answer written); Fsyncs the journal's fsyncs (group commits).
	Requests   int
	ServerTime time.Duration
	Fsyncs     int
}

// httpMetrics are the figures RunHTTPWith reads from the registry.
type httpMetrics struct {
	requests, seconds, fsyncs float64
}

func gatherHTTP(reg *prometheus.Registry) (httpMetrics, error) {
	var m httpMetrics
	mfs, err := reg.Gather()
	if err != nil {
		return m, fmt.Errorf("gather metrics: %w", err)
	}
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			switch mf.GetName() {
			case "liege_http_request_duration_seconds":
				m.requests += float64(x.GetHistogram().GetSampleCount())
				m.seconds += x.GetHistogram().GetSampleSum()
			case "liege_fsyncs_total":
				m.fsyncs += counter(x)
			}
		}
	}
	return m, nil
}

// RunHTTP measures kv set over HTTP: it opens an instance in dir (which
// should be empty; checkpoints disabled) serving app kv through `liege
// serve`'s handler (internal/server) on a loopback port, and has clients
// goroutines call set total times in all with a new key and a value of
// ValueSize bytes each, through the Go client (package client) as mode
// says (HTTPSingle or HTTPBatch). The clients keep their session token,
// so that every call after the first carries a min_token, as a real
// client's do. A short warm-up (one call per client) precedes the
// measurement; the instance's counts are checked afterwards.
func (w Workload) RunHTTP(ctx context.Context, dir, mode string, clients, total int) (HTTPResult, error) {
	return w.RunHTTPWith(ctx, dir, HTTPOptions{Mode: mode, Clients: clients, Total: total})
}

// HTTPOptions are the inputs of RunHTTPWith.
type HTTPOptions struct {
	Mode    string // HTTPSingle or HTTPBatch
	Clients int
	Total   int // calls in all
	// BatchCalls and BatchRequests are the arguments of
	// client.WithBatching in HTTPBatch mode (0: the client's defaults).
	BatchCalls, BatchRequests int
}

// RunHTTPWith is RunHTTP with the batching of HTTPBatch mode chosen.
func (w Workload) RunHTTPWith(ctx context.Context, dir string, o HTTPOptions) (HTTPResult, error) {
	mode, clients, total := o.Mode, o.Clients, o.Total
	w = w.withDefaults()
	clients = max(clients, 1)
	res := HTTPResult{Mode: mode, Clients: clients, Calls: total}
	if mode != HTTPSingle && mode != HTTPBatch {
		return res, fmt.Errorf("unknown HTTP mode %q: want %s or %s", mode, HTTPSingle, HTTPBatch)
	}
	reg := prometheus.NewRegistry()
	db, err := liege.Open(w.options(dir, liege.Options{Registerer: reg}))
	if err != nil {
		return res, err
	}
	if err := kv.Register(db); err != nil {
		db.Close()
		return res, err
	}
	out := io.Discard
	if w.EngineLog != nil {
		out = w.EngineLog
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelError}))
	// As cmd/liege/serve.go builds it, without authentication, and with
	// room for every client's request at once (the bench measures calls,
	// not admission).
	srv := server.New(db, server.Options{App: kv.Name, Logger: log, Registry: reg,
		MaxInFlight: max(server.DefaultMaxInFlight, 2*clients)}).HTTPServer(log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		return res, fmt.Errorf("listen on loopback: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	stalled := false
	defer func() {
		tr.CloseIdleConnections()
		if !stalled {
			srv.Close()
			<-served
			db.Close()
		}
	}()
	hc := &http.Client{Transport: tr}
	cs := make([]*client.Client, clients)
	shared := client.New(ln.Addr().String(), client.WithHTTPClient(hc), client.WithRetries(0), client.WithBatching(o.BatchCalls, o.BatchRequests))
	for i := range cs {
		if mode == HTTPBatch {
			cs[i] = shared
		} else {
			cs[i] = client.New(ln.Addr().String(), client.WithHTTPClient(hc), client.WithRetries(0))
		}
	}
	value := paddedValue(w.ValueSize, "v=", "")

	warm := min(clients, 1024)
	if err := w.driveHTTP(ctx, cs, value, warm, 0, nil); err != nil {
		stalled = errors.Is(err, ErrStall)
		return res, fmt.Errorf("warm-up: %w", err)
	}
	before, err := db.Status(ctx)
	if err != nil {
		return res, err
	}
	m0, err := gatherHTTP(reg)
	if err != nil {
		return res, err
	}
	lat := make([]time.Duration, total)
	w.start()
	t0 := time.Now()
	err = w.driveHTTP(ctx, cs, value, total, int64(warm), lat)
	res.Elapsed = time.Since(t0)
	w.stop()
	if err != nil {
		stalled = errors.Is(err, ErrStall)
		return res, err
	}
	m1, err := gatherHTTP(reg)
	if err != nil {
		return res, err
	}
	res.Requests, res.Fsyncs = int(m1.requests-m0.requests), int(m1.fsyncs-m0.fsyncs)
	if res.Requests > 0 {
		res.ServerTime = time.Duration((m1.seconds - m0.seconds) / float64(res.Requests) * 1e9)
	}
	after, err := db.Status(ctx)
	if err != nil {
		return res, err
	}
	res.CallsPerSec = perSec(float64(total), res.Elapsed)
	res.Latency = summarize(lat)

	var errs []error
	if got := after.LastPos - before.LastPos; got != uint64(total) {
		errs = append(errs, fmt.Errorf("journal grew by %d records for %d calls", got, total))
	}
	if after.Durable != after.LastPos {
		errs = append(errs, fmt.Errorf("every call was answered, but the journal is durable only up to %d of %d", after.Durable, after.LastPos))
	}
	if want := warm + total; after.Keys != want {
		errs = append(errs, fmt.Errorf("state holds %d keys after %d calls setting a new key each, want %d", after.Keys, warm+total, want))
	}
	return res, errors.Join(errs...)
}

// driveHTTP is drive over HTTP: calls number first..first+n-1 set key
// "bench-<number>" to value, spread over the clients (one goroutine
// each).
func (w Workload) driveHTTP(ctx context.Context, cs []*client.Client, value string, n int, first int64, lat []time.Duration) error {
	if n <= 0 {
		return nil
	}
	cs = cs[:max(1, min(len(cs), n))]
	var (
		next     atomic.Int64
		done     atomic.Int64
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				num := first + i
				args := kv.SetArgs{Key: "bench-" + strconv.FormatInt(num, 10), Value: value}
				t0 := time.Now()
				res, err := c.Call(ctx, kv.ProcSet, args, nil)
				d := time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("call %d: %w", num, err))
					return
				}
				if res.Pos == 0 || res.ReadOnly {
					fail(fmt.Errorf("call %d committed nothing (position %d, TxID %q): set always writes", num, res.Pos, res.TxID))
					return
				}
				if lat != nil {
					lat[i] = d
				}
				done.Add(1)
			}
		}()
	}
	return w.watch(&wg, &done, &next, &failed, n, len(cs), func() error { return firstErr })
}

// watch waits for the callers of wg to finish, and fails the run with
// ErrStall when no call completes for StallTimeout (as drive does).
func (w Workload) watch(wg *sync.WaitGroup, done, next *atomic.Int64, failed *atomic.Bool, n, callers int, firstErr func() error) error {
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastChange := done.Load(), time.Now()
	for {
		select {
		case <-finished:
			return firstErr()
		case <-tick.C:
			if d := done.Load(); d != last {
				last, lastChange = d, time.Now()
				continue
			}
			if time.Since(lastChange) < w.StallTimeout {
				continue
			}
			stalled := fmt.Errorf("%w for %v: %d of %d calls completed, %d claimed, %d clients",
				ErrStall, w.StallTimeout, done.Load(), n, min(next.Load(), int64(n)), callers)
			w.logf("%v; goroutines:", stalled)
			if w.Log != nil {
				_ = pprof.Lookup("goroutine").WriteTo(w.Log, 1)
			}
			failed.Store(true)
			return stalled
		}
	}
}
