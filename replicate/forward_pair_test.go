package replicate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/replicate/link"
)

// These tests run call forwarding (DESIGN.md section 13) over a real pair:
// the engine, the Replicator and an in-memory link.

// routes sets the routes of both instances before they start.
func routes(rs ...string) func(*pair) {
	return func(p *pair) { p.a.routes, p.b.routes = rs, rs }
}

// waitLinkUp waits until the vassal has handshaken with its liege.
func (p *pair) waitLinkUp() {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !p.b.rep.Status().Connected || !p.a.rep.Status().Connected {
		if time.Now().After(deadline) {
			p.t.Fatalf("the link did not come up within 10s: A %+v, B %+v", p.a.rep.Status(), p.b.rep.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitLinkDown waits until the vassal sees its link down.
func (p *pair) waitLinkDown() {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.b.db.ReplStatus().Connected {
		if time.Now().After(deadline) {
			p.t.Fatalf("the vassal still sees its link up 10s after the partition")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestForwardReadYourWrites: a call routed to the liege commits there as
// the liege's own transaction, and the vassal answers only once it has
// applied it: the client reads its write at the vassal at once.
func TestForwardReadYourWrites(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, routes("ops=liege"))
	p.waitLinkUp()
	for i := range 20 {
		r := p.call(p.b, op{Op: "add", K: "n", N: 1})
		if r.TxID.Origin != "A" {
			t.Fatalf("call %d at the vassal committed as %v: want a liege (A) transaction", i, r.TxID)
		}
		e, ok, err := p.b.db.Get(context.Background(), key("n"))
		if err != nil || !ok {
			t.Fatalf("read n at the vassal after call %d: ok %v, %v", i, ok, err)
		}
		if n, _ := e.Value.Int(); n != int64(i+1) {
			t.Fatalf("the vassal reads n=%d after its call %d (%v) was answered: want %d (read-your-writes)", n, i, r.TxID, i+1)
		}
	}
	// The routes show in the status.
	var found bool
	for _, r := range p.b.db.Routes() {
		if r.Proc == "ops" {
			found = r.Route == liege.RouteLiege
		}
	}
	if !found {
		t.Fatalf("Routes() = %+v: want ops routed to the liege", p.b.db.Routes())
	}
	p.idle()
	p.converged()
}

// TestForwardRetryEitherSite: a retry with the forwarded call's
// idempotency key returns the first outcome at the vassal and at the liege:
// exactly once.
func TestForwardRetryEitherSite(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, routes("ops=liege"))
	p.waitLinkUp()
	ctx := context.Background()
	args := opsArgs{Ops: []op{{Op: "add", K: "n", N: 5}}}
	first, err := p.b.db.CallWith(ctx, "ops", args, liege.CallOptions{IdempotencyKey: "order-1"})
	if err != nil {
		t.Fatal(err)
	}
	p.acked = append(p.acked, first.TxID)
	for _, n := range []*node{p.b, p.a, p.b} {
		again, err := n.db.CallWith(ctx, "ops", args, liege.CallOptions{IdempotencyKey: "order-1"})
		if err != nil {
			t.Fatalf("retry at %s: %v", n.id, err)
		}
		if again.TxID != first.TxID {
			t.Fatalf("retry at %s returned %v, want the first outcome %v", n.id, again.TxID, first.TxID)
		}
	}
	p.idle()
	e, _, err := p.a.db.Get(ctx, key("n"))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := e.Value.Int(); n != 5 {
		t.Fatalf("n = %d at the liege after one call and three retries: want 5 (exactly once)", n)
	}
	// The key with other arguments is refused at either site.
	other := opsArgs{Ops: []op{{Op: "add", K: "n", N: 6}}}
	for _, n := range []*node{p.b, p.a} {
		if _, err := n.db.CallWith(ctx, "ops", other, liege.CallOptions{IdempotencyKey: "order-1"}); !errors.Is(err, liege.ErrIdempotencyKeyReused) {
			t.Fatalf("order-1 with other arguments at %s: %v, want ErrIdempotencyKeyReused", n.id, err)
		}
	}
	p.converged()
}

// TestForwardLinkCut: with the link cut, a procedure routed to the liege is
// refused (503 at the HTTP layer) unless the operator chose availability,
// and auto procedures commit at the vassal; after the heal the pair
// converges and passes the oracle.
func TestForwardLinkCut(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) {
		p.a.extraProcs = []string{"hot", "avail"}
		p.b.extraProcs = []string{"hot", "avail"}
		p.a.routes = []string{"ops=liege", "hot=auto", "avail=liege+available"}
		p.b.routes = p.a.routes
	})
	p.waitLinkUp()
	p.call(p.b, op{Op: "add", K: "n", N: 1})
	p.partition(true)
	p.waitLinkDown()
	_, err := p.b.db.Call(context.Background(), "ops", opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}})
	if !errors.Is(err, liege.ErrRouteUnavailable) {
		t.Fatalf("ops routed to the liege with the link down: err %v, want ErrRouteUnavailable", err)
	}
	for range 10 {
		if r := p.callAs(p.b, "hot", op{Op: "set", K: "h", V: "x"}); r.TxID.Origin != "B" {
			t.Fatalf("auto procedure with the link down committed as %v: want a vassal (B) transaction", r.TxID)
		}
		if r := p.callAs(p.b, "avail", op{Op: "add", K: "m", N: 1}); r.TxID.Origin != "B" {
			t.Fatalf("liege+available with the link down committed as %v: want a vassal (B) transaction", r.TxID)
		}
		p.call(p.a, op{Op: "set", K: "h", V: "y"})
	}
	p.partition(false)
	p.waitLinkUp()
	p.idle()
	p.converged()
}

// TestRouteLinkGrace: a call routed to the liege while the link has been
// down for less than Options.RouteLinkGrace waits for the link and is
// forwarded once it is back, rather than refused (or, under auto,
// committed at a vassal that has not caught up); past the grace it is
// refused at once.
func TestRouteLinkGrace(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) {
		p.a.routes = []string{"ops=liege"}
		p.b.routes = p.a.routes
		p.b.grace = time.Minute
	})
	p.waitLinkUp()
	p.partition(true)
	p.waitLinkDown()
	type answer struct {
		r   *liege.Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := p.b.db.Call(context.Background(), "ops", opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}})
		done <- answer{r, err}
	}()
	select {
	case a := <-done:
		t.Fatalf("a call routed to the liege, link down within the grace, answered before the heal: %+v, %v; want it to wait for the link", a.r, a.err)
	case <-time.After(50 * time.Millisecond):
	}
	p.partition(false)
	select {
	case a := <-done:
		if a.err != nil || a.r.TxID.Origin != "A" {
			t.Fatalf("after the heal: %+v, %v; want a liege (A) transaction", a.r, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call waiting for the link was not answered within 10s of the heal")
	}
	p.idle()
	p.converged()
}

// TestRouteLinkGraceExpires: once the link has been down for longer than
// the grace, a call routed to the liege is refused without waiting.
func TestRouteLinkGraceExpires(t *testing.T) {
	const grace = 100 * time.Millisecond
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) {
		p.a.routes = []string{"ops=liege"}
		p.b.routes = p.a.routes
		p.b.grace = grace
	})
	p.waitLinkUp()
	p.partition(true)
	p.waitLinkDown()
	down := time.Now()
	_, err := p.b.db.Call(context.Background(), "ops", opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}})
	if !errors.Is(err, liege.ErrRouteUnavailable) {
		t.Fatalf("first call past the link cut: %v, want ErrRouteUnavailable once the grace is over", err)
	}
	if waited := time.Since(down); waited < grace/2 {
		t.Fatalf("refused %v after the vassal saw the link down: want a wait of most of the %v grace", waited, grace)
	}
	t0 := time.Now()
	if _, err := p.b.db.Call(context.Background(), "ops", opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}}); !errors.Is(err, liege.ErrRouteUnavailable) {
		t.Fatalf("second call: %v, want ErrRouteUnavailable", err)
	}
	if waited := time.Since(t0); waited >= grace {
		t.Fatalf("a call past the grace waited %v: want no wait", waited)
	}
	p.partition(false)
	p.waitLinkUp()
	p.idle()
	p.converged()
}

// TestAutoRouteLinkCut: a procedure set auto by the operator alone (the
// application does not declare it collision-prone) starts local and, its
// calls having conflicted, forwards; with the link cut it keeps committing
// at the vassal (availability); after the heal the pair converges and
// passes the oracle.
func TestAutoRouteLinkCut(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) {
		p.a.extraProcs = []string{"hot"}
		p.b.extraProcs = []string{"hot"}
		p.a.routes = []string{"hot=auto"}
		p.b.routes = p.a.routes
	})
	p.waitLinkUp()
	forwarding := func() bool {
		for _, r := range p.b.db.Routes() {
			if r.Proc == "hot" {
				return r.Forwarding
			}
		}
		return false
	}
	// Both sites write h while cut off from each other: every vassal
	// call conflicts once the link is back.
	p.partition(true)
	p.waitLinkDown()
	for range 30 {
		if r := p.callAs(p.b, "hot", op{Op: "set", K: "h", V: "b"}); r.TxID.Origin != "B" {
			t.Fatalf("auto procedure, cold, link down: committed as %v, want a vassal transaction", r.TxID)
		}
		p.call(p.a, op{Op: "set", K: "h", V: "a"})
	}
	if forwarding() {
		t.Fatal("auto set by the operator alone forwards before any conflict was measured: want a cold start")
	}
	p.partition(false)
	p.waitLinkUp()
	p.idle()
	if !forwarding() {
		t.Fatalf("after 30 conflicting calls auto does not forward: %+v", p.b.db.Routes())
	}
	if r := p.callAs(p.b, "hot", op{Op: "set", K: "h", V: "b2"}); r.TxID.Origin != "A" {
		t.Fatalf("auto procedure, hot, link up: committed as %v, want a liege (A) transaction", r.TxID)
	}
	// Cut again: the hot procedure still commits at the vassal.
	p.partition(true)
	p.waitLinkDown()
	for range 5 {
		if r := p.callAs(p.b, "hot", op{Op: "add", K: "n", N: 1}); r.TxID.Origin != "B" {
			t.Fatalf("auto procedure, hot, link down: committed as %v, want a vassal (B) transaction", r.TxID)
		}
	}
	p.partition(false)
	p.waitLinkUp()
	p.idle()
	p.converged()
}

// TestForwardLiegeCrashInFlight: the liege goes down with a forwarded call
// in flight (committed there or not yet). The vassal answers it as unknown
// or refused, never with a guess; after the restart a retry with the same
// idempotency key, at the vassal or at the liege, commits it exactly once.
func TestForwardLiegeCrashInFlight(t *testing.T) {
	for _, site := range []string{"B", "A"} {
		t.Run("retry at "+site, func(t *testing.T) { forwardCrashInFlight(t, site) })
	}
}

// forwardCrashInFlight is TestForwardLiegeCrashInFlight with the retry at
// site: the vassal B, or the liege A (the other site: the answer was lost
// to the client, which tries elsewhere).
func forwardCrashInFlight(t *testing.T, site string) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, routes("ops=liege"))
	p.waitLinkUp()
	ctx := context.Background()
	args := opsArgs{Ops: []op{{Op: "add", K: "n", N: 7}}}
	type answer struct {
		r   *liege.Result
		err error
	}
	first := make(chan answer, 1)
	go func() {
		r, err := p.b.db.CallWith(ctx, "ops", args, liege.CallOptions{IdempotencyKey: "order-7"})
		first <- answer{r, err}
	}()
	// Crash the liege once the call is on its way (or already answered).
	for deadline := time.Now().Add(2 * time.Second); p.b.db.ReplStatus().Forwarding == 0 && len(first) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	p.stop(p.a)
	var a answer
	select {
	case a = <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("the forwarded call was not answered within 20s of the liege's crash")
	}
	t.Logf("the call in flight at the crash: result %v, error %v", a.r, a.err)
	var unk *liege.ForwardUnknownError
	switch {
	case a.err == nil:
		if a.r.TxID.Origin != "A" {
			t.Fatalf("answered %v: want a liege transaction", a.r.TxID)
		}
	case errors.As(a.err, &unk), errors.Is(a.err, liege.ErrRouteUnavailable):
		// Unknown or refused: the client retries with its key.
	default:
		t.Fatalf("the in-flight call failed with %v: want its outcome, unknown, or refused", a.err)
	}
	p.start(p.a)
	p.waitLinkUp()
	retry := p.b
	if site == "A" {
		retry = p.a
	}
	r, err := retry.db.CallWith(ctx, "ops", args, liege.CallOptions{IdempotencyKey: "order-7"})
	if err != nil {
		t.Fatalf("retry at %s after the restart: %v", site, err)
	}
	if a.err == nil && r.TxID != a.r.TxID {
		t.Fatalf("retry returned %v, want the first outcome %v", r.TxID, a.r.TxID)
	}
	p.acked = append(p.acked, r.TxID)
	p.idle()
	p.wantInt("n", 7, "the call committed exactly once")
	p.converged()
}

// TestForwardTooLarge: a forwarded call whose transaction the liege refuses
// as too large for the stream answers the vassal's caller with the same
// error a local one gets (TxnTooLargeError, 413 over HTTP), not as a
// procedure error, and nothing is committed at either site.
func TestForwardTooLarge(t *testing.T) {
	const limit = 64 << 10
	// A slower heartbeat than the other pair tests: a 100 KiB call under
	// -race can hold a side's frames past ten 10ms heartbeats, and the
	// link's silence limit would cut it.
	p := newPairWith(t, link.MemOptions{}, nil, 50*time.Millisecond, routes("ops=liege"), func(p *pair) {
		p.a.maxFrame, p.b.maxFrame = limit, limit
	})
	p.waitLinkUp()
	args := opsArgs{Ops: []op{{Op: "set", K: "big", V: strings.Repeat("v", 100<<10)}}}
	var err error
	for try := 0; try < 5; try++ {
		// An answer lost with a link cut is unknown: retried with its
		// key, as a client would, the liege refuses it again.
		_, err = p.b.db.CallWith(context.Background(), "ops", args, liege.CallOptions{IdempotencyKey: "too-large"})
		var unk *liege.ForwardUnknownError
		if !errors.As(err, &unk) {
			break
		}
		p.waitLinkUp()
	}
	var big *liege.TxnTooLargeError
	if !errors.As(err, &big) || !errors.Is(err, liege.ErrTxnTooLarge) {
		t.Fatalf("forwarded oversized call: %v (%T), want a *liege.TxnTooLargeError", err, err)
	}
	if big.Limit != limit || big.Size <= limit || !big.AtLiege || !strings.Contains(err.Error(), "refused at the liege") {
		t.Fatalf("forwarded oversized call: %+v (%v), want the liege's size over its limit %d, at the liege", big, err, limit)
	}
	r := p.call(p.b, op{Op: "set", K: "small", V: "v"})
	if r.TxID.Origin != "A" {
		t.Fatalf("a small call after it committed as %v, want a liege (A) transaction", r.TxID)
	}
	for _, n := range []*node{p.a, p.b} {
		if _, ok, err := n.db.Get(context.Background(), key("big")); err != nil || ok {
			t.Fatalf("%s holds the refused key: ok %v, %v", n.id, ok, err)
		}
	}
}

// TestForwardCallBatch: the calls of one DB.CallBatch at a vassal are
// routed one by one, as CallWith routes them: those routed to the liege
// commit there (read-your-writes at the vassal once CallBatch returns),
// those routed locally commit here, and a call that fails (too large for
// a frame, an unknown procedure, arguments of another type) has its own
// error without failing the others.
func TestForwardCallBatch(t *testing.T) {
	const limit = 64 << 10
	p := newPairWith(t, link.MemOptions{}, nil, 50*time.Millisecond, func(p *pair) {
		p.a.extraProcs = []string{"here"}
		p.b.extraProcs = []string{"here"}
		p.a.routes = []string{"ops=liege", "here=local"}
		p.b.routes = p.a.routes
		p.a.maxFrame, p.b.maxFrame = limit, limit
	})
	p.waitLinkUp()
	big := opsArgs{Ops: []op{{Op: "set", K: "big", V: strings.Repeat("v", 100<<10)}}}
	calls := []liege.BatchCall{
		{Proc: "ops", Args: opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}}},
		{Proc: "here", Args: opsArgs{Ops: []op{{Op: "add", K: "m", N: 1}}}},
		{Proc: "here", Args: big},
		{Proc: "nope", Args: opsArgs{}},
		{Proc: "ops", Args: &opsArgs{Ops: []op{{Op: "add", K: "n", N: 2}}}, Options: liege.CallOptions{IdempotencyKey: "batch-1"}},
		{Proc: "here", Args: 42},
	}
	p.b.db.CallBatch(context.Background(), calls)
	for i, want := range []string{"A", "B", "", "", "A", ""} {
		c := calls[i]
		if want == "" {
			if c.Err == nil {
				t.Fatalf("calls[%d] (%s): committed as %v, want an error", i, c.Proc, c.Result.TxID)
			}
			continue
		}
		if c.Err != nil || c.Result.TxID.Origin != want || c.Result.ReadOnly() {
			t.Fatalf("calls[%d] (%s): %+v, %v; want committed as a %s transaction", i, c.Proc, c.Result, c.Err, want)
		}
		p.acked = append(p.acked, c.Result.TxID)
	}
	var tooLarge *liege.TxnTooLargeError
	if !errors.As(calls[2].Err, &tooLarge) || tooLarge.Limit != limit || tooLarge.Size <= limit {
		t.Fatalf("the oversized call: %v (%T), want a *liege.TxnTooLargeError over the limit %d", calls[2].Err, calls[2].Err, limit)
	}
	if !errors.Is(calls[3].Err, liege.ErrUnknownProcedure) {
		t.Fatalf("the unknown procedure: %v, want ErrUnknownProcedure", calls[3].Err)
	}
	if !errors.Is(calls[5].Err, liege.ErrBadArgs) {
		t.Fatalf("arguments of another type: %v, want ErrBadArgs", calls[5].Err)
	}
	// Read-your-writes: the forwarded calls are applied at the vassal.
	e, ok, err := p.b.db.Get(context.Background(), key("n"))
	if err != nil || !ok {
		t.Fatalf("read n at the vassal after the batch: ok %v, %v", ok, err)
	}
	if n, _ := e.Value.Int(); n != 3 {
		t.Fatalf("the vassal reads n=%d after the batch was answered: want 3", n)
	}
	// The keyed call's retry returns its first outcome.
	again, err := p.b.db.CallWith(context.Background(), "ops", opsArgs{Ops: []op{{Op: "add", K: "n", N: 2}}}, liege.CallOptions{IdempotencyKey: "batch-1"})
	if err != nil || again.TxID != calls[4].Result.TxID {
		t.Fatalf("retry of the keyed call: %+v, %v; want its first outcome %v", again, err, calls[4].Result.TxID)
	}
	// With the link down (past the grace, 1s), ops is refused and here
	// commits.
	p.partition(true)
	p.waitLinkDown()
	calls = []liege.BatchCall{
		{Proc: "ops", Args: opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}}},
		{Proc: "here", Args: opsArgs{Ops: []op{{Op: "add", K: "m", N: 1}}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.b.db.CallBatch(ctx, calls)
	if !errors.Is(calls[0].Err, liege.ErrRouteUnavailable) {
		t.Fatalf("ops routed to the liege with the link down: %+v, %v; want ErrRouteUnavailable", calls[0].Result, calls[0].Err)
	}
	if calls[1].Err != nil || calls[1].Result.TxID.Origin != "B" {
		t.Fatalf("here with the link down: %+v, %v; want a vassal (B) transaction", calls[1].Result, calls[1].Err)
	}
	p.acked = append(p.acked, calls[1].Result.TxID)
	p.partition(false)
	p.waitLinkUp()
	p.idle()
	p.converged()
}

// TestForwardRefusedFallsBack: a call the liege refuses (here: quiesced)
// runs at the vassal where its route allows it (liege+available), as the
// caller made it: keyless, it commits once at the vassal; keyed, a retry
// with its key returns that outcome. Where the route does not allow it
// (liege), the caller is told to retry.
func TestForwardRefusedFallsBack(t *testing.T) {
	p := newPairWith(t, link.MemOptions{}, nil, 10*time.Millisecond, func(p *pair) {
		p.a.extraProcs = []string{"avail"}
		p.b.extraProcs = []string{"avail"}
		p.a.routes = []string{"ops=liege", "avail=liege+available"}
		p.b.routes = p.a.routes
	})
	p.waitLinkUp()
	ctx := context.Background()
	if r := p.callAs(p.b, "avail", op{Op: "add", K: "n", N: 1}); r.TxID.Origin != "A" {
		t.Fatalf("avail with the liege up committed as %v: want a liege (A) transaction", r.TxID)
	}
	p.a.db.Quiesce(true)
	if r := p.callAs(p.b, "avail", op{Op: "add", K: "n", N: 1}); r.TxID.Origin != "B" {
		t.Fatalf("avail refused by a quiesced liege committed as %v: want a vassal (B) transaction", r.TxID)
	}
	args := opsArgs{Ops: []op{{Op: "add", K: "n", N: 5}}}
	first, err := p.b.db.CallWith(ctx, "avail", args, liege.CallOptions{IdempotencyKey: "order-7"})
	if err != nil || first.TxID.Origin != "B" {
		t.Fatalf("keyed avail refused by the liege: %v, %v; want a vassal (B) transaction", first, err)
	}
	p.acked = append(p.acked, first.TxID)
	again, err := p.b.db.CallWith(ctx, "avail", args, liege.CallOptions{IdempotencyKey: "order-7"})
	if err != nil || again.TxID != first.TxID {
		t.Fatalf("retry of order-7 at the vassal: %v, %v; want the first outcome %v", again, err, first.TxID)
	}
	if _, err := p.b.db.Call(ctx, "ops", opsArgs{Ops: []op{{Op: "add", K: "n", N: 1}}}); !errors.Is(err, liege.ErrRouteUnavailable) {
		t.Fatalf("ops (liege only) refused by the liege: %v, want ErrRouteUnavailable", err)
	}
	p.a.db.Quiesce(false)
	p.idle()
	p.wantInt("n", 7, "1 at the liege, 1 + 5 at the vassal, the retry and the refused call nothing")
	p.converged()
}
