package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/liege-db/liege/journal"
)

// replayFrames returns the frames of n records at positions 1..n.
func replayFrames(t *testing.T, n int) [][]byte {
	t.Helper()
	enc := journal.NewEncoder()
	frames := make([][]byte, n)
	for i := range frames {
		r := journal.Record{Pos: uint64(i + 1), Kind: journal.KindLocal, Origin: "A", OSeq: uint64(i + 1), HLC: uint64(i + 1),
			Writes: []journal.Write{{Op: journal.OpSet, Key: []byte(fmt.Sprint("k", i)), Value: []byte("v")}}}
		f, err := enc.Frame(&r)
		if err != nil {
			t.Fatal(err)
		}
		frames[i] = append([]byte(nil), f...)
	}
	return frames
}

// unbuffered makes a readRangeFunc of a read that never hands a buffer
// back.
func unbuffered(read func(from, to uint64, fn func(uint64, []byte) error) error) readRangeFunc {
	return func(from, to uint64, _ func() []byte, fn func(uint64, []byte, []byte) error) error {
		return read(from, to, func(p uint64, f []byte) error { return fn(p, f, nil) })
	}
}

// TestReplayParallelReusesBuffers: replayParallel hands a buffer that
// readRange is done with back to it (get) only once every record read
// from it is applied, so the frames read into it again never show
// through; segments of many chunks and of less than one both come back.
func TestReplayParallelReusesBuffers(t *testing.T) {
	const n = 30*replayChunk + 11
	frames := replayFrames(t, n)
	var applied atomic.Uint64    // the last position applied
	lastIn := map[*byte]uint64{} // a buffer's last position, while out
	reused := 0
	read := func(from, to uint64, get func() []byte, fn func(uint64, []byte, []byte) error) error {
		p := from
		for seg := 0; p <= to; seg++ {
			k := uint64(3*replayChunk + 7) // frames in this "segment"
			if seg%2 == 1 {
				k = replayChunk / 3
			}
			k = min(k, to-p+1)
			size := 0
			for i := range k {
				size += len(frames[p+i-1])
			}
			buf := get()
			if buf != nil {
				last, ok := lastIn[&buf[:1][0]]
				if !ok {
					return fmt.Errorf("get returned a buffer readRange never gave")
				}
				if a := applied.Load(); a < last {
					return fmt.Errorf("get returned the buffer of positions up to %d when only %d were applied", last, a)
				}
				delete(lastIn, &buf[:1][0])
				reused++
			}
			if cap(buf) < size {
				buf = make([]byte, 0, size+size/2)
			}
			buf = buf[:0]
			for i := range k {
				buf = append(buf, frames[p+i-1]...)
			}
			off := 0
			for i := range k {
				f := buf[off : off+len(frames[p+i-1])]
				off += len(f)
				var done []byte
				if i == k-1 {
					done = buf
					lastIn[&buf[:1][0]] = p + i
				}
				if err := fn(p+i, f, done); err != nil {
					return err
				}
			}
			p += k
		}
		return nil
	}
	dec := journal.NewDecoder()
	var want journal.Record
	got, err := replayParallel(read, 2, 1, n, 0, func(r *journal.Record) error {
		if err := dec.DecodeFrame(frames[r.Pos-1], &want); err != nil {
			return err
		}
		if fmt.Sprint(*r) != fmt.Sprint(want) {
			return fmt.Errorf("position %d applied as %+v, want %+v", r.Pos, *r, want)
		}
		applied.Store(r.Pos)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("applied %d records, want %d", got, n)
	}
	if reused == 0 {
		t.Fatal("no buffer came back to readRange")
	}
}

// TestReplayParallel: replayParallel applies every record in order and
// hands each chunk to decoded once; a read that fails, or ends early, or
// skips a position, or a frame whose checksum does not match (unless the
// log checked it already, checked), is an error naming the position,
// after the records before it are applied.
func TestReplayParallel(t *testing.T) {
	const n = 3*replayChunk + 17
	frames := replayFrames(t, n)
	read := func(failAt uint64, cause error, skip bool, end uint64) func(from, to uint64, fn func(uint64, []byte) error) error {
		return func(from, to uint64, fn func(uint64, []byte) error) error {
			for p := from; p <= min(to, end); p++ {
				if p == failAt {
					if cause != nil {
						return cause
					}
					if skip {
						continue
					}
				}
				if err := fn(p, frames[p-1]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	errDisk := errors.New("disk on fire")
	// A frame whose checksum does not match its content at position bad.
	const bad = replayChunk + 9
	damaged := func(from, to uint64, fn func(uint64, []byte) error) error {
		return read(0, nil, false, n)(from, to, func(p uint64, f []byte) error {
			if p == bad {
				f = append([]byte(nil), f...)
				f[1] ^= 0xff // the checksum's first byte
			}
			return fn(p, f)
		})
	}
	for _, tc := range []struct {
		name    string
		from    uint64
		checked uint64
		read    func(from, to uint64, fn func(uint64, []byte) error) error
		applied uint64 // records applied before the error (all: n-from+1)
		err     string
	}{
		{name: "whole", from: 1, read: read(0, nil, false, n), applied: n},
		{name: "from the middle", from: replayChunk + 5, read: read(0, nil, false, n), applied: n - replayChunk - 4},
		{name: "read error", from: 1, read: read(2*replayChunk+3, errDisk, false, n), applied: 2*replayChunk + 2,
			err: fmt.Sprintf("replay journal position %d: disk on fire", 2*replayChunk+3)},
		{name: "read error at a chunk's start", from: 1, read: read(replayChunk+1, errDisk, false, n), applied: replayChunk,
			err: fmt.Sprintf("replay journal position %d: disk on fire", replayChunk+1)},
		{name: "ends early", from: 1, read: read(0, nil, false, n-1), applied: n - 1,
			err: fmt.Sprintf("replay journal position %d: the journal ended before position %d", n, n)},
		{name: "skips a position", from: 1, read: read(40, nil, true, n), applied: 39,
			err: "replay journal position 40: read position 41 where 40 comes next"},
		// A chunk that does not decode is not applied: none of its records.
		{name: "checksum", from: 1, read: damaged, applied: replayChunk,
			err: fmt.Sprintf("replay journal position %d: %v", bad, journal.ErrChecksum)},
		{name: "checksum after the checked", from: 1, checked: bad - 1, read: damaged, applied: replayChunk,
			err: fmt.Sprintf("replay journal position %d: %v", bad, journal.ErrChecksum)},
		{name: "checksum checked already", from: 1, checked: bad, read: damaged, applied: n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := tc.from
			var mu sync.Mutex
			chunks := map[int]int{}
			got, err := replayParallel(unbuffered(tc.read), 2, tc.from, n, tc.checked, func(r *journal.Record) error {
				if r.Pos != next {
					return fmt.Errorf("applied position %d, want %d", r.Pos, next)
				}
				next++
				return nil
			}, func(_, c int, recs []journal.Record) {
				mu.Lock()
				defer mu.Unlock()
				chunks[c] += len(recs)
			})
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			case tc.err != "" && tc.read != nil && strings.Contains(tc.err, "disk") && !errors.Is(err, errDisk):
				t.Fatalf("error %v does not wrap the read's", err)
			}
			if got != tc.applied || next != tc.from+tc.applied {
				t.Fatalf("applied %d records (up to %d), want %d", got, next-1, tc.applied)
			}
			if tc.err == "" {
				total := 0
				for c, k := range chunks {
					if c < 0 || c >= replayChunks(tc.from, n) {
						t.Fatalf("chunk %d outside 0..%d", c, replayChunks(tc.from, n)-1)
					}
					total += k
				}
				if total != int(tc.applied) {
					t.Fatalf("decoded saw %d records, want %d", total, tc.applied)
				}
			}
		})
	}
}

// TestReplayParallelReusesRecords: replayParallel decodes later chunks
// into the records of chunks applied; a record decoded into one that held
// more (or fewer, or no) reads and writes has exactly its own, so apply
// sees each record as it was journaled.
func TestReplayParallelReusesRecords(t *testing.T) {
	const n = 40*replayChunk + 3 // more chunks than free keeps
	want := make([]journal.Record, n)
	frames := make([][]byte, n)
	enc := journal.NewEncoder()
	for i := range want {
		p := uint64(i + 1)
		r := journal.Record{Pos: p, Kind: journal.KindLocal, Origin: "A", OSeq: p, HLC: p}
		// Shapes change with the position and the chunk, so that a
		// record is decoded into one of another shape.
		for j := range (i + i/replayChunk) % 4 {
			r.Writes = append(r.Writes, journal.Write{Op: journal.OpSet, Key: []byte(fmt.Sprint("k", i, ".", j)), Value: []byte(fmt.Sprint("v", i))})
		}
		for j := range (i / 7) % 3 {
			r.Reads = append(r.Reads, journal.PointRead{Key: []byte(fmt.Sprint("r", i, ".", j))})
		}
		if i%5 == 0 {
			r.Writes = []journal.Write{} // empty, not absent
		}
		f, err := enc.Frame(&r)
		if err != nil {
			t.Fatal(err)
		}
		frames[i] = append([]byte(nil), f...)
		if err := journal.NewDecoder().DecodeFrame(frames[i], &want[i]); err != nil {
			t.Fatal(err)
		}
	}
	read := func(from, to uint64, fn func(uint64, []byte) error) error {
		for p := from; p <= to; p++ {
			if err := fn(p, frames[p-1]); err != nil {
				return err
			}
		}
		return nil
	}
	got, err := replayParallel(unbuffered(read), 2, 1, n, 0, func(r *journal.Record) error {
		w := &want[r.Pos-1]
		if fmt.Sprint(*r) != fmt.Sprint(*w) || (r.Writes == nil) != (w.Writes == nil) || (r.Reads == nil) != (w.Reads == nil) {
			return fmt.Errorf("position %d applied as %+v, want %+v", r.Pos, *r, *w)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("applied %d records, want %d", got, n)
	}
}

// TestReplayParallelLargeRecords: a chunk ends once its frames reach
// replayChunkBytes, so that records of large values are not held in
// memory replayChunk at a time; chunks of small records after them still
// take replayChunk records, and every record is applied once, in order,
// whole.
func TestReplayParallelLargeRecords(t *testing.T) {
	const large, small = 21, replayChunk + 9
	n := large + small
	enc := journal.NewEncoder()
	frames := make([][]byte, n)
	for i := range frames {
		p := uint64(i + 1)
		v := []byte(fmt.Sprint("v", i))
		if i < large {
			v = bytes.Repeat([]byte{byte(i)}, replayChunkBytes/4) // 3 frames stay under the bound, 4 pass it
		}
		r := journal.Record{Pos: p, Kind: journal.KindLocal, Origin: "A", OSeq: p, HLC: p,
			Writes: []journal.Write{{Op: journal.OpSet, Key: []byte(fmt.Sprint("k", i)), Value: v}}}
		f, err := enc.Frame(&r)
		if err != nil {
			t.Fatal(err)
		}
		frames[i] = append([]byte(nil), f...)
	}
	read := func(from, to uint64, fn func(uint64, []byte) error) error {
		for p := from; p <= to; p++ {
			if err := fn(p, frames[p-1]); err != nil {
				return err
			}
		}
		return nil
	}
	var mu sync.Mutex
	chunks := map[int][]uint64{} // positions by chunk
	next := uint64(1)
	got, err := replayParallel(unbuffered(read), 2, 1, uint64(n), 0, func(r *journal.Record) error {
		if r.Pos != next {
			return fmt.Errorf("applied position %d, want %d", r.Pos, next)
		}
		next++
		want := frames[r.Pos-1]
		if f, err := enc.Frame(r); err != nil || !bytes.Equal(f, want) {
			return fmt.Errorf("position %d applied other than journaled (%v)", r.Pos, err)
		}
		return nil
	}, func(_, c int, recs []journal.Record) {
		mu.Lock()
		defer mu.Unlock()
		for i := range recs {
			chunks[c] = append(chunks[c], recs[i].Pos)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != uint64(n) {
		t.Fatalf("applied %d records, want %d", got, n)
	}
	// 21 large records: five chunks of 4 and one of 1, which the small
	// records fill up to replayChunk; then the rest of the small ones.
	var sizes []int
	for c := range len(chunks) {
		sizes = append(sizes, len(chunks[c]))
	}
	want := []int{4, 4, 4, 4, 4, replayChunk, small - (replayChunk - 1)}
	if fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Fatalf("chunks of %v records, want %v", sizes, want)
	}
}
