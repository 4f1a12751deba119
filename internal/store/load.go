package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/liege-db/liege/journal"
	"github.com/tidwall/btree"
)

// Bulk loading for replay (issue 14). Replay used to Set each write into
// the tree, and a Set is a search of the tree with a cache miss a
// comparison (the keys live in their own allocations): about 1.2 µs a
// write at a million keys, on the one goroutine that applies records. A
// Loader moves that work to the goroutines that decode the journal: each
// reduces every chunk of records it decodes to a run (the chunk's final
// write of each key, in key order), merges its runs as it goes, and at the
// end the applying goroutine merges their results with the tree into a
// new tree, filled in key order with btree Load.
//
// A run holds no pointers: its entries name their write by chunk and
// index, and its keys are copied, in key order, into one buffer of its
// own, which a merge reads front to back. So a merge reads memory in order
// (reading the keys in place was a cache miss a comparison), and copying
// entries needs no write barrier.

// Loader builds a Store's next state from chunks of records, numbered
// from 0 in the order their writes take effect: consecutive ranges of
// positions, from the oldest up for replay (Apply), from the newest down
// for a rollback (Undo). Each chunk's records are given to one
// LoadWorker, in that order; a LoadWorker is used by one goroutine, and
// several may run at once on different chunks. Finish applies them all,
// as Store.Apply (or Store.Undo) of every record in that order would. The
// Store must not be changed until Finish returns.
type Loader struct {
	s *Store
	// chunks holds the chunks ended so far, by number. A chunk past its
	// end (a replay cuts chunks of large records short, so it cannot
	// count them ahead) replaces it with a longer copy, under mu; a
	// worker reads the chunks it ended itself, from the slice it loads
	// after (each chunk is written under mu into the slice current then,
	// which a later copy carries over).
	mu     sync.Mutex
	chunks atomic.Pointer[[]loadChunk]
}

// loadChunk is a chunk's final writes, in key order, and their keys one
// after the other in a buffer of its own: op i's key is
// keys[offs[i]:offs[i+1]].
type loadChunk struct {
	ops  []batchOp
	keys []byte
	offs []uint32
}

// key returns the key of op i.
func (c *loadChunk) key(i uint32) []byte { return c.keys[c.offs[i]:c.offs[i+1]] }

// NewLoader returns a Loader for s, with room for chunks chunks; more
// may come (the room grows).
func NewLoader(s *Store, chunks int) *Loader {
	l := &Loader{s: s}
	cs := make([]loadChunk, max(chunks, 0))
	l.chunks.Store(&cs)
	return l
}

// table returns the chunks ended so far (see Loader.chunks); none once
// Finish has returned.
func (l *Loader) table() []loadChunk {
	if cs := l.chunks.Load(); cs != nil {
		return *cs
	}
	return nil
}

// given reports whether chunk c has ended with writes.
func (l *Loader) given(c int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.table()
	return c < len(cs) && cs[c].ops != nil
}

// put stores chunk c, growing the table if c is past its end.
func (l *Loader) put(c int, ch loadChunk) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.table()
	if c >= len(cs) {
		grown := make([]loadChunk, max(c+1, 2*len(cs)))
		copy(grown, cs)
		l.chunks.Store(&grown)
		cs = grown
	}
	cs[c] = ch
}

// LoadWorker reduces chunks of records to runs and merges them.
type LoadWorker struct {
	l     *Loader
	b     Batch
	runs  []run // a stack of runs of decreasing length
	chunk int   // the chunk being added; -1 between chunks

	// The storage of EndChunk's sort, and of runs merged, given again
	// (runEnts): a new one for every chunk and every merge was most of
	// what a replay allocated but the state itself (each record's writes
	// merged about log2(chunks) times), each a fresh page to fault in.
	sortEnts []sortEnt
	sortOut  []uint32
	free     [33][][]runEnt // by capacity, 1<<i

	// lastOrigin and lastID cache the origin of the last write, as
	// Store.originID does for one goroutine: the workers interning every
	// write's origin in the Store's table, under its read lock, passed
	// the lock's cache line between them twice a write.
	lastOrigin string
	lastID     uint32
}

// set adds a Set of key to val with version ver.
func (w *LoadWorker) set(key, val []byte, ver journal.Version) {
	if ver.Origin != w.lastOrigin { // "" is 0, as they start
		w.lastOrigin, w.lastID = ver.Origin, w.l.s.origins.id(ver.Origin)
	}
	w.b.set(key, val, w.lastID, ver.HLC)
}

// Worker returns a new LoadWorker of l.
func (l *Loader) Worker() *LoadWorker { return &LoadWorker{l: l, chunk: -1} }

// Apply adds the writes of a transaction record of chunk, as Store.Apply
// does them. A worker's chunks come in order, the records of a chunk one
// after the other.
func (w *LoadWorker) Apply(chunk int, r *journal.Record) {
	w.begin(chunk)
	ver := r.Version()
	for i := range r.Writes {
		wr := &r.Writes[i]
		switch wr.Op {
		case journal.OpSet:
			w.set(wr.Key, wr.Value, ver)
		case journal.OpDelete:
			w.delete(wr.Key)
		case journal.OpAdd:
			w.set(wr.Key, wr.Value, ver.Max(wr.BeforeVersion))
		}
	}
}

// delete adds a Delete of key. Unlike Batch.Delete it does not copy the
// key: the record's bytes stay as they are until EndChunk, which points
// the delete at the chunk's own copy of its keys (a rollback of inserts
// is all deletes, a copy each was half its allocations).
func (w *LoadWorker) delete(key []byte) {
	w.b.ops = append(w.b.ops, batchOp{it: item{kv: bytesString(key), klen: uint32(len(key))}, del: true})
}

// begin makes chunk the chunk being added.
func (w *LoadWorker) begin(chunk int) {
	if chunk != w.chunk {
		w.EndChunk()
		if chunk < 0 || w.l.given(chunk) {
			panic(fmt.Sprintf("store: chunk %d given to a Loader twice or out of range", chunk))
		}
		w.chunk = chunk
	}
}

// Undo adds the restoration of the before-images of a record of chunk, as
// Store.Undo does it: a rollback numbers its chunks from the newest
// records down and gives a worker's records newest first, so the oldest
// record's before-image of a key is the one that stays.
func (w *LoadWorker) Undo(chunk int, r *journal.Record) {
	w.begin(chunk)
	for i := len(r.Writes) - 1; i >= 0; i-- {
		wr := &r.Writes[i]
		if wr.Before == nil {
			w.delete(wr.Key)
		} else {
			w.set(wr.Key, wr.Before, wr.BeforeVersion)
		}
	}
}

// EndChunk reduces the chunk being added to a run and merges it.
func (w *LoadWorker) EndChunk() {
	if w.chunk < 0 {
		return
	}
	c := w.chunk
	w.chunk = -1
	ops := w.b.ops
	if len(ops) == 0 {
		return
	}
	idx, ents := sortIdxInto(ops, false, true, w.sortEnts, w.sortOut)
	w.sortEnts, w.sortOut = ents, idx
	ch := loadChunk{ops: make([]batchOp, len(idx)), offs: make([]uint32, len(idx)+1)}
	n := 0
	for j, i := range idx {
		ch.ops[j] = ops[i]
		n += int(ops[i].it.klen)
	}
	ch.keys = make([]byte, 0, n)
	r := run{ents: w.runEnts(len(idx))[:len(idx)]}
	for j := range ch.ops {
		op := &ch.ops[j]
		ch.keys = append(ch.keys, op.it.key()...)
		ch.offs[j+1] = uint32(len(ch.keys))
		if op.del {
			op.it.kv = bytesString(ch.keys[ch.offs[j]:ch.offs[j+1]])
		}
		r.ents[j] = runEnt{chunk: uint32(c), i: uint32(j)}
		if j > 0 {
			r.ents[j].lcp = uint32(commonPrefix(ch.keys[ch.offs[j-1]:ch.offs[j]], ch.keys[ch.offs[j]:ch.offs[j+1]], 0))
		}
	}
	clear(ops)
	w.b.ops, w.b.bytes = ops[:0], 0
	w.l.put(c, ch)
	w.runs = append(w.runs, r)
	for m := len(w.runs); m >= 2 && 2*len(w.runs[m-1].ents) >= len(w.runs[m-2].ents); m = len(w.runs) {
		w.runs[m-2] = w.merge(w.runs[m-2], w.runs[m-1])
		w.runs = w.runs[:m-1]
	}
}

// runEnts returns storage for at least n entries of a run, empty: some
// freed by merge when there is, else new, of the next power of two.
func (w *LoadWorker) runEnts(n int) []runEnt {
	c := bits.Len(uint(max(n, 1) - 1))
	if f := w.free[c]; len(f) > 0 {
		w.free[c] = f[:len(f)-1]
		return f[len(f)-1][:0]
	}
	return make([]runEnt, 0, 1<<c)
}

// merge is Loader.merge into storage from runEnts, and frees the storage
// of a and b, which the caller no longer uses.
func (w *LoadWorker) merge(a, b run) run {
	if len(a.ents) == 0 || len(b.ents) == 0 {
		return w.l.merge(a, b)
	}
	out := w.l.mergeInto(w.runEnts(len(a.ents)+len(b.ents)), a, b)
	for _, r := range [2]run{a, b} {
		if c := bits.Len(uint(cap(r.ents) - 1)); cap(r.ents) == 1<<c {
			w.free[c] = append(w.free[c], r.ents)
		}
	}
	return out
}

// result ends the chunk being added and returns the merge of the worker's
// runs.
func (w *LoadWorker) result() run {
	w.EndChunk()
	var out run
	for i := len(w.runs) - 1; i >= 0; i-- {
		out = w.merge(w.runs[i], out)
	}
	w.runs = nil
	w.free, w.sortEnts, w.sortOut = [33][][]runEnt{}, nil, nil
	return out
}

// Finish applies the writes the workers were given to the Store. Every
// worker must have ended its use of the Loader before (Finish reads what
// they wrote). Each worker's last merges run on a goroutine of their own,
// which ends before Finish goes on; the last merge of all runs on another
// goroutine while Finish fills the new tree from what it merged (finalMerge),
// and ends before Finish returns.
func (l *Loader) Finish(workers ...*LoadWorker) {
	results := make([]run, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.result()
		}()
	}
	wg.Wait()
	// A merge keeps the later chunk's write of a key whichever side it
	// is on, so the results merge in any order: all but the last two
	// here, the last two streamed.
	for len(results) > 2 {
		results = append(results[2:], l.merge(results[0], results[1]))
	}
	var a, b run
	if len(results) > 0 {
		a = results[0]
	}
	if len(results) > 1 {
		b = results[1]
	}
	s := l.s
	if len(a.ents)+len(b.ents) == 0 {
		l.chunks.Store(nil)
		return
	}
	batches, free := make(chan []mergedOp, finalBatches), make(chan []mergedOp, finalBatches)
	var broken error
	go l.finalMerge(a, b, batches, free, &broken)

	// Fill a new tree in key order from the merged writes and the items
	// of the old one they do not replace. btree Load is the one part of a
	// replay no other goroutine can take: an append, and a comparison
	// with the last item, which the tree's order (loadOrder) decides
	// without reading the new item's key (a cache miss: its kv is an
	// allocation of its own, made when its record was applied). That the
	// items come in order is checked where reading keys is cheap:
	// finalMerge compares each merged key with the one before in the
	// chunks' key buffers, and the interleave below compares the old
	// items' keys with those.
	ord := new(loadOrder)
	tr := btree.NewBTreeGOptions(ord.less, btree.Options{NoLocks: true, Degree: 64})
	var size int64
	load := func(it item) {
		ord.at = unsafe.StringData(it.kv)
		tr.Load(it)
		size += int64(len(it.kv))
	}
	var old btree.IterG[item]
	var oi item // old's item, while more
	more := false
	if s.tr.Len() > 0 {
		old = s.tr.Iter()
		if more = old.First(); more {
			oi = old.Item()
		}
	}
	next := func() {
		if more = old.Next(); more {
			oi = old.Item()
		}
	}
	for batch := range batches {
		for i := range batch {
			op := &batch[i]
			for more && oi.key() < op.key {
				load(oi)
				next()
			}
			if more && oi.key() == op.key {
				next()
			}
			if !op.del {
				load(op.it)
			}
		}
		clear(batch)
		select {
		case free <- batch[:0]:
		default: // more batches were made than free holds
		}
	}
	if broken != nil {
		panic(broken)
	}
	for more {
		load(oi)
		next()
	}
	ord.at = nil
	if s.tr.Len() > 0 {
		old.Release()
	}
	s.tr, s.bytes = tr, size
	l.chunks.Store(nil)
}

// loadOrder is the order of the tree Finish fills: less, except while
// Finish Loads an item, at (the first byte of its kv), which it already
// knows sorts after every item in the tree. btree Load compares the item
// it adds with the last one (and, where it splits a node, with others):
// those comparisons are decided by which side is at, without reading the
// new item's key. An item's kv is an allocation of its own, so no other
// item in the tree starts at at; an empty one (nil at) compares as less
// does. The tree keeps this order after Finish, at nil: less's.
type loadOrder struct {
	at *byte
}

func (o *loadOrder) less(a, b item) bool {
	if o.at != nil {
		switch o.at {
		case unsafe.StringData(b.kv):
			return true
		case unsafe.StringData(a.kv):
			return false
		}
	}
	return a.key() < b.key()
}

// mergedOp is a write finalMerge sends: the write, and its key in its
// chunk's buffer of keys, which the goroutine filling the tree compares
// with the old tree's keys (the write's own key is elsewhere in memory,
// a cache miss).
type mergedOp struct {
	batchOp
	key string
}

// finalBatches is how many batches of finalBatch merged writes finalMerge
// may be ahead of the goroutine filling the tree.
const (
	finalBatches = 8
	finalBatch   = 2048
)

// finalMerge merges runs a and b, as merge does, and sends the writes it
// keeps, in key order, in batches on out, which it closes at the end. It
// takes a batch's memory from free when there is one there. It checks
// that each key it sends sorts after the one before (Finish's tree relies
// on it, see loadOrder): if one does not, it sets *broken to the error
// that says so, sends nothing more and closes out.
func (l *Loader) finalMerge(a, b run, out chan<- []mergedOp, free <-chan []mergedOp, broken *error) {
	defer close(out)
	var batch []mergedOp
	var prev []byte
	first := true
	m := merger{l: l, x: a.ents, y: b.ents}
	for {
		e, ok := m.next()
		if !ok {
			break
		}
		ch := &l.table()[e.chunk]
		k := ch.key(e.i)
		if !first && bytes.Compare(prev, k) >= 0 {
			*broken = fmt.Errorf("store: Loader merged key %x (chunk %d, write %d) after %x: the runs are out of order", k, e.chunk, e.i, prev)
			return
		}
		prev, first = k, false
		if batch == nil {
			select {
			case batch = <-free:
			default:
				batch = make([]mergedOp, 0, finalBatch)
			}
		}
		batch = append(batch, mergedOp{batchOp: ch.ops[e.i], key: bytesString(k)})
		if len(batch) == finalBatch {
			out <- batch
			batch = nil
		}
	}
	if len(batch) > 0 {
		out <- batch
	}
}

// run is a chunk's final writes, or the merge of several chunks': one
// entry per key, in key order.
type run struct {
	ents []runEnt
}

// runEnt is one write of a run: op i of chunk chunk, and the length of
// the prefix its key shares with the key before it in the run (0 for the
// first). A merge compares the lengths before the keys (see merger).
type runEnt struct {
	chunk, i uint32
	lcp      uint32
}

func (l *Loader) key(e runEnt) []byte { return l.table()[e.chunk].key(e.i) }

// merge returns the merge of a and b: every key of either, the write of
// the later chunk where both have one. It forgets the write it drops,
// so that its value can be collected.
func (l *Loader) merge(a, b run) run {
	switch {
	case len(a.ents) == 0:
		return b
	case len(b.ents) == 0:
		return a
	}
	return l.mergeInto(make([]runEnt, 0, len(a.ents)+len(b.ents)), a, b)
}

// mergeInto is merge appending to out, which has room for a and b.
func (l *Loader) mergeInto(out []runEnt, a, b run) run {
	m := merger{l: l, x: a.ents, y: b.ents}
	for {
		e, ok := m.next()
		if !ok {
			break
		}
		out = append(out, e)
	}
	return run{ents: out}
}

// merger merges two runs x and y, as merge says, comparing keys by the
// prefix each shares with the last key it returned (hx for x's first, hy
// for y's), as in an LCP merge sort: both keys sort after the last one,
// so the one that shares more of it is the smaller, and the keys
// themselves are read only where they share as much (from there on).
// Replay's keys are tuples that share long prefixes (a table's name, an
// event's), and most steps of a merge of ticket keys are decided by those
// lengths alone, without reading a key: the key bytes were a cache miss
// and a comparison of the whole shared prefix each step before.
type merger struct {
	l      *Loader
	x, y   []runEnt
	hx, hy uint32
}

// next returns the next write of the merge, its lcp the prefix it
// shares with the one before, and false at the end. Of two writes of a
// key, it returns the later chunk's and forgets the other, so that its
// value can be collected.
func (m *merger) next() (runEnt, bool) {
	if len(m.x) == 0 || len(m.y) == 0 {
		// One side left: its first key shares hx (or hy) with the last
		// one returned, the others their own with the one before.
		var e runEnt
		switch {
		case len(m.x) > 0:
			e = m.x[0]
			e.lcp, m.x = m.hx, m.x[1:]
			if len(m.x) > 0 {
				m.hx = m.x[0].lcp
			}
		case len(m.y) > 0:
			e = m.y[0]
			e.lcp, m.y = m.hy, m.y[1:]
			if len(m.y) > 0 {
				m.hy = m.y[0].lcp
			}
		default:
			return runEnt{}, false
		}
		return e, true
	}
	c := 0
	switch {
	case m.hx > m.hy:
		c = -1
	case m.hx < m.hy:
		c = 1
	default:
		var h int
		c, h = compareFrom(m.l.key(m.x[0]), m.l.key(m.y[0]), int(m.hx))
		if c < 0 {
			m.hy = uint32(h) // y's first key shares h with x's, returned now
		} else if c > 0 {
			m.hx = uint32(h)
		}
	}
	var e runEnt
	switch {
	case c < 0:
		e = m.x[0]
		e.lcp = m.hx
	case c > 0:
		e = m.y[0]
		e.lcp = m.hy
	default:
		keep, drop := m.y[0], m.x[0]
		if m.x[0].chunk > m.y[0].chunk {
			keep, drop = m.x[0], m.y[0]
		}
		m.l.table()[drop.chunk].ops[drop.i] = batchOp{}
		e = keep
		e.lcp = m.hx
	}
	if c <= 0 {
		if m.x = m.x[1:]; len(m.x) > 0 {
			m.hx = m.x[0].lcp
		}
	}
	if c >= 0 {
		if m.y = m.y[1:]; len(m.y) > 0 {
			m.hy = m.y[0].lcp
		}
	}
	return e, true
}

// compareFrom compares a and b, which share their first from bytes, as
// bytes.Compare does, and returns the length of the prefix they share.
func compareFrom(a, b []byte, from int) (int, int) {
	h := commonPrefix(a, b, from)
	switch {
	case h < len(a) && h < len(b):
		if a[h] < b[h] {
			return -1, h
		}
		return 1, h
	case len(a) < len(b):
		return -1, h
	case len(a) > len(b):
		return 1, h
	}
	return 0, h
}

// commonPrefix returns the length of the prefix a and b share, which is
// at least from.
func commonPrefix(a, b []byte, from int) int {
	n := min(len(a), len(b))
	i := from
	for ; i+8 <= n; i += 8 {
		if d := binary.BigEndian.Uint64(a[i:]) ^ binary.BigEndian.Uint64(b[i:]); d != 0 {
			return i + bits.LeadingZeros64(d)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// bytesString returns b as a string, without a copy; b must not change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
