package oracle

import (
	"bytes"
	"fmt"

	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/journal"
)

// Load reads the stopped instance in dir (no process may hold it) into an
// Instance: its id, the transaction records of its journal and the state
// the engine would recover at its next open (inspect.Recover), with its
// checkpoint, torn tail and pending rollback intent taken into account.
// Only the records the recovered state includes are returned (up to
// Recovered.Last: a torn tail and the target of a pending rollback are
// left out).
//
// The oracle replays the whole history from the empty state, so Load fails
// on a journal whose front was truncated (its first position is not 1).
func Load(dir string) (Instance, error) {
	rec, err := inspect.Recover(dir)
	if err != nil {
		return Instance{}, fmt.Errorf("oracle: recover %s: %w", dir, err)
	}
	in := Instance{ID: rec.Instance}
	rec.Store.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		in.State = append(in.State, Entry{Key: bytes.Clone(k), Value: bytes.Clone(v), Version: ver})
		return true
	})
	if rec.Last == 0 {
		return in, nil // an empty journal
	}
	res, err := inspect.RecordsBetween(dir, 0, rec.Last, func(pos uint64, r *journal.Record) error {
		if r.Pos != pos {
			return fmt.Errorf("oracle: %s: the record stored at position %d claims position %d", dir, pos, r.Pos)
		}
		if r.Kind.IsTxn() {
			in.Records = append(in.Records, *r.Clone()) // the decoder reuses r and its slices
		}
		return nil
	})
	if err != nil {
		return Instance{}, fmt.Errorf("oracle: read the journal of %s: %w", dir, err)
	}
	if res.First > 1 {
		return Instance{}, fmt.Errorf("oracle: the journal of %s starts at position %d (its front was truncated): the oracle needs the whole history to replay the path", dir, res.First)
	}
	return in, nil
}
