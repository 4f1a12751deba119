package liege

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/journal"
)

// This file is the executor: the one goroutine that owns the
// engine.Instance. It hands the Instance what callers and the Replicator
// submit and steps it while there is work (internal/engine's package doc
// describes the loop); callers wait on a channel.

// Result is the outcome of a committed (or read-only) call.
type Result struct {
	// TxID is origin/OSeq; zero for a read-only call, which commits nothing.
	TxID journal.TxID
	// HLC is the transaction's timestamp.
	HLC uint64
	// Pos is the transaction's journal position (0 if read-only).
	Pos uint64
	// Raw is the msgpack-encoded result.
	Raw []byte
	// Kind is the record's kind: local for a call, reprocess or correction
	// for a reconciliation.
	Kind journal.Kind
}

// Decode decodes the procedure's result into out (a pointer).
func (r *Result) Decode(out any) error { return journal.Unmarshal(r.Raw, out) }

// ReadOnly reports whether the call committed nothing.
func (r *Result) ReadOnly() bool { return r.TxID.IsZero() }

// call is one request to the executor: one call (ec; pooled, with a
// reusable channel), or the calls of a CallBatch (batch), answered
// together once every one of them is done.
type call struct {
	ec    engine.Call
	batch []engine.Call
	next  int // batch[:next] are done
	done  chan struct{}
}

// isDone reports whether the executor is done with c (executor only).
func (c *call) isDone() bool {
	if c.batch == nil {
		return c.ec.Done
	}
	for c.next < len(c.batch) && c.batch[c.next].Done {
		c.next++
	}
	return c.next == len(c.batch)
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// Call runs procedure name with args, which must be of the procedure's
// argument type. It returns once the transaction is durable; a procedure
// that returns an error commits nothing and its error is returned.
func (db *DB) Call(ctx context.Context, name string, args any) (*Result, error) {
	return db.CallWith(ctx, name, args, CallOptions{})
}

// CallOptions qualify a call.
type CallOptions struct {
	// IdempotencyKey, if set, makes the call safe to retry: a call with a
	// key this instance has committed recently (see
	// Options.IdempotencyWindow) returns that first outcome and commits
	// nothing.
	IdempotencyKey string
}

// CallWith is Call with options.
func (db *DB) CallWith(ctx context.Context, name string, args any, o CallOptions) (*Result, error) {
	c := callPool.Get().(*call)
	var res *Result
	err := db.newCall(&c.ec, name, args, o)
	if err == nil {
		res, err = db.routed(ctx, name, c)
	}
	c.ec = engine.Call{}
	callPool.Put(c)
	return res, err
}

// newCall makes ec the engine's call of procedure name with args: the
// argument value (dereferenced if a pointer from NewArgs) and its msgpack.
func (db *DB) newCall(ec *engine.Call, name string, args any, o CallOptions) error {
	p, err := db.lookup(name)
	if err != nil {
		return err
	}
	if a, ok := p.derefArgs(args); ok {
		args = a
	}
	ab, err := p.marshalArgs(args)
	if err != nil {
		return fmt.Errorf("%w for procedure %q: %v", ErrBadArgs, name, err)
	}
	*ec = engine.Call{Proc: name, Args: args, ArgBytes: ab, IdempotencyKey: o.IdempotencyKey}
	return nil
}

// run hands c to the executor, waits for its answer and sets *res to its
// result. c is free again when run returns.
func (db *DB) run(ctx context.Context, c *call, res *Result) error {
	if err := db.enqueue(ctx, c); err != nil {
		return err
	}
	// Once submitted the call will be answered (committed, failed, or
	// failed by Close); we wait for it even if ctx ends, so that the
	// pooled call is never reused while the executor holds it.
	<-c.done
	return resultInto(res, &c.ec)
}

// submitCall hands a copy of ec to the executor and waits for its answer.
func (db *DB) submitCall(ctx context.Context, ec *engine.Call) (Result, error) {
	c := callPool.Get().(*call)
	c.ec = *ec
	var res Result
	err := db.run(ctx, c, &res)
	c.ec = engine.Call{}
	callPool.Put(c)
	return res, err
}

// resultOf is the outcome of an answered call.
func resultOf(ec *engine.Call) (Result, error) {
	var res Result
	err := resultInto(&res, ec)
	return res, err
}

// resultInto sets *res to the outcome of an answered call (zero for an
// error, which it returns).
func resultInto(res *Result, ec *engine.Call) error {
	if ec.Err != nil {
		*res = Result{}
		return ec.Err
	}
	r := &ec.Result
	*res = Result{TxID: r.TxID, HLC: r.HLC, Pos: r.Pos, Raw: r.Raw, Kind: r.Kind}
	return nil
}

// NewArgs returns a pointer to a zero value of procedure name's argument
// type, for decoding arguments from another format (such as JSON); pass the
// pointer to CallWith or Call and it is dereferenced.
func (db *DB) NewArgs(name string) (any, error) {
	p, err := db.lookup(name)
	if err != nil {
		return nil, err
	}
	return p.newArgs(), nil
}

// enqueue hands c to the executor. The read lock keeps Close from closing
// quit while a send is in flight: every call that got into reqs is
// answered by the executor's final drain, and none can land in the buffer
// after it.
func (db *DB) enqueue(ctx context.Context, c *call) error {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	select { // most sends find room: no select over ctx
	case db.reqs <- c:
		return nil
	default:
	}
	select {
	case db.reqs <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// control runs fn on the executor goroutine, between steps.
func (db *DB) control(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case db.ctl <- func() { fn(); close(done) }:
	case <-db.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// executor is the driver loop: take what is submitted, Step while there is
// work, answer what is done.
func (db *DB) executor() {
	defer close(db.stopped)
	for {
		if !db.take(!db.in.HasWork() && db.ckptJob == nil) {
			break
		}
		if db.in.HasWork() {
			db.in.Step()
			// A rollback runs to its end in one turn: no read or input
			// sees the state half undone.
			for db.in.RollingBack() {
				db.in.Step()
			}
		}
		db.afterStep()
	}
	// Close: answer what was submitted before it (Close steps the
	// Instance to the end).
	for {
		select {
		case c := <-db.reqs:
			db.submit(c)
			continue
		default:
		}
		break
	}
}

// turnBytes ends a take once the peer records it applied come to this
// many bytes not yet written: a vassal behind the liege's stream (after a
// rollback, the liege sends everything after its new watermark again)
// took up to 1024 runs of frames in one turn, 100 MB of records applied
// before the next write and fsync, and its heartbeats, made in that turn,
// waited in the outbox until it ended. More than a second on 2 cores: the
// liege, hearing nothing for ten heartbeats, closed the link, and resent
// everything again on the next one (the contention tail of bench
// replicate). 4 MiB is about 10,000 ticket records, some 30 ms.
const turnBytes = 4 << 20

// take hands the executor's inputs to the Instance: blocking for the first
// when block is set, then whatever else is ready. It reports false once
// the DB is closing.
func (db *DB) take(block bool) bool {
	for n := 0; n < 1024; n++ {
		// Calls are most of the inputs: 15 turns in 16 take one with a
		// receive on reqs alone, far cheaper than the select over every
		// input; the 16th, and any turn with no call waiting, selects
		// (so every take that does not block ends with one select). The
		// first turn is a cheap one: a take that found calls waiting
		// selects once, not twice.
		if !block && n&15 != 15 {
			select {
			case c := <-db.reqs:
				db.submit(c)
				continue
			default:
			}
		}
		if block && n == 0 {
			// Yield once before parking: callers that are runnable (those
			// the last fsync answered) send their next calls meanwhile,
			// and the executor takes them in one turn. Parked, it was
			// woken by each call's send: a park, a wake-up and a select
			// over every input a call (about one a call with 256 callers
			// on 2 cores: 158k parks for 200k calls, 9k with the yield).
			runtime.Gosched()
			select {
			case c := <-db.reqs:
				db.submit(c)
				block = false
				continue
			default:
			}
		}
		if block {
			select {
			case c := <-db.reqs:
				db.submit(c)
			case fn := <-db.ctl:
				fn()
			case j := <-db.ckptBack:
				db.in.CheckpointDone(j)
			case err := <-db.syncer.done:
				db.in.SyncDone(err)
			case ev := <-db.linkq:
				db.linkEvent(ev)
				if db.in.Unwritten() >= turnBytes {
					return true
				}
			case <-db.quit:
				return false
			}
			block = false
			continue
		}
		select {
		case c := <-db.reqs:
			db.submit(c)
		case fn := <-db.ctl:
			fn()
		case j := <-db.ckptBack:
			db.in.CheckpointDone(j)
		case err := <-db.syncer.done:
			db.in.SyncDone(err)
		case ev := <-db.linkq:
			db.linkEvent(ev)
			if db.in.Unwritten() >= turnBytes {
				return true
			}
		case <-db.quit:
			return false
		default:
			return true
		}
	}
	return true
}

func (db *DB) submit(c *call) {
	if c.batch == nil {
		db.in.Submit(&c.ec)
	} else {
		for i := range c.batch {
			db.in.Submit(&c.batch[i])
		}
	}
	if c.isDone() {
		c.done <- struct{}{}
		return
	}
	db.inflight = append(db.inflight, c)
}

// afterStep answers the calls that are done, wakes the readers waiting for
// durability or for applied transactions, hands the outbox to the
// Replicator and starts a checkpoint when one is due.
func (db *DB) afterStep() {
	// Publish first: a caller that reads the status once its call is
	// answered sees the state its call left.
	db.publish()
	db.answerDone()
	dur := db.in.Durable()
	if len(db.durWait) > 0 {
		i := 0
		for _, w := range db.durWait {
			if w.pos <= dur || db.in.Status().Fatal != nil {
				close(w.ch)
				continue
			}
			db.durWait[i] = w
			i++
		}
		clear(db.durWait[i:])
		db.durWait = db.durWait[:i]
	}
	if own, peer := db.in.Applied(); own != db.lastOwn || peer != db.lastPeer {
		db.lastOwn, db.lastPeer = own, peer
		db.notifyApplied()
	}
	if frames, disc := db.in.TakeOutbox(); len(frames) > 0 || disc != "" {
		db.outMu.Lock()
		db.out = append(db.out, frames...)
		if disc != "" {
			db.outDisc = disc
		}
		db.outMu.Unlock()
		select {
		case db.outReady <- struct{}{}:
		default:
		}
	}
	db.maybeCheckpoint(dur)
}

// answerDone answers the in-flight calls the Instance is done with. It
// scans them only when the Instance answered calls since the last scan: a
// step that answered none (most, when calls arrive one by one) costs no
// walk over every call in flight.
func (db *DB) answerDone() {
	n := db.in.Answered()
	if n == db.answeredSeen {
		return
	}
	db.answeredSeen = n
	i := 0
	for _, c := range db.inflight {
		if c.isDone() {
			c.done <- struct{}{}
			continue
		}
		db.inflight[i] = c
		i++
	}
	clear(db.inflight[i:])
	db.inflight = db.inflight[:i]
}

// maybeCheckpoint starts a checkpoint the Instance offers, off the
// executor, once its position is durable.
func (db *DB) maybeCheckpoint(durable uint64) {
	if db.ckptJob == nil {
		db.ckptJob = db.in.TakeCheckpoint(false)
	}
	j := db.ckptJob
	if j == nil || j.Pos > durable {
		return
	}
	db.ckptJob = nil
	db.ckptWG.Add(1)
	go func() {
		defer db.ckptWG.Done()
		t0 := time.Now()
		if j.Run() == nil {
			db.checkpointed(j.Pos, t0)
		}
		db.ckptBack <- j
	}()
}

// checkpointed notes a checkpoint at pos, begun at t0, written (any
// goroutine), for the metrics.
func (db *DB) checkpointed(pos uint64, t0 time.Time) {
	db.lastCkpt.Store(time.Now().UnixNano())
	db.lastCkptPos.Store(pos)
	db.metrics.checkpointSeconds.Observe(time.Since(t0).Seconds())
	if err := db.rt.saveRoutes(db.opts.Dir); err != nil {
		db.log.Warn("auto routing: what was measured is not saved; a restart now would measure it afresh", "error", err)
	}
}

// publish copies what other goroutines read without the executor.
func (db *DB) publish() {
	st := db.in.Status()
	if st.Role != "" {
		role := st.Role
		if p := db.pub.role.Load(); p == nil || *p != role {
			db.pub.role.Store(&role)
		}
	}
	db.pub.quiesced.Store(st.Quiesced)
	db.pub.recon.Store(int64(st.ReconPending))
	db.pub.durable.Store(st.Durable)
	db.pub.epoch.Store(st.Epoch)
	db.pub.reign.Store(st.Reign)
	db.pub.first.Store(db.in.FirstPos())
	own, peer := db.in.Applied()
	db.pub.applied.set(own, peer)
	_, b := db.in.JournalStats()
	db.pub.bytes.Store(b)
	if db.in.Node() != nil {
		ns := st.Node
		db.pub.node.Store(&ns)
		db.routeState(ns.Connected && ns.PeerRole == RoleLiege, st.Role == RoleVassal, st.ReconPending > 0)
		db.lag.observe(ns, db.opts.Now)
	}
}

// waitDurable waits until journal position pos is durable.
func (db *DB) waitDurable(ctx context.Context, pos uint64) error {
	var ch chan struct{}
	var err error
	if cerr := db.control(ctx, func() {
		if st := db.in.Status(); st.Fatal != nil {
			err = st.Fatal
			return
		}
		if pos <= db.in.Durable() {
			return
		}
		ch = make(chan struct{})
		db.durWait = append(db.durWait, durWaiter{pos: pos, ch: ch})
	}); cerr != nil {
		return cerr
	}
	if err != nil || ch == nil {
		return err
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.quit:
		return ErrClosed
	}
	return db.fatalErr()
}

func (db *DB) fatalErr() error {
	var err error
	if cerr := db.control(context.Background(), func() { err = db.in.Status().Fatal }); cerr != nil {
		return cerr
	}
	return err
}

// runProc runs a procedure, turning a panic into an error: a bug in one
// procedure must not take the instance down.
func runProc(name string, fn func() ([]byte, error)) (res []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Proc: name, Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// PanicError is returned by a call whose procedure panicked: a bug in the
// procedure, not a refusal it chose. Nothing was committed.
type PanicError struct {
	Proc  string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("procedure %q panicked: %v", e.Proc, e.Value)
}
