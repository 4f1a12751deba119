package pairtest_test

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/pairtest"
)

// BenchmarkReconcile measures the end of a long partition: the vassal
// committed LIEGE_RECON_TXNS transactions (default 20,000) on its own, the
// first of which conflicts with one of the liege's, so the vassal rolls
// all of them back and the liege re-executes every one. The figures are
// from the link's healing: until the first subject came back to the
// vassal (first-back-s: the liege ships its reprocesses while it
// reconciles the rest), and until the pair is idle (s, and txn/s over
// it: the rollback, the reconciliation log's shipping, its re-execution at
// the liege and the vassal's applying of the results), and how many times
// the link closed and opened again meanwhile (relinks: each costs a
// handshake and the log sent again). The heartbeat is liege serve's,
// 100ms. b.N is not used: run it with -benchtime=1x.
//
//	go test -run '^$' -bench BenchmarkReconcile -benchtime=1x ./internal/pairtest
func BenchmarkReconcile(b *testing.B) {
	n := 20_000
	if s := os.Getenv("LIEGE_RECON_TXNS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("LIEGE_RECON_TXNS=%q: want a number of transactions, at least 1", s)
		}
	}
	// About 40,000 transactions a second here: Idle waits 20 s, and a
	// second more for every 10,000 rolled off.
	p := pairtest.New(b, register, pairtest.WithHeartbeat(100*time.Millisecond),
		pairtest.WithIdleTimeout(pairtest.IdleTimeout+time.Duration(n/10_000)*time.Second))
	p.Call(p.A(), "put", putArgs{K: "x", V: "a0"})
	p.Idle()
	p.Partition(true)
	p.Call(p.A(), "put", putArgs{K: "x", V: "a1"})
	p.Call(p.B(), "put", putArgs{K: "x", V: "b1"}) // conflicts: the rest follow it
	const callers = 64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n-1; i += callers {
				if _, err := p.TryCall(p.B(), "put", putArgs{K: fmt.Sprint("b", i), V: "v"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	_, rb := p.Replicators()
	sessions := rb.Status().Reconnects
	b.ResetTimer()
	t0 := time.Now()
	vassal := p.B()
	stop, firstBack := make(chan struct{}), make(chan time.Duration, 1)
	go func() { // the first subject back: the vassal's pending count below n, once it was set
		seen := false
		for {
			select {
			case <-stop:
				firstBack <- -1
				return
			case <-time.After(5 * time.Millisecond):
			}
			k := vassal.ReplStatus().ReconPending
			seen = seen || k > 0
			if seen && k < n { // a poll may miss k == n, or see 0 already
				firstBack <- time.Since(t0)
				return
			}
		}
	}()
	p.Partition(false)
	p.Idle()
	took := time.Since(t0)
	close(stop)
	first := <-firstBack
	b.StopTimer()
	if first < 0 {
		b.Fatalf("the vassal never reported transactions to reconcile: no rollback of the %d?", n)
	}
	if k := vassal.ReplStatus().ReconPending; k != 0 {
		b.Fatalf("the vassal still has %d transactions to reconcile", k)
	}
	p.Converged(pairtest.Invariant(stringsOnly))
	// The healing is one new session; more are the link closed again
	// (a silence of 10 heartbeats while one side was busy) and reopened.
	b.ReportMetric(float64(rb.Status().Reconnects-sessions-1), "relinks")
	b.ReportMetric(first.Seconds(), "first-back-s")
	b.ReportMetric(took.Seconds(), "s")
	b.ReportMetric(float64(n)/took.Seconds(), "txn/s")
}
