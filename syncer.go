package liege

import (
	"sync"
	"sync/atomic"
	"time"
)

// fsyncer is the engine.Syncer of the executor: the journal's fsyncs run on
// a goroutine of their own while the executor runs the next batch of calls
// (group commit with one fsync in flight). Its outcome comes back to the
// executor through done: take hands it to Instance.SyncDone, or the
// Instance takes it itself through Wait when it needs the fsync finished.
//
// One goroutine runs every fsync, started with the first: a new goroutine
// for each began with a small stack and grew it in every write to the log
// (newstack and copystack, about 1/30 of the Syncer's CPU in the commit
// benchmark, on the loop that bounds its rate).
//
// It times each job (the write of a batch and its fsync) itself, in
// ioNanos: the executor takes the outcome only once it is done with what
// it was doing, and a time taken there (the engine's Hooks.Synced) is the
// fsync plus that wait, which under load was four times the fsync.
type fsyncer struct {
	done    chan error
	jobs    chan func() error
	start   sync.Once
	ioNanos atomic.Int64 // the time the jobs ran, in all
}

func newFsyncer() *fsyncer {
	return &fsyncer{done: make(chan error, 1), jobs: make(chan func() error, 1)}
}

func (s *fsyncer) Start(sync func() error) {
	s.start.Do(func() { go s.run() })
	s.jobs <- sync
}

func (s *fsyncer) run() {
	for job := range s.jobs {
		t0 := time.Now()
		err := job()
		s.ioNanos.Add(int64(time.Since(t0)))
		s.done <- err
	}
}

func (s *fsyncer) Wait() error { return <-s.done }

// stop ends the goroutine once the Instance is closed (it starts no fsync
// after Close; the last one's outcome was taken).
func (s *fsyncer) stop() { close(s.jobs) }
