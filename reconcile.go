package liege

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
)

// ReconcileAction says what Reconcile did with a rolled-off transaction.
type ReconcileAction string

// Reconcile actions (DESIGN.md section 9).
const (
	// ReconcileSkipped: the journal already holds the TxID, as itself or as
	// the subject of a reprocess or correction (logs can be resent).
	ReconcileSkipped ReconcileAction = "skipped"
	// ReconcileReprocessed: re-execution gave the result the client was
	// told; it was committed as a reprocess record.
	ReconcileReprocessed ReconcileAction = "reprocessed"
	// ReconcileCorrected: re-execution gave another result (or failed); it
	// was discarded and the procedure's correction committed instead.
	ReconcileCorrected ReconcileAction = "corrected"
)

// ReconcileOutcome is the result of reconciling one transaction.
type ReconcileOutcome struct {
	Subject journal.TxID
	Action  ReconcileAction
	// Result is the committed reprocess or correction transaction (for a
	// skipped one: its position only).
	Result Result
	// Reexecuted is the msgpack result re-execution gave (nil if it
	// failed); it differs from the subject's result when Action is
	// ReconcileCorrected.
	Reexecuted []byte
	// ReexecError is why re-execution failed, if it did.
	ReexecError error
}

// Reconcile re-executes a transaction that was rolled off the other
// instance (a record of its reconciliation log) on this instance's current
// state, as a new transaction of kind reprocess naming it. If the result
// equals the one its client was told, that transaction is committed;
// otherwise it is discarded and the procedure's correction is committed, as
// a transaction of kind correction naming it. A TxID already held, as
// itself or as a subject, is skipped, so a resent log changes nothing.
func (db *DB) Reconcile(ctx context.Context, r *journal.Record) (*ReconcileOutcome, error) {
	c, err := db.submitReconcile(ctx, r)
	if err != nil {
		return nil, err
	}
	return db.awaitReconcile(c)
}

// ReconcileAll reconciles records in order, as Reconcile does one by one,
// but hands them all to the executor before waiting for any to be durable,
// so that they share fsyncs. It returns the outcomes of the records it
// reconciled; an error stops it (the rest stay pending at the vassal).
func (db *DB) ReconcileAll(ctx context.Context, recs []journal.Record) ([]*ReconcileOutcome, error) {
	calls := make([]*call, 0, len(recs))
	var serr error
	for i := range recs {
		c, err := db.submitReconcile(ctx, &recs[i])
		if err != nil {
			serr = err
			break
		}
		calls = append(calls, c)
	}
	outs := make([]*ReconcileOutcome, 0, len(calls))
	var werr error
	for _, c := range calls {
		out, err := db.awaitReconcile(c)
		if err != nil {
			if werr == nil {
				werr = err
			}
			continue
		}
		outs = append(outs, out)
	}
	if werr != nil {
		return outs, werr
	}
	return outs, serr
}

func (db *DB) submitReconcile(ctx context.Context, r *journal.Record) (*call, error) {
	if !r.Kind.IsTxn() {
		return nil, fmt.Errorf("reconcile position %d: a %v record is not a transaction", r.Pos, r.Kind)
	}
	p, err := db.lookup(r.Proc)
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: %w (register the application's procedures on this instance)", reconcile.Subject(r), err)
	}
	c := callPool.Get().(*call)
	c.proc, c.recon, c.start = p, r, time.Now()
	c.res, c.err, c.outcome = Result{}, nil, ReconcileOutcome{Subject: reconcile.Subject(r)}
	if err := db.enqueue(ctx, c); err != nil {
		c.proc, c.recon = nil, nil // a pooled call must not carry a reconciliation
		callPool.Put(c)
		return nil, err
	}
	return c, nil
}

func (db *DB) awaitReconcile(c *call) (*ReconcileOutcome, error) {
	<-c.done
	out, err := c.outcome, c.err
	out.Result = c.res
	c.proc, c.recon = nil, nil
	callPool.Put(c)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// reconcile runs on the executor. What it does with the record is
// reconcile.Decide's decision; this is the driver.
func (db *DB) reconcile(c *call) {
	r := c.recon
	id := reconcile.Subject(r)
	pos, asSubject := db.index.subjects[id]
	if !asSubject {
		pos = db.index.find(id)
	}
	if reconcile.Decide(r, pos != 0, reconcile.NotReexecuted).Action == reconcile.Skip {
		c.outcome.Action, c.res.Pos = ReconcileSkipped, pos
		if asSubject {
			db.resolveRecon(&journal.Record{Subject: id})
		}
		db.wait(pos, c)
		return
	}
	args, err := c.proc.decodeArgs(r.Args)
	if err != nil {
		db.answer(c, fmt.Errorf("reconcile %s: %w", id, err))
		return
	}
	tx := db.tx
	err = db.run(tx, c.proc.name, func() (any, error) { return c.proc.run(tx, args) })
	re := reconcile.OtherResult
	if err == nil && bytes.Equal(db.resEnc, r.Result) {
		re = reconcile.SameResult
	}
	if reconcile.Decide(r, false, re).Action == reconcile.Reprocess {
		c.outcome.Action, c.outcome.Reexecuted = ReconcileReprocessed, bytes.Clone(db.resEnc)
		db.commit(c, tx, journal.KindReprocess, id, r.Proc, r.Args)
		db.resolveRecon(&journal.Record{Subject: id}) // a promoted vassal reconciling its own
		// Journaled, not yet durable: a crash here must still end with the
		// TxID in the path exactly once (the vassal resends its log).
		_ = failpoint.Inject("reconcile-after-commit")
		return
	}
	// Another result: discard the re-execution and correct.
	reexec := []byte{0xc0} // msgpack nil: the correction sees a zero result
	if err == nil {
		reexec = bytes.Clone(db.resEnc)
		tx.undo()
		c.outcome.Reexecuted = reexec
	} else {
		c.outcome.ReexecError = err
	}
	err = db.run(tx, c.proc.name+" correction", func() (any, error) {
		return c.proc.correct(tx, args, r.Result, reexec)
	})
	if err != nil {
		db.answer(c, fmt.Errorf("reconcile %s: correction failed (the transaction stays pending): %w", id, err))
		return
	}
	c.outcome.Action = ReconcileCorrected
	db.commit(c, tx, journal.KindCorrection, id, r.Proc, r.Args)
	db.resolveRecon(&journal.Record{Subject: id})
	_ = failpoint.Inject("reconcile-after-commit")
}
