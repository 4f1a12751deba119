package inject

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/oracle"
)

// callLog records every call of a run as JSON lines (oracle.Call), the
// checker's input. It is flushed when closed.
type callLog struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	err   error
	calls atomic.Int64
	acked atomic.Int64
}

func newCallLog(path string) (*callLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &callLog{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (l *callLog) add(c *oracle.Call) {
	l.calls.Add(1)
	if c.Status/100 == 2 && c.TxID != nil {
		l.acked.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = oracle.WriteCall(l.w, c)
	}
}

func (l *callLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
	if err := l.f.Close(); err != nil && l.err == nil {
		l.err = err
	}
	if l.err != nil {
		return fmt.Errorf("write the call log %s: %w", l.f.Name(), l.err)
	}
	return nil
}

// caller sends calls to one instance and records them.
type caller struct {
	site   int
	in     *instance
	log    *callLog
	client *http.Client
	seq    atomic.Int64
}

// callAnswer is what the runner reads of a call's answer.
type callAnswer struct {
	TxID   *string         `json:"txid"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends c with an idempotency key and records it. It returns the
// answer's result for a 2xx answer.
func (cl *caller) do(ctx context.Context, c call) (json.RawMessage, bool) {
	args, err := json.Marshal(c.args)
	if err != nil {
		panic(fmt.Sprintf("inject: encode %s args: %v", c.proc, err)) // the workload's own types
	}
	body, _ := json.Marshal(map[string]json.RawMessage{"args": args})
	rec := oracle.Call{Site: cl.in.id, Proc: c.proc, Args: args,
		IdempotencyKey: fmt.Sprintf("%s-%d", cl.in.id, cl.seq.Add(1))}
	rec.SentNs = time.Now().UnixNano()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+cl.in.http+"/v1/call/"+c.proc, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", rec.IdempotencyKey)
	resp, err := cl.client.Do(req)
	var result json.RawMessage
	ok := false
	if err != nil {
		rec.Error = err.Error()
	} else {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		var a callAnswer
		switch {
		case rerr != nil:
			rec.Error = "read the answer: " + rerr.Error()
		case json.Unmarshal(b, &a) != nil:
			rec.Status = resp.StatusCode
			rec.Error = fmt.Sprintf("unreadable answer %q", truncate(string(b), 200))
		default:
			rec.Status = resp.StatusCode
			rec.TxID = a.TxID
			if a.Error != nil {
				rec.Error = a.Error.Code + ": " + a.Error.Message
			}
			if resp.StatusCode/100 == 2 {
				result, ok = a.Result, true
				rec.Result = a.Result
			}
		}
	}
	rec.AnsweredNs = time.Now().UnixNano()
	cl.log.add(&rec)
	return result, ok
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// load drives both sites at rate calls per second in all until ctx ends,
// with contention the share of hot calls. Each site has a few workers; a
// tick that finds them all busy is skipped (the load is open-loop but
// bounded), and counted.
func load(ctx context.Context, w workload, callers [2]*caller, rate int, contention float64, seed uint64) (skipped int64) {
	var wg sync.WaitGroup
	var skip atomic.Int64
	const workers = 8
	per := max(1, rate/2)
	for s, cl := range callers {
		work := make(chan call, workers)
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range work {
					if res, ok := cl.do(context.Background(), c); ok {
						w.answered(s, c, res)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(work)
			rng := rand.New(rand.NewPCG(seed, uint64(s)+1))
			tick := time.NewTicker(time.Second / time.Duration(per))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				c := w.next(rng, s, rng.Float64() < contention)
				select {
				case work <- c:
				default:
					skip.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return skip.Load()
}
