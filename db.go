package liege

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/conflictlog"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
	"github.com/liege-db/liege/rollback"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure an instance.
type Options struct {
	// Dir is the instance directory (created if missing). One process at a
	// time may hold it.
	Dir string
	// ID is the instance id, a short string like "A". It is written into a
	// new journal and checked against an existing one.
	ID string
	// Now is the physical clock (time.Now if nil); tests inject their own.
	Now func() time.Time
	// MaxClockOffset bounds how far ahead of this instance's clock a peer's
	// timestamps may be (default 500ms).
	MaxClockOffset time.Duration
	// CheckpointEvery is the number of journal records between background
	// checkpoints (default 500,000; negative disables them).
	CheckpointEvery int
	// SegmentSize is the journal segment size (default 4 MiB).
	SegmentSize int
	// JournalKeep is how many of the newest journal bytes are never
	// truncated from the journal's front (default 1 GiB; negative: never
	// truncate). Retention keeps more where recovery or the peer needs it
	// (internal/engine/retain.go).
	JournalKeep int64
	// SideKeep is how long lost transaction files and finished
	// reconciliation logs are kept (default a week; negative: for ever).
	SideKeep time.Duration
	// Logger receives the engine's log lines (slog.Default() if nil).
	Logger *slog.Logger
	// Registerer, if set, receives the engine's metrics. The engine never
	// uses the global registry.
	Registerer prometheus.Registerer
	// IdempotencyWindow is how many recent idempotency keys are remembered
	// (default 100,000). They are kept in the directory (file idemkeys)
	// across restarts and crashes, whatever journal retention removed.
	IdempotencyWindow int
	// IdempotencyKeep is how long an idempotency key is kept after its
	// call committed (default 24h; negative: as long as IdempotencyWindow
	// keeps it). A key reused within it for another procedure or other
	// arguments is refused with ErrIdempotencyKeyReused.
	IdempotencyKeep time.Duration
	// MaxFrame is the replication link's frame limit (default
	// link.DefaultMaxFrame, 64 MiB; `liege serve --max-frame`): a call
	// whose transaction would not fit one frame is refused with a
	// *TxnTooLargeError, as the stream could never carry it.
	MaxFrame int
	// PeerID is the other instance's id, if this instance is replicated.
	PeerID string
	// Role is "liege" or "vassal" (empty for a lone instance).
	Role string
	// Cluster names the replicated pair (needed with PeerID; a
	// replicate.Config.Cluster given to replicate.Start sets it too).
	Cluster string
	// Merge is how peer transactions are merged: MergePath ("path", the
	// default if empty), the protocol of DESIGN.md, or MergeLWW ("lww"), a
	// last-writer-wins baseline to compare the protocol against, which
	// checks nothing and loses data (see lww.go). Not for production.
	Merge string
	// Routes override procedures' routes (DESIGN.md section 13; route.go):
	// "buy=auto", "withdraw=liege", or "withdraw=liege+available" (commit
	// locally rather than refuse while the link is down).
	Routes []string
	// RouteLinkGrace is how long a call whose route forwards waits for a
	// link that went down moments ago (or has not come up since this
	// instance opened) before it commits here or is refused: a restart, a
	// reset or the re-handshake after a rollback reconnects within it, and
	// a call committed here while the vassal has not caught up with the
	// liege conflicts almost surely. Zero means DefaultRouteLinkGrace;
	// negative, no wait.
	RouteLinkGrace time.Duration
	// AwaitPeer: take no call until the first handshake with the peer
	// (then, if the peer holds own transactions of this empty instance,
	// until it is seeded from the peer's checkpoint); calls are refused
	// with ErrAwaitingPeer meanwhile. For a site rebuilt on an empty
	// directory (`liege serve --await-peer`): before that handshake it
	// cannot tell that the peer holds own OSeqs it must not assign again.
	AwaitPeer bool
}

// RollbackFailedError is returned by RollbackTo, and by every later call,
// when a rollback failed part way: the instance stops taking calls, and
// reopening it finishes the rollback from its durable intent.
type RollbackFailedError = engine.RollbackFailedError

// Errors returned by DB methods.
var (
	ErrClosed    = engine.ErrClosed
	ErrWrongID   = engine.ErrWrongID
	ErrBadTarget = engine.ErrBadTarget
	// ErrQuiesced is returned by calls while the instance is quiesced for
	// a switchover (DESIGN.md section 10): retry in a moment.
	ErrQuiesced = engine.ErrQuiesced
	// ErrNotReplicated is returned by the replication methods of an
	// instance opened without Options.PeerID.
	ErrNotReplicated = engine.ErrNotReplicated
	// ErrLostAcked is returned by Open when acknowledged journal records
	// are damaged or missing; nothing in the directory was changed.
	ErrLostAcked = engine.ErrLostAcked
	// ErrIdempotencyKeyReused is a call's error when its idempotency key
	// was used for another procedure or other arguments.
	ErrIdempotencyKeyReused = engine.ErrIdempotencyKeyReused
	// ErrAwaitingPeer is a call's error while an instance does not yet know
	// which own OSeqs its peer holds (DESIGN.md section 3): it cut a torn
	// journal tail at start-up and waits for its peer's handshake (retry
	// once the link is up), or it was rebuilt on an empty directory and
	// waits for the checkpoint it asked its peer for (retry once it is
	// seeded). The error says which.
	ErrAwaitingPeer = engine.ErrAwaitingPeer
	// ErrTxnTooLarge is a call's error (in a *TxnTooLargeError) when its
	// transaction would not fit one replication frame (Options.MaxFrame):
	// nothing was committed.
	ErrTxnTooLarge = engine.ErrTxnTooLarge
)

// TxnTooLargeError says how large a refused transaction's frame would
// have been, and the limit.
type TxnTooLargeError = engine.TxnTooLargeError

// DefaultIdempotencyKeep is Options.IdempotencyKeep's default.
const DefaultIdempotencyKeep = engine.DefaultIdempotencyKeep

// Roles (DESIGN.md section 1).
const (
	RoleLiege  = engine.RoleLiege
	RoleVassal = engine.RoleVassal
)

// DB is an open instance: the front door of an engine.Instance (package
// internal/engine), which holds the ordered state, the journal and the
// replication protocol. One goroutine, the executor (driver in exec.go),
// owns the instance and steps it while there is work; callers hand it
// calls and wait on a channel until their call is done.
type DB struct {
	opts    Options
	log     *slog.Logger
	lock    *journal.DirLock
	reg     *Registry
	metrics *metrics
	// conflicts is the conflict log (conflicts.go).
	conflicts *conflictlog.Log
	rt        *router // call routing (route.go)

	in *engine.Instance // the executor's alone

	reqs    chan *call
	ctl     chan func()
	linkq   chan linkEvent
	quit    chan struct{}
	stopped chan struct{}
	closeMu sync.RWMutex
	closed  bool

	// Executor-owned.
	inflight  []*call
	durWait   []durWaiter
	appliedCh chan struct{}
	ckptJob   *engine.CheckpointJob // taken, waiting for its position to be durable
	ckptBack  chan *engine.CheckpointJob
	ckptWG    sync.WaitGroup
	syncer    *fsyncer // the journal fsync in flight (syncer.go)
	lastOwn   uint64
	lastPeer  uint64

	answeredSeen uint64 // Instance.Answered when answerDone last scanned

	// The replication outbox, filled by the executor, taken by the
	// Replicator's writer.
	outMu    sync.Mutex
	out      []*link.Frame
	outDisc  string
	outReady chan struct{}

	// pub mirrors executor state for readers on other goroutines.
	pub struct {
		role     atomic.Pointer[string]
		node     atomic.Pointer[replicate.NodeStatus]
		quiesced atomic.Bool
		recon    atomic.Int64
		fsyncs   atomic.Uint64
		durable  atomic.Uint64
		bytes    atomic.Uint64
		epoch    atomic.Uint64
		reign    atomic.Uint64
		first    atomic.Uint64
		// applied is the Instance's Applied (own, peer): Token's.
		applied appliedPair
	}
	lag         lagState      // for liege_replication_lag_seconds (lag.go)
	lastCkpt    atomic.Int64  // unix nanos of the last checkpoint (or of Open)
	lastCkptPos atomic.Uint64 // journal position of the last checkpoint (loaded or written)
	started     time.Time

	Recovery RecoveryInfo
}

// RecoveryInfo says what Open found and did.
type RecoveryInfo = engine.RecoveryInfo

type durWaiter struct {
	pos uint64
	ch  chan struct{}
}

// Open opens the instance in opts.Dir, recovering it from its newest
// checkpoint and journal: a torn tail is repaired, an interrupted rollback
// is finished, and the journal after the checkpoint is replayed.
func Open(opts Options) (*DB, error) {
	if opts.Dir == "" || opts.ID == "" {
		return nil, errors.New("open instance: Options.Dir and Options.ID are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxClockOffset <= 0 {
		opts.MaxClockOffset = engine.DefaultMaxClockOffset
	}
	merge, err := checkMerge(opts.Merge)
	if err != nil {
		return nil, err
	}
	opts.Merge = merge
	if opts.PeerID != "" && opts.PeerID == opts.ID {
		return nil, fmt.Errorf("open instance: Options.PeerID is this instance's own id %q; the peer needs another", opts.ID)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create instance directory: %w", err)
	}
	lock, err := journal.LockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	db := &DB{
		opts: opts, log: opts.Logger.With("instance", opts.ID), lock: lock, reg: NewRegistry(),
		reqs: make(chan *call, 1024), ctl: make(chan func()), linkq: make(chan linkEvent, 4096), quit: make(chan struct{}), stopped: make(chan struct{}),
		ckptBack: make(chan *engine.CheckpointJob, 1), outReady: make(chan struct{}, 1), started: time.Now(),
		syncer: newFsyncer(),
	}
	db.metrics = newMetrics(opts.Registerer, db)
	if db.rt, err = newRouter(opts); err != nil {
		lock.Unlock()
		return nil, err
	}
	db.rt.loadRoutes(opts.Dir, db.log)
	hooks := db.conflictHooks(db.metrics.hooks(db))
	hooks.OwnConflict = db.ownConflict
	hooks.PeerTxn = db.peerTxn
	if db.conflicts, err = conflictlog.Open(opts.Dir, conflictlog.Options{Now: opts.Now}); err != nil {
		lock.Unlock()
		return nil, err
	}
	logStart := time.Now()
	log, err := journal.OpenFileLogGuarded(opts.Dir, opts.SegmentSize, engine.AckedTailGuard(opts.Dir))
	logOpen := time.Since(logStart)
	if err != nil {
		db.conflicts.Close()
		lock.Unlock()
		return nil, err
	}
	in, err := engine.Open(engine.Config{
		ID: opts.ID, PeerID: opts.PeerID, Cluster: opts.Cluster, Role: opts.Role, Dir: opts.Dir, Log: log,
		Runner: db.reg.Runner(), Now: opts.Now, MaxClockOffset: opts.MaxClockOffset,
		CheckpointEvery: opts.CheckpointEvery, IdempotencyWindow: opts.IdempotencyWindow, IdempotencyKeep: opts.IdempotencyKeep,
		MaxFrame: opts.MaxFrame, JournalKeep: opts.JournalKeep, SideKeep: opts.SideKeep,
		LWW: opts.Merge == MergeLWW, Logger: opts.Logger, Hooks: hooks, ReplayWorkers: 2,
		Syncer: db.syncer, AwaitPeer: opts.AwaitPeer,
	})
	if err != nil {
		db.syncer.stop()
		db.conflicts.Close()
		lock.Unlock()
		return nil, err
	}
	db.in = in
	db.Recovery = in.Recovery
	db.Recovery.ReplayDuration += logOpen // the journal's open and check of every frame came first
	if db.Recovery.TornTail != "" {
		db.log.Warn("repaired torn journal tail (never acknowledged)", "detail", db.Recovery.TornTail)
	}
	db.publish()
	db.lastCkpt.Store(time.Now().UnixNano())
	db.lastCkptPos.Store(db.Recovery.CheckpointPos)
	go db.executor()
	return db, nil
}

// ID returns the instance id.
func (db *DB) ID() string { return db.opts.ID }

// Dir returns the instance directory.
func (db *DB) Dir() string { return db.opts.Dir }

// PeerID returns the id of the peer instance, "" for a lone instance.
func (db *DB) PeerID() string { return db.opts.PeerID }

// Role returns the instance's role: RoleLiege, RoleVassal, or "" for a lone
// instance.
func (db *DB) Role() string {
	if r := db.pub.role.Load(); r != nil {
		return *r
	}
	return ""
}

// Close stops taking calls, finishes the ones in flight, writes a
// checkpoint, and closes the journal and the directory lock.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	close(db.quit)
	db.closeMu.Unlock()
	<-db.stopped
	db.ckptWG.Wait()
	select {
	case j := <-db.ckptBack:
		db.in.CheckpointDone(j)
	default:
	}
	var errs []error
	if err := db.in.Close(); err != nil {
		errs = append(errs, err)
	}
	db.syncer.stop()
	db.answerDone()
	if err := db.rt.saveRoutes(db.opts.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := db.conflicts.Close(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, db.lock.Unlock())
	return errors.Join(errs...)
}

// settleCheckpoint waits for a background checkpoint to finish and hands
// it back, and drops one taken and not yet started (executor only).
func (db *DB) settleCheckpoint() {
	db.ckptWG.Wait()
	select {
	case j := <-db.ckptBack:
		db.in.CheckpointDone(j)
	default:
	}
	if j := db.ckptJob; j != nil {
		db.ckptJob = nil
		j.Err = errors.New("abandoned for a rollback or an explicit checkpoint")
		db.in.CheckpointDone(j)
	}
}

// Checkpoint saves the state now and waits for it.
func (db *DB) Checkpoint(ctx context.Context) error {
	var job *engine.CheckpointJob
	var err error
	if cerr := db.control(ctx, func() {
		db.settleCheckpoint()
		if db.in.Durable() < db.in.LastPos() {
			db.in.Sync()
			db.afterStep()
		}
		job = db.in.TakeCheckpoint(true)
		if job == nil {
			err = errors.New("a checkpoint is already being written; retry in a moment")
			return
		}
		db.ckptWG.Add(1)
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	t0 := time.Now()
	jerr := job.Run()
	if jerr == nil {
		db.checkpointed(job.Pos, t0)
	}
	// Hand the job back the way a background one comes back (one job is
	// out at a time, so the buffer has room): a rollback waiting on the
	// executor for checkpoints in flight takes it without a round trip.
	db.ckptBack <- job
	db.ckptWG.Done()
	return jerr
}

// Hash returns the state hash (see journalctl state).
func (db *DB) Hash(ctx context.Context) ([32]byte, error) {
	var h [32]byte
	err := db.control(ctx, func() { h = db.in.Hash() })
	return h, err
}

// Status is a point-in-time summary of the instance.
type Status struct {
	ID            string
	Epoch         uint64
	LastPos       uint64
	Durable       uint64
	HighOSeq      uint64
	PeerWatermark uint64
	HLC           uint64
	Keys          int
	// Failed is the error that stopped the instance (its journal failed,
	// e.g. "no space left on device", or a rollback failed part way), nil
	// while it is healthy. It takes no more calls until reopened.
	Failed error
}

// Status returns the instance's status.
func (db *DB) Status(ctx context.Context) (Status, error) {
	var s Status
	err := db.control(ctx, func() {
		es := db.in.Status()
		s = Status{ID: es.ID, Epoch: es.Epoch, LastPos: es.LastPos, Durable: es.Durable, HighOSeq: es.HighOSeq,
			PeerWatermark: es.PeerWatermark, HLC: es.HLC, Keys: es.Keys, Failed: es.Fatal}
	})
	return s, err
}

// RollbackResult says what a rollback did.
type RollbackResult struct {
	From, To uint64
	Records  uint64
	Epoch    uint64
	LostFile string
	Duration time.Duration
}

// RollbackTo rolls the instance back to just before position pos: every
// record from pos on is undone with its before-images, newest first, saved
// to a lost transaction file, and removed from the journal, and the epoch is
// bumped. Calls wait while it runs. It is crash-safe: see package rollback.
// A liege never rolls back; a vassal keeps a reconciliation log of its
// transactions rolled off and handshakes afresh.
func (db *DB) RollbackTo(ctx context.Context, pos uint64, reason string) (*RollbackResult, error) {
	var res *RollbackResult
	var err error
	cerr := db.control(ctx, func() {
		db.settleCheckpoint() // a checkpoint above pos must not land after the rollback
		var from, to uint64
		var lost string
		t0 := time.Now()
		from, to, lost, err = db.in.RollbackTo(pos, reason)
		if err == nil {
			res = &RollbackResult{From: from, To: to, Records: to - from + 1, Epoch: db.in.Status().Epoch, LostFile: lost,
				Duration: time.Since(t0)}
		}
		db.afterStep()
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	db.log.Warn("rolled back", "from", res.From, "to", res.To, "records", res.Records, "epoch", res.Epoch, "lost_file", res.LostFile, "reason", reason)
	return res, nil
}

// LostDir returns the directory that holds the lost transaction files.
func (db *DB) LostDir() string { return filepath.Join(db.opts.Dir, rollback.LostDir) }
