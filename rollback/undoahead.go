package rollback

import (
	"errors"
	"sync/atomic"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// With Env.DecodeAhead the undo reads the records on goroutines, from the
// moment the lost file's write starts: two goroutines read and decode the
// records in chunks from the head down and reduce each chunk to its final
// before-images, sorted, merging as they go (store.Loader), while a third
// sees every record from the head down for what the undo learns (largest
// HLC, own transactions, first peer record). The lost file is written and
// fsynced meanwhile; the undo step then waits for them and rebuilds the
// state in one pass. Nothing of this is durable and the state is changed
// only in the undo step, so the phases, their order and what a crash
// finds between them are as before: the lost file is durable before the
// undo and the truncation. (Writing the lost file, then decoding,
// reducing and rebuilding one after the other bounded a rollback; the
// sorting and merging of the batched undo on the driver's goroutine
// bounded the undo.)

// aheadOK says whether the undo reads ahead: with the driver's leave
// (Env.DecodeAhead), online (a state to undo), and for at least a chunk
// of records (fewer are undone at once on the driver's goroutine).
func aheadOK(env Env, in *Intent) bool {
	return env.DecodeAhead && env.Store != nil && in.Head >= in.Target && in.Head-in.Target >= decodeChunk
}

// undoAhead is an undo reading ahead.
type undoAhead struct {
	ld       *store.Loader
	ws       []*store.LoadWorker
	l        learner
	err      error
	canceled atomic.Bool
	done     chan struct{}
}

var errCanceled = errors.New("rollback: reading ahead canceled")

// startUndoAhead starts reading the records of in's rollback. Its
// goroutines end by finish or stop.
func startUndoAhead(env Env, in *Intent) *undoAhead {
	a := &undoAhead{ld: store.NewLoader(env.Store, backwardChunks(in.Head, in.Target)), l: newLearner(env, in),
		done: make(chan struct{})}
	for range undoWorkers {
		a.ws = append(a.ws, a.ld.Worker())
	}
	reduce := func(w, c int, recs []journal.Record) {
		for i := range recs {
			a.ws[w].Undo(c, &recs[i])
		}
		a.ws[w].EndChunk()
	}
	go func() {
		defer close(a.done)
		a.err = backwardLoad(env, in.Head, in.Target, reduce, func(_ uint64, r *journal.Record) error {
			if a.canceled.Load() {
				return errCanceled
			}
			a.l.see(r)
			return nil
		})
	}()
	return a
}

// finish waits for the reading to end, then undoes the state and returns
// what the undo learned.
func (a *undoAhead) finish() (learner, error) {
	<-a.done
	if a.err != nil {
		return learner{}, a.err
	}
	if err := failpoint.Inject("rollback-mid-undo"); err != nil {
		return learner{}, err
	}
	a.ld.Finish(a.ws...)
	return a.l, nil
}

// stop ends the reading and waits for its goroutines.
func (a *undoAhead) stop() {
	a.canceled.Store(true)
	<-a.done
}
