package engine

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/liege-db/liege/internal/hlc"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// Errors of an Instance.
var (
	// ErrClosed is a call's error when the Instance closed before it ran.
	ErrClosed = errors.New("instance closed")
	// ErrQuiesced is a call's error during a switchover.
	ErrQuiesced = errors.New("the instance is quiesced for a switchover and takes no new transactions; retry in a moment")
	// ErrNotReplicated is returned by the replication inputs of a lone
	// instance.
	ErrNotReplicated = errors.New("instance is not replicated (open it with a PeerID)")
)

// ---- the API for drivers (the root package's executor, the simulator) ----

// Open recovers the instance from cfg.Log and cfg.Dir: a torn tail is
// removed, an interrupted rollback is finished (rollback's phase machine),
// the newest checkpoint is loaded and the journal after it replayed, the
// reconciliation logs are loaded, and the instance's replicate.Node is
// built from what the journal holds.
func Open(cfg Config) (*Instance, error) { return open(cfg) }

// Submit queues a client call; a later Step (Write) runs it. The call is
// answered (Done, Result or Err) once its record is durable, or at once if
// it fails.
func (in *Instance) Submit(c *Call) { in.submit(c) }

// HasWork reports whether Step would do something.
func (in *Instance) HasWork() bool { return in.hasWork() }

// Step does at most one unit of work and reports whether it did any: the
// next phase of an outstanding rollback, one reconciliation record, a batch
// of peer records the Node handed out, the queued calls (Write) or an fsync
// (Sync); then it carries out the Node's Ready (doc.go of package
// replicate: persist, apply, roll back, reconcile, send).
func (in *Instance) Step() bool { return in.step() }

// Write runs the queued calls (up to Config.MaxBatch) as one batch,
// appending their records to the journal, not yet durable. It reports
// whether it ran any. (Step calls it; a simulator may call it alone to
// crash before the fsync.)
func (in *Instance) Write() bool { return in.writeCalls() }

// Sync makes every record appended durable (one fsync), answers the calls
// waiting for it and tells the Node which own records are durable and how
// far peer records are applied durably. It reports whether there was
// anything to sync.
func (in *Instance) Sync() bool { return in.sync() }

// SyncDone hands in the outcome of the fsync Config.Syncer ran: the calls
// it made durable are done.
func (in *Instance) SyncDone(err error) { in.syncDone(err) }

// Deliver hands in a frame from the peer. An error means the link must be
// closed (the driver then calls LinkDown).
func (in *Instance) Deliver(f *link.Frame) error { return in.deliver(f) }

// LinkUp says a link to the peer came up: the Node's Hello goes out
// through Outbox.
func (in *Instance) LinkUp() { in.linkUp() }

// LinkDown says the link went down.
func (in *Instance) LinkDown() { in.linkDown() }

// Tick advances the protocol's clock by one tick (the driver's heartbeat
// interval).
func (in *Instance) Tick() { in.tick() }

// Outbox returns the frames to send to the peer, in order (own records
// attached, a Hello's wall clock set), and, if the Node wants the link
// closed, why. The frames are the caller's, and count as written to the
// link (see TakeOutbox).
func (in *Instance) Outbox() (frames []*link.Frame, disconnect string) {
	frames, disconnect = in.outbox()
	in.Written(TxnFrames(frames))
	return frames, disconnect
}

// TakeOutbox is Outbox for a driver that queues the frames before it
// writes them to the link: it calls Written as it writes them, and the
// Node ships no more while replicate.NodeConfig.MaxUnsent are unwritten.
func (in *Instance) TakeOutbox() (frames []*link.Frame, disconnect string) { return in.outbox() }

// Written says k Txn frames of those taken by TakeOutbox were written to
// the link (or dropped with it).
func (in *Instance) Written(k int) {
	if in.node != nil && k > 0 {
		in.node.Written(k)
		in.drain()
	}
}

// TxnFrames returns how many of frames are Txn frames (what Written
// counts).
func TxnFrames(frames []*link.Frame) int {
	k := 0
	for _, f := range frames {
		if f.Kind == link.KindTxn {
			k++
		}
	}
	return k
}

// Promote makes this vassal the liege in the next reign (DESIGN.md section
// 10); unless force, it refuses while the liege is still heard from. The
// new role is durable when it returns.
func (in *Instance) Promote(force bool) error { return in.promote(force) }

// Switchover starts a planned role swap at the liege.
func (in *Instance) Switchover() error { return in.switchover() }

// RollingBack reports whether a rollback is under way (Step takes it one
// phase at a time). Between its phases the state is part undone: a driver
// that serves reads (the root package's) steps it to the end before taking
// other inputs.
func (in *Instance) RollingBack() bool { return in.rb != nil && in.fatal == nil }

// Status returns the instance's state.
func (in *Instance) Status() Status { return in.status() }

// Role returns the instance's role ("" for a lone instance).
func (in *Instance) Role() string { return in.role }

// RollbackTo rolls the instance back by hand to just before position pos
// (journalctl, tests), running every phase at once. A vassal keeps a
// reconciliation log of what rolled off.
func (in *Instance) RollbackTo(pos uint64, reason string) (from, to uint64, lostFile string, err error) {
	return in.rollbackTo(pos, reason)
}

// TakeCheckpoint returns a checkpoint due now (every Config.CheckpointEvery
// records), or nil. The driver runs it off the driver once its position is
// durable, then calls CheckpointDone. At most one is out at a time.
func (in *Instance) TakeCheckpoint(force bool) *CheckpointJob { return in.takeCheckpoint(force) }

// CheckpointDone hands back a job TakeCheckpoint returned, run.
func (in *Instance) CheckpointDone(j *CheckpointJob) { in.checkpointDone(j) }

// ---- reads ----

// Get returns key's value and version ("" and false if absent). The value
// is the store's: copy it before the next Step.
func (in *Instance) Get(key []byte) ([]byte, journal.Version, bool) { return in.st.Get(key) }

// Scan calls fn on the keys from lo on, in order, until it returns false.
func (in *Instance) Scan(lo []byte, fn func(k, v []byte, ver journal.Version) bool) {
	in.st.Ascend(lo, fn)
}

// Hash returns the state hash (journalctl state).
func (in *Instance) Hash() [32]byte { return in.st.Hash() }

// FirstPos returns the oldest journal position the log holds.
func (in *Instance) FirstPos() uint64 { return in.w.first }

// OwnCommitTimeAfter returns the commit time (the physical time of its
// HLC) of the oldest durable own transaction with an OSeq above after, and
// false if the journal holds none (or only ones not yet durable). Own
// transactions older than the index (the idempotency window before the
// checkpoint Open loaded) are not found; the oldest indexed one stands for
// them.
func (in *Instance) OwnCommitTimeAfter(after uint64) (time.Time, bool, error) {
	es := in.index.byOrigin[in.cfg.ID]
	i := sort.Search(len(es), func(i int) bool { return es[i].oseq > after })
	if i == len(es) || es[i].pos > in.durable {
		return time.Time{}, false, nil
	}
	r, err := in.readRecord(es[i].pos)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read own transaction at journal position %d: %w", es[i].pos, err)
	}
	return hlc.Timestamp(r.HLC).Physical(), true, nil
}

// LastPos is the last journal position appended; Durable the last durable.
func (in *Instance) LastPos() uint64 { return in.lastPos }

// Durable returns the last durable journal position.
// Answered counts the calls the Instance has answered (set Done on), so
// that a driver holding submitted calls looks for the done ones only when
// it changed.
func (in *Instance) Answered() uint64 { return in.answered }

func (in *Instance) Durable() uint64 { return in.durable }

// Applied returns the highest own OSeq and the highest peer OSeq applied.
func (in *Instance) Applied() (own, peer uint64) { return in.highOSeq, in.peerWatermark }

// Locate returns where TxID id stands here: the position of its record, or
// of the reprocess or correction that stands for it (0 if none), and the
// lost transaction file it was rolled off into, if it was.
func (in *Instance) Locate(id journal.TxID) (pos uint64, lostFile string) { return in.locate(id) }

// ReadRecord decodes the journal record at pos (appended; not necessarily
// durable).
func (in *Instance) ReadRecord(pos uint64) (*journal.Record, error) { return in.readRecord(pos) }

// Records calls fn on every record from position from to the last
// appended, in order (the oracle's export).
func (in *Instance) Records(from uint64, fn func(*journal.Record) error) error {
	return in.records(from, fn)
}

// Close answers the queued calls with ErrClosed, syncs, writes a final
// checkpoint (unless checkpoints are off) and closes the log.
func (in *Instance) Close() error { return in.close() }
