package journal_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
)

// tailFixture is a closed journal of n records in one segment, to damage.
type tailFixture struct {
	dir     string
	frames  [][]byte
	entries []journal.Entry
	seg     []byte // the segment file's bytes
	segName string
}

func newTailFixture(t *testing.T, n int) *tailFixture {
	t.Helper()
	dir, frames := buildJournal(t, n, 0, 3, func(pos uint64) int { return 20 + int(pos)*13 })
	es, res := scanEntries(t, dir)
	if len(res.Segments) != 1 || len(es) != n {
		t.Fatalf("fixture has %d segments and %d entries", len(res.Segments), len(es))
	}
	seg, err := os.ReadFile(res.Segments[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	return &tailFixture{dir: dir, frames: frames, entries: es, seg: seg, segName: filepath.Base(res.Segments[0].Path)}
}

// last returns the offset and size of the last entry.
func (f *tailFixture) last() (off, size int) {
	e := f.entries[len(f.entries)-1]
	return int(e.Offset), len(f.seg) - int(e.Offset)
}

// damaged writes a copy of the fixture's instance directory whose segment
// holds seg instead, and returns it with the segment's path.
func (f *tailFixture) damaged(t *testing.T, seg []byte) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, journal.WalDir), 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, journal.WalDir, f.segName)
	if err := os.WriteFile(path, seg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// checkRepaired opens a damaged copy and checks that the torn tail starting
// at byte off (position pos) was cut off, records 1..pos-1 are intact and
// readable, and appends continue at pos and survive a reopen.
func (f *tailFixture) checkRepaired(t *testing.T, seg []byte, pos uint64, off int) {
	t.Helper()
	dir, path := f.damaged(t, seg)
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer j.Close()
	if j.Repair == nil {
		t.Fatalf("Repair not set")
	}
	if j.Repair.Pos != pos || j.Repair.File != path || j.Repair.Offset != int64(off) || j.Repair.Bytes != int64(len(seg)-off) {
		t.Fatalf("Repair = %+v, want position %d, file %s, offset %d, %d bytes", j.Repair, pos, path, off, len(seg)-off)
	}
	if !strings.Contains(j.Repair.String(), path) {
		t.Fatalf("Repair.String() = %q does not name the file", j.Repair.String())
	}
	if j.Next() != pos || j.Durable() != pos-1 {
		t.Fatalf("after repair Next() = %d and Durable() = %d, want %d and %d", j.Next(), j.Durable(), pos, pos-1)
	}
	checkFrames(t, j, f.frames[:pos-1])
	if _, err := j.Read(pos); err == nil {
		t.Fatalf("position %d is still readable after the repair", pos)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(off) {
		t.Fatalf("segment after repair: %v, %v; want %d bytes", fi, err, off)
	}
	next := testFrame(t, pos, 77)
	appendFrames(t, j, next)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatalf("reopen after repair: %v", err)
	}
	defer j2.Close()
	if j2.Repair != nil {
		t.Fatalf("second open repaired again: %v", j2.Repair)
	}
	if j2.Next() != pos+1 {
		t.Fatalf("after reopen Next() = %d, want %d", j2.Next(), pos+1)
	}
	checkFrames(t, j2, append(append([][]byte{}, f.frames[:pos-1]...), next))
}

// TestTornLastRecord truncates the last record at every length, from one
// byte short of complete down to a single byte of it.
func TestTornLastRecord(t *testing.T) {
	f := newTailFixture(t, 10)
	off, size := f.last()
	for keep := size - 1; keep >= 1; keep-- {
		t.Run(fmt.Sprintf("keep%d", keep), func(t *testing.T) {
			f.checkRepaired(t, f.seg[:off+keep], 10, off)
		})
	}
}

// TestZeroFilledTail checks a tail of zeros (a file extended but whose data
// never reached the disk), both after complete records and over the last
// one.
func TestZeroFilledTail(t *testing.T) {
	f := newTailFixture(t, 10)
	off, _ := f.last()
	t.Run("after-last-record", func(t *testing.T) {
		seg := append(bytes.Clone(f.seg), make([]byte, 4096)...)
		f.checkRepaired(t, seg, 11, len(f.seg))
	})
	t.Run("over-last-record", func(t *testing.T) {
		seg := append(bytes.Clone(f.seg[:off]), make([]byte, 4096)...)
		f.checkRepaired(t, seg, 10, off)
	})
	t.Run("torn-last-record-then-zeros", func(t *testing.T) {
		seg := append(bytes.Clone(f.seg[:off+5]), make([]byte, 4096)...)
		f.checkRepaired(t, seg, 10, off)
	})
}

// TestFlippedBitInLastRecord flips one bit in every byte of the last entry
// (length prefix, version, checksum, payload).
func TestFlippedBitInLastRecord(t *testing.T) {
	f := newTailFixture(t, 10)
	off, size := f.last()
	for i := 0; i < size; i++ {
		t.Run(fmt.Sprintf("byte%d", i), func(t *testing.T) {
			seg := bytes.Clone(f.seg)
			seg[off+i] ^= 1 << (i % 8)
			f.checkRepaired(t, seg, 10, off)
		})
	}
}

// checkRefused opens a damaged journal and checks that it is refused with a
// *DamageError naming file, position and offset, and that the refused open
// changed nothing on disk.
func checkRefused(t *testing.T, dir, file string, pos uint64, off int64) {
	t.Helper()
	walDir := filepath.Join(dir, journal.WalDir)
	before := readDir(t, walDir)
	j, err := journal.Open(dir, journal.Options{})
	if err == nil {
		j.Close()
		t.Fatalf("a journal damaged at position %d (%s, offset %d) opened (repair: %v)", pos, filepath.Base(file), off, j.Repair)
	}
	var de *journal.DamageError
	if !errors.As(err, &de) {
		t.Fatalf("open returned %T %v, want a *journal.DamageError", err, err)
	}
	if de.File != file || de.Pos != pos || (off >= 0 && de.Offset != off) {
		t.Fatalf("DamageError names %s position %d offset %d, want %s position %d offset %d", de.File, de.Pos, de.Offset, file, pos, off)
	}
	msg := de.Error()
	if !strings.Contains(msg, file) || !strings.Contains(msg, fmt.Sprintf("position %d", pos)) {
		t.Fatalf("DamageError message %q does not name both the file and the position", msg)
	}
	if _, err := journal.Scan(walDir, nil); !errors.As(err, &de) || de.Pos != pos {
		t.Fatalf("Scan returned %v, want the same damage", err)
	}
	checkScansAgree(t, walDir)
	after := readDir(t, walDir)
	if len(after) != len(before) {
		t.Fatalf("refused open changed the journal directory: %d files, then %d", len(before), len(after))
	}
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Fatalf("refused open changed %s", name)
		}
	}
}

// checkScansAgree holds Scan without fn, which checks the segments at once
// on several goroutines, to what Scan with one, which reads them in order,
// finds: the same result and the same error.
func checkScansAgree(t *testing.T, walDir string) {
	t.Helper()
	par, perr := journal.Scan(walDir, nil)
	n := 0
	seq, serr := journal.Scan(walDir, func(journal.Entry) error { n++; return nil })
	if fmt.Sprint(perr) != fmt.Sprint(serr) {
		t.Fatalf("Scan without fn returned error %v, with fn %v", perr, serr)
	}
	if par.First != seq.First || par.Last != seq.Last || fmt.Sprint(par.Tail) != fmt.Sprint(seq.Tail) || len(par.Segments) != len(seq.Segments) {
		t.Fatalf("Scan without fn found first %d last %d tail %v in %d segments, with fn first %d last %d tail %v in %d",
			par.First, par.Last, par.Tail, len(par.Segments), seq.First, seq.Last, seq.Tail, len(seq.Segments))
	}
	if serr == nil && seq.First != 0 && uint64(n) != seq.Last-seq.First+1 {
		t.Fatalf("Scan with fn saw %d entries for positions %d..%d", n, seq.First, seq.Last)
	}
}

// TestScanIntactSegmentsAgree: on an intact journal of several segments,
// and on one whose last segment has a torn tail, the check at open finds
// what the ordered scan does.
func TestScanIntactSegmentsAgree(t *testing.T) {
	dir, segs, bySeg := multiSegment(t)
	walDir := filepath.Join(dir, journal.WalDir)
	checkScansAgree(t, walDir)
	res, err := journal.Scan(walDir, nil)
	if err != nil || res.Tail != nil || res.First != 1 || res.Last != 60 {
		t.Fatalf("intact journal: Scan found first %d last %d tail %v, error %v; want 1..60", res.First, res.Last, res.Tail, err)
	}
	s := segs[len(segs)-1]
	es := bySeg[s.Path]
	last := es[len(es)-1]
	if err := os.Truncate(s.Path, last.Offset+2); err != nil {
		t.Fatal(err)
	}
	checkScansAgree(t, walDir)
	res, err = journal.Scan(walDir, nil)
	if err != nil || res.Tail == nil || res.Tail.Pos != last.Pos || res.Last != last.Pos-1 {
		t.Fatalf("torn last segment: Scan found last %d tail %v, error %v; want the tail at %d", res.Last, res.Tail, err, last.Pos)
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

// TestDamageBeforeLastRecordRefused flips a bit in record 3 of 10, in its
// version byte, checksum and payload: the records after it are valid, so
// this is not a torn tail, and the journal must not open.
func TestDamageBeforeLastRecordRefused(t *testing.T) {
	f := newTailFixture(t, 10)
	e := f.entries[2]
	prefix := int(f.entries[3].Offset-e.Offset) - len(e.Frame) // uvarint length bytes
	for _, i := range []int{0, 1, 4, 5, len(e.Frame) / 2, len(e.Frame) - 1} {
		t.Run(fmt.Sprintf("frame-byte%d", i), func(t *testing.T) {
			seg := bytes.Clone(f.seg)
			seg[int(e.Offset)+prefix+i] ^= 0x10
			dir, path := f.damaged(t, seg)
			checkRefused(t, dir, path, 3, e.Offset)
		})
	}
}

// TestDamagedLengthBeforeLastRecordRefused flips bits in the length prefix
// of record 3 of 10. The entry boundaries after it are then lost, but the
// valid records 4..10 are still there: it must be refused like any damage
// before the tail, not cut off as a torn tail (which would silently drop
// acknowledged records 3..10).
func TestDamagedLengthBeforeLastRecordRefused(t *testing.T) {
	f := newTailFixture(t, 10)
	e := f.entries[2]
	for _, bit := range []byte{0x80, 0x40, 0x01} {
		t.Run(fmt.Sprintf("bit%#x", bit), func(t *testing.T) {
			seg := bytes.Clone(f.seg)
			seg[e.Offset] ^= bit
			dir, path := f.damaged(t, seg)
			checkRefused(t, dir, path, 3, e.Offset)
		})
	}
}

// multiSegment builds a journal of several segments and returns its
// entries grouped by segment.
func multiSegment(t *testing.T) (dir string, segs []journal.Segment, bySeg map[string][]journal.Entry) {
	t.Helper()
	dir, _ = buildJournal(t, 60, 1024, 4, func(pos uint64) int { return 40 + int(pos*37%150) })
	es, res := scanEntries(t, dir)
	if len(res.Segments) < 4 {
		t.Fatalf("only %d segments", len(res.Segments))
	}
	bySeg = map[string][]journal.Entry{}
	for _, e := range es {
		bySeg[e.File] = append(bySeg[e.File], e)
	}
	return dir, res.Segments, bySeg
}

// TestDamagedNonLastSegmentRefused damages a segment that is not the last
// one: a torn end (as if a crash had cut it), a flipped bit in its last
// record, a lost whole last record, and a missing segment file. Only the
// last segment may have a torn tail.
func TestDamagedNonLastSegmentRefused(t *testing.T) {
	t.Run("torn-end", func(t *testing.T) {
		dir, segs, bySeg := multiSegment(t)
		s := segs[1]
		es := bySeg[s.Path]
		last := es[len(es)-1]
		fi, err := os.Stat(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		cut := last.Offset + (fi.Size()-last.Offset)/2
		if err := os.Truncate(s.Path, cut); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, dir, s.Path, last.Pos, last.Offset)
	})
	t.Run("flipped-bit-in-last-record", func(t *testing.T) {
		dir, segs, bySeg := multiSegment(t)
		s := segs[2]
		es := bySeg[s.Path]
		last := es[len(es)-1]
		b, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-3] ^= 0x04
		if err := os.WriteFile(s.Path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, dir, s.Path, last.Pos, last.Offset)
	})
	t.Run("zero-filled-end", func(t *testing.T) {
		dir, segs, bySeg := multiSegment(t)
		s := segs[1]
		es := bySeg[s.Path]
		last := es[len(es)-1]
		b, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		clear(b[last.Offset:])
		if err := os.WriteFile(s.Path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, dir, s.Path, last.Pos, last.Offset)
	})
	t.Run("lost-whole-last-record", func(t *testing.T) {
		// The segment ends cleanly on an entry boundary, one record short.
		// Position last.Pos is in this segment's range (the next segment
		// starts after it) and this is the damaged file: the error must
		// name it, at its end, not only the intact file after it.
		dir, segs, bySeg := multiSegment(t)
		s := segs[1]
		es := bySeg[s.Path]
		last := es[len(es)-1]
		if err := os.Truncate(s.Path, last.Offset); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, dir, s.Path, last.Pos, last.Offset)
	})
	t.Run("missing-segment", func(t *testing.T) {
		// Positions of the missing file look like the end of the file
		// before it: the error names that file and the one after the gap.
		dir, segs, _ := multiSegment(t)
		if err := os.Remove(segs[2].Path); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(segs[1].Path)
		if err != nil {
			t.Fatal(err)
		}
		checkRefused(t, dir, segs[1].Path, segs[2].FirstPos, fi.Size())
		_, err = journal.Open(dir, journal.Options{})
		if !strings.Contains(err.Error(), filepath.Base(segs[3].Path)) {
			t.Fatalf("DamageError %q does not name the segment after the gap, %s", err, filepath.Base(segs[3].Path))
		}
	})
}

// TestScanWithoutFnReusesNothingWrong: Scan without fn reads every segment
// into the buffer of the one before; segments of growing and shrinking
// sizes and a torn tail in the last give the result Scan with fn gives.
func TestScanWithoutFnReusesNothingWrong(t *testing.T) {
	dir, _ := buildJournal(t, 400, 4<<10, 7, func(pos uint64) int { return 20 + int(pos*37%900) })
	walDir := filepath.Join(dir, journal.WalDir)
	_, want := scanEntries(t, dir)
	if len(want.Segments) < 3 {
		t.Fatalf("fixture has %d segments, want several", len(want.Segments))
	}
	// A torn tail: the last segment's last bytes cut.
	last := want.Segments[len(want.Segments)-1].Path
	seg, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(last, seg[:len(seg)-5], 0o644); err != nil {
		t.Fatal(err)
	}
	_, want = scanEntries(t, dir)
	got, err := journal.Scan(walDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want.Tail == nil || fmt.Sprint(*got.Tail) != fmt.Sprint(*want.Tail) ||
		fmt.Sprint(got.Segments, got.First, got.Last) != fmt.Sprint(want.Segments, want.First, want.Last) {
		t.Fatalf("Scan without fn found %+v (tail %v), with fn %+v (tail %v)", got, got.Tail, want, want.Tail)
	}
}
