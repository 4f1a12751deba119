package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

func hlcOf(r *journal.Record) hlc.Timestamp { return hlc.Timestamp(r.HLC) }

func timeOf(unixNano int64) time.Time { return time.Unix(0, unixNano) }

var errNotInteger = errors.New("value is not an integer")

// decodeInt decodes a msgpack integer value.
func decodeInt(v []byte) (int64, error) {
	n, rest, ok := readInt(v)
	if !ok || len(rest) != 0 {
		return 0, errNotInteger
	}
	return n, nil
}

func encodeInt(n int64) []byte { return appendInt(nil, n) }

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
			lw.Value = appendInt(nil, n+w.Delta)
		}
	default:
		return journal.Write{}, false, fmt.Errorf("apply peer %v: write of %s has unknown op %v", r.TxID(), tuple.Format(w.Key), w.Op)
	}
	return lw, true, nil
}

// appendInt encodes an integer in the smallest msgpack form, as go-msgpack
// does for signed integers.
func appendInt(dst []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 127:
		return append(dst, byte(n))
	case n < 0 && n >= -32:
		return append(dst, byte(n))
	case n >= math.MinInt8 && n <= math.MaxInt8:
		return append(dst, 0xd0, byte(n))
	case n >= math.MinInt16 && n <= math.MaxInt16:
		return append(dst, 0xd1, byte(n>>8), byte(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		return append(dst, 0xd2, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(n))
}

func readInt(b []byte) (int64, []byte, bool) {
	if len(b) == 0 {
		return 0, b, false
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return int64(c), b[1:], true
	case c >= 0xe0:
		return int64(int8(c)), b[1:], true
	}
	need := map[byte]int{0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8}[c]
	if need == 0 || len(b) < 1+need {
		return 0, b, false
	}
	p := b[1 : 1+need]
	var u uint64
	for _, x := range p {
		u = u<<8 | uint64(x)
	}
	rest := b[1+need:]
	switch c {
	case 0xcf:
		if u > math.MaxInt64 {
			return 0, b, false
		}
		return int64(u), rest, true
	case 0xcc, 0xcd, 0xce:
		return int64(u), rest, true
	case 0xd0:
		return int64(int8(u)), rest, true
	case 0xd1:
		return int64(int16(u)), rest, true
	case 0xd2:
		return int64(int32(u)), rest, true
	}
	return int64(u), rest, true
}
