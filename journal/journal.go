package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/tidwall/wal"
)

// WalDir is the journal's directory inside an instance directory.
const WalDir = "journal"

// DefaultSegmentSize is the target size of a journal segment file.
const DefaultSegmentSize = 64 << 20

// ErrClosed is returned by Append after Close.
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
	// SegmentSize is the target segment file size (DefaultSegmentSize if 0).
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
	Bytes       uint64
	SyncNanos   uint64 // total time in fsync
	LastBatch   int
	SegmentsNew uint64
}

// Journal is an append-only, group-committing journal of framed records on
// tidwall/wal. One goroutine (the engine's executor) appends; a writer
// goroutine batches, writes and fsyncs, and reports the durable position.
type Journal struct {
	dir    string // the wal directory
	opts   Options
	log    *wal.Log
	Repair *TailDamage // the torn tail repaired at Open, if any

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
	// readMu serializes reads: wal.Log.Read holds only its read lock while
	// loading a segment into its cache, which races with another Read.
	readMu sync.Mutex

	segBytes int // bytes in the current tail segment, mirroring wal's cycle rule
	stats    Stats
	statsMu  sync.Mutex
	done     chan struct{}
}

// Open opens (creating if needed) the journal in instanceDir/journal,
// repairing a torn tail of the last segment and refusing a journal damaged
// anywhere else with a *DamageError. The caller holds the directory lock.
func Open(instanceDir string, opts Options) (*Journal, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.BatchMax <= 0 {
		opts.BatchMax = 4096
	}
	dir := filepath.Join(instanceDir, WalDir)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create journal directory: %w", err)
		}
		if err := SyncDir(instanceDir); err != nil {
			return nil, err
		}
	}
	res, err := Scan(dir, nil)
	if err != nil {
		return nil, err
	}
	j := &Journal{dir: dir, opts: opts, done: make(chan struct{})}
	if res.Tail != nil {
		if err := RepairTail(res.Tail); err != nil {
			return nil, err
		}
		j.Repair = res.Tail
	}
	j.log, err = wal.Open(dir, &wal.Options{
		NoSync:           true, // we fsync once per batch
		SegmentSize:      opts.SegmentSize,
		LogFormat:        wal.Binary,
		SegmentCacheSize: 4,
		NoCopy:           true, // entries are immutable; we never modify a read slice
		AllowEmpty:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", dir, err)
	}
	if err := SyncDir(dir); err != nil {
		j.log.Close()
		return nil, err
	}
	first, _ := j.log.FirstIndex()
	last, _ := j.log.LastIndex()
	if last == 0 {
		first = 1
	}
	j.first.Store(first)
	j.durable.Store(last)
	j.next = last + 1
	if err := j.measureTail(); err != nil {
		j.log.Close()
		return nil, err
	}
	j.cur, j.spare = new(batch), new(batch)
	j.wake = sync.NewCond(&j.mu)
	j.idle = sync.NewCond(&j.mu)
	j.synced = sync.NewCond(&j.mu)
	j.space = sync.NewCond(&j.mu)
	go j.writer()
	return j, nil
}

// measureTail sets segBytes to the size of the last segment file.
func (j *Journal) measureTail() error {
	segs, err := ListSegments(j.dir)
	if err != nil {
		return err
	}
	j.segBytes = 0
	if len(segs) > 0 {
		fi, err := os.Stat(segs[len(segs)-1].Path)
		if err != nil {
			return err
		}
		j.segBytes = int(fi.Size())
	}
	return nil
}

// Dir returns the wal directory.
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
	j.cur.b.Write(pos, frame)
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

		err := j.writeBatch(b, n)

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

// writeBatch writes and fsyncs one batch; it is the only writer of the wal.
func (j *Journal) writeBatch(b *batch, n int) error {
	if err := failpoint.Inject("journal-before-write"); err != nil {
		return err
	}
	created := j.cycleCount(b.sizes)
	b.sizes = b.sizes[:0]
	if err := j.log.WriteBatch(&b.b); err != nil {
		return fmt.Errorf("write journal batch: %w", err)
	}
	if err := failpoint.Inject("journal-before-sync"); err != nil {
		return err
	}
	t0 := time.Now()
	if err := j.log.Sync(); err != nil {
		return fmt.Errorf("fsync journal: %w", err)
	}
	if created > 0 {
		if err := SyncDir(j.dir); err != nil {
			return err
		}
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
	j.stats.SegmentsNew += uint64(created)
	j.statsMu.Unlock()
	return nil
}

// batch is a wal.Batch with the sizes of its entries, which wal keeps
// unexported.
type batch struct {
	b     wal.Batch
	sizes []int
}

// cycleCount mirrors tidwall/wal's segment cycling (a new segment once the
// tail reaches SegmentSize, each entry stored as uvarint(len)+frame) over
// entries of the given sizes and returns how many segment files wal will
// create while writing them, so that we fsync the directory after each.
func (j *Journal) cycleCount(sizes []int) int {
	created := 0
	if j.segBytes > j.opts.SegmentSize {
		created++
		j.segBytes = 0
	}
	var total int
	for _, sz := range sizes {
		e := uvarintLen(uint64(sz)) + sz
		total += e
		j.segBytes += e
		if j.segBytes >= j.opts.SegmentSize {
			created++
			j.segBytes = 0
		}
	}
	j.statsMu.Lock()
	j.stats.Bytes += uint64(total)
	j.statsMu.Unlock()
	return created
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

// Stats returns the writer's counters.
func (j *Journal) Stats() Stats {
	j.statsMu.Lock()
	defer j.statsMu.Unlock()
	return j.stats
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
	j.readMu.Lock()
	b, err := j.log.Read(pos)
	j.readMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("read journal position %d: %w", pos, err)
	}
	return b, nil
}

// TruncateAfter removes every entry after pos (pos is kept) and makes the
// removal durable. Everything appended must be durable first (Flush).
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
	if err := j.log.TruncateBack(pos); err != nil {
		j.err = &FatalError{Err: fmt.Errorf("truncate journal after position %d: %w", pos, err)}
		return j.err
	}
	if err := SyncDir(j.dir); err != nil {
		j.err = &FatalError{Err: err}
		return j.err
	}
	j.next = pos + 1
	j.durable.Store(pos)
	if err := j.measureTail(); err != nil {
		j.err = &FatalError{Err: err}
		return j.err
	}
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
