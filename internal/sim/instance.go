package sim

import (
	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// Instance is what the simulator drives of one engine instance: a
// steppable engine over a journal.Log that owns its replicate.Node. It
// starts no goroutine, reads no clock but Config.Now and draws no random
// number: the simulator alone decides what happens when, so a seed replays
// exactly. An engine becomes simulatable through one adapter to this
// interface (see Opener).
type Instance interface {
	// Submit queues a client call. Its Done is called from a later Step (or
	// never, if the instance crashes first).
	Submit(c *Call)
	// Step does one unit of work (run a batch, sync, apply peer records,
	// one rollback phase, one reconciliation) and carries out the Node's
	// Ready. It reports whether there was any work.
	Step() (bool, error)
	// LinkUp and LinkDown say that a link to the peer came up (the
	// instance sends its Hello) or went down.
	LinkUp()
	LinkDown()
	// Deliver hands the instance one frame from the peer, a Hello included.
	// An error means the link must close.
	Deliver(f *link.Frame) error
	// Tick is one tick of the instance's clock.
	Tick()
	// Outbox returns, and forgets, what the instance has for the world.
	Outbox() Out
	// Promote and Switchover are the operator's commands.
	Promote(force bool) error
	Switchover() error
	// Status is the Node's status.
	Status() replicate.NodeStatus
	// Busy reports whether the instance has work Step would do.
	Busy() bool
	// Export returns the journal's transaction records and the state, for
	// the oracle.
	Export() (oracle.Instance, error)
}

// Out is what an instance has for the world since the last Outbox.
type Out struct {
	// Frames to send, in order.
	Frames []link.Frame
	// Disconnect is why the instance wants the link closed ("" if it does
	// not).
	Disconnect string
	// Notes are the Node's lines for the operator (they go in the trace).
	Notes []string
	// Rejected are the peer transactions this instance rejected as liege
	// (verdict VerdictReject), in order: the world checks DESIGN.md
	// section 8 on them.
	Rejected []journal.TxID
}

// Call is one client call. The workload is Ops (the model engine's only
// procedure), or Proc and Args for an engine that runs applications.
type Call struct {
	Ops  []Op
	Proc string
	Args any
	// Done receives the outcome: the committed TxID, or an error (a refusal:
	// quiesced for a switchover, or the procedure failed).
	Done func(id journal.TxID, err error)
	// Forward: a vassal forwards the call to its liege (DESIGN.md section
	// 13), committing it locally when it cannot (the auto route). The
	// model engine ignores it.
	Forward bool
}

// Config is what an instance is opened with.
type Config struct {
	ID, PeerID, Cluster string
	// Role is the role of a new journal; a journal that holds a role keeps
	// its own.
	Role string
	// Log is the instance's journal storage: a new or a crashed MemLog.
	Log *journal.MemLog
	// Side is storage outside the journal that survives a crash (the
	// model engine's lost transactions), written durably at once.
	Side *Side
	// Dir is a directory of the instance that survives its crashes (the
	// real engine's side files), unless Options.Model.
	Dir string
	// Now is the instance's wall clock, in Unix nanoseconds.
	Now func() int64
	// App is the application to register instead of "ops" (real engine).
	App *apps.App
	// Node configures the protocol (ticks, and Break for a broken one).
	Node replicate.NodeConfig
	// Retain: frequent checkpoints and journal truncation (retain.go).
	Retain bool
}

// Opener opens an instance; the simulator calls it at the start and after
// every crash.
type Opener func(cfg Config) (Instance, error)

// Side is the durable storage of an instance outside its journal: the
// reconciliation records its rollbacks saved (an engine's lost files) and a
// rollback's intent. Writes to it are durable at once.
type Side struct {
	// Lost are the own transaction records rolled off, in order.
	Lost []*journal.Record
	// Intent is the position a rollback in progress rolls back to (0: none).
	Intent       uint64
	IntentReason string
	// Archive holds the records retention removed from the journal, for
	// the oracle (retain.go).
	Archive []journal.Record
	// Prefix is the history a seed installed stands for: the peer's
	// records then, as this instance would hold them (seed.go).
	Prefix []journal.Record
}
