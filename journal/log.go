package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// Errors returned by a Log. An implementation wraps them with detail;
// test with errors.Is.
var (
	// ErrNotFound is returned by Log.Read for an index outside
	// [FirstIndex, LastIndex].
	ErrNotFound = errors.New("no journal entry at that index")
	// ErrOutOfOrder is returned by Log.Write when the first index of the
	// batch is not LastIndex()+1.
	ErrOutOfOrder = errors.New("journal entries written out of order")
	// ErrOutOfRange is returned by Log.TruncateBack and Log.TruncateFront
	// for an index outside the range they accept.
	ErrOutOfRange = errors.New("journal truncation index out of range")
)

// Log is the storage under a Journal: a sequence of entries at consecutive
// indexes, with an explicit fsync. The entries are frames (AppendFrame),
// which a Log may check: the file log checks every frame when it opens. The Journal is its only user; the file implementation
// (tidwall/wal, behind Open) and the in-memory one (NewMemLog, for
// simulation) both pass the same conformance suite.
//
// The log holds the entries at indexes [FirstIndex, LastIndex]. It is
// empty when LastIndex == FirstIndex-1; a new log is empty with
// FirstIndex 1. FirstIndex only grows (TruncateFront); LastIndex grows by
// Write and shrinks by TruncateBack.
//
// Durability: an entry written by Write is durable once a later Sync has
// returned nil. A truncation is durable when it returns nil. After a crash
// (power failure, kernel panic: not a process exit) the log reopens
// holding every entry that was durable, unchanged, with the same
// FirstIndex, followed by some prefix, possibly empty, of the entries
// written after the last Sync, of which the last may be torn: a strict
// prefix of its bytes, possibly empty. An implementation that can tell a
// torn entry from a whole one removes it itself when it reopens (the file
// log does); the Journal removes any other at open (OpenLog). Close makes
// everything written durable, as a clean process exit does.
//
// Any error from Write, Sync, TruncateBack or TruncateFront other than
// ErrOutOfOrder or ErrOutOfRange leaves the log in an unknown state: its
// user must stop and reopen it (the Journal does: see FatalError). After
// Close, every method returns an error wrapping ErrClosed.
//
// All methods are safe for concurrent use. The Journal calls Write, Sync
// and the truncations from one goroutine at a time, and Read from many.
type Log interface {
	// FirstIndex returns the index of the first entry, or of the next entry
	// Write takes when the log is empty.
	FirstIndex() (uint64, error)
	// LastIndex returns the index of the last entry, FirstIndex()-1 when
	// the log is empty.
	LastIndex() (uint64, error)
	// Write appends entries at indexes first, first+1, ...; first must be
	// LastIndex()+1, else it returns ErrOutOfOrder and writes nothing. The
	// log does not keep the entries' memory: the caller may reuse it once
	// Write returns. The entries are not durable until Sync.
	Write(first uint64, entries [][]byte) error
	// Sync makes every entry written so far durable (fsync).
	Sync() error
	// Read returns the entry at index, or an error wrapping ErrNotFound if
	// index is outside [FirstIndex, LastIndex]. The caller must not modify
	// the slice; it stays valid after later writes and truncations.
	Read(index uint64) ([]byte, error)
	// TruncateBack removes every entry after index, keeping index, durably.
	// index must be in [FirstIndex-1, LastIndex], else it returns
	// ErrOutOfRange; FirstIndex-1 empties the log, LastIndex does nothing.
	TruncateBack(index uint64) error
	// TruncateFront removes every entry before index, durably: FirstIndex
	// becomes index. index must be in [FirstIndex, LastIndex+1], else it
	// returns ErrOutOfRange; LastIndex+1 empties the log, FirstIndex does
	// nothing.
	TruncateFront(index uint64) error
	// Close makes what was written durable and releases the log.
	Close() error
}

// logCounters is implemented by a Log that counts what it stored, for
// Journal.Stats: the bytes it wrote (with its own framing) and the
// segment files it created.
type logCounters interface {
	counters() (bytes, segments uint64)
}

// logRepair is implemented by a Log that repaired a torn tail itself when
// it was opened.
type logRepair interface {
	repaired() *TailDamage
}

// CheckedLog is implemented by a Log that checked the frame of every
// entry it held when it was opened, as the file log does (Scan: it
// refuses damage, and cuts a torn tail), so that a reader of those
// entries need not check their checksums again: replay decodes every
// frame of the journal right after the open that checked them, and the
// second checksum was a sixth of decoding a ticket record (issue 14).
type CheckedLog interface {
	// CheckedThrough returns the last index whose entry was checked when
	// the log was opened and is still the entry there (a truncation
	// after it lowers it; an entry written since was not checked), 0 if
	// none.
	CheckedThrough() uint64
}

// CheckedThrough returns log's CheckedThrough if it is a CheckedLog, else
// 0: nothing checked.
func CheckedThrough(log Log) uint64 {
	if c, ok := log.(CheckedLog); ok {
		return c.CheckedThrough()
	}
	return 0
}

// OpenFileLog opens (creating if needed) the file Log of an instance
// directory, instanceDir/journal, for a user that drives the Log itself
// instead of through a Journal (package internal/engine). The caller holds
// the directory lock. segmentSize <= 0 means DefaultSegmentSize. Call
// RepairLogTail before using it.
func OpenFileLog(instanceDir string, segmentSize int) (Log, error) {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	return openWAL(filepath.Join(instanceDir, WalDir), segmentSize)
}

// RepairLogTail does what OpenLog does before a Journal takes a log over: it
// removes a torn last entry (one a crash left a strict prefix of) and
// reports it, with the repair the log made itself when it opened, if any;
// it refuses damage elsewhere with a *DamageError.
func RepairLogTail(log Log) (*TailDamage, error) {
	var rep *TailDamage
	if r, ok := log.(logRepair); ok {
		rep = r.repaired()
	}
	tail, err := repairLastEntry(log)
	if err != nil {
		return nil, err
	}
	if tail != nil {
		rep = tail
	}
	return rep, nil
}

// RangeReader is implemented by a Log that reads a run of consecutive
// entries faster than Read one at a time. The file log reads its segment
// files front to back, once each, where tidwall/wal's Read loads a whole
// segment into its cache under a lock that stalls every other reader and
// indexes each of its entries (what replay and rollback read, they read
// once, in order).
type RangeReader interface {
	// ReadRange calls fn on the entries at indexes from..to in order
	// (none if from > to), with Read's errors for an index outside
	// [FirstIndex, LastIndex]. fn's entry follows Read's rules: the
	// caller must not modify it and it stays valid. fn must not call the
	// Log's Write, Sync or truncations; ReadRange stops at fn's first
	// error and returns it.
	ReadRange(from, to uint64, fn func(index uint64, entry []byte) error) error
}

// ReadRange calls fn on the entries of log at indexes from..to in order:
// with the Log's ReadRange if it is a RangeReader, else with Read.
func ReadRange(log Log, from, to uint64, fn func(index uint64, entry []byte) error) error {
	if rr, ok := log.(RangeReader); ok {
		return rr.ReadRange(from, to, fn)
	}
	return readEach(log, from, to, false, fn)
}

// readEach calls fn on the entries of log at indexes from..to read with
// Read, in order or, if backward, newest first.
func readEach(log Log, from, to uint64, backward bool, fn func(index uint64, entry []byte) error) error {
	if from > to {
		return nil
	}
	i, step := from, uint64(1)
	if backward {
		i, step = to, ^uint64(0) // -1
	}
	for n := to - from + 1; n > 0; n-- {
		e, err := log.Read(i)
		if err != nil {
			return err
		}
		if err := fn(i, e); err != nil {
			return err
		}
		i += step
	}
	return nil
}

// BufferedRangeReader is implemented by a RangeReader that can read into
// buffers its caller hands back, for a caller that reads a long range
// once and is done with each entry soon after (replay).
type BufferedRangeReader interface {
	// ReadRangeBuffered is ReadRange, but the entries alias buffers
	// the caller recycles: it reads into buffers from get (a new one
	// when get returns nil or one too small), and passes each buffer to
	// fn as done with the last entry it gives fn from it. From then on
	// the buffer is the caller's, which may give it back to a later get
	// once it no longer uses the entries in it; until then they stay
	// valid. A buffer not passed as done (fn or the read failed first)
	// is left to the garbage collector.
	ReadRangeBuffered(from, to uint64, get func() []byte, fn func(index uint64, entry, done []byte) error) error
}

// ReadRangeBuffered calls fn on the entries of log at indexes from..to in
// order: with the Log's ReadRangeBuffered if it is a BufferedRangeReader,
// else with ReadRange (every done nil: its entries stay valid).
func ReadRangeBuffered(log Log, from, to uint64, get func() []byte, fn func(index uint64, entry, done []byte) error) error {
	if br, ok := log.(BufferedRangeReader); ok {
		return br.ReadRangeBuffered(from, to, get, fn)
	}
	return ReadRange(log, from, to, func(i uint64, e []byte) error { return fn(i, e, nil) })
}

// BackwardReader is implemented by a Log that reads a run of consecutive
// entries newest first faster than Read one at a time: the file log reads
// each segment file the run touches once, newest first, into one buffer,
// where tidwall/wal's Read would load every segment into its cache (what a
// rollback reads, it reads once, from the head down).
type BackwardReader interface {
	// ReadBackward calls fn on the entries at indexes to, to-1, ..., from
	// (none if from > to), with Read's errors for an index outside
	// [FirstIndex, LastIndex]. fn's entry is valid only until fn returns
	// (the next segment is read into the same memory), and fn must not
	// modify it. fn must not call the Log's Write, Sync or truncations;
	// ReadBackward stops at fn's first error and returns it.
	ReadBackward(from, to uint64, fn func(index uint64, entry []byte) error) error
}

// ReadBackward calls fn on the entries of log at indexes to down to from:
// with the Log's ReadBackward if it is a BackwardReader, else with Read.
// fn's entry is valid only until fn returns.
func ReadBackward(log Log, from, to uint64, fn func(index uint64, entry []byte) error) error {
	if br, ok := log.(BackwardReader); ok {
		return br.ReadBackward(from, to, fn)
	}
	return readEach(log, from, to, true, fn)
}

// RangeCopier is implemented by a Log that copies a run of consecutive
// entries to a file, each as uvarint(len)+entry, without reading them into
// memory: the file log's segment files hold its entries that way, and it
// copies their bytes file to file (copy_file_range on Linux).
type RangeCopier interface {
	// CopyRange appends the entries at indexes from..to to dst, at its
	// offset, each as uvarint(len)+entry, with Read's errors for an
	// index outside [FirstIndex, LastIndex].
	CopyRange(from, to uint64, dst *os.File) error
}

// CopyRange appends the entries of log at indexes from..to to dst, each as
// uvarint(len)+entry: with the Log's CopyRange if it is a RangeCopier,
// else with WriteEntries and Read.
func CopyRange(log Log, from, to uint64, dst *os.File) error {
	if rc, ok := log.(RangeCopier); ok {
		return rc.CopyRange(from, to, dst)
	}
	return WriteEntries(dst, from, to, log.Read)
}

// WriteEntries writes the entries read returns for indexes from..to to w,
// in order, each as uvarint(len)+entry (the layout of the segment files and
// of a lost transaction file's records), through one buffer. It stops at
// read's first error and returns it.
func WriteEntries(w io.Writer, from, to uint64, read func(index uint64) ([]byte, error)) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var lb [binary.MaxVarintLen64]byte
	for i := from; i <= to && i >= from; i++ {
		e, err := read(i)
		if err != nil {
			return err
		}
		n := binary.PutUvarint(lb[:], uint64(len(e)))
		bw.Write(lb[:n])
		bw.Write(e)
	}
	return bw.Flush()
}
