package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/failpoint"
)

// WalDir is the journal's directory inside an instance directory.
const WalDir = "journal"

// DefaultSegmentSize is the target size of a journal segment file.
//
// tidwall/wal holds the tail segment's entries in one buffer grown by
// append from empty at every new segment, so each segment's bytes are
// copied several times into freshly allocated (and freshly faulted) memory.
// With 4 MiB segments those buffers stay small enough to be reused from the
// heap and to sit in cache; with 64 MiB each commit paid ~3-5 µs more CPU in
// `liege bench commit` (page faults halved, peak RSS 1.47 GB -> 0.88 GB over
// 1M txns). A cycle (fsync, close, create, directory fsync) every 4 MiB is
// ~15 a second at 150k txn/s.
const DefaultSegmentSize = 4 << 20

// ErrClosed is returned by Journal.Append after Journal.Close, and wrapped
// by every Log method after Log.Close.
var ErrClosed = errors.New("journal closed")

// FatalError wraps the write or fsync error that stopped a journal. After a
// failed fsync the kernel may have dropped the dirty pages, so the journal
// never continues: the instance must be reopened, which recovers from what
// is on disk.
type FatalError struct{ Err error }

func (e *FatalError) Error() string {
	return fmt.Sprintf("journal stopped after a failed write (reopen the instance to recover): %v", e.Err)
}

func (e *FatalError) Unwrap() error { return e.Err }

// Options configure a Journal.
type Options struct {
	// SegmentSize is the target segment file size (DefaultSegmentSize if
	// 0). Only Open uses it: OpenLog gets its Log opened.
	SegmentSize int
	// OnDurable is called by the writer goroutine after every fsync, with
	// the last durable position and the number of entries the fsync made
	// durable. It must not block for long.
	OnDurable func(pos uint64, entries int)
	// OnFatal is called once, by the writer goroutine, when a write or
	// fsync fails.
	OnFatal func(err error)
	// BatchMax bounds the entries written per fsync (default 4096). When
	// that many wait for the writer, Append blocks until it takes them:
	// backpressure that also bounds the memory of a slow disk.
	BatchMax int
}

// Stats are cumulative counters of the writer.
type Stats struct {
	Batches     uint64
	Entries     uint64
	Bytes       uint64 // stored by the Log, with its own framing
	SyncNanos   uint64 // total time in fsync
	LastBatch   int
	SegmentsNew uint64 // segment files created (file Log only)
}

// Journal is an append-only, group-committing journal of framed records on
// a Log (tidwall/wal segment files, or memory). One goroutine (the
// engine's executor) appends; a writer goroutine batches, writes and
// fsyncs, and reports the durable position.
type Journal struct {
	dir    string // the wal directory; "" on a Log that is not Open's
	opts   Options
	log    Log
	Repair *TailDamage // the torn tail repaired at open, if any

	mu      sync.Mutex
	wake    *sync.Cond // writer waits for work
	space   *sync.Cond // Append waits for room in the batch
	idle    *sync.Cond // Flush waits for the writer
	synced  *sync.Cond // WaitDurable waits for an fsync
	cur     *batch     // being filled by Append
	curN    int
	spare   *batch
	next    uint64 // next position Append expects
	writing bool
	closed  bool
	err     error

	durable atomic.Uint64
	first   atomic.Uint64

	stats   Stats
	statsMu sync.Mutex
	done    chan struct{}
}

// Open opens (creating if needed) the journal in instanceDir/journal,
// repairing a torn tail of the last segment and refusing a journal damaged
// anywhere else with a *DamageError. The caller holds the directory lock.
func Open(instanceDir string, opts Options) (*Journal, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	dir := filepath.Join(instanceDir, WalDir)
	l, err := openWAL(dir, opts.SegmentSize)
	if err != nil {
		return nil, err
	}
	return openLog(l, opts, dir)
}

// OpenLog opens a journal on log and takes it over: Journal.Close closes
// it, and so does OpenLog when it fails. A torn last entry (a frame that
// does not check and whose bytes could be a prefix of one) was never
// acknowledged: OpenLog removes it and reports it in Journal.Repair. Any
// other entry that does not check, when log reads it, is refused with a
// *DamageError. OpenLog checks only the last entries: a Log checks what it
// can at its own open (the file log checks every frame).
func OpenLog(log Log, opts Options) (*Journal, error) {
	return openLog(log, opts, "")
}

func openLog(log Log, opts Options, dir string) (*Journal, error) {
	if opts.BatchMax <= 0 {
		opts.BatchMax = 4096
	}
	j := &Journal{dir: dir, opts: opts, log: log, done: make(chan struct{})}
	if r, ok := log.(logRepair); ok {
		j.Repair = r.repaired()
	}
	tail, err := repairLastEntry(log)
	if err != nil {
		log.Close()
		return nil, err
	}
	if tail != nil {
		j.Repair = tail
	}
	first, err := log.FirstIndex()
	if err != nil {
		log.Close()
		return nil, err
	}
	last, err := log.LastIndex()
	if err != nil {
		log.Close()
		return nil, err
	}
	j.first.Store(first)
	j.durable.Store(last)
	j.next = last + 1
	j.cur, j.spare = new(batch), new(batch)
	j.wake = sync.NewCond(&j.mu)
	j.idle = sync.NewCond(&j.mu)
	j.synced = sync.NewCond(&j.mu)
	j.space = sync.NewCond(&j.mu)
	go j.writer()
	return j, nil
}

// repairLastEntry removes the last entry of log if it is torn: a crash
// left a strict prefix of its frame (a Log may keep one: see Log). Such a
// frame is empty, shorter than its header, or fails its checksum; a frame
// of another format version was written whole by another build and is
// refused, like an entry before the last that does not check.
func repairLastEntry(log Log) (*TailDamage, error) {
	first, err := log.FirstIndex()
	if err != nil {
		return nil, err
	}
	last, err := log.LastIndex()
	if err != nil {
		return nil, err
	}
	if last < first {
		return nil, nil
	}
	f, err := log.Read(last)
	if err != nil {
		return nil, err
	}
	_, ferr := OpenFrame(f)
	if ferr == nil {
		return nil, nil
	}
	if errors.Is(ferr, ErrFrameVersion) {
		return nil, &DamageError{Pos: last, Err: ferr}
	}
	if last > first {
		prev, err := log.Read(last - 1)
		if err != nil {
			return nil, err
		}
		if _, perr := OpenFrame(prev); perr != nil {
			return nil, &DamageError{Pos: last - 1, Err: fmt.Errorf("%w (and the entry after it does not check either: %v)", perr, ferr)}
		}
	}
	if err := log.TruncateBack(last - 1); err != nil {
		return nil, fmt.Errorf("repair torn journal tail at position %d: %w", last, err)
	}
	return &TailDamage{Pos: last, Bytes: int64(len(f)), Err: ferr}, nil
}

// Dir returns the wal directory, or "" for a journal opened by OpenLog.
func (j *Journal) Dir() string { return j.dir }

// First returns the first position in the journal (1 unless the front was
// truncated).
func (j *Journal) First() uint64 { return j.first.Load() }

// Durable returns the last position known to be on disk.
func (j *Journal) Durable() uint64 { return j.durable.Load() }

// Next returns the position the next Append must use.
func (j *Journal) Next() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next
}

// Err returns the error that stopped the journal, if any.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Append queues the frame for position pos, which must be Next(). The frame
// is copied. It is durable once Durable() >= pos.
func (j *Journal) Append(pos uint64, frame []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.closed {
		return ErrClosed
	}
	if pos != j.next {
		panic(fmt.Sprintf("journal: append at position %d, expected %d", pos, j.next))
	}
	for j.curN >= j.opts.BatchMax && j.err == nil {
		j.space.Wait()
	}
	if j.err != nil {
		return j.err
	}
	j.cur.data = append(j.cur.data, frame...)
	j.cur.sizes = append(j.cur.sizes, len(frame))
	j.curN++
	j.next++
	if j.curN == 1 {
		j.wake.Signal()
	}
	return nil
}

func (j *Journal) writer() {
	defer close(j.done)
	j.mu.Lock()
	for {
		for j.curN == 0 && !j.closed && j.err == nil {
			j.idle.Broadcast()
			j.wake.Wait()
		}
		if j.err != nil || (j.closed && j.curN == 0) {
			j.idle.Broadcast()
			j.synced.Broadcast()
			j.mu.Unlock()
			return
		}
		b, n := j.cur, j.curN
		j.cur, j.spare, j.curN = j.spare, j.cur, 0
		j.space.Broadcast()
		last := j.next - 1
		j.writing = true
		j.mu.Unlock()

		err := j.writeBatch(b, last+1-uint64(n), n)

		j.mu.Lock()
		j.writing = false
		if err != nil {
			j.err = &FatalError{Err: err}
			j.idle.Broadcast()
			j.synced.Broadcast()
			j.space.Broadcast()
			j.mu.Unlock()
			if j.opts.OnFatal != nil {
				j.opts.OnFatal(j.err)
			}
			return
		}
		j.durable.Store(last)
		j.synced.Broadcast()
		if j.opts.OnDurable != nil {
			j.mu.Unlock()
			j.opts.OnDurable(last, n)
			j.mu.Lock()
		}
	}
}

// writeBatch writes and fsyncs one batch; it is the only writer of the log.
func (j *Journal) writeBatch(b *batch, first uint64, n int) error {
	if err := failpoint.Inject("journal-before-write"); err != nil {
		return err
	}
	if err := j.log.Write(first, b.entries()); err != nil {
		return fmt.Errorf("write journal batch: %w", err)
	}
	b.reset()
	if err := failpoint.Inject("journal-before-sync"); err != nil {
		return err
	}
	t0 := time.Now()
	if err := j.log.Sync(); err != nil {
		return fmt.Errorf("fsync journal: %w", err)
	}
	d := time.Since(t0)
	if err := failpoint.Inject("journal-after-sync"); err != nil {
		return err
	}
	j.statsMu.Lock()
	j.stats.Batches++
	j.stats.Entries += uint64(n)
	j.stats.SyncNanos += uint64(d)
	j.stats.LastBatch = n
	j.statsMu.Unlock()
	return nil
}

// batch is the frames appended for one write, back to back in data.
type batch struct {
	data  []byte
	sizes []int
	views [][]byte
}

// entries returns the frames of the batch, valid until reset.
func (b *batch) entries() [][]byte {
	b.views = b.views[:0]
	off := 0
	for _, sz := range b.sizes {
		b.views = append(b.views, b.data[off:off+sz:off+sz])
		off += sz
	}
	return b.views
}

func (b *batch) reset() {
	b.data, b.sizes = b.data[:0], b.sizes[:0]
	clear(b.views)
	b.views = b.views[:0]
}

// Stats returns the writer's counters.
func (j *Journal) Stats() Stats {
	j.statsMu.Lock()
	st := j.stats
	j.statsMu.Unlock()
	if c, ok := j.log.(logCounters); ok {
		st.Bytes, st.SegmentsNew = c.counters()
	}
	return st
}

// Flush waits until everything appended so far is durable (or the journal
// failed).
func (j *Journal) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for (j.curN > 0 || j.writing) && j.err == nil {
		j.idle.Wait()
	}
	return j.err
}

// WaitDurable waits until position pos is durable. Unlike Flush it does not
// wait for the writer to go idle, so it returns under continuous load. It
// returns the journal's error if it failed, or ErrClosed if it was closed
// first.
func (j *Journal) WaitDurable(pos uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.durable.Load() < pos {
		if j.err != nil {
			return j.err
		}
		if j.closed && j.curN == 0 && !j.writing {
			return ErrClosed
		}
		if pos >= j.next {
			return fmt.Errorf("wait for position %d: only %d appended", pos, j.next-1)
		}
		j.synced.Wait()
	}
	return nil
}

// Read returns the frame at pos. The slice must not be modified; it stays
// valid after later appends and truncations.
func (j *Journal) Read(pos uint64) ([]byte, error) {
	b, err := j.log.Read(pos)
	if err != nil {
		return nil, fmt.Errorf("read journal position %d: %w", pos, err)
	}
	return b, nil
}

// ReadBackward calls fn on the frames at positions to down to from, each
// segment file read once (BackwardReader); a frame is valid only until fn
// returns. Everything appended in that run must be written first (Flush).
// fn must not append or truncate.
func (j *Journal) ReadBackward(from, to uint64, fn func(pos uint64, frame []byte) error) error {
	return ReadBackward(j.log, from, to, fn)
}

// TruncateAfter removes every entry after pos (pos is kept) and makes the
// removal durable. Everything appended must be durable first (Flush). pos
// may be First()-1 (everything goes), not less: that is refused with an
// error that does not stop the journal. A failed truncation stops it.
func (j *Journal) TruncateAfter(pos uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.curN > 0 || j.writing {
		panic("journal: TruncateAfter with appends in flight; Flush first")
	}
	if pos+1 >= j.next {
		return nil
	}
	if first := j.first.Load(); pos+1 < first {
		return fmt.Errorf("truncate journal after position %d: the journal starts at position %d", pos, first)
	}
	if err := j.log.TruncateBack(pos); err != nil {
		j.err = &FatalError{Err: fmt.Errorf("truncate journal after position %d: %w", pos, err)}
		return j.err
	}
	j.next = pos + 1
	j.durable.Store(pos)
	return nil
}

// TruncateBefore removes every entry before pos (pos is kept) and makes the
// removal durable: First() becomes pos. pos must be durable, so the
// journal never becomes empty and nothing in flight is touched.
func (j *Journal) TruncateBefore(pos uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	first := j.first.Load()
	if pos <= first {
		return nil
	}
	if d := j.durable.Load(); pos > d {
		return fmt.Errorf("truncate journal before position %d: only positions up to %d are durable", pos, d)
	}
	if err := j.log.TruncateFront(pos); err != nil {
		j.err = &FatalError{Err: fmt.Errorf("truncate journal before position %d: %w", pos, err)}
		return j.err
	}
	j.first.Store(pos)
	return nil
}

// Close flushes and closes the journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.wake.Broadcast()
	j.mu.Unlock()
	<-j.done
	err := j.log.Close()
	j.mu.Lock()
	if j.err != nil && err == nil {
		err = j.err
	}
	j.mu.Unlock()
	return err
}
