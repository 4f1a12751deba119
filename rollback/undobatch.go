package rollback

import "github.com/liege-db/liege/internal/store"

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
