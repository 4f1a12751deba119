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
// phase (each phase of rollback.Stepper is one Step, so a simulator can
// crash between them); one reconciliation record the Node handed out; an
// fsync (Sync: acknowledge the calls, report own records durable to the
// Node) right after a Write or when nothing is queued; the queued calls as
// one batch (Write: run them and hand their records to the log, not yet
// durable). A simulator that wants to crash between a write and its fsync
// calls Write and Sync itself instead of Step. Many calls share one fsync:
// that is the group commit. Peer records the Node hands out are applied
// (journaled, not yet durable) as its Ready is carried out, in the input
// that produced them (Deliver), and made durable by the next Sync; a peer
// transaction is checked only once the own commits before it are durable
// (Deliver syncs first), since the Node's window takes own transactions
// when they are.
//
// After each input, the Instance drains the Node's Ready (ready.go, the one
// place the contract of package replicate's doc.go is carried out):
// journal a role and reign first, never reuse a taken-back OSeq, apply,
// start a rollback, queue reconciliations, hand frames to the Outbox (own
// records attached, a Hello's wall clock set from Config.Now), quiesce,
// and note a wish to close the link.
//
// # Where things are
//
//	api.go       Config, Hooks, Runner, Effects, Call, Result, Status, CheckpointJob
//	instance.go  the methods a driver calls, with their contracts
//	open.go      recovery, the Node's starting state, Attach
//	exec.go      Submit, Step, Write, Sync, reconciliation, checkpoints, Close
//	ready.go     the Node's Ready carried out; peer apply; rollbacks; the link inputs
//	wal.go       the journal over a journal.Log: buffered appends, one Write, Sync
//
// The root package's executor (liege/exec.go) is the production driver;
// package replicate's Replicator drives the link side through liege.DB's
// replicate.Host methods (liege/host.go).
package engine
