// Package store is the in-memory ordered state of an instance: keys (encoded
// tuples) to msgpack values, each with the version of its last writer. It is
// a copy-on-write B-tree (tidwall/btree), so Snapshot is O(1) and a
// checkpoint can read a snapshot in the background while the executor keeps
// writing. A Store is used by one goroutine at a time; a Snapshot may be
// read concurrently with writes to its Store.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/liege-db/liege/journal"
	"github.com/tidwall/btree"
)

// item is 32 bytes inline in a B-tree node: key and value share one
// allocation, and the version's origin is an index into a small table (there
// are only ever a handful of instance ids).
type item struct {
	kv     string
	klen   uint32
	origin uint32
	hlc    uint64
}

func (it *item) key() string { return it.kv[:it.klen] }
func (it *item) val() string { return it.kv[it.klen:] }

func less(a, b item) bool { return a.key() < b.key() }

// origins interns instance ids; index 0 is "" (the zero version). Names
// are read without a lock (every view of a value takes its version's
// name): names is replaced, never changed in place below its length.
type origins struct {
	mu    sync.RWMutex // guards index; additions hold it
	names atomic.Pointer[[]string]
	index map[string]uint32
}

func newOrigins() *origins {
	o := &origins{index: map[string]uint32{"": 0}}
	names := []string{""}
	o.names.Store(&names)
	return o
}

func (o *origins) id(name string) uint32 {
	o.mu.RLock()
	i, ok := o.index[name]
	o.mu.RUnlock()
	if ok {
		return i
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if i, ok := o.index[name]; ok {
		return i
	}
	names := append(*o.names.Load(), name)
	i = uint32(len(names) - 1)
	o.names.Store(&names)
	o.index[name] = i
	return i
}

func (o *origins) name(i uint32) string { return (*o.names.Load())[i] }

// Store is the ordered state.
type Store struct {
	tr      *btree.BTreeG[item]
	origins *origins
	bytes   int64 // raw key and value bytes

	// lastOrigin and lastID cache the origin of the last write: a run of
	// writes by one instance (every call's) interns its id once.
	lastOrigin string
	lastID     uint32
}

// originID interns the origin of a write to s.
func (s *Store) originID(name string) uint32 {
	if name == s.lastOrigin {
		return s.lastID
	}
	s.lastOrigin, s.lastID = name, s.origins.id(name)
	return s.lastID
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		tr:      btree.NewBTreeGOptions(less, btree.Options{NoLocks: true, Degree: 64}),
		origins: newOrigins(),
	}
}

// joinKV returns key and val in one new allocation. When val is at least
// as long as key (the growth rule then allocates exactly what is needed,
// as make does), it appends val to key's header capped at its length: one
// allocation the runtime does not zero first (make does, and a 16 MiB
// value was cleared before it was copied over).
func joinKV(key, val []byte) []byte {
	if len(val) >= len(key) && len(val) > 0 {
		return append(key[:len(key):len(key)], val...)
	}
	buf := make([]byte, len(key)+len(val))
	copy(buf, key)
	copy(buf[len(key):], val)
	return buf
}

func probe(key []byte) item {
	return item{kv: unsafe.String(unsafe.SliceData(key), len(key)), klen: uint32(len(key))}
}

// Get returns the value and version of key; ok is false if it is absent.
// The value must not be modified.
func (s *Store) Get(key []byte) (val []byte, ver journal.Version, ok bool) {
	it, ok := s.tr.Get(probe(key))
	if !ok {
		return nil, journal.Version{}, false
	}
	return s.view(&it)
}

func (s *Store) view(it *item) ([]byte, journal.Version, bool) {
	v := it.val()
	return unsafe.Slice(unsafe.StringData(v), len(v)), journal.Version{HLC: it.hlc, Origin: s.origins.name(it.origin)}, true
}

// Set stores a copy of val at key with version ver.
func (s *Store) Set(key, val []byte, ver journal.Version) {
	buf := joinKV(key, val)
	it := item{kv: unsafe.String(unsafe.SliceData(buf), len(buf)), klen: uint32(len(key)), origin: s.originID(ver.Origin), hlc: ver.HLC}
	prev, replaced := s.tr.Set(it)
	if replaced {
		s.bytes -= int64(len(prev.kv))
	}
	s.bytes += int64(len(buf))
}

// Delete removes key.
func (s *Store) Delete(key []byte) {
	if prev, ok := s.tr.Delete(probe(key)); ok {
		s.bytes -= int64(len(prev.kv))
	}
}

// Len returns the number of keys.
func (s *Store) Len() int { return s.tr.Len() }

// RawBytes returns the total size of the keys and values held.
func (s *Store) RawBytes() int64 { return s.bytes }

// Visit is called for each key in an iteration; returning false stops it.
// key and val must not be modified or retained.
type Visit func(key, val []byte, ver journal.Version) bool

// Ascend visits keys >= from in ascending order (all keys if from is empty).
func (s *Store) Ascend(from []byte, fn Visit) { ascend(s.tr, s.origins, from, fn) }

// Descend visits keys <= from in descending order (all keys if from is
// empty).
func (s *Store) Descend(from []byte, fn Visit) { descend(s.tr, s.origins, from, fn) }

func ascend(tr *btree.BTreeG[item], o *origins, from []byte, fn Visit) {
	it := func(i item) bool {
		k, v := i.key(), i.val()
		return fn(unsafe.Slice(unsafe.StringData(k), len(k)), unsafe.Slice(unsafe.StringData(v), len(v)),
			journal.Version{HLC: i.hlc, Origin: o.name(i.origin)})
	}
	if len(from) == 0 {
		tr.Scan(it)
		return
	}
	tr.Ascend(probe(from), it)
}

func descend(tr *btree.BTreeG[item], o *origins, from []byte, fn Visit) {
	it := func(i item) bool {
		k, v := i.key(), i.val()
		return fn(unsafe.Slice(unsafe.StringData(k), len(k)), unsafe.Slice(unsafe.StringData(v), len(v)),
			journal.Version{HLC: i.hlc, Origin: o.name(i.origin)})
	}
	if len(from) == 0 {
		tr.Reverse(it)
		return
	}
	tr.Descend(probe(from), it)
}

// Apply performs the writes of a journal record: the after-images with the
// record's version (for OpAdd, the larger of the before-version and the
// record's, so that concurrent adds commute).
func (s *Store) Apply(r *journal.Record) {
	ver := r.Version()
	for i := range r.Writes {
		w := &r.Writes[i]
		switch w.Op {
		case journal.OpSet:
			s.Set(w.Key, w.Value, ver)
		case journal.OpDelete:
			s.Delete(w.Key)
		case journal.OpAdd:
			s.Set(w.Key, w.Value, ver.Max(w.BeforeVersion))
		}
	}
}

// Undo restores the before-images of a record's writes, newest first.
func (s *Store) Undo(r *journal.Record) {
	for i := len(r.Writes) - 1; i >= 0; i-- {
		w := &r.Writes[i]
		if w.Before == nil {
			s.Delete(w.Key)
		} else {
			s.Set(w.Key, w.Before, w.BeforeVersion)
		}
	}
}

// Snapshot returns a read-only copy of the state that stays as it is while
// the Store changes. It may be read from another goroutine.
func (s *Store) Snapshot() *Snapshot {
	return &Snapshot{tr: s.tr.Copy(), origins: s.origins, n: s.tr.Len()}
}

// Snapshot is a frozen copy of a Store.
type Snapshot struct {
	tr      *btree.BTreeG[item]
	origins *origins
	n       int
}

// Len returns the number of keys.
func (p *Snapshot) Len() int { return p.n }

// Ascend visits keys >= from in order.
func (p *Snapshot) Ascend(from []byte, fn Visit) { ascend(p.tr, p.origins, from, fn) }

// Hash returns the state hash of the snapshot (see Store.Hash).
func (p *Snapshot) Hash() [32]byte { return hashOf(p.Ascend) }

// Hash returns a SHA-256 over the sorted keys, values and versions, so that
// two instances with the same state have the same hash.
func (s *Store) Hash() [32]byte { return hashOf(s.Ascend) }

func hashOf(asc func([]byte, Visit)) [32]byte {
	h := sha256.New()
	var lenbuf [binary.MaxVarintLen64]byte
	put := func(b []byte) {
		n := binary.PutUvarint(lenbuf[:], uint64(len(b)))
		h.Write(lenbuf[:n])
		h.Write(b)
	}
	asc(nil, func(k, v []byte, ver journal.Version) bool {
		put(k)
		put(v)
		n := binary.PutUvarint(lenbuf[:], ver.HLC)
		h.Write(lenbuf[:n])
		put([]byte(ver.Origin))
		return true
	})
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Equal reports the first difference between two stores, or "" if they hold
// the same keys, values and versions.
func Equal(a, b *Store) string {
	type kv struct {
		k, v []byte
		ver  journal.Version
	}
	var as []kv
	a.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		as = append(as, kv{bytes.Clone(k), bytes.Clone(v), ver})
		return true
	})
	i := 0
	diff := ""
	b.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		if i >= len(as) {
			diff = fmt.Sprintf("key %x only in the second state", k)
			return false
		}
		x := as[i]
		i++
		switch {
		case !bytes.Equal(x.k, k):
			diff = fmt.Sprintf("key %x vs %x", x.k, k)
		case !bytes.Equal(x.v, v):
			diff = fmt.Sprintf("key %x: value %x vs %x", k, x.v, v)
		case x.ver != ver:
			diff = fmt.Sprintf("key %x: version %v vs %v", k, x.ver, ver)
		}
		return diff == ""
	})
	if diff == "" && i < len(as) {
		diff = fmt.Sprintf("key %x only in the first state", as[i].k)
	}
	return diff
}
