package journalctl

import (
	"fmt"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/journal"
)

// rollbackLimits is what a journal says about how far an operator may roll
// it back (DESIGN.md section 3, "Operator rollback"): a liege never rolls
// back, and a vassal only down to its first own transaction the liege has
// not applied. Built by observe from the records, decided by check.
type rollbackLimits struct {
	instance string
	// role is the role of the newest role record ("" if the journal holds
	// none: a lone instance), journaled at rolePos.
	role    string
	rolePos uint64
	// acked is the highest OSeq of this instance's own transactions the
	// peer had applied, by the largest PeerSeen of the peer's transactions
	// in the journal; ackedPos is where that record is, 0 if the journal
	// holds no peer transaction (then nothing is known).
	acked, ackedPos uint64
	// own are the own transactions from the target on, oldest first. Own
	// OSeqs rise with the position: they are never reused.
	own []ownTxn
}

type ownTxn struct {
	pos  uint64
	oseq uint64
}

// observe takes in the record at pos; to is the rollback's target.
func (l *rollbackLimits) observe(pos, to uint64, r *journal.Record) {
	switch {
	case r.Kind == journal.KindRole:
		l.role, l.rolePos = r.Role, pos
	case r.Kind.IsTxn() && r.Origin != l.instance:
		if r.PeerSeen >= l.acked {
			l.acked, l.ackedPos = r.PeerSeen, pos
		}
	case r.Kind.IsOwn() && r.Origin == l.instance && pos >= to:
		l.own = append(l.own, ownTxn{pos: pos, oseq: r.OSeq})
	}
}

// check refuses a rollback to just before position to (of a journal that
// ends at last) that breaks a limit, with an error saying why and what to
// do. Otherwise it returns what the journal tells about the limits, for the
// operator: the role, and for a vassal what the liege has applied, or that
// the journal cannot tell. Without a way to override a refusal (journalctl
// has none), an unknown acknowledgement does not refuse: the note says so.
func (l *rollbackLimits) check(dir string, to, last uint64) (note string, err error) {
	switch l.role {
	case liege.RoleLiege:
		return "", fmt.Errorf("refusing to roll back %s: the instance is the liege (role record at position %d), and a liege never rolls back, by hand either: its journal is the path both instances converge to (DESIGN.md section 3). "+
			"Undo a transaction on the liege with a transaction of its own (its correction); to roll this instance back, make it the vassal first, then run this command again", dir, l.rolePos)
	case liege.RoleVassal:
	default:
		return fmt.Sprintf("no role is journaled: %q is rolled back as a lone instance", l.instance), nil
	}
	if l.ackedPos == 0 {
		return fmt.Sprintf("vassal %q (role record at position %d): its journal holds no transaction of its liege, so it cannot tell which of its own transactions the liege has applied; "+
			"any you roll off that the liege applied stays in the liege's path: reconcile it from the lost transaction file", l.instance, l.rolePos), nil
	}
	known := fmt.Sprintf("the liege had applied %q's own transactions up to OSeq %d (its transaction at position %d says so)", l.instance, l.acked, l.ackedPos)
	var applied []ownTxn
	for _, o := range l.own {
		if o.oseq <= l.acked {
			applied = append(applied, o)
		}
	}
	if len(applied) == 0 {
		return fmt.Sprintf("vassal %q (role record at position %d): %s; none of them is rolled off", l.instance, l.rolePos, known), nil
	}
	first, newest := applied[0], applied[len(applied)-1]
	what := "roll back to --to %d or later"
	if newest.pos+1 > last {
		what = "every own transaction up to the end of the journal was applied by the liege, so nothing of this vassal may be rolled back; the instance catches up with the liege by itself"
	} else {
		what = fmt.Sprintf(what, newest.pos+1)
	}
	more := ""
	if n := len(applied) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more up to position %d)", n, newest.pos)
	}
	return "", fmt.Errorf("refusing to roll back %s to before position %d: %s, and own transaction %s at position %d%s would be rolled off; "+
		"a vassal is rolled back only down to its first own transaction the liege has not applied, since below it the liege's path already holds what would be removed (DESIGN.md section 3): %s",
		dir, to, known, journal.TxID{Origin: l.instance, OSeq: first.oseq}, first.pos, more, what)
}
