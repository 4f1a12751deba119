package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/msgint"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

func hlcOf(r *journal.Record) hlc.Timestamp { return hlc.Timestamp(r.HLC) }

func timeOf(unixNano int64) time.Time { return time.Unix(0, unixNano) }

var errNotInteger = errors.New("value is not an integer")

// decodeInt decodes a msgpack integer value.
func decodeInt(v []byte) (int64, error) {
	n, rest, ok := msgint.Read(v)
	if !ok || len(rest) != 0 {
		return 0, errNotInteger
	}
	return n, nil
}

func encodeInt(n int64) []byte { return msgint.Append(nil, n) }

// lwwWrite decides, in MergeLWW mode, what a write w of the peer
// transaction with version ver does to the key, which holds cur at version
// curVer here (ok false: absent, version zero). It returns the write to
// journal and apply, with this instance's before-image, or keep false when
// the local version is newer (or the same) and the write is dropped.
//
// The rule is that of a timestamped upsert store, with versions ordered by
// (HLC, origin instance id) (journal.Version.Less), so that a tie in HLC is
// broken the same way on both instances:
//
//   - OpSet stores the value if ver is newer than the key's version.
//   - OpAdd is an upsert of the origin's after-image: w.Value, which is the
//     value the key held on the origin after the add (journal.Write), not
//     the local value plus Delta. The journaled write is an OpSet of that
//     value. This is exactly how such a baseline loses money: of two
//     concurrent Adds to one counter, the older one is overwritten by the
//     newer one's after-image on both sides. (A record without an
//     after-image, which the engine never writes, falls back to local
//     value + Delta.)
//   - OpDelete removes the key if ver is newer. There are no tombstones:
//     an absent key has version zero, so a write older than the delete
//     that arrives after it brings the key back (a resurrection), and the
//     two instances can then differ on that key. This is the known
//     weakness of naive last-writer-wins, kept as is for the baseline; it
//     is deterministic (it depends only on the versions and the order the
//     stream delivers them in).
//
// The journaled peer record holds only the writes kept, as plain OpSet and
// OpDelete writes with the record's version, so replaying it (store.Apply)
// gives the same state without comparing versions again.
func lwwWrite(r *journal.Record, w *journal.Write, cur []byte, curVer journal.Version, ok bool) (journal.Write, bool, error) {
	ver := r.Version()
	if !curVer.Less(ver) {
		return journal.Write{}, false, nil
	}
	lw := journal.Write{Key: w.Key, Op: w.Op, Value: w.Value, BeforeVersion: curVer}
	if ok {
		lw.Before = cur
	}
	switch w.Op {
	case journal.OpSet, journal.OpDelete:
	case journal.OpAdd:
		lw.Op = journal.OpSet
		if len(w.Value) == 0 {
			var n int64
			if ok {
				var err error
				if n, err = decodeInt(cur); err != nil {
					return journal.Write{}, false, fmt.Errorf("apply peer %v: add to %s, which holds a non-integer here", r.TxID(), tuple.Format(w.Key))
				}
			}
			lw.Value = msgint.Append(nil, n+w.Delta)
		}
	default:
		return journal.Write{}, false, fmt.Errorf("apply peer %v: write of %s has unknown op %v", r.TxID(), tuple.Format(w.Key), w.Op)
	}
	return lw, true, nil
}
