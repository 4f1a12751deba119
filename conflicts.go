package liege

import (
	"github.com/liege-db/liege/internal/conflictlog"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// ConflictRecord is one conflict this instance detected, as kept in its
// conflict log (the file conflicts.jsonl in its directory): both TxIDs, the
// witness key, the check and the DESIGN.md case, the action, the rollback
// epoch it caused and the reprocess or correction it ended in, once known.
type ConflictRecord = conflictlog.Record

// Conflicts returns up to limit of the conflicts this instance detected
// with a Seq above since, oldest first. The log keeps the newest 100,000
// and none older than 30 days.
func (db *DB) Conflicts(since uint64, limit int) []ConflictRecord {
	return db.conflicts.List(since, limit)
}

// conflictHooks adds to h the hooks that keep the conflict log.
func (db *DB) conflictHooks(h engine.Hooks) engine.Hooks {
	verdict := h.Verdict
	h.Verdict = func(v replicate.PeerVerdict) {
		if verdict != nil {
			verdict(v)
		}
		if len(v.Conflicts) == 0 {
			return
		}
		recs := make([]conflictlog.Record, 0, len(v.Conflicts))
		for _, c := range v.Conflicts {
			check := c.Check.String()
			if !c.Subject.IsZero() {
				check = "duplicate_subject"
			}
			r := conflictlog.Record{Incoming: v.Txn.String(), Own: c.Own.String(), OwnPos: c.Pos, Check: check, Case: c.Case,
				Key: append([]byte(nil), c.Key...), KeyText: tuple.Format(c.Key), Action: v.Verdict.String()}
			if !c.Subject.IsZero() {
				r.Subject = c.Subject.String()
			}
			recs = append(recs, r)
		}
		if err := db.conflicts.Add(recs...); err != nil {
			db.log.Error("could not record conflicts", "incoming", v.Txn.String(), "error", err)
		}
	}
	h.RollbackFor = func(incoming journal.TxID, epoch uint64) {
		if err := db.conflicts.RolledBack(incoming.String(), epoch); err != nil {
			db.log.Error("could not record a conflict's rollback epoch", "incoming", incoming.String(), "error", err)
		}
	}
	h.Stands = func(subject, txid journal.TxID) {
		if err := db.conflicts.Ended(subject.String(), txid.String()); err != nil {
			db.log.Error("could not record how a conflict ended", "subject", subject.String(), "txid", txid.String(), "error", err)
		}
	}
	return h
}
