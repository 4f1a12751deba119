package engine

import (
	"log/slog"
	"time"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// DefaultMaxClockOffset is Config.MaxClockOffset's default.
const DefaultMaxClockOffset = 500 * time.Millisecond

// Config configures an Instance.
type Config struct {
	// ID is the instance id; PeerID the peer's ("" for a lone instance);
	// Cluster the pair's name (needed when replicated).
	ID, PeerID, Cluster string
	// Role is the operator's choice at start ("liege" or "vassal"); empty
	// keeps the journaled role. A replicated instance needs one or the
	// other.
	Role string
	// Dir holds the side files: checkpoints, lost transaction files,
	// reconciliation logs and the rollback intent. The caller holds its
	// lock.
	Dir string
	// Log is the journal's storage (journal.OpenFileLog in production,
	// journal.MemLog in the simulator). The Instance owns it: Close closes
	// it.
	Log journal.Log
	// Runner runs the application's procedures.
	Runner Runner
	// Now is the only clock the Instance reads (HLC, the handshake's wall
	// clock). Required.
	Now func() time.Time
	// MaxClockOffset bounds the peer's clock offset (default 500ms).
	MaxClockOffset time.Duration
	// CheckpointEvery is how many journal records between checkpoints
	// (0: default 500,000; negative: none). A checkpoint is offered to the
	// driver as a CheckpointJob (see TakeCheckpoint).
	CheckpointEvery int
	// JournalKeep is how many of the newest journal bytes are never
	// truncated from its front (0: DefaultJournalKeep; negative: the front
	// is never truncated). See retain.go for what else is kept.
	JournalKeep int64
	// SideKeep is how long lost transaction files and finished
	// reconciliation logs are kept (0: DefaultSideKeep; negative: for
	// ever).
	SideKeep time.Duration
	// IdempotencyWindow is how many recent idempotency keys are remembered
	// (0: default 100,000; negative: none).
	IdempotencyWindow int
	// IdempotencyKeep is how long an idempotency key is kept after its
	// call committed, by the commit's HLC (0: DefaultIdempotencyKeep;
	// negative: as long as IdempotencyWindow keeps it).
	IdempotencyKeep time.Duration
	// MaxFrame is the replication link's frame limit: a transaction whose
	// record would not fit one frame is refused at commit with a
	// *TxnTooLargeError (0: link.DefaultMaxFrame; negative: no limit).
	MaxFrame int
	// AwaitPeer: a replicated instance takes no call until its first
	// handshake with the peer (then, if the peer holds own transactions of
	// it and it is empty, until it is seeded): start a site rebuilt on an
	// empty directory with it, since before that handshake it cannot tell
	// that the peer holds OSeqs it must not assign (DESIGN.md section 3).
	AwaitPeer bool
	// ReplayWorkers, if positive, decodes the journal at Open on that many
	// goroutines, which end before Open returns (the root package uses 2;
	// a simulator leaves it zero: Open then decodes on the caller). Positive
	// also lets a rollback decode ahead on one goroutine (rollback.Env).
	ReplayWorkers int
	// Syncer, if set, runs the journal's fsyncs off the driver's goroutine,
	// one at a time, while Step runs the next batch (see syncer.go); the
	// driver hands each outcome to SyncDone. Nil (a simulator): Step syncs
	// inline.
	Syncer Syncer
	// MaxBatch bounds the calls one Write runs (default 1024).
	MaxBatch int
	// LWW selects the last-writer-wins baseline merge (no check; see the
	// root package's lww.go). Not for production.
	LWW bool
	// Node tunes the protocol's timers, in ticks (ID, PeerID, Cluster,
	// MaxClockOffset and Holds are filled in by Open).
	Node replicate.NodeConfig
	// Logger receives log lines (slog.Default() if nil).
	Logger *slog.Logger
	// Hooks, if set, are told about events for metrics.
	Hooks Hooks
}

// Hooks are optional callbacks for metrics; each runs on the driver.
type Hooks struct {
	// Committed: a call's transaction is durable, after latency since Submit.
	Committed func(latency time.Duration)
	// Aborted: a procedure returned an error.
	Aborted func()
	// Synced: an fsync made n records durable, took (Config.Now) after the
	// start of its write. With a Syncer, took ends when Step takes the
	// outcome, so it includes the time the outcome waited for the driver.
	Synced func(n int, took time.Duration)
	// PeerApplied: a peer transaction with timestamp hlc was applied.
	PeerApplied func(hlc uint64)
	// Verdict: the Node's decision on an incoming peer transaction.
	Verdict func(v replicate.PeerVerdict)
	// Reconciled: a reconciliation record was handled (skip, reprocess,
	// correct).
	Reconciled func(action string)
	// RolledBack: a rollback finished, rolling off records records.
	RolledBack func(records uint64)
	// CatchUpEnded: a vassal's calls, held after a rollback until the
	// liege's stream caught up (catchup.go), go on: "caught_up", "budget"
	// (its ticks ran out first), "link_down" or "closed".
	CatchUpEnded func(outcome string)
	// Truncating: retention is about to remove journal positions from..to-1
	// (ReadRecord still reads them).
	Truncating func(from, to uint64)
	// RollbackFor: the rollback the Node asked for because of the
	// conflicting peer transaction incoming is done; the journal is in
	// epoch now.
	RollbackFor func(incoming journal.TxID, epoch uint64)
	// Stands: txid, a reprocess or correction of the vassal's transaction
	// subject, was committed here (the liege) or applied from the peer.
	Stands func(subject, txid journal.TxID)
	// OwnConflict: own transaction r took part in a conflict (found here
	// or by the peer), reported once per transaction, for routing.
	OwnConflict func(r *journal.Record)
	// PeerTxn: the peer's transaction r (computed there, not a reprocess
	// or correction) was applied here; forwarded says it is a call this
	// vassal forwarded (its idempotency key is in flight), for routing.
	PeerTxn func(r *journal.Record, forwarded bool)
}

// Runner runs the application's procedures: the front door (liege.DB)
// implements it over its registry and liege.Tx. It is called only from the
// driver, one transaction at a time.
type Runner interface {
	// Run runs procedure proc as one transaction over st at timestamp ts
	// for origin, with args (the procedure's argument value) or, if args
	// is nil, argBytes decoded. On success st holds its writes and the
	// Effects describe them (valid until the next Run, Correct or Undo);
	// on error st is unchanged.
	Run(st *store.Store, ts hlc.Timestamp, origin, proc string, args any, argBytes []byte) (Effects, error)
	// Correct runs proc's correction of a rolled-off transaction whose
	// client was told result told and whose re-execution gave reexec, as
	// Run does.
	Correct(st *store.Store, ts hlc.Timestamp, origin, proc string, argBytes, told, reexec []byte) (Effects, error)
	// Undo undoes the writes of the last successful Run or Correct.
	Undo()
	// Known returns nil if proc is registered, else an error saying so.
	Known(proc string) error
}

// Effects are what a procedure's transaction read and wrote, and its
// msgpack-encoded result.
type Effects struct {
	Reads  []journal.PointRead
	Ranges []journal.RangeRead
	Writes []journal.Write
	Result []byte
}

// Call is one client call. The caller fills the request fields, Submits it
// and, once Done, reads Result or Err. The Instance keeps the pointer until
// Done; the caller must not touch the call in between.
type Call struct {
	// Proc names the procedure; Args is its argument value (nil: ArgBytes
	// are decoded); ArgBytes its msgpack encoding, journaled.
	Proc     string
	Args     any
	ArgBytes []byte
	// IdempotencyKey, if set, returns the first outcome of a call with the
	// same key committed recently, committing nothing.
	IdempotencyKey string
	// Forward: a vassal forwards the call to its liege (forward.go); it
	// fails with ErrNoForward when it cannot, committing nothing.
	Forward bool

	// Set by the Instance.
	Done   bool
	Result Result
	Err    error

	// Submitted is when the call was submitted (Config.Now), for latency.
	Submitted time.Time
	pos       uint64 // answered once durable up to pos
	fwdID     uint64 // a call the vassal forwarded here (liege), for ForwardDone
}

// Result is the outcome of a call.
type Result struct {
	// TxID is origin/OSeq; zero for a read-only call.
	TxID journal.TxID
	HLC  uint64
	Pos  uint64 // 0 for read-only
	Raw  []byte // msgpack result
	Kind journal.Kind
}

// Status is the instance's state, engine and protocol.
type Status struct {
	ID   string
	Role string
	// Reign is the reign the role is held in, as journaled (0 for a lone
	// instance); the Node's status says the same once attached.
	Reign         uint64
	Epoch         uint64
	LastPos       uint64
	Durable       uint64
	HighOSeq      uint64
	PeerWatermark uint64
	HLC           uint64
	Keys          int
	Quiesced      bool
	// ReconPending counts rolled-off own transactions not yet back.
	ReconPending int
	// Node is the protocol's view (zero for a lone instance).
	Node replicate.NodeStatus
	// Fatal is the error that stopped the instance, if any: it must be
	// reopened.
	Fatal error
}

// CheckpointJob is a checkpoint to write off the driver (its snapshot is
// copy-on-write): the driver runs Run on any goroutine, after Pos is
// durable, then hands the job back with CheckpointDone.
type CheckpointJob struct {
	Pos    uint64
	forced bool
	run    func() error
	Err    error
	Path   string
}

// Run writes the checkpoint (any goroutine).
func (j *CheckpointJob) Run() error { j.Err = j.run(); return j.Err }
