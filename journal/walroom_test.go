package journal

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWALTailLayout fails when tidwall/wal's structs are no longer the
// ones reserveTail knows (a new version of wal): the journal then works
// without reserving room for the tail, slower. Update tailLayout to the
// new layout, or drop it if wal learned to size its buffers.
func TestWALTailLayout(t *testing.T) {
	if err := walTail().err; err != nil {
		t.Fatal(err)
	}
}

// walEntry is entry i of the tests here: a frame of size bytes whose
// payload starts with i.
func walEntry(i uint64, size int) []byte {
	p := bytes.Repeat([]byte{byte(i)}, size-frameHeader)
	binary.BigEndian.PutUint64(p, i)
	return AppendFrame(make([]byte, 0, size), p)
}

// writeWAL writes entries next.. in batches of batch entries of size
// bytes until the journal has at least segs segment files, calling each
// after every batch, and returns the next index.
func writeWAL(t testing.TB, l *walLog, next uint64, batch, size int, segs uint64, each func()) uint64 {
	t.Helper()
	entries := make([][]byte, batch)
	for l.segments.Load() < segs {
		for i := range entries {
			entries[i] = walEntry(next+uint64(i), size)
		}
		if err := l.Write(next, entries); err != nil {
			t.Fatal(err)
		}
		next += uint64(batch)
		each()
	}
	return next
}

// TestWALTailRoom checks that the tail segment's buffer has room for the
// whole segment once it holds roomFrom bytes, in every segment, and that
// every entry reads back the same, from the buffers and after a reopen.
func TestWALTailRoom(t *testing.T) {
	const segMax = 512 << 10
	dir := t.TempDir() + "/journal"
	l, err := openWAL(dir, segMax)
	if err != nil {
		t.Fatal(err)
	}
	reserved := 0
	check := func() {
		ebuf, _ := walTail().tail(l.log)
		n := len(*ebuf)
		switch {
		case n >= roomFrom && n < segMax && cap(*ebuf) < segMax+roomSlack:
			t.Fatalf("after %d new segments: the tail holds %d bytes with room for %d, want room for %d",
				l.segments.Load(), n, cap(*ebuf), segMax+roomSlack)
		case n >= roomFrom && n < segMax:
			reserved++
		}
	}
	next := writeWAL(t, l, 1, 100, 400, 4, check)
	if reserved == 0 {
		t.Fatal("no write saw a tail past roomFrom")
	}
	readAll := func(l *walLog) {
		t.Helper()
		for i := uint64(1); i < next; i++ {
			got, err := l.Read(i)
			if err != nil {
				t.Fatal(err)
			}
			if want := walEntry(i, 400); !bytes.Equal(got, want) {
				t.Fatalf("entry %d reads %x..., want %x...", i, got[:8], want[:8])
			}
		}
	}
	readAll(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = openWAL(dir, segMax)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	readAll(l)
	// The tail reloaded from its file at open gets room at the next write.
	next = writeWAL(t, l, next, 100, 400, l.segments.Load()+1, check)
	readAll(l)
}

// TestWALTailRoomAllocates checks what reserving room is for: writing a
// segment allocates about the segment once, not the five times over of
// a buffer grown by append.
func TestWALTailRoomAllocates(t *testing.T) {
	l, written, per, _, _ := writeMeasured(t, 128, 6)
	defer l.Close()
	// Per byte written: the buffer's byte and the entry's position (16
	// bytes per entry of 405).
	if per > 2 {
		t.Fatalf("writing %.0f bytes of entries allocated %.2f bytes per byte, want at most 2 (an append-grown tail is ~5)", written, per)
	}
}

// writeMeasured opens a journal of 1 MiB segments and writes the same
// batch of 405-byte entries into it until it has 2 segments, then until
// it has segs, and returns the bytes of entries the second part wrote,
// the bytes it allocated per byte written, and its first and next index.
func writeMeasured(t *testing.T, batch int, segs uint64) (l *walLog, written, per float64, start, next uint64) {
	t.Helper()
	const segMax, size = 1 << 20, 405
	l, err := openWAL(t.TempDir()+"/journal", segMax)
	if err != nil {
		t.Fatal(err)
	}
	entries := make([][]byte, batch)
	for i := range entries {
		entries[i] = walEntry(uint64(i), size)
	}
	next = 1
	write := func(segs uint64) {
		for l.segments.Load() < segs {
			if err := l.Write(next, entries); err != nil {
				t.Fatal(err)
			}
			next += uint64(len(entries))
		}
	}
	write(2) // past the first segment
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start = next
	write(segs)
	runtime.ReadMemStats(&after)
	written = float64(next-start) * size
	return l, written, float64(after.TotalAlloc-before.TotalAlloc) / written, start, next
}

// TestWALTailRoomConcurrentReads reads the newest entries while the writer
// swaps the tail's buffers, under the race detector in CI.
func TestWALTailRoomConcurrentReads(t *testing.T) {
	const segMax = 256 << 10
	l, err := openWAL(t.TempDir()+"/journal", segMax)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var last atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			i := last.Load()
			if i == 0 {
				runtime.Gosched()
				continue
			}
			got, err := l.Read(i)
			if err == nil && !bytes.Equal(got, walEntry(i, 300)) {
				bad.Store(i)
				return
			}
			if err != nil {
				bad.Store(err)
				return
			}
		}
	}()
	writeWAL(t, l, 1, 50, 300, 5, func() {
		i, err := l.LastIndex()
		if err != nil {
			t.Error(err)
		}
		last.Store(i)
	})
	close(stop)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatalf("a concurrent read went wrong: %v", v)
	}
}

// TestWALTailRoomLargeBatches: batches that cross a segment's end (as the
// group commit of many callers writes them) fill the new segment's
// buffers without growing them: the buffer's byte and the entry's position
// per byte written, and little more.
func TestWALTailRoomLargeBatches(t *testing.T) {
	const batch = 700 // 284 KB: a batch crosses every 4th segment end
	l, written, per, start, next := writeMeasured(t, batch, 12)
	defer l.Close()
	if per > 1.2 {
		t.Fatalf("writing %.0f bytes of entries in batches of %d allocated %.2f bytes per byte, want at most 1.2", written, batch, per)
	}
	for i := start; i < next; i += 997 {
		b, err := l.Read(i)
		if err != nil || !bytes.Equal(b, walEntry((i-1)%batch, 405)) {
			t.Fatalf("entry %d reads back %d bytes, %v", i, len(b), err)
		}
	}
}
