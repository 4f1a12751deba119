package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tidwall/wal"
)

// walLog is the file Log: segment files of tidwall/wal in one directory,
// each entry stored as uvarint(len)+entry. tidwall/wal has no checksum, so
// openWAL checks every frame before wal reads the files (Scan), and it
// fsyncs the directory after every segment file wal creates or renames,
// which wal does not. It gives the buffer wal keeps of the tail segment
// room for the whole segment (reserveTail, walroom.go), which wal grows
// by append.
type walLog struct {
	dir    string
	segMax int
	log    *wal.Log
	repair *TailDamage // torn tail cut off at open

	// readMu serializes reads: wal.Log.Read holds only its read lock while
	// loading a segment into its cache, which races with another Read.
	readMu sync.Mutex

	// mu serializes the methods that write (Write, Sync, the truncations,
	// Close) and guards the fields below.
	mu       sync.Mutex
	batch    wal.Batch
	segBytes int  // bytes in the current tail segment, mirroring wal's cycle rule
	dirDirty bool // a segment file was created since the last directory fsync

	bytes    atomic.Uint64
	segments atomic.Uint64

	// checked is the last index whose frame Scan checked at open, lowered
	// by a truncation past it (CheckedLog).
	checked atomic.Uint64
}

var (
	_ Log                 = (*walLog)(nil)
	_ RangeReader         = (*walLog)(nil)
	_ BufferedRangeReader = (*walLog)(nil)
	_ CheckedLog          = (*walLog)(nil)
	_ BackwardReader      = (*walLog)(nil)
	_ RangeCopier         = (*walLog)(nil)
	_ logCounters         = (*walLog)(nil)
	_ logRepair           = (*walLog)(nil)
)

// openWAL opens (creating if needed) the wal directory walDir, whose parent
// must exist. It refuses a journal damaged anywhere but at the tail of its
// last segment with a *DamageError, and cuts off such a torn tail (its
// records were never acknowledged: see RepairTail).
func openWAL(walDir string, segmentSize int) (*walLog, error) {
	return openWALGuarded(walDir, segmentSize, nil)
}

// openWALGuarded is openWAL that first asks guard, if not nil, about a torn
// tail it would cut: an error from guard is returned before anything in
// walDir is changed.
func openWALGuarded(walDir string, segmentSize int, guard func(*TailDamage) error) (*walLog, error) {
	if _, err := os.Stat(walDir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(walDir, 0o755); err != nil {
			return nil, fmt.Errorf("create journal directory: %w", err)
		}
		if err := SyncDir(filepath.Dir(walDir)); err != nil {
			return nil, err
		}
	}
	res, err := Scan(walDir, nil)
	if err != nil {
		return nil, err
	}
	l := &walLog{dir: walDir, segMax: segmentSize}
	l.checked.Store(res.Last) // every frame up to it; a torn tail after it is cut below
	if res.Tail != nil {
		if guard != nil {
			if err := guard(res.Tail); err != nil {
				return nil, err
			}
		}
		if err := RepairTail(res.Tail); err != nil {
			return nil, err
		}
		l.repair = res.Tail
	}
	// One closed segment cached besides the tail (which wal always
	// holds): the readers of entries by index (the stream to the
	// peer, the lag metric) are at the tail or just behind it, and
	// each further segment cached was ~4.5 MiB more live heap, twice
	// that in heap at GOGC 100, every page of it touched fresh (a
	// page fault each). Four cached segments were 18.6 MB of the 92
	// MB live after 200k calls of the commit benchmark.
	l.log, err = wal.Open(walDir, &wal.Options{
		NoSync:           true, // Sync is explicit
		SegmentSize:      segmentSize,
		LogFormat:        wal.Binary,
		SegmentCacheSize: 1,    // see above
		NoCopy:           true, // entries are immutable; we never modify a read slice
		AllowEmpty:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", walDir, err)
	}
	if err := SyncDir(walDir); err != nil {
		l.log.Close()
		return nil, err
	}
	if err := l.measureTail(); err != nil {
		l.log.Close()
		return nil, err
	}
	return l, nil
}

// walErr translates tidwall/wal's errors to the Log's.
func walErr(op string, err error) error {
	for _, m := range [...]struct{ from, to error }{
		{wal.ErrNotFound, ErrNotFound},
		{wal.ErrOutOfOrder, ErrOutOfOrder},
		{wal.ErrOutOfRange, ErrOutOfRange},
		{wal.ErrClosed, ErrClosed},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%s: %w", op, m.to)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (l *walLog) FirstIndex() (uint64, error) {
	i, err := l.log.FirstIndex()
	if err != nil {
		return 0, walErr("journal first index", err)
	}
	return i, nil
}

func (l *walLog) LastIndex() (uint64, error) {
	i, err := l.log.LastIndex()
	if err != nil {
		return 0, walErr("journal last index", err)
	}
	return i, nil
}

func (l *walLog) Write(first uint64, entries [][]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	last, err := l.log.LastIndex()
	if err != nil {
		return walErr("write journal batch", err)
	}
	if first != last+1 {
		return fmt.Errorf("write journal batch at index %d after index %d: %w", first, last, ErrOutOfOrder)
	}
	sizes := 0
	for _, e := range entries {
		sizes += uvarintLen(uint64(len(e))) + len(e)
	}
	// wal starts a segment after the entry that fills one, and the rest
	// of the batch goes into the new segment's buffers, grown by append
	// from nothing (at a group commit of hundreds of callers, a quarter
	// of a segment): so the batch is written in parts that end where a
	// segment does, and the new segment's buffers get their room first.
	created, cuts := l.cycleCount(entries)
	from := 0
	for k := 0; k <= len(cuts); k++ {
		to := len(entries)
		if k < len(cuts) {
			to = cuts[k]
		}
		if from == to {
			continue // the last entry ended a segment
		}
		l.batch.Clear()
		for i, e := range entries[from:to] {
			l.batch.Write(first+uint64(from+i), e)
		}
		if err := l.log.WriteBatch(&l.batch); err != nil {
			return walErr("write journal batch", err)
		}
		l.reserveTail(sizes / max(1, len(entries)))
		from = to
	}
	l.bytes.Add(uint64(sizes))
	if created > 0 {
		l.dirDirty = true
		l.segments.Add(uint64(created))
	}
	return nil
}

func (l *walLog) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.log.Sync(); err != nil {
		return walErr("fsync journal", err)
	}
	if l.dirDirty {
		if err := SyncDir(l.dir); err != nil {
			return err
		}
		l.dirDirty = false
	}
	return nil
}

func (l *walLog) Read(index uint64) ([]byte, error) {
	l.readMu.Lock()
	b, err := l.log.Read(index)
	l.readMu.Unlock()
	if err != nil {
		return nil, walErr(fmt.Sprintf("read journal index %d", index), err)
	}
	return b, nil
}

// segmentsOf checks that from..to lies in [FirstIndex, LastIndex] (else
// ErrNotFound, naming the first index outside) and returns the segment
// files and the last index. l.mu is held.
func (l *walLog) segmentsOf(from, to uint64) (segs []Segment, last uint64, err error) {
	first, err := l.log.FirstIndex()
	if err != nil {
		return nil, 0, walErr("journal first index", err)
	}
	last, err = l.log.LastIndex()
	if err != nil {
		return nil, 0, walErr("journal last index", err)
	}
	if from < first || to > last {
		bad := from
		if from >= first {
			bad = to
		}
		return nil, 0, fmt.Errorf("read journal index %d: %w", bad, ErrNotFound)
	}
	segs, err = ListSegments(l.dir)
	if err != nil {
		return nil, 0, fmt.Errorf("list journal segments: %w", err)
	}
	return segs, last, nil
}

// ReadRange reads the segment files holding from..to itself, front to
// back, one at a time, each into a new buffer (RangeReader:
// ReadRangeBuffered without buffers to reuse). It holds the write lock, so
// no Write or truncation changes the files while it reads them.
func (l *walLog) ReadRange(from, to uint64, fn func(index uint64, entry []byte) error) error {
	return l.ReadRangeBuffered(from, to, func() []byte { return nil }, func(i uint64, e, _ []byte) error { return fn(i, e) })
}

// ReadRangeBuffered is ReadRange reading each segment file into a buffer
// from get, which the caller hands back once it is done with the entries
// in it (BufferedRangeReader): a new buffer for every segment, the way
// ReadRange reads them, was a page fault for every 4 KiB of the journal
// (the kernel zeroes each new page) and as much garbage again.
func (l *walLog) ReadRangeBuffered(from, to uint64, get func() []byte, fn func(index uint64, entry, done []byte) error) error {
	if from > to {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	segs, last, err := l.segmentsOf(from, to)
	if err != nil {
		return err
	}
	pos := from
	for i, seg := range segs {
		if i+1 < len(segs) && segs[i+1].FirstPos <= pos {
			continue // ends before pos
		}
		if seg.FirstPos > pos {
			break // a gap: reported below
		}
		data, err := readSegmentInto(seg.Path, get())
		if err != nil {
			return fmt.Errorf("read journal segment: %w", err)
		}
		p, off := seg.FirstPos, 0
		for off < len(data) && pos <= to {
			frame, n, err := nextEntry(data[off:])
			if err != nil {
				return &DamageError{File: seg.Path, Offset: int64(off), Pos: p, Err: err}
			}
			if p == pos {
				// The last entry fn gets from data: to, or the
				// file's last.
				var done []byte
				if pos == to || off+n == len(data) {
					done = data
				}
				if err := fn(p, frame[:len(frame):len(frame)], done); err != nil {
					return err
				}
				pos++
			}
			off += n
			p++
		}
		if pos > to {
			return nil
		}
	}
	return fmt.Errorf("read journal index %d: the segment files end before it, though the journal's last index is %d: %w", pos, last, ErrNotFound)
}

// ReadBackward reads the segment files holding from..to, newest first, each
// once, into one buffer (BackwardReader: a rollback of a gigabyte touches
// a few megabytes of fresh memory, not a gigabyte). It holds the write
// lock only to list the segments and while it reads a file, not while fn
// runs: the entries up to to are whole in their files (a Write appends
// after them; a torn tail was cut at open), and fn must not truncate.
func (l *walLog) ReadBackward(from, to uint64, fn func(index uint64, entry []byte) error) error {
	if from > to {
		return nil
	}
	l.mu.Lock()
	segs, last, err := l.segmentsOf(from, to)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	pos := to           // the next index fn gets
	var frames [][2]int // the entries of a segment from max(from, its first) to pos: offset, end
	var data []byte
	for i := len(segs) - 1; i >= 0; i-- {
		seg := segs[i]
		if seg.FirstPos > pos {
			continue // starts after pos
		}
		if i+1 < len(segs) && segs[i+1].FirstPos <= pos {
			break // a gap: reported below
		}
		l.mu.Lock()
		data, err = readSegmentInto(seg.Path, data)
		l.mu.Unlock()
		if err != nil {
			return fmt.Errorf("read journal segment: %w", err)
		}
		lo := max(from, seg.FirstPos)
		frames = frames[:0]
		p, off := seg.FirstPos, 0
		for p <= pos {
			if off >= len(data) {
				return fmt.Errorf("read journal index %d: segment %s ends at index %d: %w", pos, seg.Path, p-1, ErrNotFound)
			}
			frame, n, err := nextEntry(data[off:])
			if err != nil {
				return &DamageError{File: seg.Path, Offset: int64(off), Pos: p, Err: err}
			}
			if p >= lo {
				end := off + n
				frames = append(frames, [2]int{end - len(frame), end})
			}
			off += n
			p++
		}
		for k := len(frames) - 1; k >= 0; k-- {
			f := frames[k]
			if err := fn(pos, data[f[0]:f[1]:f[1]]); err != nil {
				return err
			}
			pos--
		}
		if pos < from || pos == math.MaxUint64 {
			return nil
		}
	}
	return fmt.Errorf("read journal index %d: no segment file holds it, though the journal's last index is %d: %w", pos, last, ErrNotFound)
}

// CopyRange copies the bytes of from..to from the segment files to dst
// (RangeCopier): whole files where the range covers them, else from the
// entry at from and up to the entry at to, found by reading the lengths
// before them. The last segment ends with the log's last entry (wal
// writes whole entries; a torn tail was cut at open), so a range up to it
// copies that file to its end. It holds the write lock, so no Write or
// truncation changes the files while it copies them.
func (l *walLog) CopyRange(from, to uint64, dst *os.File) error {
	if from > to {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	segs, last, err := l.segmentsOf(from, to)
	if err != nil {
		return err
	}
	pos := from
	for i, seg := range segs {
		next := last + 1 // the first position after the segment
		if i+1 < len(segs) {
			next = segs[i+1].FirstPos
		}
		if next <= pos {
			continue
		}
		if seg.FirstPos > pos {
			break // a gap: reported below
		}
		end := min(to+1, next) // copy pos..end-1
		if err := copySegment(seg, pos, end, end == next, dst); err != nil {
			return err
		}
		pos = end
		if pos > to {
			return nil
		}
	}
	return fmt.Errorf("read journal index %d: the segment files end before it, though the journal's last index is %d: %w", pos, last, ErrNotFound)
}

// copySegment appends the entries from..end-1 of segment seg to dst; toEOF
// says that end-1 is the segment's last entry.
func copySegment(seg Segment, from, end uint64, toEOF bool, dst *os.File) error {
	f, err := os.Open(seg.Path)
	if err != nil {
		return fmt.Errorf("read journal segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read journal segment: %w", err)
	}
	size := fi.Size()
	// Find the byte offsets of from and, unless the copy runs to the end
	// of the file, of end, reading the entries' lengths.
	var lo, hi int64 = 0, size
	if from > seg.FirstPos || !toEOF {
		br := bufio.NewReaderSize(f, 1<<20)
		off := int64(0)
		stop := end
		if toEOF {
			stop = from
		}
		for p := seg.FirstPos; p < stop; p++ {
			if p == from {
				lo = off
			}
			n, err := binary.ReadUvarint(br)
			if err == nil && uint64(size-off) < n {
				err = ErrTornLength
			}
			if err == nil {
				_, err = br.Discard(int(n))
			}
			if err != nil {
				return &DamageError{File: seg.Path, Offset: off, Pos: p, Err: fmt.Errorf("read the entry's length: %w", err)}
			}
			off += int64(uvarintLen(n)) + int64(n)
		}
		if toEOF {
			lo = off
		} else {
			hi = off
		}
	}
	if _, err := f.Seek(lo, io.SeekStart); err != nil {
		return fmt.Errorf("read journal segment: %w", err)
	}
	n, err := io.Copy(dst, io.LimitReader(f, hi-lo))
	if err == nil && n != hi-lo {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("copy bytes %d..%d of journal segment %s: %w", lo, hi, seg.Path, err)
	}
	return nil
}

func (l *walLog) TruncateBack(index uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.log.TruncateBack(index); err != nil {
		return walErr(fmt.Sprintf("truncate journal after index %d", index), err)
	}
	if l.checked.Load() > index {
		l.checked.Store(index) // the indexes after it are written anew
	}
	return l.afterTruncate()
}

// CheckedThrough returns the last index whose frame was checked at open
// (CheckedLog).
func (l *walLog) CheckedThrough() uint64 { return l.checked.Load() }

func (l *walLog) TruncateFront(index uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.log.TruncateFront(index); err != nil {
		return walErr(fmt.Sprintf("truncate journal before index %d", index), err)
	}
	return l.afterTruncate()
}

// afterTruncate makes wal's renames and removals durable (wal fsyncs the
// rewritten segment, not the directory) and measures the new tail.
func (l *walLog) afterTruncate() error {
	if err := SyncDir(l.dir); err != nil {
		return err
	}
	l.dirDirty = false
	return l.measureTail()
}

func (l *walLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.log.Close(); err != nil {
		return walErr("close journal", err)
	}
	return nil
}

func (l *walLog) counters() (bytes, segments uint64) {
	return l.bytes.Load(), l.segments.Load()
}

func (l *walLog) repaired() *TailDamage { return l.repair }

// measureTail sets segBytes to the size of the last segment file.
func (l *walLog) measureTail() error {
	segs, err := ListSegments(l.dir)
	if err != nil {
		return err
	}
	l.segBytes = 0
	if len(segs) > 0 {
		fi, err := os.Stat(segs[len(segs)-1].Path)
		if err != nil {
			return err
		}
		l.segBytes = int(fi.Size())
	}
	return nil
}

// cycleCount mirrors tidwall/wal's segment cycling (a new segment once the
// tail reaches segMax, each entry stored as uvarint(len)+entry) over the
// entries and returns how many segment files wal will create while writing
// them, so that Sync fsyncs the directory after creating them, and the
// indexes in entries after which it creates one (cuts, in order).
func (l *walLog) cycleCount(entries [][]byte) (created int, cuts []int) {
	if l.segBytes > l.segMax {
		created++
		l.segBytes = 0
	}
	for i, e := range entries {
		l.segBytes += uvarintLen(uint64(len(e))) + len(e)
		if l.segBytes >= l.segMax {
			created++
			l.segBytes = 0
			cuts = append(cuts, i+1)
		}
	}
	return created, cuts
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}
