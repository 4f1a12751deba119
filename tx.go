package liege

import (
	"bytes"
	"fmt"
	"time"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/msgint"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// Key is an encoded tuple key: byte order equals tuple order, and a tuple
// prefix bounds its subtree. Build one with K.
type Key []byte

// K encodes a tuple of strings and integers as a Key, e.g.
// K("seat", "gala", 12).
func K(elems ...any) Key { return tuple.Pack(elems...) }

// String formats the key as a tuple.
func (k Key) String() string { return tuple.Format(k) }

// PrefixEnd returns the exclusive upper bound of the subtree of keys that
// extend k, for Scan(k, k.PrefixEnd(), ...).
func (k Key) PrefixEnd() Key { return tuple.PrefixEnd(k) }

// KV is a key and its value, as returned by Scan.
type KV struct {
	Key   Key
	Value Value
}

// Tx is a transaction in progress, handed to a procedure. It records the
// read set (point reads with the version seen, absent keys with version
// zero, and the ranges proved empty or enumerated) and the write set with
// before-images, as DESIGN.md section 2 describes. A Tx is valid only during
// the procedure call and must not be used from other goroutines.
type Tx struct {
	st  *store.Store
	ts  hlc.Timestamp
	ver journal.Version

	reads  []journal.PointRead
	ranges []journal.RangeRead
	writes []journal.Write
	// windex maps a written key to its index in writes once there are
	// more than smallWrites of them; fewer are found by a scan, which
	// costs less than hashing and allocates no key strings.
	windex map[string]int
	arena  []byte // copies of keys and values owned by the record
	err    error  // sticky: an operation failed

	// last is the most recent point read of a key not yet written, so that
	// writing the key just read (the common read-modify-write) takes its
	// before-image without a second B-tree descent, and finds its place in
	// the tree from the read's path (hint) instead of searching each node.
	last struct {
		key   []byte
		val   []byte
		ver   journal.Version
		hint  store.Hint
		valid bool
	}
}

func newTx() *Tx { return &Tx{} }

// smallWrites is the number of writes up to which a transaction finds its
// own writes by scanning them instead of through windex.
const smallWrites = 8

// written returns the index in writes of the write of key.
func (tx *Tx) written(key []byte) (int, bool) {
	if len(tx.writes) > smallWrites {
		i, ok := tx.windex[string(key)]
		return i, ok
	}
	for i := range tx.writes {
		if bytes.Equal(tx.writes[i].Key, key) {
			return i, true
		}
	}
	return 0, false
}

// addWrite appends w, whose key the transaction has not written yet, and
// returns it.
func (tx *Tx) addWrite(w journal.Write) *journal.Write {
	tx.writes = append(tx.writes, w)
	switch n := len(tx.writes); {
	case n == smallWrites+1:
		if tx.windex == nil {
			tx.windex = make(map[string]int)
		}
		for i := range tx.writes {
			tx.windex[string(tx.writes[i].Key)] = i
		}
	case n > smallWrites+1:
		tx.windex[string(w.Key)] = n - 1
	}
	return &tx.writes[len(tx.writes)-1]
}

func (tx *Tx) reset(st *store.Store, ts hlc.Timestamp, origin string) {
	tx.st, tx.ts = st, ts
	tx.ver = journal.Version{HLC: uint64(ts), Origin: origin}
	tx.reads, tx.ranges, tx.writes = tx.reads[:0], tx.ranges[:0], tx.writes[:0]
	clear(tx.windex)
	tx.arena = tx.arena[:0]
	tx.err = nil
	tx.last.valid = false
}

// Time returns the transaction's HLC timestamp as a time: the only clock a
// procedure may read, so that re-execution is deterministic.
func (tx *Tx) Time() time.Time { return tx.ts.Physical() }

// HLC returns the transaction's hybrid logical clock timestamp.
func (tx *Tx) HLC() uint64 { return uint64(tx.ts) }

// own copies b into the arena. Slices taken from the arena stay valid when
// it grows (the old array lives on), so records may hold them.
func (tx *Tx) own(b []byte) []byte {
	if b == nil {
		return nil
	}
	start := len(tx.arena)
	tx.arena = append(tx.arena, b...)
	return tx.arena[start:len(tx.arena):len(tx.arena)]
}

func (tx *Tx) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// readPoint records a point read of key unless the transaction wrote it.
func (tx *Tx) readPoint(key []byte, ver journal.Version) {
	if i, mine := tx.written(key); mine {
		w := &tx.writes[i]
		if w.Op == journal.OpAdd {
			// The value after our Add reveals the value before it, which we
			// did not write: that is a read of the key as it was.
			tx.reads = append(tx.reads, journal.PointRead{Key: w.Key, Version: w.BeforeVersion})
		}
		return
	}
	tx.reads = append(tx.reads, journal.PointRead{Key: tx.own(key), Version: ver})
}

// Get reads key. An absent key is recorded as read with version zero: its
// absence may matter as much as its presence.
func (tx *Tx) Get(key Key) (Value, bool) {
	var h store.Hint
	v, ver, ok := tx.st.GetHint(key, &h)
	tx.readPoint(key, ver)
	if _, mine := tx.written(key); !mine {
		n := len(tx.reads) - 1
		tx.last.key, tx.last.val, tx.last.ver, tx.last.valid = tx.reads[n].Key, v, ver, true
		tx.last.hint = h
	}
	if !ok {
		return nil, false
	}
	return Value(v), true
}

// Next returns the first key after key, recording the open interval
// (key, next) as a range read and next as a point read. If there is none it
// records (key, end) and returns false.
func (tx *Tx) Next(key Key) (Key, Value, bool) {
	var k, v []byte
	var ver journal.Version
	found := false
	tx.st.Ascend(key, func(kk, vv []byte, vr journal.Version) bool {
		if bytes.Equal(kk, key) {
			return true
		}
		k, v, ver, found = kk, vv, vr, true
		return false
	})
	r := journal.RangeRead{Lo: tx.own(key)}
	if found {
		r.Hi = tx.own(k)
	}
	tx.ranges = append(tx.ranges, r)
	if !found {
		return nil, nil, false
	}
	tx.readPoint(k, ver)
	return Key(r.Hi), Value(v), true
}

// Prev returns the last key before key, recording the open interval
// (prev, key) as a range read and prev as a point read. If there is none it
// records (start, key) and returns false.
func (tx *Tx) Prev(key Key) (Key, Value, bool) {
	var k, v []byte
	var ver journal.Version
	found := false
	tx.st.Descend(key, func(kk, vv []byte, vr journal.Version) bool {
		if bytes.Equal(kk, key) {
			return true
		}
		k, v, ver, found = kk, vv, vr, true
		return false
	})
	r := journal.RangeRead{Hi: tx.own(key)}
	if found {
		r.Lo = tx.own(k)
	}
	tx.ranges = append(tx.ranges, r)
	if !found {
		return nil, nil, false
	}
	tx.readPoint(k, ver)
	return Key(r.Lo), Value(v), true
}

// ScanOptions bound a Scan.
type ScanOptions struct {
	// Limit is the most keys returned; 0 means no limit.
	Limit int
	// Desc scans from hi down to lo.
	Desc bool
}

// Scan returns the keys in [lo, hi) in order (descending with Desc), at most
// Limit of them. An empty lo or hi is unbounded. It records the range it
// proved: all of [lo, hi) when it ran to the end, or up to and including the
// last key returned when the limit stopped it, plus a point read of every
// key returned.
func (tx *Tx) Scan(lo, hi Key, opts ScanOptions) []KV {
	var out []KV
	var vers []journal.Version
	visit := func(k, v []byte, ver journal.Version) bool {
		if !opts.Desc && len(hi) > 0 && bytes.Compare(k, hi) >= 0 {
			return false
		}
		if opts.Desc && (len(hi) > 0 && bytes.Compare(k, hi) >= 0) {
			return true // Descend starts at hi inclusive; hi itself is excluded
		}
		if opts.Desc && len(lo) > 0 && bytes.Compare(k, lo) < 0 {
			return false
		}
		out = append(out, KV{Key: tx.own(k), Value: Value(v)})
		vers = append(vers, ver)
		return opts.Limit == 0 || len(out) < opts.Limit
	}
	if opts.Desc {
		tx.st.Descend(hi, visit)
	} else {
		tx.st.Ascend(lo, visit)
	}
	r := journal.RangeRead{Lo: tx.own(lo), Hi: tx.own(hi), LoInclusive: len(lo) > 0}
	if opts.Limit > 0 && len(out) == opts.Limit {
		last := out[len(out)-1].Key
		if opts.Desc {
			r.Lo, r.LoInclusive = last, true
		} else {
			r.Hi, r.HiInclusive = last, true
		}
	}
	tx.ranges = append(tx.ranges, r)
	for i := range out {
		tx.readPoint(out[i].Key, vers[i])
	}
	return out
}

// write returns the write-set entry for key, creating it with the current
// before-image if the transaction has not written key yet.
func (tx *Tx) write(key []byte) *journal.Write {
	w, fresh := tx.writeEntry(key)
	if fresh {
		w.Before, w.BeforeVersion, _ = tx.st.Get(key)
	}
	return w
}

// writeEntry is write without the store's before-image: fresh reports a
// new entry whose Before the caller fills in (Set takes it from the
// store's Swap, one search of the tree instead of two).
func (tx *Tx) writeEntry(key []byte) (w *journal.Write, fresh bool) {
	if i, ok := tx.written(key); ok {
		return &tx.writes[i], false
	}
	var before []byte
	var bver journal.Version
	known := tx.last.valid && bytes.Equal(tx.last.key, key)
	if known {
		before, bver = tx.last.val, tx.last.ver
	}
	tx.last.valid = false // the key is about to change
	return tx.addWrite(journal.Write{Key: tx.own(key), Before: before, BeforeVersion: bver}), !known
}

// Set stores v at key. Strings, byte slices, integers, booleans and nil are
// encoded directly; other values with msgpack.
func (tx *Tx) Set(key Key, v any) {
	if len(key) == 0 {
		tx.fail(fmt.Errorf("set: empty key"))
		return
	}
	start := len(tx.arena)
	var err error
	tx.arena, err = appendValue(tx.arena, v)
	if err != nil {
		tx.fail(fmt.Errorf("set %s: encode value: %w", Key(key), err))
		return
	}
	val := tx.arena[start:len(tx.arena):len(tx.arena)]
	var hint *store.Hint
	if tx.last.valid && bytes.Equal(tx.last.key, key) {
		h := tx.last.hint
		hint = &h
	}
	w, fresh := tx.writeEntry(key)
	w.Op, w.Value, w.Delta = journal.OpSet, val, 0
	before, bver, _ := tx.st.SwapHint(key, val, tx.ver, hint)
	if fresh {
		w.Before, w.BeforeVersion = before, bver
	}
}

// Delete removes key.
func (tx *Tx) Delete(key Key) {
	if len(key) == 0 {
		tx.fail(fmt.Errorf("delete: empty key"))
		return
	}
	w := tx.write(key)
	w.Op, w.Value, w.Delta = journal.OpDelete, nil, 0
	tx.st.Delete(key)
}

// Add adds delta to the integer at key (an absent key counts as 0). It does
// not read the key: concurrent Adds to one key commute and do not conflict.
// A sum beyond 64 bits fails the transaction with ErrOverflow.
func (tx *Tx) Add(key Key, delta int64) {
	if len(key) == 0 {
		tx.fail(fmt.Errorf("add: empty key"))
		return
	}
	cur, _, ok := tx.st.Get(key)
	var n int64
	if ok {
		var err error
		if n, err = Value(cur).Int(); err != nil {
			tx.fail(fmt.Errorf("add to %s: the value there is not an integer", Key(key)))
			return
		}
	}
	sum, ok := AddInt64(n, delta)
	if !ok {
		tx.fail(fmt.Errorf("add %d to %s, which holds %d: %w", delta, Key(key), n, ErrOverflow))
		return
	}
	if i, mine := tx.written(key); mine && tx.writes[i].Op == journal.OpAdd {
		if _, ok := AddInt64(tx.writes[i].Delta, delta); !ok {
			tx.fail(fmt.Errorf("add %d to %s: the transaction's adds to it sum beyond 64 bits: %w", delta, Key(key), ErrOverflow))
			return
		}
	}
	w := tx.write(key)
	start := len(tx.arena)
	tx.arena = msgint.Append(tx.arena, sum)
	val := tx.arena[start:len(tx.arena):len(tx.arena)]
	ver := tx.ver
	switch w.Op {
	case 0, journal.OpAdd:
		w.Op = journal.OpAdd
		w.Delta += delta
		ver = ver.Max(w.BeforeVersion)
	default: // after our own Set or Delete the result no longer depends on the before-image
		w.Op, w.Delta = journal.OpSet, 0
	}
	w.Value = val
	tx.st.Set(key, val, ver)
}

// undo restores the before-images of the writes made so far, newest first.
func (tx *Tx) undo() {
	for i := len(tx.writes) - 1; i >= 0; i-- {
		w := &tx.writes[i]
		if w.Before == nil {
			tx.st.Delete(w.Key)
		} else {
			tx.st.Set(w.Key, w.Before, w.BeforeVersion)
		}
	}
}

// Unpack decodes a key into its elements, strings and int64s, as K
// packed them.
func (k Key) Unpack() ([]any, error) {
	t, err := tuple.Unpack(k)
	return t, err
}

// Timestamp is a hybrid logical clock reading (DESIGN.md section 4):
// milliseconds since the Unix epoch and a logical counter; timestamps
// compare as integers, and Tx.HLC returns one as a uint64. Its String
// form is 2026-11-21T16:18:02.123Z+3.
type Timestamp = hlc.Timestamp

// ParseTimestamp parses the form Timestamp.String writes.
func ParseTimestamp(s string) (Timestamp, error) { return hlc.Parse(s) }
