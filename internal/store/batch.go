package store

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/liege-db/liege/journal"
	"github.com/tidwall/btree"
)

// Batch collects writes to apply to a Store at once, with the effect of
// applying them one by one in the order they were added (the last write of
// a key wins). A batch that writes at least a quarter of the keys the
// Store holds is sorted (a multikey sort, mostly integer comparisons) and
// merged with the tree into a new tree in one in-order pass (btree Load),
// where a Set or Delete at a time searches the tree for each write and
// shifts a node's items. Replay and a rollback write hundreds of thousands
// of keys and were bound by those searches (issue 14); a smaller batch is
// applied one write at a time.
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
	b.set(key, val, s.origins.id(ver.Origin), ver.HLC)
}

// set is Set with the version's origin interned already (origin).
func (b *Batch) set(key, val []byte, origin uint32, hlc uint64) {
	buf := joinKV(key, val)
	b.ops = append(b.ops, batchOp{it: item{kv: unsafe.String(unsafe.SliceData(buf), len(buf)), klen: uint32(len(key)),
		origin: origin, hlc: hlc}})
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
// in the order they were added, and empties b. parallel lets it sort on
// two goroutines, which end before it returns (the result is the same).
func (s *Store) ApplyBatch(b *Batch, parallel bool) {
	if len(b.ops) == 0 {
		return
	}
	if len(b.ops) >= max(s.tr.Len()/4, 1024) {
		s.rebuild(sortOps(b.ops, parallel))
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

// rebuild replaces s's tree with the merge of its items and ops (in key
// order, one per key; an op replaces or deletes the item of its key): one
// pass over the tree, the new tree filled with btree Load, which appends
// to the rightmost leaf.
func (s *Store) rebuild(ops []batchOp) {
	tr := btree.NewBTreeGOptions(less, btree.Options{NoLocks: true, Degree: 64})
	var bytes int64
	put := func(it item) {
		tr.Load(it)
		bytes += int64(len(it.kv))
	}
	i := 0
	s.tr.Scan(func(it item) bool {
		k := it.key()
		for i < len(ops) && ops[i].it.key() < k {
			if !ops[i].del {
				put(ops[i].it)
			}
			i++
		}
		if i < len(ops) && ops[i].it.key() == k {
			if !ops[i].del {
				put(ops[i].it)
			}
			i++
			return true
		}
		put(it)
		return true
	})
	for ; i < len(ops); i++ {
		if !ops[i].del {
			put(ops[i].it)
		}
	}
	s.tr, s.bytes = tr, bytes
}

// sortOps returns the last op of each key of ops, in key order. It sorts
// entries (8 key bytes as an integer, the op's index) by the integer, then each run of equal integers by the next 8 bytes, and so on
// (a multikey sort): most comparisons are of integers, where comparing
// keys with long common prefixes (tuple-encoded keys share their table's)
// cost a string comparison each. parallel sorts the halves on two
// goroutines (ending before it returns); the result is the same.
func sortOps(ops []batchOp, parallel bool) []batchOp {
	idx := sortIdx(ops, parallel)
	out := make([]batchOp, len(idx))
	for j, i := range idx {
		out[j] = ops[i]
	}
	return out
}

// sortIdx returns the indexes in ops of the last op of each key, in key
// order (see sortOps).
func sortIdx(ops []batchOp, parallel bool) []uint32 {
	idx, _ := sortIdxInto(ops, parallel, false, nil, nil)
	return idx
}

// sortIdxInto is sortIdx sorting in ents' storage and appending to out's
// (each grown if too small), for a caller that sorts many batches: it
// returns the indexes and the storage of ents, to give it again. radix
// sorts through twice the storage (see radixByChunk), which a caller that
// gives it again pays for once.
func sortIdxInto(ops []batchOp, parallel, radix bool, ents []sortEnt, out []uint32) ([]uint32, []sortEnt) {
	if len(ops) > 1<<32-1 {
		panic("store: a batch of more than 2^32 writes")
	}
	n := len(ops)
	if radix {
		n *= 2
	}
	if cap(ents) < n {
		ents = make([]sortEnt, n)
	}
	var tmp []sortEnt
	if radix {
		tmp = ents[len(ops):n]
	}
	ents = ents[:len(ops)]
	scratch := ents[:n]
	for i := range ents {
		ents[i] = sortEnt{key: ops[i].it.key(), i: uint32(i)}
	}
	if parallel && len(ents) >= 1<<16 {
		ents = sortHalves(ents, tmp)
	} else {
		multikey(ents, 0, tmp)
	}
	if cap(out) < len(ents) {
		out = make([]uint32, 0, len(ents))
	}
	out = out[:0]
	for j, e := range ents {
		// Equal keys sort by index, so the last of a run is the last added.
		if j+1 < len(ents) && ents[j+1].key == e.key {
			continue
		}
		out = append(out, e.i)
	}
	clear(scratch) // its keys point into the batch's values
	return out, scratch
}

// sortHalves sorts the halves of ents on two goroutines (through the
// halves of tmp, if not nil) and merges them.
func sortHalves(ents, tmp []sortEnt) []sortEnt {
	h := len(ents) / 2
	var t0, t1 []sortEnt
	if tmp != nil {
		t0, t1 = tmp[:h], tmp[h:]
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		multikey(ents[:h], 0, t0)
	}()
	multikey(ents[h:], 0, t1)
	wg.Wait()
	out := make([]sortEnt, 0, len(ents))
	a, b := ents[:h], ents[h:]
	for len(a) > 0 && len(b) > 0 {
		// Equal keys: the first half's indexes are the smaller.
		if c := strings.Compare(b[0].key, a[0].key); c < 0 {
			out = append(out, b[0])
			b = b[1:]
		} else {
			out = append(out, a[0])
			a = a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// sortEnt is one op in sortOps: its key, key bytes d..d+8 (big-endian,
// zero padded) and the op's index. The key is here, not read through
// ops, to save a cache miss an entry on each level.
type sortEnt struct {
	key   string
	chunk uint64
	i     uint32
}

// chunkAt returns bytes d..d+8 of k as a big-endian integer, zero padded.
func chunkAt(k string, d int) uint64 {
	if len(k) >= d+8 {
		return binary.BigEndian.Uint64(unsafe.Slice(unsafe.StringData(k[d:]), 8))
	}
	var x uint64
	for j := d; j < d+8; j++ {
		x <<= 8
		if j < len(k) {
			x |= uint64(k[j])
		}
	}
	return x
}

// multikey sorts ents, whose keys agree on their first d bytes, by key
// then index; through tmp, as long as ents, if not nil (radixByChunk).
func multikey(ents []sortEnt, d int, tmp []sortEnt) {
	for {
		if len(ents) < 2 {
			return
		}
		long := false
		for j := range ents {
			e := &ents[j]
			e.chunk = chunkAt(e.key, d)
			long = long || len(e.key) > d+8
		}
		sortByChunk(ents, tmp)
		if !long {
			// Equal chunks of keys that end here: one key is a prefix of
			// the other (the padding is zeros on both), or they are equal.
			for lo := 0; lo < len(ents); {
				hi := lo + 1
				for hi < len(ents) && ents[hi].chunk == ents[lo].chunk {
					hi++
				}
				if hi-lo > 1 {
					slices.SortFunc(ents[lo:hi], func(a, b sortEnt) int {
						if c := cmp.Compare(len(a.key), len(b.key)); c != 0 {
							return c
						}
						return cmp.Compare(a.i, b.i)
					})
				}
				lo = hi
			}
			return
		}
		// Runs of equal chunks agree on d+8 bytes: sort each by the next 8.
		// The largest run is taken in this loop, the others recursively.
		big, bigLo, bigHi := 0, 0, 0
		for lo := 0; lo < len(ents); {
			hi := lo + 1
			for hi < len(ents) && ents[hi].chunk == ents[lo].chunk {
				hi++
			}
			if hi-lo > 1 {
				if hi-lo > big {
					if big > 1 {
						multikey(ents[bigLo:bigHi], d+8, part(tmp, bigLo, bigHi))
					}
					big, bigLo, bigHi = hi-lo, lo, hi
				} else {
					multikey(ents[lo:hi], d+8, part(tmp, lo, hi))
				}
			}
			lo = hi
		}
		ents, d, tmp = ents[bigLo:bigHi], d+8, part(tmp, bigLo, bigHi)
	}
}

// part returns tmp[lo:hi], nil if tmp is nil.
func part(tmp []sortEnt, lo, hi int) []sortEnt {
	if tmp == nil {
		return nil
	}
	return tmp[lo:hi]
}

// radixMin is the fewest entries sortByChunk sorts by radix: below it,
// clearing the counts costs more than comparing.
const radixMin = 128

// sortByChunk sorts ents by chunk: by radixByChunk through tmp if there
// is one and ents are many, else by comparison.
func sortByChunk(ents, tmp []sortEnt) {
	if tmp == nil || len(ents) < radixMin {
		slices.SortFunc(ents, func(a, b sortEnt) int { return cmp.Compare(a.chunk, b.chunk) })
		return
	}
	radixByChunk(ents, tmp)
}

// radixByChunk sorts ents by chunk with tmp (as long) for scratch: an LSD
// radix sort, a pass for each byte of the chunks in which they are not
// all alike. Replay sorts each chunk of records' writes, a thousand keys
// of a few tables, whose chunks differ in a byte or two at each depth of
// the multikey sort: a comparison sort was most of the time it spent
// reducing a chunk (pdqsort, an indirect call a comparison).
func radixByChunk(ents, tmp []sortEnt) {
	var counts [8][256]uint32
	for i := range ents {
		c := ents[i].chunk
		for b := range 8 {
			counts[b][byte(c>>(8*b))]++
		}
	}
	src, dst := ents, tmp[:len(ents)]
	for b := range 8 {
		cnt := &counts[b]
		if cnt[byte(src[0].chunk>>(8*b))] == uint32(len(src)) {
			continue // every chunk has this byte
		}
		var sum uint32
		for i, c := range cnt {
			cnt[i] = sum
			sum += c
		}
		for i := range src {
			d := byte(src[i].chunk >> (8 * b))
			dst[cnt[d]] = src[i]
			cnt[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ents[0] {
		copy(ents, src)
	}
}
