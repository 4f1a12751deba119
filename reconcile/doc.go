// Package reconcile keeps the vassal's reconciliation logs (DESIGN.md
// sections 7 and 9).
//
// After a rollback the vassal builds a reconciliation log from the lost
// transaction file: its own transactions that were rolled off (records of
// liege origin are filtered out: they come back in the liege's stream),
// each marked as having failed the conflict check or as rolled off only
// because it came after one that did. The log is saved durably before it
// is sent, sent again after every reconnect, and deleted once every TxID
// in it has come back from the liege in a reprocess or correction record.
// The liege side, re-executing each record, is liege.DB.Reconcile; what it
// does with a record (skip, reprocess or correct, and for which subject) is
// the pure Decide. A record stands for its subject (Subject): its own TxID,
// or the one a reprocess or correction names, and a log entry comes back
// when a reprocess or correction naming that subject does.
//
// Log files live in the instance directory's recon/ folder, one per
// rollback, written atomically (temporary file, fsync, rename, directory
// fsync) and rewritten as TxIDs come back.
package reconcile
