package benchkit

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege"
)

// ErrStall is returned when no call completed for Workload.StallTimeout.
// The calls in flight are abandoned (their goroutines leak), and the
// instance is left open: closing it would wait for them.
var ErrStall = errors.New("benchmark stalled: no call completed")

// drive issues calls number first..first+n-1 of the ticket workload from
// callers goroutines, and records the latency of call first+i in lat[i] if
// lat is not nil. Nothing is allocated per call here (the engine's Call
// boxes the arguments).
func (w Workload) drive(ctx context.Context, db *liege.DB, callers, n int, first int64, lat []time.Duration) error {
	if n <= 0 {
		return nil
	}
	callers = max(1, min(callers, n))
	var (
		next     atomic.Int64 // next call index to claim
		done     atomic.Int64 // calls completed
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				seat := first + i
				t0 := time.Now()
				res, err := db.Call(ctx, ProcName, TicketFor(seat))
				d := time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("call %d: %w", seat, err))
					return
				}
				if res.Pos == 0 || res.ReadOnly() {
					fail(fmt.Errorf("call %d committed nothing (position %d, TxID %q): the ticket procedure always writes", seat, res.Pos, res.TxID))
					return
				}
				if lat != nil {
					lat[i] = d
				}
				done.Add(1)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastChange := done.Load(), time.Now()
	for {
		select {
		case <-finished:
			return firstErr
		case <-tick.C:
			if d := done.Load(); d != last {
				last, lastChange = d, time.Now()
				continue
			}
			if time.Since(lastChange) < w.StallTimeout {
				continue
			}
			stalled := fmt.Errorf("%w for %v: %d of %d calls completed, %d claimed, %d callers",
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

// Latency summarizes a set of latencies.
type Latency struct {
	P50, P90, P99, P999, Max time.Duration
}

// summarize sorts lat in place and returns its percentiles.
func summarize(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1 // nearest rank
		return lat[max(0, min(i, len(lat)-1))]
	}
	return Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: lat[len(lat)-1]}
}

func perSec(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}
