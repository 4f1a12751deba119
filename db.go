package liege

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
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
	// SegmentSize is the journal segment size (default 64 MiB).
	SegmentSize int
	// Logger receives the engine's log lines (slog.Default() if nil).
	Logger *slog.Logger
	// Registerer, if set, receives the engine's metrics. The engine never
	// uses the global registry.
	Registerer prometheus.Registerer
	// IdempotencyWindow is how many recent idempotency keys are remembered
	// (default 100,000). At start-up the journal is read back this far
	// before the checkpoint to remember them across a restart.
	IdempotencyWindow int
	// PeerID is the other instance's id, if this instance is replicated.
	PeerID string
	// Role is "liege" or "vassal" (empty for a lone instance).
	Role string
	// Merge is how peer transactions are merged: MergePath ("path", the
	// default if empty), the protocol of DESIGN.md, or MergeLWW ("lww"), a
	// last-writer-wins baseline to compare the protocol against, which
	// checks nothing and loses data (see lww.go). Not for production.
	Merge string
}

// RollbackFailedError is returned by RollbackTo, and by every later call,
// when a rollback failed part way: the instance stops taking calls, and
// reopening it finishes the rollback from its durable intent.
type RollbackFailedError struct{ Err error }

func (e *RollbackFailedError) Error() string {
	return fmt.Sprintf("rollback failed; the instance stopped and must be reopened, which finishes the rollback: %v", e.Err)
}

func (e *RollbackFailedError) Unwrap() error { return e.Err }

// Errors returned by DB methods.
var (
	ErrClosed    = errors.New("instance closed")
	ErrWrongID   = errors.New("instance directory belongs to another instance")
	ErrBadTarget = errors.New("bad rollback target")
)

// DB is an open instance: the ordered state, its journal and the executor
// that runs procedures against them one at a time, in journal order.
type DB struct {
	opts    Options
	log     *slog.Logger
	lock    *journal.DirLock
	j       *journal.Journal
	clock   *hlc.Clock
	metrics *metrics

	procsMu sync.RWMutex
	procs   map[string]*proc

	// Executor-owned state.
	st            *store.Store
	tx            *Tx
	enc           *journal.Encoder
	resEnc        []byte
	epoch         uint64
	highOSeq      uint64
	peerWatermark uint64
	lastPos       uint64 // last position appended
	index         *txnIndex
	indexFrom     uint64 // the index covers positions from here on
	idem          *idemCache
	lostTx        map[journal.TxID]string // rolled off here: lost transaction file
	window        *detect.Window          // own transactions the peer may not have seen (nil if not replicated)
	lastOwn       uint64                  // OSeq of the newest own transaction in the journal
	peerWrites    []journal.Write         // appendPeer's scratch
	recon         []*reconcile.Log        // a vassal's reconciliation logs not yet complete
	reconPending  int                     // records pending in recon
	appliedCh     chan struct{}           // closed when transactions are applied
	peerID        string
	lww           bool // Options.Merge is MergeLWW
	started       time.Time
	sinceCkpt     int
	ckptMu        sync.Mutex // one checkpoint written at a time
	ckptRunning   atomic.Bool
	ckptWG        sync.WaitGroup
	ckptDone      atomic.Uint64 // a checkpoint written in the background, to mark in the journal
	lastCkpt      atomic.Int64  // unix nanos of the last checkpoint
	lastCkptPos   atomic.Uint64 // journal position of the last checkpoint (loaded or written)
	roleChanges   atomic.Uint64 // role changes journaled since Open (liege_reign)

	reqs    chan *call
	ctl     chan func()
	quit    chan struct{}
	stopped chan struct{}
	closeMu sync.RWMutex
	closed  bool

	waitMu  sync.Mutex
	waiters []waiter // in position order
	ready   []waiter // onDurable's scratch
	fatal   error

	// pub mirrors executor state for readers on other goroutines.
	pub struct {
		peerWatermark, lastOwn, epoch atomic.Uint64
		window, reconPending          atomic.Int64
		role                          atomic.Pointer[string]
	}
	// gen counts rollbacks: a reader of journal positions (the replication
	// stream) checks it to know positions it read were not reused.
	gen      atomic.Uint64
	quiesced atomic.Bool
	durMu    sync.Mutex
	durCh    chan struct{} // closed when more of the journal is durable, or on a rollback

	Recovery RecoveryInfo
}

// RecoveryInfo says what Open found and did.
type RecoveryInfo struct {
	Checkpoint     string // the checkpoint loaded, if any
	CheckpointPos  uint64
	Replayed       uint64 // journal records replayed after it
	ReplayDuration time.Duration
	TornTail       string // the torn tail repaired, if any
	Rollback       *rollback.Result
	Skipped        []error // checkpoints that did not load
}

type waiter struct {
	pos uint64
	c   *call
}

// Open opens the instance in opts.Dir, recovering it from its newest
// checkpoint and journal: a torn tail is repaired, an interrupted rollback
// is finished, and the journal after the checkpoint is replayed.
func Open(opts Options) (*DB, error) {
	if opts.Dir == "" || opts.ID == "" {
		return nil, errors.New("open instance: Options.Dir and Options.ID are required")
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = 500_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.IdempotencyWindow == 0 {
		opts.IdempotencyWindow = 100_000
	}
	merge, err := checkMerge(opts.Merge)
	if err != nil {
		return nil, err
	}
	opts.Merge = merge
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create instance directory: %w", err)
	}
	lock, err := journal.LockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	db := &DB{
		opts:    opts,
		log:     opts.Logger.With("instance", opts.ID),
		lock:    lock,
		procs:   map[string]*proc{},
		clock:   hlc.New(hlc.PhysicalClock(opts.Now), opts.MaxClockOffset),
		tx:      newTx(),
		enc:     journal.NewEncoder(),
		reqs:    make(chan *call, 1024),
		ctl:     make(chan func()),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		index:   newTxnIndex(),
		idem:    newIdemCache(max(opts.IdempotencyWindow, 0)),
		lostTx:  map[journal.TxID]string{},
		peerID:  opts.PeerID,
		lww:     opts.Merge == MergeLWW,
		started: time.Now(),
	}
	if opts.PeerID != "" {
		if opts.PeerID == opts.ID {
			lock.Unlock()
			return nil, fmt.Errorf("open instance: Options.PeerID is this instance's own id %q; the peer needs another", opts.ID)
		}
		db.window = detect.NewWindow()
	}
	db.metrics = newMetrics(opts.Registerer, db)
	if err := db.recover(); err != nil {
		if db.j != nil {
			db.j.Close()
		}
		lock.Unlock()
		return nil, err
	}
	db.lastCkpt.Store(time.Now().UnixNano())
	db.lastCkptPos.Store(db.Recovery.CheckpointPos)
	go db.executor()
	return db, nil
}

func (db *DB) recover() error {
	t0 := time.Now()
	j, err := journal.Open(db.opts.Dir, journal.Options{
		SegmentSize: db.opts.SegmentSize,
		OnDurable:   db.onDurable,
		OnFatal:     db.onFatal,
	})
	if err != nil {
		return err
	}
	db.j = j
	if j.Repair != nil {
		db.Recovery.TornTail = j.Repair.String()
		db.log.Warn("repaired torn journal tail (never acknowledged)", "file", j.Repair.File, "offset", j.Repair.Offset, "position", j.Repair.Pos, "bytes", j.Repair.Bytes, "cause", j.Repair.Err)
	}
	res, err := rollback.Resume(db.opts.Dir, j, db.enc)
	if err != nil {
		return err
	}
	if res != nil {
		db.Recovery.Rollback = res
		db.log.Warn("finished an interrupted rollback", "from", res.From, "to", res.To, "epoch", res.Epoch, "lost_file", res.LostFile)
	}
	last := j.Next() - 1
	files, err := checkpoint.List(db.opts.Dir)
	if err != nil {
		return err
	}
	if n := len(files); n > 0 && files[n-1].Pos > last {
		// A checkpoint only ever holds durable records, and a rollback
		// removes checkpoints above its target before truncating: one
		// beyond the journal's end means the journal lost acknowledged
		// records (a disk that lied, a hand-truncated file).
		return fmt.Errorf("checkpoint %s holds the state at position %d but the journal of %s ends at %d: the journal lost acknowledged records; "+
			"restore the journal, or remove that checkpoint to accept the loss, then open again", files[n-1].Path, files[n-1].Pos, db.opts.Dir, last)
	}
	meta, st, path, skipped, err := checkpoint.LoadNewest(db.opts.Dir, last)
	if err != nil {
		return err
	}
	db.Recovery.Skipped = skipped
	for _, e := range skipped {
		db.log.Warn("skipped a checkpoint that does not load", "error", e)
	}
	from := uint64(1)
	if st != nil {
		if meta.Instance != db.opts.ID {
			return fmt.Errorf("%w: checkpoint %s is of instance %q, not %q", ErrWrongID, path, meta.Instance, db.opts.ID)
		}
		db.st = st
		db.epoch, db.highOSeq, db.peerWatermark = meta.Epoch, meta.HighOSeq, meta.PeerWatermark
		db.clock.Restore(hlc.Timestamp(meta.HLC))
		db.Recovery.Checkpoint, db.Recovery.CheckpointPos = path, meta.Pos
		from = meta.Pos + 1
	} else {
		db.st = store.New()
	}
	if from < j.First() {
		return fmt.Errorf("journal of %s starts at position %d but the newest checkpoint holds only up to %d: records are missing", db.opts.Dir, j.First(), from-1)
	}
	// Index (and remember the idempotency keys of) a window of records
	// before the checkpoint too, so that a call retried across a restart
	// right after a checkpoint is still recognised.
	db.indexFrom = from
	if w := uint64(max(db.opts.IdempotencyWindow, 0)); w > 0 && from > j.First() {
		db.indexFrom = max(j.First(), from-min(from-1, w))
		if _, err := replay(j, db.indexFrom, from-1, func(r *journal.Record) error { db.remember(r); return nil }); err != nil {
			return err
		}
	}
	n, err := replay(j, from, last, func(r *journal.Record) error {
		db.remember(r)
		return db.replayRecord(r)
	})
	if err != nil {
		return err
	}
	if err := db.loadLostIndex(); err != nil {
		return err
	}
	db.Recovery.Replayed = n
	db.lastPos = last
	db.sinceCkpt = int(n)
	if last == 0 {
		// A new journal: its first record names the instance.
		if err := db.appendMeta(&journal.Record{Kind: journal.KindOpen, Instance: db.opts.ID}); err != nil {
			return err
		}
		if err := j.Flush(); err != nil {
			return err
		}
	}
	if err := db.recoverReplication(); err != nil {
		return err
	}
	db.publish()
	db.Recovery.ReplayDuration = time.Since(t0)
	db.removeTempFiles()
	return nil
}

// removeTempFiles deletes the temporary files a crash can leave behind while
// writing a checkpoint or a lost transaction file: only renamed files count.
func (db *DB) removeTempFiles() {
	for _, d := range []string{".", checkpoint.Dir, rollback.LostDir, reconcile.Dir} {
		tmps, _ := filepath.Glob(filepath.Join(db.opts.Dir, d, "*.tmp"))
		for _, t := range tmps {
			if err := os.Remove(t); err == nil {
				db.log.Info("removed a temporary file left by a crash", "file", t)
			}
		}
	}
}

// replayRecord applies one journal record during recovery.
func (db *DB) replayRecord(r *journal.Record) error {
	switch r.Kind {
	case journal.KindOpen:
		if r.Instance != db.opts.ID {
			return fmt.Errorf("%w: %s holds the journal of instance %q; open it with that id or use another directory", ErrWrongID, db.opts.Dir, r.Instance)
		}
		db.highOSeq = max(db.highOSeq, r.HighOSeq)
	case journal.KindRole:
		role := r.Role
		db.pub.role.Store(&role)
	case journal.KindEpoch:
		db.epoch = r.Epoch
		db.clock.Restore(hlc.Timestamp(r.HLC)) // the largest HLC rolled off
		db.highOSeq = max(db.highOSeq, r.HighOSeq)
		if r.Rollback != nil {
			db.peerWatermark = r.Rollback.PeerWatermark
		}
	}
	if !r.Kind.IsTxn() {
		return nil
	}
	db.st.Apply(r)
	db.clock.Restore(hlc.Timestamp(r.HLC))
	if r.Origin == db.opts.ID {
		db.highOSeq = max(db.highOSeq, r.OSeq)
	} else {
		db.peerWatermark = max(db.peerWatermark, r.OSeq)
	}
	return nil
}

// remember indexes a transaction record and its idempotency key.
func (db *DB) remember(r *journal.Record) {
	db.index.add(r)
	if r.IdempotencyKey != "" && r.Origin == db.opts.ID {
		db.idem.put(r.IdempotencyKey, idemOutcome{txid: r.TxID(), pos: r.Pos, hlc: r.HLC, raw: bytes.Clone(r.Result)})
	}
}

// loadLostIndex reads the TxIDs of the own transactions in the lost
// transaction files, for TxnStatus.
func (db *DB) loadLostIndex() error {
	files, err := filepath.Glob(filepath.Join(db.opts.Dir, rollback.LostDir, "*.ltf"))
	if err != nil {
		return err
	}
	for _, f := range files {
		lf, err := rollback.ReadLostFile(f)
		if err != nil {
			db.log.Warn("unreadable lost transaction file", "file", f, "error", err)
			continue
		}
		for i := range lf.Records {
			if r := &lf.Records[i]; r.Kind.IsTxn() && r.Origin == db.opts.ID {
				db.lostTx[r.TxID()] = f
			}
		}
	}
	return nil
}

// replay decodes records from..to of j on worker goroutines and calls apply
// on each, in order, on the calling goroutine.
func replay(j *journal.Journal, from, to uint64, apply func(*journal.Record) error) (uint64, error) {
	if from > to {
		return 0, nil
	}
	const chunk = 512
	type job struct {
		from, to uint64
		recs     []journal.Record
		err      error
		done     chan struct{}
	}
	workers := 2
	jobs := make(chan *job, 2*workers)
	results := make(chan *job, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := journal.NewDecoder()
			for jb := range jobs {
				for p := jb.from; p <= jb.to && jb.err == nil; p++ {
					f, err := j.Read(p)
					if err == nil {
						err = d.DecodeFrame(f, &jb.recs[p-jb.from])
					}
					if err == nil && jb.recs[p-jb.from].Pos != p {
						err = fmt.Errorf("record claims position %d", jb.recs[p-jb.from].Pos)
					}
					if err != nil {
						jb.err = fmt.Errorf("replay journal position %d: %w", p, err)
					}
				}
				close(jb.done)
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		defer close(results)
		defer close(jobs)
		for p := from; p <= to; p += chunk {
			jb := &job{from: p, to: min(p+chunk-1, to), done: make(chan struct{})}
			jb.recs = make([]journal.Record, jb.to-jb.from+1)
			select {
			case jobs <- jb:
			case <-stop:
				return
			}
			select {
			case results <- jb:
			case <-stop:
				return
			}
		}
	}()
	var n uint64
	var err error
	for jb := range results {
		<-jb.done
		if err == nil {
			err = jb.err
		}
		for i := range jb.recs {
			if err != nil {
				break
			}
			err = apply(&jb.recs[i])
			n++
		}
		if err != nil {
			select {
			case <-stop:
			default:
				close(stop)
			}
		}
	}
	wg.Wait()
	return n, err
}

// appendMeta journals a non-transaction record (executor or recovery only).
func (db *DB) appendMeta(r *journal.Record) error {
	r.Pos = db.lastPos + 1
	r.Epoch = db.epoch
	if r.HighOSeq == 0 {
		r.HighOSeq = db.highOSeq
	}
	f, err := db.enc.Frame(r)
	if err != nil {
		return err
	}
	if err := db.j.Append(r.Pos, f); err != nil {
		return err
	}
	db.lastPos = r.Pos
	return nil
}

// ID returns the instance id.
func (db *DB) ID() string { return db.opts.ID }

// Dir returns the instance directory.
func (db *DB) Dir() string { return db.opts.Dir }

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
	var errs []error
	if db.fatalErr() == nil && db.opts.CheckpointEvery > 0 && db.sinceCkpt > 0 {
		if err := db.j.Flush(); err == nil {
			if err := db.writeCheckpoint(db.checkpointMeta(), db.st.Snapshot()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := db.j.Close(); err != nil {
		errs = append(errs, err)
	}
	db.failWaiters(ErrClosed)
	errs = append(errs, db.lock.Unlock())
	return errors.Join(errs...)
}

func (db *DB) checkpointMeta() checkpoint.Meta {
	return checkpoint.Meta{
		Instance: db.opts.ID, Pos: db.lastPos, Epoch: db.epoch, HighOSeq: db.highOSeq,
		HLC: uint64(db.clock.Last()), PeerWatermark: db.peerWatermark,
	}
}

func (db *DB) writeCheckpoint(meta checkpoint.Meta, snap *store.Snapshot) error {
	db.ckptMu.Lock()
	defer db.ckptMu.Unlock()
	t0 := time.Now()
	path, err := checkpoint.Write(db.opts.Dir, meta, snap)
	if err != nil {
		db.log.Error("checkpoint failed", "pos", meta.Pos, "error", err)
		return err
	}
	db.lastCkpt.Store(time.Now().UnixNano())
	db.lastCkptPos.Store(meta.Pos)
	db.metrics.checkpointSeconds.Observe(time.Since(t0).Seconds())
	db.log.Debug("checkpoint written", "pos", meta.Pos, "keys", snap.Len(), "path", path, "took", time.Since(t0))
	return checkpoint.Prune(db.opts.Dir, 2, meta.Pos)
}

// Checkpoint saves the state now and waits for it.
func (db *DB) Checkpoint(ctx context.Context) error {
	var meta checkpoint.Meta
	var snap *store.Snapshot
	if err := db.control(ctx, func() {
		meta, snap = db.checkpointMeta(), db.st.Snapshot()
		db.sinceCkpt = 0
		// A rollback waits for checkpoints in flight before it removes
		// those above its target: this one must count, or it could land
		// after the rollback with rolled-off state in it.
		db.ckptWG.Add(1)
	}); err != nil {
		return err
	}
	defer db.ckptWG.Done()
	if err := db.j.WaitDurable(meta.Pos); err != nil {
		return err
	}
	return db.writeCheckpoint(meta, snap)
}

// maybeCheckpoint starts a background checkpoint when enough records have
// been journaled since the last one (executor only). The snapshot is
// copy-on-write, so the executor is stalled only for taking it.
func (db *DB) maybeCheckpoint() {
	if p := db.ckptDone.Swap(0); p != 0 {
		// The background checkpoint at p is installed: journal the marker.
		// (Appending is the executor's job, so the writer goroutine leaves
		// it here rather than waiting for the executor, which may itself be
		// waiting for the checkpoint in a rollback.)
		if err := db.appendMeta(&journal.Record{Kind: journal.KindCheckpoint, Checkpoint: p}); err != nil {
			db.log.Error("journal checkpoint marker", "error", err)
		}
	}
	if db.opts.CheckpointEvery < 0 || db.sinceCkpt < db.opts.CheckpointEvery || db.ckptRunning.Load() {
		return
	}
	db.ckptRunning.Store(true)
	db.sinceCkpt = 0
	meta, snap := db.checkpointMeta(), db.st.Snapshot()
	db.ckptWG.Add(1)
	go func() {
		defer db.ckptWG.Done()
		defer db.ckptRunning.Store(false)
		// Only durable records may be in a checkpoint: a crash must never
		// leave state the journal does not hold.
		if err := db.j.WaitDurable(meta.Pos); err != nil {
			return
		}
		if db.writeCheckpoint(meta, snap) == nil {
			db.ckptDone.Store(meta.Pos)
		}
	}()
}

// Hash returns the state hash (see journalctl state).
func (db *DB) Hash(ctx context.Context) ([32]byte, error) {
	var h [32]byte
	err := db.control(ctx, func() { h = db.st.Hash() })
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
}

// Status returns the instance's status.
func (db *DB) Status(ctx context.Context) (Status, error) {
	var s Status
	err := db.control(ctx, func() {
		s = Status{ID: db.opts.ID, Epoch: db.epoch, LastPos: db.lastPos, Durable: db.j.Durable(),
			HighOSeq: db.highOSeq, PeerWatermark: db.peerWatermark, HLC: uint64(db.clock.Last()), Keys: db.st.Len()}
	})
	return s, err
}

// RollbackTo rolls the instance back to just before position pos: every
// record from pos on is undone with its before-images, newest first, saved
// to a lost transaction file, and removed from the journal, and the epoch is
// bumped. Calls wait while it runs. It is crash-safe: see package rollback.
func (db *DB) RollbackTo(ctx context.Context, pos uint64, reason string) (*rollback.Result, error) {
	var res *rollback.Result
	var err error
	cerr := db.control(ctx, func() {
		res, err = db.rollbackLocked(pos, reason)
		if err == nil && db.window != nil && db.Role() == RoleVassal {
			// The vassal's acknowledged transactions rolled off must come
			// back through the liege, whatever the reason for the rollback.
			if _, rerr := db.buildRecon(res.LostFile, nil); rerr != nil {
				db.log.Error("could not save the reconciliation log; it is rebuilt at the next start", "lost_file", res.LostFile, "error", rerr)
			}
		}
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

// rollbackLocked is RollbackTo on the executor.
func (db *DB) rollbackLocked(pos uint64, reason string) (*rollback.Result, error) {
	if pos < 2 || pos > db.lastPos {
		return nil, fmt.Errorf("%w: position %d is outside 2..%d (position 1 opens the journal; the last record is at %d)", ErrBadTarget, pos, db.lastPos, db.lastPos)
	}
	if pos < db.j.First() {
		return nil, fmt.Errorf("%w: position %d is before the journal's first record %d", ErrBadTarget, pos, db.j.First())
	}
	if err := db.j.Flush(); err != nil {
		return nil, err
	}
	db.ckptWG.Wait() // a checkpoint above pos must not land after the rollback
	if p := db.ckptDone.Load(); p >= pos {
		db.ckptDone.Store(0) // its checkpoint is about to be removed
	}
	db.gen.Add(1) // positions from pos on are about to be reused
	res, err := rollback.Run(rollback.Env{
		Dir: db.opts.Dir, Instance: db.opts.ID, Journal: db.j, Encoder: db.enc, Store: db.st,
		Epoch: db.epoch, HighOSeq: db.highOSeq, PeerWatermark: db.peerWatermark, Self: db.opts.ID,
	}, pos, reason)
	if err != nil {
		// The intent may be on disk and the state half undone: only
		// recovery (which finishes the rollback) may go on from here.
		err = &RollbackFailedError{Err: err}
		db.failWaiters(err)
		return nil, err
	}
	db.epoch = res.Epoch
	db.peerWatermark = res.PeerWatermark
	db.lastPos = db.j.Next() - 1
	db.index.truncate(pos)
	for _, id := range res.Own {
		db.lostTx[id] = res.LostFile
	}
	if db.window != nil {
		db.window.TruncateFrom(pos)
		if db.lastOwn, err = db.findLastOwn(); err != nil {
			db.failWaiters(err)
			return nil, err
		}
	}
	db.sinceCkpt = 0
	db.metrics.rollbacks.Inc()
	db.metrics.rolledOff.Add(float64(res.Records))
	db.publish()
	db.notifyDurable()
	db.notifyApplied()
	return res, nil
}

// LostDir returns the directory that holds the lost transaction files.
func (db *DB) LostDir() string { return filepath.Join(db.opts.Dir, rollback.LostDir) }
