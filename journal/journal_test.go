package journal_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/journal"
)

// testFrame returns the frame of a transaction record for position pos
// whose args are size bytes, so that tests control entry sizes.
func testFrame(t testing.TB, pos uint64, size int) []byte {
	t.Helper()
	r := journal.Record{
		Pos: pos, Kind: journal.KindLocal, Origin: "A", OSeq: pos, HLC: pos << 16, Proc: "p",
		Args:   bytes.Repeat([]byte{byte(pos)}, size),
		Writes: []journal.Write{{Key: []byte{0x15, byte(pos)}, Op: journal.OpSet, Value: []byte{byte(pos)}}},
	}
	f, err := journal.NewEncoder().Frame(&r)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(f)
}

// openJournal opens the journal of instance directory dir and closes it at
// the end of the test.
func openJournal(t testing.TB, dir string, opts journal.Options) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, opts)
	if err != nil {
		t.Fatalf("open journal: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// appendFrames appends frames at the journal's next positions and makes
// them durable.
func appendFrames(t testing.TB, j *journal.Journal, frames ...[]byte) {
	t.Helper()
	for _, f := range frames {
		if err := j.Append(j.Next(), f); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := j.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// checkFrames checks that positions 1..len(frames) of j hold frames.
func checkFrames(t testing.TB, j *journal.Journal, frames [][]byte) {
	t.Helper()
	for i, want := range frames {
		got, err := j.Read(uint64(i + 1))
		if err != nil {
			t.Fatalf("read position %d: %v", i+1, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("position %d holds %d bytes %x..., want %d bytes %x...", i+1, len(got), got[:min(8, len(got))], len(want), want[:min(8, len(want))])
		}
	}
}

// buildJournal writes n records (sizes from size, one fsync per batch of
// up to batch records) into a new instance directory and closes it.
func buildJournal(t testing.TB, n, segSize, batch int, size func(pos uint64) int) (dir string, frames [][]byte) {
	t.Helper()
	dir = t.TempDir()
	j, err := journal.Open(dir, journal.Options{SegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	for pos := uint64(1); pos <= uint64(n); pos++ {
		frames = append(frames, testFrame(t, pos, size(pos)))
		if err := j.Append(pos, frames[pos-1]); err != nil {
			t.Fatal(err)
		}
		if int(pos)%batch == 0 {
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, frames
}

// scanEntries returns the entries of the journal of instance directory dir
// (frames copied).
func scanEntries(t testing.TB, dir string) ([]journal.Entry, *journal.ScanResult) {
	t.Helper()
	var es []journal.Entry
	res, err := journal.Scan(filepath.Join(dir, journal.WalDir), func(e journal.Entry) error {
		e.Frame = bytes.Clone(e.Frame)
		es = append(es, e)
		return nil
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return es, res
}

// segmentFiles returns the segment files in the journal directory.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, journal.WalDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if len(e.Name()) == 20 {
			out = append(out, e.Name())
		} else {
			t.Fatalf("unexpected file %s in the journal directory", e.Name())
		}
	}
	return out
}

// TestSegmentCycleMirror checks that the writer's mirror of tidwall/wal's
// segment cycling (which decides when the journal directory is fsynced)
// counts exactly the segment files wal creates: after every batch, and
// after a truncation back into an earlier segment and a reopen with a
// smaller segment size (which leaves a tail above the new size).
func TestSegmentCycleMirror(t *testing.T) {
	const segSize = 1000
	seed := uint64(rand.Uint32())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	j := openJournal(t, dir, journal.Options{SegmentSize: segSize})
	if got := segmentFiles(t, dir); len(got) != 1 {
		t.Fatalf("a new journal has %d segment files, want 1", len(got))
	}
	// base: segment files that exist besides those counted by SegmentsNew
	check := func(j *journal.Journal, base int, when string) {
		t.Helper()
		files := segmentFiles(t, dir)
		if want := uint64(len(files) - base); j.Stats().SegmentsNew != want {
			t.Fatalf("%s: Stats().SegmentsNew = %d, but %d segment files were created (%v)", when, j.Stats().SegmentsNew, want, files)
		}
	}
	// Entries that fill a segment exactly: uvarint(998) is 2 bytes, so the
	// first entry is exactly segSize and wal cycles right after it.
	var f []byte
	for size := 900; len(f) != 998 && size < 998; size++ {
		f = testFrame(t, 1, size)
	}
	if len(f) != 998 {
		t.Fatalf("no frame of 998 bytes")
	}
	appendFrames(t, j, f)
	check(j, 1, "after an entry of exactly the segment size")
	for b := 0; b < 150; b++ {
		var fs [][]byte
		for range 1 + r.IntN(12) {
			fs = append(fs, testFrame(t, j.Next()+uint64(len(fs)), r.IntN(400)))
		}
		appendFrames(t, j, fs...)
		check(j, 1, fmt.Sprintf("batch %d", b))
	}
	// A big batch that cycles several times inside one write.
	var big [][]byte
	for range 40 {
		big = append(big, testFrame(t, j.Next()+uint64(len(big)), 300))
	}
	appendFrames(t, j, big...)
	check(j, 1, "a batch spanning several segments")

	// Truncate back into the second segment: the tail is now a segment
	// that was full, and the mirror must measure it again.
	segs, err := journal.ListSegments(filepath.Join(dir, journal.WalDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 4 {
		t.Fatalf("only %d segments", len(segs))
	}
	if err := j.TruncateAfter(segs[2].FirstPos - 1); err != nil {
		t.Fatal(err)
	}
	base := len(segmentFiles(t, dir)) - int(j.Stats().SegmentsNew)
	for b := 0; b < 30; b++ {
		var fs [][]byte
		for range 1 + r.IntN(8) {
			fs = append(fs, testFrame(t, j.Next()+uint64(len(fs)), r.IntN(400)))
		}
		appendFrames(t, j, fs...)
		check(j, base, fmt.Sprintf("batch %d after truncation", b))
	}
	// Leave a tail segment above the smaller size used below.
	tailSize := func() int64 {
		segs, err := journal.ListSegments(filepath.Join(dir, journal.WalDir))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(segs[len(segs)-1].Path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	for tailSize() <= 300 {
		appendFrames(t, j, testFrame(t, j.Next(), 150))
		check(j, base, "filling the tail")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen with a smaller segment size: the tail is already above it, so
	// wal cycles before the first entry.
	j = openJournal(t, dir, journal.Options{SegmentSize: 300})
	base = len(segmentFiles(t, dir))
	for b := 0; b < 30; b++ {
		appendFrames(t, j, testFrame(t, j.Next(), 100+r.IntN(300)))
		check(j, base, fmt.Sprintf("batch %d after reopening with a smaller segment size", b))
	}
	es, res := scanEntries(t, dir)
	if res.Tail != nil || uint64(len(es)) != j.Next()-1 {
		t.Fatalf("scan found %d entries (tail %v), want %d", len(es), res.Tail, j.Next()-1)
	}
}

// TestFatalError checks that a failed write or fsync stops the journal:
// Flush returns a *FatalError wrapping the cause, every later Append,
// Flush and TruncateAfter returns it, nothing more becomes durable, and
// OnFatal is called exactly once.
func TestFatalError(t *testing.T) {
	for _, tc := range []struct {
		failpoint string
		onDisk    bool // the failed batch is in the file (written, maybe not synced)
	}{
		{"journal-before-write", false},
		{"journal-before-sync", true},
		{"journal-after-sync", true},
	} {
		t.Run(tc.failpoint, func(t *testing.T) {
			t.Cleanup(failpoint.Reset)
			dir := t.TempDir()
			var fatals atomic.Int32
			fatalErr := make(chan error, 10)
			var durableCalls atomic.Int32
			j, err := journal.Open(dir, journal.Options{
				OnFatal:   func(err error) { fatals.Add(1); fatalErr <- err },
				OnDurable: func(uint64, int) { durableCalls.Add(1) },
			})
			if err != nil {
				t.Fatal(err)
			}
			appendFrames(t, j, testFrame(t, 1, 10)) // one good batch first
			failpoint.Set(tc.failpoint, "error", 1)

			if err := j.Append(2, testFrame(t, 2, 10)); err != nil {
				t.Fatalf("append before the failure: %v", err)
			}
			err = j.Flush()
			var fe *journal.FatalError
			if !errors.As(err, &fe) || !errors.Is(err, failpoint.ErrInjected) {
				t.Fatalf("Flush returned %v, want a *journal.FatalError wrapping the injected error", err)
			}
			if got := <-fatalErr; !errors.Is(got, failpoint.ErrInjected) {
				t.Fatalf("OnFatal got %v", got)
			}
			for i, op := range []func() error{
				func() error { return j.Append(3, testFrame(t, 3, 10)) },
				j.Flush,
				func() error { return j.TruncateAfter(1) },
				j.Err,
			} {
				if err := op(); !errors.As(err, &fe) {
					t.Fatalf("operation %d after the failure returned %v, want the *journal.FatalError", i, err)
				}
			}
			if j.Next() != 3 {
				t.Fatalf("Next() = %d after a refused append, want 3", j.Next())
			}
			if j.Durable() != 1 {
				t.Fatalf("Durable() = %d, want 1 (the failed batch is never reported durable)", j.Durable())
			}
			if err := j.Close(); !errors.As(err, &fe) {
				t.Fatalf("Close returned %v, want the *journal.FatalError", err)
			}
			if n := fatals.Load(); n != 1 {
				t.Fatalf("OnFatal called %d times, want 1", n)
			}
			if n := durableCalls.Load(); n != 1 {
				t.Fatalf("OnDurable called %d times, want 1 (only for the good batch)", n)
			}
			if n := j.Stats().Batches; n != 1 {
				t.Fatalf("Stats().Batches = %d, want 1", n)
			}

			// Reopening recovers from what is on disk.
			failpoint.Reset()
			j2 := openJournal(t, dir, journal.Options{})
			want := uint64(2)
			if tc.onDisk {
				want = 3
			}
			if j2.Next() != want {
				t.Fatalf("after reopening, Next() = %d, want %d", j2.Next(), want)
			}
			appendFrames(t, j2, testFrame(t, want, 10))
		})
	}
}

// groupCommit appends goroutines*each frames from many goroutines while the
// writer is held inside its first OnDurable callback until hold more
// entries than that first batch have been appended (or all of them), so
// that they are queued behind one fsync. It returns the entry counts the
// writer reported, batch by batch. Each appender waits until its positions
// are durable, as a committing client would. (With Options.BatchMax, at
// most BatchMax entries can queue: hold must not exceed it.)
func groupCommit(t *testing.T, opts journal.Options, goroutines, each, hold int) (batches []int, j *journal.Journal) {
	t.Helper()
	total := goroutines * each
	var (
		release  = make(chan struct{})
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		durable  uint64
		appended int
	)
	opts.OnDurable = func(pos uint64, n int) {
		mu.Lock()
		first := len(batches) == 0
		if pos < durable {
			t.Errorf("durable position went back from %d to %d", durable, pos)
		}
		durable = pos
		batches = append(batches, n)
		cond.Broadcast()
		mu.Unlock()
		if first {
			<-release
		}
	}
	j = openJournal(t, t.TempDir(), opts)
	frame := testFrame(t, 0, 50)
	var appendMu sync.Mutex // positions are assigned in order, as the executor does
	var done sync.WaitGroup
	for range goroutines {
		done.Add(1)
		go func() {
			defer done.Done()
			var last uint64
			for range each {
				appendMu.Lock()
				last = j.Next()
				err := j.Append(last, frame)
				appendMu.Unlock()
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				appended++
				cond.Broadcast()
				mu.Unlock()
			}
			mu.Lock()
			for durable < last {
				cond.Wait()
			}
			mu.Unlock()
		}()
	}
	mu.Lock()
	for len(batches) == 0 || appended < min(total, batches[0]+hold) {
		cond.Wait()
	}
	mu.Unlock()
	close(release)
	done.Wait()
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	sum := 0
	for _, n := range batches {
		sum += n
	}
	if sum != total || durable != uint64(total) {
		t.Fatalf("OnDurable reported %d entries up to position %d, want %d", sum, durable, total)
	}
	st := j.Stats()
	if st.Entries != uint64(total) || st.Batches != uint64(len(batches)) {
		t.Fatalf("Stats() = %+v, want %d entries in %d batches", st, total, len(batches))
	}
	return batches, j
}

// TestGroupCommit checks that concurrent appends share fsyncs: everything
// appended while an fsync is in progress is made durable by the next one.
func TestGroupCommit(t *testing.T) {
	const goroutines, each = 32, 20
	batches, j := groupCommit(t, journal.Options{}, goroutines, each, goroutines*each)
	st := j.Stats()
	// The first batch is whatever was queued when the writer woke; all the
	// rest was appended while it was held, so one more fsync covers it.
	if len(batches) > 2 || st.Batches >= st.Entries {
		t.Fatalf("%d entries took %d fsyncs (%v), want at most 2", st.Entries, st.Batches, batches)
	}
	es, _ := scanEntries(t, filepath.Dir(j.Dir()))
	if len(es) != goroutines*each {
		t.Fatalf("journal holds %d entries, want %d", len(es), goroutines*each)
	}
}

// TestBatchMaxBoundsEntriesPerFsync checks Options.BatchMax, documented as
// bounding the entries written per fsync: while the writer is held, BatchMax
// entries queue up (and Append waits for room), and no fsync ever covers
// more than BatchMax entries.
func TestBatchMaxBoundsEntriesPerFsync(t *testing.T) {
	const batchMax, total = 8, 200
	batches, _ := groupCommit(t, journal.Options{BatchMax: batchMax}, 10, total/10, batchMax)
	for i, n := range batches {
		if n > batchMax {
			t.Fatalf("batch %d made %d entries durable with one fsync, but Options.BatchMax is %d (batches: %v)", i, n, batchMax, batches)
		}
	}
	if len(batches) < total/batchMax {
		t.Fatalf("%d entries in %d batches of at most %d", total, len(batches), batchMax)
	}
}

// TestConcurrentReads reads a journal of many segments from several
// goroutines at once, as recovery's replay workers do. Read must be safe
// for concurrent use (run with -race), and every read must return the
// frame written at that position.
func TestConcurrentReads(t *testing.T) {
	const n, readers = 1200, 4
	dir, frames := buildJournal(t, n, 2048, 50, func(pos uint64) int { return 60 + int(pos%7)*10 })
	j := openJournal(t, dir, journal.Options{SegmentSize: 2048})
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for g := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					errs <- fmt.Errorf("reader %d panicked: %v", g, v)
				}
			}()
			// Each reader walks its own stretch of segments, so that they
			// load and evict cached segments at the same time.
			for k := range n {
				pos := uint64((g*n/readers+k)%n + 1)
				got, err := j.Read(pos)
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", g, err)
					return
				}
				if !bytes.Equal(got, frames[pos-1]) {
					errs <- fmt.Errorf("reader %d: position %d returned the wrong frame", g, pos)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
