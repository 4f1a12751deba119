package benchkit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/journal"
	"github.com/tidwall/wal"
)

// RawResult is the append throughput and latency of raw tidwall/wal with
// the engine's batching: the ceiling the engine's commit is compared with.
type RawResult struct {
	Callers   int
	Entries   int
	EntrySize int
	Elapsed   time.Duration
	PerSec    float64
	// Latency is per entry, from submission to its fsync.
	Latency  Latency
	Fsyncs   uint64
	AvgBatch float64
	// Cost is the process's CPU time and allocations per entry.
	Cost Cost
}

// RunRawWAL measures raw tidwall/wal appends of entrySize-byte entries in
// dir/wal, batched as the engine's journal batches: callers goroutines each
// submit one entry and wait for its fsync, and a single writer goroutine
// takes everything pending, writes it with WriteBatch and fsyncs it once
// (the wal is opened with NoSync and the journal's other options), then
// wakes the waiters. total entries are written in all.
func RunRawWAL(dir string, callers, total, entrySize int) (RawResult, error) {
	return Default.RunRawWAL(dir, callers, total, entrySize)
}

// RunRawWAL: see the package-level RunRawWAL. Only Start and Stop of w are
// used.
func (w Workload) RunRawWAL(dir string, callers, total, entrySize int) (RawResult, error) {
	callers = max(1, min(callers, max(total, 1)))
	entrySize = max(entrySize, 1)
	res := RawResult{Callers: callers, Entries: total, EntrySize: entrySize}
	log, err := wal.Open(filepath.Join(dir, "wal"), &wal.Options{
		NoSync:           true,
		SegmentSize:      journal.DefaultSegmentSize,
		LogFormat:        wal.Binary,
		SegmentCacheSize: 4,
		NoCopy:           true,
		AllowEmpty:       true,
	})
	if err != nil {
		return res, fmt.Errorf("open raw wal: %w", err)
	}
	entry := make([]byte, entrySize)
	rng := rand.NewChaCha8([32]byte{'l', 'i', 'e', 'g', 'e'})
	_, _ = rng.Read(entry)

	g := newGroupWriter(log)
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	var cm costMeter
	cm.begin()
	w.start()
	t0 := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan error, 1)
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				t := time.Now()
				if err := g.submit(entry, done); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	w.stop()
	res.Cost = cm.end(total)
	fsyncs, written := g.close()
	errs := []error{firstErr}
	if err := log.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if written != uint64(total) {
		return res, fmt.Errorf("raw wal wrote %d entries for %d submissions", written, total)
	}
	res.PerSec = perSec(float64(total), res.Elapsed)
	res.Latency = summarize(lat)
	res.Fsyncs = fsyncs
	if fsyncs > 0 {
		res.AvgBatch = float64(written) / float64(fsyncs)
	}
	return res, nil
}

// groupWriter is a minimal group committer over a wal.Log: the shape of the
// engine's journal writer without records, positions callbacks or state.
type groupWriter struct {
	log *wal.Log

	mu       sync.Mutex
	wake     *sync.Cond
	cur      *wal.Batch
	spare    *wal.Batch
	waiting  []chan error
	spareW   []chan error
	next     uint64
	closed   bool
	err      error
	fsyncs   uint64
	written  uint64
	finished chan struct{}
}

func newGroupWriter(log *wal.Log) *groupWriter {
	last, _ := log.LastIndex()
	g := &groupWriter{log: log, cur: new(wal.Batch), spare: new(wal.Batch), next: last + 1, finished: make(chan struct{})}
	g.wake = sync.NewCond(&g.mu)
	go g.run()
	return g
}

// submit queues entry and waits until it is durable. done is the caller's
// own reusable channel.
func (g *groupWriter) submit(entry []byte, done chan error) error {
	g.mu.Lock()
	if g.err != nil || g.closed {
		err := g.err
		g.mu.Unlock()
		if err == nil {
			err = errors.New("raw wal writer closed")
		}
		return err
	}
	g.cur.Write(g.next, entry)
	g.next++
	g.waiting = append(g.waiting, done)
	if len(g.waiting) == 1 {
		g.wake.Signal()
	}
	g.mu.Unlock()
	return <-done
}

func (g *groupWriter) run() {
	defer close(g.finished)
	g.mu.Lock()
	for {
		for len(g.waiting) == 0 && !g.closed {
			g.wake.Wait()
		}
		if len(g.waiting) == 0 {
			g.mu.Unlock()
			return
		}
		b, ws := g.cur, g.waiting
		g.cur, g.spare = g.spare, g.cur
		g.waiting, g.spareW = g.spareW[:0], nil
		g.mu.Unlock()

		err := g.log.WriteBatch(b)
		if err == nil {
			err = g.log.Sync()
		}
		b.Clear()
		for _, c := range ws {
			c <- err
		}
		clear(ws)

		g.mu.Lock()
		g.spareW = ws[:0]
		if err != nil {
			g.err = err
		} else {
			g.fsyncs++
			g.written += uint64(len(ws))
		}
	}
}

// close stops the writer once everything submitted is written.
func (g *groupWriter) close() (fsyncs, written uint64) {
	g.mu.Lock()
	g.closed = true
	g.wake.Broadcast()
	g.mu.Unlock()
	<-g.finished
	return g.fsyncs, g.written
}
