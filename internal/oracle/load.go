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
			in.Records = append(in.Records, cloneRecord(r))
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

// cloneRecord returns a deep copy of r's transaction fields (the decoder
// reuses r and its slices). Nil slices stay nil: a nil before-image means
// the key was absent.
func cloneRecord(r *journal.Record) journal.Record {
	c := *r
	c.Args, c.Result = bytes.Clone(r.Args), bytes.Clone(r.Result)
	c.Reads = cloneSlice(r.Reads, func(p journal.PointRead) journal.PointRead {
		p.Key = bytes.Clone(p.Key)
		return p
	})
	c.Ranges = cloneSlice(r.Ranges, func(x journal.RangeRead) journal.RangeRead {
		x.Lo, x.Hi = bytes.Clone(x.Lo), bytes.Clone(x.Hi)
		return x
	})
	c.Writes = cloneSlice(r.Writes, func(w journal.Write) journal.Write {
		w.Key, w.Value, w.Before = bytes.Clone(w.Key), bytes.Clone(w.Value), bytes.Clone(w.Before)
		return w
	})
	if r.Rollback != nil {
		rb := *r.Rollback
		c.Rollback = &rb
	}
	return c
}

func cloneSlice[T any](s []T, f func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}
