package rollback

import (
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// The undo step restores before-images in batches (store.Batch): a batch
// that writes a good part of the state is applied in one pass over the
// tree instead of one search a write, which bounded rollback (issue 14).
// The state is not read while a rollback undoes it, so nothing sees it
// between two batches; after an error (a failpoint, a record that does not
// decode) the instance stops and its state is thrown away either way.

// A batch is applied once it holds this many writes or bytes, so that a
// rollback of a long journal does not hold all its before-images twice.
const (
	undoBatchOps   = 1 << 20
	undoBatchBytes = 64 << 20
)

// undoFlush applies b to st when it is full, or whenever all is set (the
// end of the undo step). parallel lets ApplyBatch sort on two goroutines:
// Env.DecodeAhead, the driver's leave to use them.
func undoFlush(st *store.Store, b *store.Batch, all, parallel bool) {
	if b.Len() > 0 && (all || b.Len() >= undoBatchOps || b.Bytes() >= undoBatchBytes) {
		st.ApplyBatch(b, parallel)
	}
}

// undoLoaded undoes env.Store on the goroutines that decode the records
// (Env.DecodeAhead): each reduces the chunks it decodes to their final
// before-images, sorted, and merges them (store.Loader), while learn sees
// every record from the head down on the calling goroutine; the state is
// then rebuilt in one pass. The sorting and merging that bounded the
// batched undo on the driver's goroutine run beside the decoding, on two
// goroutines, which end before it returns.
func undoLoaded(env Env, in *Intent, learn func(p uint64, r *journal.Record) error) error {
	ld := store.NewLoader(env.Store, backwardChunks(in.Head, in.Target))
	ws := make([]*store.LoadWorker, undoWorkers)
	for i := range ws {
		ws[i] = ld.Worker()
	}
	reduce := func(w, c int, recs []journal.Record) {
		for i := range recs {
			ws[w].Undo(c, &recs[i])
		}
		ws[w].EndChunk()
	}
	if err := backwardLoad(env, in.Head, in.Target, reduce, learn); err != nil {
		return err
	}
	ld.Finish(ws...)
	return nil
}
