package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Segment is one tidwall/wal segment file: entries uvarint(len)+frame, the
// first of which has position FirstPos.
type Segment struct {
	Path     string
	FirstPos uint64
}

// DamageError reports a journal entry that cannot be read, naming the file,
// the byte offset in it and the position the entry would have had. File is
// "" (and Offset 0) for a Log that is not in files, such as a MemLog.
type DamageError struct {
	File   string
	Offset int64
	Pos    uint64
	Err    error
}

func (e *DamageError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("journal damaged at position %d (in a journal not in files): %v", e.Pos, e.Err)
	}
	return fmt.Sprintf("journal damaged at position %d (file %s, byte offset %d): %v", e.Pos, e.File, e.Offset, e.Err)
}

func (e *DamageError) Unwrap() error { return e.Err }

// ErrTornLength is the cause in a DamageError for an entry whose length
// prefix is unreadable or runs past the end of its file.
var ErrTornLength = errors.New("entry length runs past the end of the file")

// ListSegments returns the segment files of a journal directory in order,
// resolving the .START and .END files tidwall/wal leaves when a truncation
// was interrupted the way wal.Open would, without touching them.
func ListSegments(walDir string) ([]Segment, error) {
	ents, err := os.ReadDir(walDir)
	if err != nil {
		return nil, err
	}
	var segs []Segment
	start, end := -1, -1
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) < 20 {
			continue
		}
		idx, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil || idx == 0 {
			continue
		}
		isStart := len(name) == 26 && strings.HasSuffix(name, ".START")
		isEnd := len(name) == 24 && strings.HasSuffix(name, ".END")
		if len(name) != 20 && !isStart && !isEnd {
			continue
		}
		if isStart {
			start = len(segs)
		} else if isEnd && end == -1 {
			end = len(segs)
		}
		segs = append(segs, Segment{Path: filepath.Join(walDir, name), FirstPos: idx})
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].FirstPos < segs[j].FirstPos })
	if start != -1 && end != -1 {
		return nil, fmt.Errorf("journal %s holds both a .START and a .END segment: an interrupted truncation cannot be resolved", walDir)
	}
	if start != -1 {
		segs = segs[start:]
	}
	if end != -1 {
		segs = segs[:end+1]
		if n := len(segs); n > 1 && segs[n-2].FirstPos == segs[n-1].FirstPos {
			segs = append(segs[:n-2], segs[n-1])
		}
	}
	return segs, nil
}

// Entry is one journal entry found by a scan.
type Entry struct {
	Pos    uint64
	Frame  []byte // version, checksum, payload; aliases the file's buffer
	File   string
	Offset int64 // of the entry's length prefix in File
}

// TailDamage describes a torn or zero-filled tail (or a damaged last record)
// found at the end of the last segment: what recovery truncates. File is ""
// (and Offset 0) for a Log that is not in files, such as a MemLog.
type TailDamage struct {
	File   string
	Offset int64 // truncate the file to this length
	Pos    uint64
	Bytes  int64 // bytes after Offset
	Err    error
}

func (t *TailDamage) String() string {
	if t.File == "" {
		return fmt.Sprintf("torn tail at position %d (%d bytes, in a journal not in files): %v", t.Pos, t.Bytes, t.Err)
	}
	return fmt.Sprintf("torn tail at position %d (file %s, byte offset %d, %d bytes): %v", t.Pos, t.File, t.Offset, t.Bytes, t.Err)
}

// ScanResult is what Scan found.
type ScanResult struct {
	Segments []Segment
	First    uint64 // first position, 0 if the journal is empty
	Last     uint64 // last valid position, 0 if empty
	Tail     *TailDamage
}

// Scan reads every entry of the journal in walDir in order, checking each
// frame, and calls fn (if not nil) for each valid one. It never writes.
// Damage in any segment but the last, or in the last segment followed by a
// valid entry, is a *DamageError. Damage after which nothing valid follows
// in the last segment is a torn tail, never acknowledged: it is returned in
// ScanResult.Tail for the caller to repair (Open) or report (verify).
//
// Without fn (the check at open), the segments are checked on up to
// GOMAXPROCS goroutines at once, since each one's check needs nothing of
// the others; what Scan returns is the same as if it read them in order.
func Scan(walDir string, fn func(Entry) error) (*ScanResult, error) {
	segs, err := ListSegments(walDir)
	if err != nil {
		return nil, fmt.Errorf("list journal segments: %w", err)
	}
	var checked []segScan
	if fn == nil {
		checked = scanSegments(segs)
	}
	res := &ScanResult{Segments: segs}
	var prevSize int64
	for i, seg := range segs {
		last := i == len(segs)-1
		if i > 0 && seg.FirstPos != res.Last+1 {
			prev := segs[i-1]
			return res, &DamageError{File: prev.Path, Offset: prevSize, Pos: res.Last + 1,
				Err: fmt.Errorf("segment %s ends at position %d but the next segment %s starts at %d: %s is truncated or a segment is missing",
					filepath.Base(prev.Path), res.Last, filepath.Base(seg.Path), seg.FirstPos, filepath.Base(prev.Path))}
		}
		var s segScan
		if checked != nil {
			s = checked[i]
		} else {
			s, _ = scanSegment(seg, last, fn, nil)
		}
		if s.valid > 0 {
			if res.First == 0 {
				res.First = seg.FirstPos
			}
			res.Last = seg.FirstPos + s.valid - 1
		}
		if s.err != nil {
			return res, s.err
		}
		res.Tail = s.tail
		prevSize = s.size
		if res.First == 0 && !last && s.size == 0 {
			// an empty segment before the last one: wal never leaves one
			return res, &DamageError{File: seg.Path, Pos: seg.FirstPos, Err: errors.New("empty segment before the last one")}
		}
		if res.Last == 0 {
			res.Last = seg.FirstPos - 1
		}
	}
	if res.First == 0 {
		res.Last = 0
		if len(segs) > 0 && segs[0].FirstPos > 1 {
			res.Last = segs[0].FirstPos - 1
		}
	}
	return res, nil
}

// segScan is what scanSegment found in one segment file.
type segScan struct {
	size  int64  // the file's length
	valid uint64 // entries read and checked before the end, a tail or err
	tail  *TailDamage
	err   error // the file unreadable, damage that is not a tail, or fn's error
}

// scanSegment reads and checks the entries of seg, the journal's last
// segment if last, calling fn (if not nil) for each valid one. Without fn
// nothing keeps a frame, so the file is read into buf (readSegmentInto),
// which it returns for the next segment; with fn, into a buffer of its
// own that fn's frames alias.
func scanSegment(seg Segment, last bool, fn func(Entry) error, buf []byte) (segScan, []byte) {
	var data []byte
	var err error
	if fn == nil {
		data, err = readSegmentInto(seg.Path, buf)
		buf = data
	} else {
		data, err = os.ReadFile(seg.Path)
	}
	if err != nil {
		return segScan{err: fmt.Errorf("read journal segment: %w", err)}, buf
	}
	s := segScan{size: int64(len(data))}
	pos, off := seg.FirstPos, 0
	for off < len(data) {
		frame, n, ferr := nextEntry(data[off:])
		if ferr == nil {
			_, ferr = OpenFrame(frame)
		}
		if ferr != nil {
			if last && !validAfter(data, off) {
				s.tail = &TailDamage{File: seg.Path, Offset: int64(off), Pos: pos, Bytes: int64(len(data) - off), Err: ferr}
				return s, buf
			}
			s.err = &DamageError{File: seg.Path, Offset: int64(off), Pos: pos, Err: ferr}
			return s, buf
		}
		s.valid++
		if fn != nil {
			if err := fn(Entry{Pos: pos, Frame: frame, File: seg.Path, Offset: int64(off)}); err != nil {
				s.err = err
				return s, buf
			}
		}
		off += n
		pos++
	}
	return s, buf
}

// scanSegments checks every segment of segs (without an fn) on up to
// GOMAXPROCS goroutines, each taking the next unchecked segment and reading
// it into the buffer of the one it checked before (a new buffer each was
// an allocation to clear and a GC cycle each at the start of every Open),
// so that at most that many buffers are in memory at once.
func scanSegments(segs []Segment) []segScan {
	out := make([]segScan, len(segs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(segs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(segs) {
					return
				}
				out[i], buf = scanSegment(segs[i], i == len(segs)-1, nil, buf)
			}
		}()
	}
	wg.Wait()
	return out
}

// readSegmentInto reads the file at path into buf's storage, grown if it
// is too small, and returns what it read.
func readSegmentInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if size := int(fi.Size()) + 512; cap(buf) < size { // 512: room to find the file grew
		// Segments differ in size by up to a batch: 1/16 more room
		// lets the next ones fit.
		buf = make([]byte, 0, size+size/16)
	}
	buf = buf[:0]
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // the file grew: more room
		}
	}
}

// nextEntry parses one uvarint-length-prefixed entry. n is the entry's full
// size when the length is readable (even if the frame is bad), else 0.
func nextEntry(data []byte) (frame []byte, n int, err error) {
	size, hdr := binary.Uvarint(data)
	if hdr <= 0 || uint64(len(data)-hdr) < size {
		return nil, 0, ErrTornLength
	}
	return data[hdr : hdr+int(size)], hdr + int(size), nil
}

// validAfter reports whether a valid frame starts anywhere after the bad
// entry at off. It does not trust the bad entry's length (a flipped bit in
// a length prefix would misalign a walk over entry boundaries and make
// damage in the middle look like a torn tail): it tries every later offset,
// cheaply filtered by the frame version byte, and accepts only a frame whose
// CRC32C matches.
func validAfter(data []byte, off int) bool {
	for i := off + 1; i < len(data); i++ {
		size, n := binary.Uvarint(data[i:])
		if n <= 0 || size < frameHeader || uint64(len(data)-i-n) < size || data[i+n] != FrameVersion {
			continue
		}
		if _, err := OpenFrame(data[i+n : i+n+int(size)]); err == nil {
			return true
		}
	}
	return false
}

// RepairTail truncates the last segment at a torn tail found by Scan and
// fsyncs it. The records lost were never acknowledged: a record is
// acknowledged only once the fsync that covered it returned.
func RepairTail(t *TailDamage) error {
	f, err := os.OpenFile(t.File, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("repair torn tail: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(t.Offset); err != nil {
		return fmt.Errorf("repair torn tail of %s: %w", t.File, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("repair torn tail of %s: %w", t.File, err)
	}
	return nil
}
