package engine

import (
	"fmt"

	"github.com/liege-db/liege/internal/failpoint"
)

// This file pipelines group commit: with a Config.Syncer the journal's fsync
// runs on the driver's side while the executor runs and encodes the next
// batch of calls, so an fsync's wall time is no longer added to the CPU time
// of every batch. At most one fsync is in flight; what is appended meanwhile
// stays in the wal's buffer and is written once the fsync returns. Without a
// Syncer (the simulator) every fsync is inline, as before.

// Syncer runs the journal's fsync off the executor. The driver delivers the
// outcome of a Start either to Instance.SyncDone (between steps) or, when
// the Instance needs it at once, through Wait, never both.
type Syncer interface {
	// Start runs sync on another goroutine.
	Start(sync func() error)
	// Wait blocks until the sync of the last Start returned and returns
	// its error; the driver must then not call SyncDone for it.
	Wait() error
}

// startSync hands the buffered frames to the Syncer, whose goroutine writes
// them to the log and fsyncs it: the copies tidwall/wal makes of them and
// the write(2) no longer take the executor's time. The frames stay readable
// (Read) until the fsync returns.
func (w *wal) startSync() error {
	if len(w.sizes) == 0 {
		return nil
	}
	if err := failpoint.Inject("journal-before-write"); err != nil {
		return err
	}
	if err := failpoint.Inject("journal-before-sync"); err != nil {
		return err
	}
	w.fbuf, w.buf = w.buf, w.fbuf[:0]
	w.fsizes, w.sizes = w.sizes, w.fsizes[:0]
	w.fents = w.fents[:0]
	off := 0
	for _, n := range w.fsizes {
		w.fents = append(w.fents, w.fbuf[off:off+n:off+n])
		off += n
	}
	w.written += uint64(len(w.fsizes))
	w.inflight, w.syncT0 = w.written, w.now()
	if w.flight == nil {
		w.flight = w.writeAndSync
	}
	w.async.Start(w.flight)
	return nil
}

// writeAndSync runs on the Syncer's goroutine: it writes the frames in
// flight at logged+1 and fsyncs them. Nothing else touches fents or logged
// until the Instance takes its outcome (syncDone).
func (w *wal) writeAndSync() error {
	if err := w.log.Write(w.logged+1, w.fents); err != nil {
		return fmt.Errorf("journal write at position %d: %w", w.logged+1, err)
	}
	if err := w.log.Sync(); err != nil {
		return fmt.Errorf("journal fsync: %w", err)
	}
	return nil
}

// syncDone records the outcome of the write and fsync in flight.
func (w *wal) syncDone(err error) error {
	target := w.inflight
	w.inflight = 0
	if err != nil {
		return err
	}
	w.logged = target
	clear(w.fents)
	if err := failpoint.Inject("journal-after-sync"); err != nil {
		return err // durable, but the instance stops as if the fsync had failed
	}
	n := target - w.durable
	w.syncs++
	w.synced += n
	w.durable = target
	if w.onSynced != nil {
		w.onSynced(int(n), w.now().Sub(w.syncT0))
	}
	return nil
}

// settle waits for the fsync in flight, if any.
func (w *wal) settle() error {
	if w.inflight == 0 {
		return nil
	}
	return w.syncDone(w.async.Wait())
}

// peerMark is the peer watermark as of a journal position: once pos is
// durable, the peer records up to OSeq wm are applied durably.
type peerMark struct{ pos, wm uint64 }

// syncStep makes what is appended durable: it starts an fsync on the Syncer,
// or syncs inline without one.
func (in *Instance) syncStep() {
	if in.w.async == nil {
		in.sync()
		return
	}
	in.lastOp = opNone
	if err := in.w.startSync(); err != nil {
		in.fail(err)
		return
	}
	// Peer records applied while this fsync is in flight stay in the
	// buffer, so when it returns the journal is durable only up to
	// inflight: the Node must hear of the peer watermark as of there, or
	// under a steady stream it would never hear of any (reportDurable).
	if in.w.inflight != 0 && in.w.inflight == in.lastPos {
		in.peerSync = peerMark{pos: in.w.inflight, wm: in.peerWatermark}
	}
}

// syncDone takes the outcome of the fsync the Syncer ran (Instance.SyncDone).
func (in *Instance) syncDone(err error) {
	if in.w.inflight == 0 {
		return
	}
	if err := in.w.syncDone(err); err != nil {
		in.fail(err)
		return
	}
	in.peerSynced, in.peerSync = in.peerSync, peerMark{}
	if in.fatal == nil {
		in.afterDurable()
		if in.node != nil {
			in.drain() // the Node hears of the own records now durable
		}
	}
}

// settle waits for the fsync in flight and acts on it.
func (in *Instance) settle() {
	if in.w.inflight == 0 {
		return
	}
	if err := in.w.settle(); err != nil {
		in.fail(err)
		return
	}
	in.peerSynced, in.peerSync = in.peerSync, peerMark{}
	if in.fatal == nil {
		in.afterDurable()
	}
}

// syncing reports whether an fsync is in flight.
func (in *Instance) syncing() bool { return in.w.inflight != 0 }

// hasWorkSyncing is hasWork while an fsync is in flight: calls run into the
// buffer unless peer frames wait for the own records before them to be
// durable (then new calls would starve them); the rest waits for SyncDone.
func (in *Instance) hasWorkSyncing() bool {
	return in.rb != nil || len(in.reconQ) > 0 && in.awaitPeer == "" || len(in.queue) > 0 && len(in.inbox) == 0 && !in.catchingUp() ||
		in.node != nil && in.node.HasReady() || in.durableUnreported()
}
