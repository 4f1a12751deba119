package reconcile

import (
	"fmt"

	"github.com/liege-db/liege/journal"
)

// Action is what the liege does with a record of a reconciliation log
// (DESIGN.md section 9).
type Action uint8

const (
	// Reexecute: the liege's journal does not hold the subject; re-execute
	// its procedure with its args on the current state, then decide again
	// with what that gave.
	Reexecute Action = iota
	// Skip: the liege's journal already holds the subject, as itself or as
	// the subject of a reprocess or correction (logs can be resent, and a
	// subject is reconciled once).
	Skip
	// Reprocess: re-execution gave the told result; commit it as a
	// transaction of kind reprocess naming the subject.
	Reprocess
	// Correct: re-execution gave another result or failed; discard it and
	// commit the procedure's correction, of kind correction naming the
	// subject.
	Correct
)

var actionNames = [...]string{Reexecute: "re-execute", Skip: "skip", Reprocess: "reprocess", Correct: "correct"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", a)
}

// Reexecution is what re-executing the subject's procedure gave, as far as
// the decision goes.
type Reexecution uint8

const (
	// NotReexecuted: not re-executed (yet).
	NotReexecuted Reexecution = iota
	// SameResult: the result equals the told result (byte for byte, as
	// msgpack).
	SameResult
	// OtherResult: another result, or the procedure failed.
	OtherResult
)

// Decision is what to do with a record of a reconciliation log.
type Decision struct {
	// Subject is the TxID the record stands for (see Subject): the one a
	// reprocess or correction names, and the one that is skipped if held.
	Subject journal.TxID
	Action  Action
}

// Subject returns the TxID a record of a reconciliation log stands for: its
// own for a local record, the one it names for a reprocess or correction
// (such a record reaches a log only after a promote: the old liege
// reconciled a transaction that the new liege reconciles too). That
// includes the old liege's reprocess or correction as the new liege held
// it, of kind peer (it keeps the origin's subject): a promoted vassal
// reconciles the subjects whose stand-in a rollback there rolled off, from
// that record (DESIGN.md section 10), and the Node (replicate's standsFor)
// names them by the subject too.
func Subject(r *journal.Record) journal.TxID {
	if !r.Subject.IsZero() {
		return r.Subject
	}
	return r.TxID()
}

// Subject returns the TxID the entry stands for (see Subject): the one a
// reprocess or correction coming back names.
func (e *Entry) Subject() journal.TxID { return Subject(&e.Record) }

// Decide says what the liege does with record r of a reconciliation log,
// given whether its journal already holds r's subject (as itself or as the
// subject of a reprocess or correction) and what re-executing the subject
// gave. A held subject is skipped whatever re-execution gave: it must be
// decided before re-executing, and then re is NotReexecuted.
func Decide(r *journal.Record, held bool, re Reexecution) Decision {
	d := Decision{Subject: Subject(r)}
	switch {
	case held:
		d.Action = Skip
	case re == NotReexecuted:
		d.Action = Reexecute
	case re == SameResult:
		d.Action = Reprocess
	default:
		d.Action = Correct
	}
	return d
}
