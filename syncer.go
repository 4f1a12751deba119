package liege

// fsyncer is the engine.Syncer of the executor: each journal fsync runs on
// a goroutine of its own while the executor runs the next batch of calls
// (group commit with one fsync in flight). Its outcome comes back to the
// executor through done: take hands it to Instance.SyncDone, or the
// Instance takes it itself through Wait when it needs the fsync finished.
type fsyncer struct{ done chan error }

func newFsyncer() *fsyncer { return &fsyncer{done: make(chan error, 1)} }

func (s *fsyncer) Start(sync func() error) { go func() { s.done <- sync() }() }

func (s *fsyncer) Wait() error { return <-s.done }
