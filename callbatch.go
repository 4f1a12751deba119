package liege

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/liege-db/liege/internal/engine"
)

// BatchCall is one call of CallBatch: what to call, and, once CallBatch
// returns, its outcome.
type BatchCall struct {
	// Proc, Args and Options are CallWith's name, args and options.
	Proc    string
	Args    any
	Options CallOptions

	// Set by CallBatch: Err is the error CallWith would have returned,
	// and Result the outcome when Err is nil.
	Result Result
	Err    error
}

// CallBatch runs every call of calls as CallWith runs one, as if each
// were made from a goroutine of its own at the same moment, and returns
// once every one is answered. It is for a server or client with many
// calls at hand at once (POST /v1/calls): the calls reach the executor in
// one hand-off and their caller waits on one notification, where as many
// CallWith calls cost a hand-off and a wake-up each.
//
// The contract, call by call, is CallWith's:
//   - Errors: each call commits or fails on its own; calls[i].Err is the
//     error CallWith would return for it (an unknown procedure, arguments
//     of the wrong type, a procedure error, a *TxnTooLargeError,
//     ErrRouteUnavailable, ...), and a failed call has no effect on the
//     others.
//   - Durability: a call with a nil Err is durable when CallBatch returns.
//   - Ordering: none among the calls of one batch: they are handed to the
//     executor together and may share a group commit, in any order (a
//     call forwarded to the liege commits there, later). To order two
//     calls, make the second once the first has returned. Calls that
//     share an IdempotencyKey behave as CallWith calls made at once with
//     it.
//   - Routing: each call is routed as CallWith routes it (route.go): run
//     here, forwarded to the liege, or refused.
//   - ctx bounds the waits before the hand-off (a route's link grace, a
//     full queue); a call not handed off by then fails with ctx's error.
//     Once handed off, CallBatch waits for every answer, as CallWith does.
func (db *DB) CallBatch(ctx context.Context, calls []BatchCall) {
	t0 := time.Now()
	type sent struct {
		i        int
		prefixes []string
	}
	b := &call{batch: make([]engine.Call, 0, len(calls)), done: make(chan struct{}, 1)}
	var out []sent
	for i := range calls {
		bc := &calls[i]
		bc.Result, bc.Err = Result{}, nil
		var ec engine.Call
		err := db.newCall(&ec, bc.Proc, bc.Args, bc.Options)
		var prefixes []string
		if err == nil {
			prefixes, err = db.route(ctx, bc.Proc, ec.Args, &ec)
		}
		if err != nil {
			bc.Err = err
			continue
		}
		if out == nil {
			out = make([]sent, 0, len(calls)-i)
		}
		b.batch = append(b.batch, ec)
		out = append(out, sent{i: i, prefixes: prefixes})
	}
	if len(b.batch) == 0 {
		return
	}
	if err := db.enqueue(ctx, b); err != nil {
		for _, s := range out {
			calls[s.i].Err = err
		}
		return
	}
	<-b.done
	var again sync.WaitGroup
	for j, s := range out {
		ec := &b.batch[j]
		res, err := resultOf(ec)
		bc := &calls[s.i]
		if !ec.Forward || !errors.Is(err, engine.ErrNoForward) {
			bc.Result = res
			bc.Err = db.routedDone(ctx, bc.Proc, ec, s.prefixes, t0, &bc.Result, err)
			continue
		}
		// A forwarded call the liege did not run: routedDone runs it here
		// or refuses it by its route, as for CallWith; the others of the
		// batch need not wait for it, nor it for them.
		first := engine.Call{Proc: ec.Proc, Args: ec.Args, ArgBytes: ec.ArgBytes, IdempotencyKey: ec.IdempotencyKey, Forward: true}
		again.Add(1)
		go func() {
			defer again.Done()
			bc.Result = res
			bc.Err = db.routedDone(ctx, bc.Proc, &first, s.prefixes, t0, &bc.Result, err)
		}()
	}
	again.Wait()
}
