package engine

import (
	"fmt"
	"os"
	"time"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/journal"
)

// wal is the engine's journal over a journal.Log, driven from the driver's
// goroutine: Append buffers a frame, write hands the buffer to the Log
// (not yet durable), sync fsyncs. It implements rollback.Journal. With a
// Syncer the frames are written by the Syncer's goroutine together with
// their fsync (syncer.go).
type wal struct {
	log     journal.Log
	first   uint64
	next    uint64 // the position the next Append takes
	written uint64 // the last position handed to the log (or to the write in flight)
	logged  uint64 // the last position the log holds: written unless a write is in flight
	durable uint64 // the last position known durable

	buf   []byte // frames appended, not yet written, back to back
	sizes []int
	ents  [][]byte // write's scratch

	// The frames the Syncer's goroutine writes and fsyncs (positions
	// logged+1..written); they are immutable while in flight and become
	// the next buf's memory when it returns.
	fbuf   []byte
	fsizes []int
	fents  [][]byte
	flight func() error // writes fents at logged+1 and fsyncs (made once)

	syncs, synced, bytes uint64 // fsyncs, records they made durable, frame bytes appended (counters)

	// With a Syncer (syncer.go): the position the fsync in flight makes
	// durable (0: none), when it started, and who hears of it.
	async    Syncer
	inflight uint64
	syncT0   time.Time
	now      func() time.Time
	onSynced func(n int, took time.Duration)
}

func openWAL(log journal.Log) (*wal, error) {
	first, err := log.FirstIndex()
	if err != nil {
		return nil, err
	}
	last, err := log.LastIndex()
	if err != nil {
		return nil, err
	}
	return &wal{log: log, first: first, next: last + 1, written: last, logged: last, durable: last}, nil
}

// Next is the position the next Append takes.
func (w *wal) Next() uint64 { return w.next }

// Append buffers frame at pos, which must be Next(). The frame is copied.
func (w *wal) Append(pos uint64, frame []byte) error {
	if pos != w.next {
		panic(fmt.Sprintf("engine: append at position %d, expected %d", pos, w.next))
	}
	w.buf = append(w.buf, frame...)
	w.sizes = append(w.sizes, len(frame))
	w.bytes += uint64(len(frame))
	w.next++
	return nil
}

// pending reports whether frames are appended and not yet durable.
func (w *wal) pending() bool { return w.durable < w.next-1 }

// write hands the buffered frames to the log (one Write). With a Syncer
// they stay buffered: startSync hands them to the Syncer's goroutine,
// which writes them with their fsync.
func (w *wal) write() error {
	if w.async != nil {
		return nil
	}
	return w.writeOut()
}

// writeOut writes the buffered frames to the log on this goroutine. While
// an fsync is in flight the frames stay buffered: the log is busy.
func (w *wal) writeOut() error {
	if len(w.sizes) == 0 || w.inflight != 0 {
		return nil
	}
	if err := failpoint.Inject("journal-before-write"); err != nil {
		return err
	}
	w.ents = w.ents[:0]
	off := 0
	for _, n := range w.sizes {
		w.ents = append(w.ents, w.buf[off:off+n:off+n])
		off += n
	}
	if err := w.log.Write(w.written+1, w.ents); err != nil {
		return fmt.Errorf("journal write at position %d: %w", w.written+1, err)
	}
	w.written += uint64(len(w.sizes))
	w.logged = w.written
	w.buf, w.sizes = w.buf[:0], w.sizes[:0]
	clear(w.ents)
	return nil
}

// Flush writes and fsyncs everything appended.
func (w *wal) Flush() error {
	if err := w.settle(); err != nil {
		return err
	}
	if err := w.writeOut(); err != nil {
		return err
	}
	if w.durable == w.written {
		return nil
	}
	if err := failpoint.Inject("journal-before-sync"); err != nil {
		return err
	}
	if err := w.log.Sync(); err != nil {
		return fmt.Errorf("journal fsync: %w", err)
	}
	if err := failpoint.Inject("journal-after-sync"); err != nil {
		// The records are durable; the instance stops as if the fsync had
		// failed (its answer is lost).
		return err
	}
	w.syncs++
	w.synced += w.written - w.durable
	w.durable = w.written
	return nil
}

// Read returns the frame at pos, appended (written, in flight or still
// buffered).
func (w *wal) Read(pos uint64) ([]byte, error) {
	if pos > w.written && pos < w.next {
		return frameAt(w.buf, w.sizes, int(pos-w.written-1)), nil
	}
	if pos > w.logged && pos <= w.written {
		return frameAt(w.fbuf, w.fsizes, int(pos-w.logged-1)), nil
	}
	return w.log.Read(pos)
}

// ReadRangeBuffered calls fn on the frames at from..to in order (replay):
// those the log holds read with journal.ReadRangeBuffered (the file log
// reads each segment file once), into buffers from get that fn is given as
// done (see journal.BufferedRangeReader); the others from the buffers as
// Read does, with done nil. fn must not touch the wal.
func (w *wal) ReadRangeBuffered(from, to uint64, get func() []byte, fn func(pos uint64, frame, done []byte) error) error {
	if from <= w.logged {
		if err := journal.ReadRangeBuffered(w.log, from, min(to, w.logged), get, fn); err != nil {
			return err
		}
		from = w.logged + 1
	}
	for p := from; p <= to; p++ {
		f, err := w.Read(p)
		if err != nil {
			return err
		}
		if err := fn(p, f, nil); err != nil {
			return err
		}
	}
	return nil
}

// ReadBackward calls fn on the frames at to down to from: those still in
// the buffers as Read finds them, then those the log holds with
// journal.ReadBackward (the file log reads each segment file once, into
// one buffer: a frame is valid only until fn returns). fn must not touch
// the wal.
func (w *wal) ReadBackward(from, to uint64, fn func(pos uint64, frame []byte) error) error {
	for p := to; p >= from && p > w.logged; p-- {
		f, err := w.Read(p)
		if err != nil {
			return err
		}
		if err := fn(p, f); err != nil {
			return err
		}
	}
	if from <= w.logged {
		return journal.ReadBackward(w.log, from, min(to, w.logged), fn)
	}
	return nil
}

// CopyRange appends the frames at from..to to dst, each as
// uvarint(len)+frame (a lost transaction file's records): those the log
// holds with journal.CopyRange (the file log copies its files' bytes), the
// others from the buffers.
func (w *wal) CopyRange(from, to uint64, dst *os.File) error {
	if from <= w.logged {
		if err := journal.CopyRange(w.log, from, min(to, w.logged), dst); err != nil {
			return err
		}
		from = w.logged + 1
	}
	return journal.WriteEntries(dst, from, to, w.Read)
}

// frameAt returns frame i of the frames of sizes held back to back in buf.
func frameAt(buf []byte, sizes []int, i int) []byte {
	off := 0
	for _, n := range sizes[:i] {
		off += n
	}
	n := sizes[i]
	return buf[off : off+n : off+n]
}

// TruncateAfter removes every entry after pos, durably.
func (w *wal) TruncateAfter(pos uint64) error {
	if err := w.Flush(); err != nil {
		return err
	}
	if err := w.log.TruncateBack(pos); err != nil {
		return fmt.Errorf("journal truncate after position %d: %w", pos, err)
	}
	w.next, w.written, w.logged, w.durable = pos+1, pos, pos, min(w.durable, pos)
	return nil
}

func (w *wal) close() error {
	if err := w.settle(); err != nil {
		w.log.Close()
		return err
	}
	return w.log.Close()
}
