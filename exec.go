package liege

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/liege-db/liege/journal"
)

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
}

// Decode decodes the procedure's result into out (a pointer).
func (r *Result) Decode(out any) error { return journal.Unmarshal(r.Raw, out) }

// ReadOnly reports whether the call committed nothing.
func (r *Result) ReadOnly() bool { return r.TxID.IsZero() }

// call is one request to the executor; pooled, with a reusable channel.
type call struct {
	proc     *proc
	idem     string
	args     any
	argBytes []byte
	start    time.Time
	res      Result
	err      error
	done     chan struct{}
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
	p, err := db.lookup(name)
	if err != nil {
		return nil, err
	}
	if a, ok := p.derefArgs(args); ok {
		args = a
	}
	ab, err := journal.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("%w for procedure %q: %v", ErrBadArgs, name, err)
	}
	return db.submit(ctx, p, args, ab, o.IdempotencyKey)
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

func (db *DB) submit(ctx context.Context, p *proc, args any, ab []byte, idem string) (*Result, error) {
	c := callPool.Get().(*call)
	c.proc, c.args, c.argBytes, c.start, c.idem = p, args, ab, time.Now(), idem
	c.res, c.err = Result{}, nil
	// The read lock keeps Close from closing quit while a send is in
	// flight: every call that got into reqs is answered by the executor's
	// final drain, and none can land in the buffer after it.
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		callPool.Put(c)
		return nil, ErrClosed
	}
	select {
	case db.reqs <- c:
		db.closeMu.RUnlock()
	case <-ctx.Done():
		db.closeMu.RUnlock()
		callPool.Put(c)
		return nil, ctx.Err()
	}
	// Once submitted the call will be answered (committed, failed, or
	// failed by Close); we wait for it even if ctx ends, so that the
	// pooled call is never reused while the executor holds it.
	<-c.done
	res, err := c.res, c.err
	c.proc, c.args, c.argBytes, c.idem = nil, nil, nil, ""
	callPool.Put(c)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// control runs fn on the executor goroutine, between transactions.
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

// executor runs calls one at a time against the state, in journal order.
func (db *DB) executor() {
	defer close(db.stopped)
	for {
		select {
		case c := <-db.reqs:
			db.execute(c)
			// Drain what is already queued before looking at control
			// requests: a busy executor serves a batch per wake-up.
			for n := 0; n < 256; n++ {
				select {
				case c := <-db.reqs:
					db.execute(c)
					continue
				default:
				}
				break
			}
			db.notifyApplied()
			db.maybeCheckpoint()
		case fn := <-db.ctl:
			fn()
		case <-db.quit:
			// Answer what was submitted before Close.
			for {
				select {
				case c := <-db.reqs:
					db.execute(c)
				default:
					return
				}
			}
		}
	}
}

// execute runs one call on the executor goroutine.
func (db *DB) execute(c *call) {
	if err := db.fatalErr(); err != nil {
		db.answer(c, err)
		return
	}
	if c.idem != "" {
		if o, ok := db.idem.get(c.idem); ok {
			// A retry of a call that committed: its first outcome.
			c.res = Result{TxID: o.txid, HLC: o.hlc, Pos: o.pos, Raw: o.raw}
			db.wait(o.pos, c)
			return
		}
	}
	tx := db.tx
	tx.reset(db.st, db.clock.Now(), db.opts.ID)
	result, err := runProc(c.proc, tx, c.args)
	if err == nil {
		err = tx.err
	}
	if err == nil {
		db.resEnc, err = appendValue(db.resEnc[:0], result)
		if err != nil {
			err = fmt.Errorf("encode result of %q: %w", c.proc.name, err)
		}
	}
	if err != nil {
		tx.undo()
		db.metrics.aborts.Inc()
		db.answer(c, err)
		return
	}
	c.res.HLC = uint64(tx.ts)
	if len(tx.writes) == 0 {
		// Read-only: nothing is journaled, but the answer waits until
		// everything it may have read is durable.
		c.res.Raw = append([]byte(nil), db.resEnc...)
		db.wait(db.lastPos, c)
		return
	}
	db.highOSeq++
	r := journal.Record{
		Pos: db.lastPos + 1, Epoch: db.epoch, Kind: journal.KindLocal,
		Origin: db.opts.ID, OSeq: db.highOSeq, HLC: uint64(tx.ts), PeerSeen: db.peerWatermark,
		Proc: c.proc.name, Args: c.argBytes, Result: db.resEnc,
		Reads: tx.reads, Ranges: tx.ranges, Writes: tx.writes, IdempotencyKey: c.idem,
	}
	f, err := db.enc.Frame(&r)
	if err == nil {
		err = db.j.Append(r.Pos, f)
	}
	if err != nil {
		tx.undo()
		db.highOSeq--
		db.answer(c, err)
		return
	}
	db.lastPos = r.Pos
	db.sinceCkpt++
	c.res.TxID = r.TxID()
	c.res.Pos = r.Pos
	c.res.Raw = append([]byte(nil), db.resEnc...)
	db.index.add(&r)
	if c.idem != "" {
		db.idem.put(c.idem, idemOutcome{txid: c.res.TxID, pos: r.Pos, hlc: r.HLC, raw: c.res.Raw})
	}
	db.wait(r.Pos, c)
}

// runProc runs a procedure, turning a panic into an error: a bug in one
// procedure must not take the instance down.
func runProc(p *proc, tx *Tx, args any) (res any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Proc: p.name, Value: v, Stack: debug.Stack()}
		}
	}()
	return p.run(tx, args)
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

func (db *DB) answer(c *call, err error) {
	c.err = err
	c.done <- struct{}{}
}

// wait answers c once position pos is durable.
func (db *DB) wait(pos uint64, c *call) {
	db.waitMu.Lock()
	if db.fatal != nil {
		db.waitMu.Unlock()
		db.answer(c, db.fatal)
		return
	}
	if pos <= db.j.Durable() && len(db.waiters) == 0 {
		db.waitMu.Unlock()
		db.finish(c)
		return
	}
	db.waiters = append(db.waiters, waiter{pos: pos, c: c})
	db.waitMu.Unlock()
}

func (db *DB) finish(c *call) {
	if !c.res.TxID.IsZero() {
		db.metrics.commits.Inc()
		db.metrics.commitLatency.Observe(time.Since(c.start).Seconds())
	}
	c.done <- struct{}{}
}

// onDurable is called by the journal writer after each fsync.
func (db *DB) onDurable(pos uint64, entries int) {
	db.metrics.batchSize.Observe(float64(entries))
	db.waitMu.Lock()
	i := 0
	for i < len(db.waiters) && db.waiters[i].pos <= pos {
		i++
	}
	// Answer outside the lock. ready is reused: only the journal's writer
	// goroutine calls onDurable.
	db.ready = append(db.ready[:0], db.waiters[:i]...)
	n := copy(db.waiters, db.waiters[i:])
	clear(db.waiters[n:])
	db.waiters = db.waiters[:n]
	db.waitMu.Unlock()
	for _, w := range db.ready {
		db.finish(w.c)
	}
	clear(db.ready)
}

// onFatal is called once when the journal stops after a failed write.
func (db *DB) onFatal(err error) {
	db.log.Error("journal failed; the instance stops taking writes and must be reopened", "error", err)
	db.failWaiters(err)
}

func (db *DB) failWaiters(err error) {
	db.waitMu.Lock()
	if db.fatal == nil {
		db.fatal = err
	}
	ws := db.waiters
	db.waiters = nil
	db.waitMu.Unlock()
	for _, w := range ws {
		db.answer(w.c, err)
	}
}

func (db *DB) fatalErr() error {
	db.waitMu.Lock()
	defer db.waitMu.Unlock()
	return db.fatal
}
