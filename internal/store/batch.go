package store

import (
	"unsafe"

	"github.com/liege-db/liege/journal"
	"github.com/tidwall/btree"
)

// Batch collects writes to apply to a Store at once, with the effect of
// applying them one by one in the order they were added (the last write of
// a key wins). A batch that writes at least a quarter of the keys the
// Store holds is applied by building a new tree in one pass over the old
// one (each key looked up in a hash table of the batch, the tree rebuilt
// in order with btree Load), where a Set or Delete at a time searches the
// tree for each write and shifts a node's items. A rollback that restores
// hundreds of thousands of before-images was bound by those searches
// (issue 14); a smaller batch is applied one write at a time.
//
// A Batch holds its values' copies (the allocation the tree keeps): its
// memory is what the writes will take in the Store, plus 40 bytes a write.
type Batch struct {
	ops   []batchOp
	bytes int64 // key and value bytes held
}

// batchOp is one write: a Set (it.kv holds key and value) or a Delete
// (del, it.kv holds the key).
type batchOp struct {
	it  item
	del bool
}

// Len returns the number of writes added since the last ApplyBatch.
func (b *Batch) Len() int { return len(b.ops) }

// Bytes returns the key and value bytes the batch holds.
func (b *Batch) Bytes() int64 { return b.bytes }

// Set adds a Set of a copy of val at key with version ver.
func (b *Batch) Set(s *Store, key, val []byte, ver journal.Version) {
	buf := joinKV(key, val)
	b.ops = append(b.ops, batchOp{it: item{kv: unsafe.String(unsafe.SliceData(buf), len(buf)), klen: uint32(len(key)),
		origin: s.origins.id(ver.Origin), hlc: ver.HLC}})
	b.bytes += int64(len(buf))
}

// Delete adds a Delete of key.
func (b *Batch) Delete(key []byte) {
	k := string(key)
	b.ops = append(b.ops, batchOp{it: item{kv: k, klen: uint32(len(k))}, del: true})
	b.bytes += int64(len(k))
}

// Apply adds the writes of a journal record, as Store.Apply does them.
func (b *Batch) Apply(s *Store, r *journal.Record) {
	ver := r.Version()
	for i := range r.Writes {
		w := &r.Writes[i]
		switch w.Op {
		case journal.OpSet:
			b.Set(s, w.Key, w.Value, ver)
		case journal.OpDelete:
			b.Delete(w.Key)
		case journal.OpAdd:
			b.Set(s, w.Key, w.Value, ver.Max(w.BeforeVersion))
		}
	}
}

// Undo adds the restoration of a record's before-images, as Store.Undo
// does it.
func (b *Batch) Undo(s *Store, r *journal.Record) {
	for i := len(r.Writes) - 1; i >= 0; i-- {
		w := &r.Writes[i]
		if w.Before == nil {
			b.Delete(w.Key)
		} else {
			b.Set(s, w.Key, w.Before, w.BeforeVersion)
		}
	}
}

// ApplyBatch applies b's writes to s, as if they were applied one by one
// in the order they were added, and empties b.
func (s *Store) ApplyBatch(b *Batch) {
	if len(b.ops) == 0 {
		return
	}
	if len(b.ops) >= max(s.tr.Len()/4, 1024) {
		s.rebuild(b.ops)
	} else {
		for i := range b.ops {
			s.applyOp(&b.ops[i])
		}
	}
	clear(b.ops)
	b.ops, b.bytes = b.ops[:0], 0
}

// applyOp applies one write of a batch.
func (s *Store) applyOp(op *batchOp) {
	if op.del {
		if prev, ok := s.tr.Delete(op.it); ok {
			s.bytes -= int64(len(prev.kv))
		}
		return
	}
	prev, replaced := s.tr.Set(op.it)
	if replaced {
		s.bytes -= int64(len(prev.kv))
	}
	s.bytes += int64(len(op.it.kv))
}

// rebuild replaces s's tree with one that holds its items with ops
// applied: one pass over the tree in order, each key looked up in a table
// of the last op of each key, the new tree loaded in order. The ops of
// keys the tree does not hold (a before-image of a key a later write
// deleted) are applied one by one afterwards.
func (s *Store) rebuild(ops []batchOp) {
	last := make(map[string]int, len(ops))
	for i := range ops {
		last[ops[i].it.key()] = i
	}
	used := make([]bool, len(ops))
	tr := btree.NewBTreeGOptions(less, btree.Options{NoLocks: true, Degree: 64})
	var bytes int64
	s.tr.Scan(func(it item) bool {
		if i, ok := last[it.key()]; ok {
			used[i] = true
			if ops[i].del {
				return true
			}
			it = ops[i].it
		}
		tr.Load(it)
		bytes += int64(len(it.kv))
		return true
	})
	s.tr, s.bytes = tr, bytes
	for i := range ops {
		if !used[i] && last[ops[i].it.key()] == i {
			s.applyOp(&ops[i])
		}
	}
}
