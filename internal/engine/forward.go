package engine

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// This file carries out call forwarding (DESIGN.md section 13; the
// decisions are the Node's, replicate/forward.go): a vassal's call with
// Call.Forward goes to the liege; the liege runs forwarded calls as its own
// transactions; the vassal answers once it has applied the liege's TxID.

// ErrNoForward is a forwarded call's error when it could not be forwarded
// (no link to the liege, or the liege refused it without running it):
// nothing committed; the caller may run it locally or refuse it.
var ErrNoForward = errors.New("the call could not be forwarded to the liege")

// ForwardUnknownError is a forwarded call's error when its outcome is
// unknown to the vassal: the liege's answer, or the vassal's applying its
// TxID, did not come within the budget. It may have committed at the liege.
type ForwardUnknownError struct {
	// TxID is the liege's transaction, when its answer came: ask GET
	// /v1/txn/{TxID}. Zero when the answer never came: retry with Key.
	TxID journal.TxID
	// Key is the call's idempotency key: a retry with it, at either
	// instance, returns the first outcome.
	Key string
}

func (e *ForwardUnknownError) Error() string {
	if !e.TxID.IsZero() {
		return fmt.Sprintf("the call was forwarded to the liege and committed there as %v, but this vassal has not applied it yet: ask about %v (GET /v1/txn/%v)", e.TxID, e.TxID, e.TxID)
	}
	return fmt.Sprintf("the call was forwarded to the liege and its answer did not come in time: its outcome is unknown; retry with idempotency key %q (the first outcome is returned, at either instance)", e.Key)
}

// ForwardedError is a forwarded call's procedure error at the liege:
// nothing committed.
type ForwardedError struct{ Msg string }

func (e *ForwardedError) Error() string { return e.Msg }

// forwardState is the Instance's forwarding bookkeeping.
type forwardState struct {
	seq   uint64
	calls map[uint64]*Call // vassal: forwarded, not yet answered
	keys  map[string]int   // vassal: idempotency keys in flight
	done  []*Call          // liege: forwarded calls run, for ForwardDone
	// counted remembers the own TxIDs already reported to Hooks.OwnConflict
	// (both sides detect a conflict: count it once).
	counted map[journal.TxID]bool
}

// forward hands c to the Node (vassal). It reports false when c is to run
// here: not forwarded. A key of a forwarded call in flight is answered as
// unknown rather than run here, so that it never commits twice.
func (in *Instance) forward(c *Call) bool {
	f := &in.fwd
	if !c.Forward {
		if n := f.keys[c.IdempotencyKey]; n > 0 && c.IdempotencyKey != "" {
			in.answer(c, &ForwardUnknownError{Key: c.IdempotencyKey})
			return true
		}
		return false
	}
	if in.node == nil {
		in.answer(c, ErrNoForward)
		return true
	}
	f.seq++
	if c.IdempotencyKey == "" {
		// Unique across restarts: the HLC never goes back.
		c.IdempotencyKey = fmt.Sprintf("fwd:%s:%d", in.cfg.ID, uint64(in.clock.Now()))
	}
	err := in.node.Forward(replicate.ForwardCall{ID: f.seq, Proc: c.Proc, Args: c.ArgBytes, Key: c.IdempotencyKey})
	if err != nil {
		in.answer(c, fmt.Errorf("%w: %v", ErrNoForward, err))
		return true
	}
	if f.calls == nil {
		f.calls, f.keys = map[uint64]*Call{}, map[string]int{}
	}
	f.calls[f.seq] = c
	f.keys[c.IdempotencyKey]++
	return true
}

// forwardReady carries out the forwarding part of a Ready, after Apply.
func (in *Instance) forwardReady(rd *replicate.Ready) {
	f := &in.fwd
	for _, fc := range rd.Forwarded {
		c := &Call{Proc: fc.Proc, ArgBytes: fc.Args, IdempotencyKey: fc.Key, fwdID: fc.ID}
		c.Submitted = in.cfg.Now()
		in.queue = append(in.queue, c)
	}
	for _, a := range rd.ForwardAnswers {
		c := f.calls[a.ID]
		if c == nil {
			continue
		}
		delete(f.calls, a.ID)
		if f.keys[a.Key]--; f.keys[a.Key] <= 0 {
			delete(f.keys, a.Key)
		}
		switch {
		case a.Timeout:
			in.answer(c, &ForwardUnknownError{TxID: a.TxID, Key: a.Key})
		case a.Refused:
			in.answer(c, fmt.Errorf("%w: the liege refused it: %s", ErrNoForward, a.Err))
		case a.TooLarge:
			in.answer(c, &TxnTooLargeError{Proc: c.Proc, Size: a.Size, Limit: a.Limit, AtLiege: true})
		case a.Err != "":
			in.answer(c, &ForwardedError{Msg: a.Err})
		default:
			c.Result = Result{TxID: a.TxID, HLC: a.HLC, Raw: append([]byte(nil), a.Result...), Kind: journal.KindLocal}
			if !a.TxID.IsZero() {
				in.idem.put(a.Key, idemOutcome{txid: a.TxID, pos: in.lastPos, hlc: a.HLC, raw: c.Result.Raw, sum: in.idem.sum(c.Proc, c.ArgBytes)})
			}
			in.wait(in.lastPos, c) // the applied TxID is durable here before the answer
		}
	}
}

// forwardsDone hands the Node the liege's finished forwarded calls.
func (in *Instance) forwardsDone() {
	f := &in.fwd
	for _, c := range f.done {
		a := replicate.ForwardAnswer{ID: c.fwdID, TxID: c.Result.TxID, HLC: c.Result.HLC, Result: c.Result.Raw}
		switch {
		case errors.Is(c.Err, ErrQuiesced), errors.Is(c.Err, ErrClosed):
			a = replicate.ForwardAnswer{ID: c.fwdID, Refused: true, Err: c.Err.Error()}
		case c.Err != nil:
			a = replicate.ForwardAnswer{ID: c.fwdID, Err: c.Err.Error()}
			var big *TxnTooLargeError
			if errors.As(c.Err, &big) {
				a.TooLarge, a.Size, a.Limit = true, big.Size, big.Limit
			}
		}
		in.node.ForwardDone(a)
	}
	clear(f.done)
	f.done = f.done[:0]
}

// forwardFailAll answers every forwarded call in flight with err.
func (in *Instance) forwardFailAll(err error) {
	for id, c := range in.fwd.calls {
		in.answer(c, err)
		delete(in.fwd.calls, id)
	}
	clear(in.fwd.keys)
}

// ownConflicts reports the own transactions of a verdict's conflicts, and
// the subject of a rollback command, to Hooks.OwnConflict, each once.
func (in *Instance) ownConflicts(rd *replicate.Ready) {
	if in.cfg.Hooks.OwnConflict == nil {
		return
	}
	f := &in.fwd
	report := func(id journal.TxID) {
		if id.IsZero() || id.Origin != in.cfg.ID || f.counted[id] {
			return
		}
		if f.counted == nil || len(f.counted) > 100_000 {
			f.counted = map[journal.TxID]bool{}
		}
		f.counted[id] = true
		pos, _ := in.locate(id)
		if pos == 0 {
			return
		}
		r, err := in.readRecord(pos)
		if err != nil || r.TxID() != id {
			return
		}
		in.cfg.Hooks.OwnConflict(r)
	}
	for i := range rd.Verdicts {
		for _, c := range rd.Verdicts[i].Conflicts {
			report(c.Own)
		}
	}
	if rb := rd.Rollback; rb != nil {
		report(rb.Subject)
	}
}

// Forwarding returns how many forwarded calls await their answer here.
func (in *Instance) Forwarding() int { return len(in.fwd.calls) }

// rememberPeerKey remembers the idempotency key of peer record r, applied
// at pos: a retry at this instance of a call that committed at the peer (a
// forwarded call whose answer was lost, or a client that changed sites)
// returns the first outcome.
func (in *Instance) rememberPeerKey(r *journal.Record, pos uint64) {
	if r.IdempotencyKey != "" {
		in.idem.put(r.IdempotencyKey, idemOutcome{txid: r.TxID(), pos: pos, hlc: r.HLC, raw: bytes.Clone(r.Result), sum: in.idem.sum(r.Proc, r.Args)})
	}
}
