package liege

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/liege-db/liege/detect"
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
	// Kind is the record's kind: local for a call, reprocess or correction
	// for a reconciliation.
	Kind journal.Kind
}

// Decode decodes the procedure's result into out (a pointer).
func (r *Result) Decode(out any) error { return journal.Unmarshal(r.Raw, out) }

// ReadOnly reports whether the call committed nothing.
func (r *Result) ReadOnly() bool { return r.TxID.IsZero() }

// call is one request to the executor; pooled, with a reusable channel.
type call struct {
	proc     *proc
	idem     string
	recon    *journal.Record // a reconciliation instead of a call
	outcome  ReconcileOutcome
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
	c.recon, c.res, c.err = nil, Result{}, nil
	if err := db.enqueue(ctx, c); err != nil {
		callPool.Put(c)
		return nil, err
	}
	// Once submitted the call will be answered (committed, failed, or
	// failed by Close); we wait for it even if ctx ends, so that the
	// pooled call is never reused while the executor holds it.
	<-c.done
	res, err := c.res, c.err
	c.proc, c.args, c.argBytes, c.idem, c.recon = nil, nil, nil, "", nil
	callPool.Put(c)
	if err != nil {
		return nil, err
	}
	return &res, nil
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
	select {
	case db.reqs <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	if c.recon != nil {
		db.reconcile(c)
		return
	}
	if db.quiesced.Load() {
		db.answer(c, ErrQuiesced)
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
	if err := db.run(tx, c.proc.name, func() (any, error) { return c.proc.run(tx, c.args) }); err != nil {
		db.metrics.aborts.Inc()
		db.answer(c, err)
		return
	}
	if len(tx.writes) == 0 {
		// Read-only: nothing is journaled, but the answer waits until
		// everything it may have read is durable.
		c.res.HLC = uint64(tx.ts)
		c.res.Raw = append([]byte(nil), db.resEnc...)
		db.wait(db.lastPos, c)
		return
	}
	db.commit(c, tx, journal.KindLocal, journal.TxID{}, c.proc.name, c.argBytes)
}

// run runs fn as a new transaction in tx and leaves its encoded result in
// db.resEnc. On any error the transaction's writes are undone.
func (db *DB) run(tx *Tx, name string, fn func() (any, error)) error {
	tx.reset(db.st, db.clock.Now(), db.opts.ID)
	result, err := runProc(name, fn)
	if err == nil {
		err = tx.err
	}
	if err == nil {
		db.resEnc, err = appendValue(db.resEnc[:0], result)
		if err != nil {
			err = fmt.Errorf("encode result of %q: %w", name, err)
		}
	}
	if err != nil {
		tx.undo()
	}
	return err
}

// commit journals the transaction in tx, whose writes are applied, and
// answers c once it is durable.
func (db *DB) commit(c *call, tx *Tx, kind journal.Kind, subject journal.TxID, proc string, args []byte) {
	db.highOSeq++
	r := journal.Record{
		Pos: db.lastPos + 1, Epoch: db.epoch, Kind: kind, Subject: subject,
		Origin: db.opts.ID, OSeq: db.highOSeq, HLC: uint64(tx.ts), PeerSeen: db.peerWatermark,
		Proc: proc, Args: args, Result: db.resEnc,
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
	c.res.TxID, c.res.HLC, c.res.Pos, c.res.Kind = r.TxID(), r.HLC, r.Pos, kind
	c.res.Raw = append([]byte(nil), db.resEnc...)
	db.index.add(&r)
	if db.window != nil {
		db.window.Add(detect.FromRecord(&r))
		db.lastOwn = r.OSeq
		db.pub.lastOwn.Store(r.OSeq)
		db.pub.window.Store(int64(db.window.Len()))
	}
	if c.idem != "" {
		db.idem.put(c.idem, idemOutcome{txid: c.res.TxID, pos: r.Pos, hlc: r.HLC, raw: c.res.Raw})
	}
	db.wait(r.Pos, c)
}

// runProc runs a procedure, turning a panic into an error: a bug in one
// procedure must not take the instance down.
func runProc(name string, fn func() (any, error)) (res any, err error) {
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
	db.notifyDurable()
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
