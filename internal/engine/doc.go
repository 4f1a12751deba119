// Package engine is one Liege instance as a value you can step: the
// executor (procedures run one at a time against the ordered state, group
// commit), the peer's transactions, the vassal's rollbacks, the liege's
// reconciliation, and the instance's replicate.Node, with the glue that
// carries out the Node's Ready against the engine written once (ready.go).
//
// An Instance has no goroutine, reads no wall clock (Config.Now is the
// only clock) and writes its journal to a journal.Log given in Config, so
// the same code runs on the file log in production and on journal.MemLog
// in the simulator, which may crash it between any two steps. Side files
// (checkpoints, lost transaction files, reconciliation logs, the rollback
// intent) live in Config.Dir.
//
// # The driver loop
//
// One goroutine (the driver) owns an Instance and alone calls its methods,
// except the few documented as safe from any goroutine (Status is not one
// of them). Production's driver is the root package's executor goroutine
// (liege.DB, exec.go); the simulator is another. A driver:
//
//  1. hands in inputs as they come: Submit (a client call), Deliver (a
//     frame from the peer), LinkUp/LinkDown, Tick (every heartbeat
//     interval), Promote, Switchover;
//  2. calls Step while it returns true: each Step does one unit of work
//     (see Step) and then carries out what the Node asked for;
//  3. after each Step, takes Outbox (frames to send, and whether to close
//     the link) and reads the Done field of the calls it submitted.
//
// Step's units, in the order it picks them: an outstanding rollback's next
// phase; one reconciliation record; a batch of peer records the Node
// handed out; the queued calls as one batch (Write: run and append, not
// durable); an fsync (Sync: acknowledge the calls, report own records
// durable to the Node). A simulator that wants to crash between a write
// and its fsync calls Write and Sync itself instead of Step. Many calls
// share one fsync: that is the group commit.
package engine
