package detect

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/liege-db/liege/journal"
)

// okey is a key's order key: its first 15 bytes, zero-padded, then its
// length, or 16 if it is longer than 15 bytes, as a 128-bit number (hi
// first). Order keys are monotone: a <= b (bytewise) implies okey(a) <=
// okey(b). They are exact for short keys: for keys of at most 15 bytes
// okey(a) < okey(b) exactly when a < b, and equal exactly when a == b. Only
// long keys sharing their first 15 bytes share an order key.
//
// The window's trees index order keys, so they answer with a superset of
// the overlaps of the keys themselves (exact for short keys); Window.Check
// confirms the candidates of longer keys with their bytes.
type okey struct{ hi, lo uint64 }

var maxOkey = okey{math.MaxUint64, math.MaxUint64}

func orderKey(k []byte) okey {
	var b [16]byte
	copy(b[:15], k)
	b[15] = byte(min(len(k), 16))
	return okey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (a okey) less(b okey) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a okey) String() string { return fmt.Sprintf("%016x%016x", a.hi, a.lo) }

// span is the closed interval of order keys [lo, hi]; it is empty if hi <
// lo.
type span struct{ lo, hi okey }

func (s span) String() string { return "[" + s.lo.String() + ", " + s.hi.String() + "]" }

// pointSpan is the span of key k.
func pointSpan(k []byte) span {
	o := orderKey(k)
	return span{o, o}
}

// rangeSpan returns the span of the order keys of the keys in r (an empty
// Lo or Hi is unbounded, as in journal.RangeRead.Contains): every key in r
// has its order key in the span, and a key of at most 15 bytes with its
// order key in the span is in r. It reports false when the span is empty,
// and then no key is in r.
func rangeSpan(r *journal.RangeRead) (span, bool) {
	s := span{hi: maxOkey}
	if len(r.Lo) > 0 {
		s.lo = orderKey(r.Lo)
		if !r.LoInclusive && len(r.Lo) < 16 {
			// Above a short key: above its order key. Its low byte is
			// its length, below 16: no carry.
			s.lo.lo++
		}
	}
	if len(r.Hi) > 0 {
		s.hi = orderKey(r.Hi)
		if !r.HiInclusive && len(r.Hi) < 16 {
			// Below a short non-empty key: below its order key, whose low
			// byte is its length, at least 1: no borrow.
			s.hi.lo--
		}
	}
	return s, !s.hi.less(s.lo)
}

// intervalTree is a set of spans, each with a sequence number and a value,
// answering "which spans with a sequence number in (after, upTo] overlap
// q" in O(log n + m) for m answers when the sequence numbers do not prune.
//
// It is the interval tree of CLRS section 14.3 (ordered by lower bound,
// each subtree augmented with its largest upper bound) built as a B+ tree
// rather than a binary tree, and augmented with the smallest and largest
// sequence numbers too. A query binary-searches a node for the last slot
// starting at or before q ends, then walks back from it while the largest
// upper bound of the slots up to there (kept per slot: pm) reaches q:
// slots that start after q ends, and the run of slots before them that all
// end before q starts, are not looked at. A subtree whose sequence numbers
// all lie outside (after, upTo] is skipped whole. Spans inserted in
// sequence order with equal lower bounds (many transactions scanning the
// same range) sit in subtrees of consecutive sequence numbers, so those
// are skipped too.
//
// Why a B+ tree: a window of 100,000 transactions does not fit in the
// caches, and a binary tree costs a dependent cache miss per level (a treap
// of 100,000 ranges has ~30 levels: ~5 µs per query, measured). Here the
// tree has 3 to 5 levels, a node keeps its bounds in arrays of order keys
// (no comparison leaves the node), and a query reads a few of its cache
// lines.
//
// Nodes split when full and are removed when empty, and never merge: a
// window drains by Prune and TruncateFrom, so nodes empty out rather than
// linger half full, and the height is that of the largest size reached.
type intervalTree[V any] struct {
	root   *itNode[V]
	height int // levels below the root
	nextID uint64
	n      int
}

// itMax is the number of slots of a node.
const itMax = 32

// itNode is a leaf, whose slots are spans, or an inner node, whose slots
// are subtrees. A slot's key is (lower bound, id). The slots of a node are
// in key order; the key of a subtree's slot is at most the keys in the
// subtree and above the keys in the subtrees before it, and the slot
// summarizes the subtree's largest upper bound and sequence range.
type itNode[V any] struct {
	n int
	// By slot: the lower bound (the key), the upper bound, and the largest
	// upper bound of the slots up to this one.
	lo, hi, pm     [itMax]okey
	minSeq, maxSeq [itMax]uint64
	id             [itMax]uint64
	// Leaves hold values, inner nodes children.
	val   [itMax]V
	child [itMax]*itNode[V]
}

// itHandle names a span in the tree, for delete.
type itHandle struct {
	lo okey
	id uint64
}

// len returns the number of spans in the tree.
func (t *intervalTree[V]) len() int { return t.n }

// insert adds s with sequence number seq and value v, and returns the
// handle to pass to delete.
func (t *intervalTree[V]) insert(s span, seq uint64, v V) itHandle {
	t.nextID++
	return t.insertID(s, t.nextID, seq, v)
}

// insertID is insert with the span's id given: the caller keeps ids unique
// (and does not mix insertID with insert), and can name the span to delete
// as itHandle{s.lo, id} without keeping the handle.
func (t *intervalTree[V]) insertID(s span, id, seq uint64, v V) itHandle {
	h := itHandle{lo: s.lo, id: id}
	if t.root == nil {
		t.root = &itNode[V]{}
	}
	if t.root.n == itMax {
		old := t.root
		t.root = &itNode[V]{n: 1}
		t.root.child[0] = old
		t.root.copyKey(0, old, 0)
		t.root.split(0)
		t.height++
	}
	n := t.root
	for level := t.height; level > 0; level-- {
		i := n.find(&h)
		if i < 0 {
			i = 0 // below every key: the first subtree takes it
			n.lo[0], n.id[0] = h.lo, h.id
		}
		if n.child[i].n == itMax {
			n.split(i)
			if n.keyAtMost(i+1, &h) {
				i++
			}
		}
		// Widen the summary on the way down; the new span ends below.
		if n.hi[i].less(s.hi) {
			n.hi[i] = s.hi
		}
		n.minSeq[i], n.maxSeq[i] = min(n.minSeq[i], seq), max(n.maxSeq[i], seq)
		n.fixPM(i)
		n = n.child[i]
	}
	i := n.find(&h) + 1
	n.open(i)
	n.lo[i], n.hi[i], n.id[i] = s.lo, s.hi, h.id
	n.minSeq[i], n.maxSeq[i] = seq, seq
	n.val[i] = v
	n.fixPM(i)
	t.n++
	return h
}

// delete removes the span h names, which must be in the tree.
func (t *intervalTree[V]) delete(h itHandle) {
	if t.root == nil {
		t.notFound(&h)
	}
	if _, _, ok := t.root.delete(&h, t.height); !ok {
		t.notFound(&h)
	}
	t.n--
	for t.height > 0 && t.root.n == 1 {
		t.root = t.root.child[0]
		t.height--
	}
	if t.root.n == 0 {
		t.root, t.height = nil, 0
	}
}

func (t *intervalTree[V]) notFound(h *itHandle) {
	panic(fmt.Sprintf("detect: interval tree: deleting span %d starting at %v, which is not in the tree", h.id, h.lo))
}

// delete removes h from the subtree at n, level levels high, and reports
// whether it was there, with the upper bound and sequence number it had
// (the summaries above need recomputing only if it was their extreme).
func (n *itNode[V]) delete(h *itHandle, level int) (hi okey, seq uint64, ok bool) {
	i := n.find(h)
	if i < 0 {
		return hi, seq, false
	}
	if level == 0 {
		if n.id[i] != h.id {
			return hi, seq, false
		}
		hi, seq = n.hi[i], n.minSeq[i]
		n.close(i)
		return hi, seq, true
	}
	c := n.child[i]
	if hi, seq, ok = c.delete(h, level-1); !ok {
		return hi, seq, false
	}
	switch {
	case c.n == 0:
		n.close(i)
	case hi == n.hi[i] || seq == n.minSeq[i] || seq == n.maxSeq[i]:
		n.summarize(i)
	}
	return hi, seq, true
}

// overlapping appends to out the values of the spans that overlap q and
// whose sequence numbers lie in (after, upTo].
func (t *intervalTree[V]) overlapping(q *span, after, upTo uint64, out []V) []V {
	if t.root == nil || after >= upTo {
		return out
	}
	return t.root.collect(q, after, upTo, t.height, out)
}

func (n *itNode[V]) collect(q *span, after, upTo uint64, level int, out []V) []V {
	var buf [itMax]uint8
	for _, i := range n.matching(q, after, upTo, &buf) {
		if level > 0 {
			out = n.child[i].collect(q, after, upTo, level-1, out)
		} else {
			out = append(out, n.val[i])
		}
	}
	return out
}

// matching returns the slots of n whose spans (or subtrees) may overlap q
// with sequence numbers in (after, upTo], in buf, last slot first: the one
// walk of every query.
func (n *itNode[V]) matching(q *span, after, upTo uint64, buf *[itMax]uint8) []uint8 {
	return n.matchingBefore(n.startingBy(q), q, after, upTo, buf)
}

// startingBy returns the number of slots starting at or before q ends.
func (n *itNode[V]) startingBy(q *span) int {
	// The first slot whose lo is above q.hi.
	base, m := 0, n.n
	for m > 1 {
		half := m >> 1
		base += half & int(q.hi.lessBit(n.lo[base+half])-1)
		m -= half
	}
	if m == 1 {
		base += int(1 - q.hi.lessBit(n.lo[base]))
	}
	return base
}

// matchingBefore is matching given j = n.startingBy(q).
func (n *itNode[V]) matchingBefore(j int, q *span, after, upTo uint64, buf *[itMax]uint8) []uint8 {
	// Back from the last slot starting by the end of q while some slot up
	// to i may end inside q.
	out := buf[:0]
	for i := j - 1; i >= 0 && !n.pm[i].less(q.lo); i-- {
		if n.hi[i].less(q.lo) || n.maxSeq[i] <= after || n.minSeq[i] > upTo {
			continue
		}
		out = append(out, uint8(i))
	}
	return out
}

// keyAtMost reports whether the key of slot i is at most h's.
func (n *itNode[V]) keyAtMost(i int, h *itHandle) bool {
	if n.lo[i] != h.lo {
		return n.lo[i].less(h.lo)
	}
	return n.id[i] <= h.id
}

// find returns the last slot whose key is at most h's, or -1.
func (n *itNode[V]) find(h *itHandle) int {
	j, k := 0, n.n
	for j < k {
		m := int(uint(j+k) >> 1)
		if n.keyAtMost(m, h) {
			j = m + 1
		} else {
			k = m
		}
	}
	return j - 1
}

// fixPM recomputes the prefix maxima of the upper bounds from slot i on.
func (n *itNode[V]) fixPM(i int) {
	m := okey{}
	if i > 0 {
		m = n.pm[i-1]
	}
	for ; i < n.n; i++ {
		if m.less(n.hi[i]) {
			m = n.hi[i]
		}
		n.pm[i] = m
	}
}

// moveSlot moves slot from to slot to, and clears slot from.
func (n *itNode[V]) moveSlot(to, from int) {
	if to != from {
		n.copySlot(to, n, from)
	}
	var zero V
	n.val[from], n.child[from] = zero, nil // let go
}

// open shifts the slots from i up by one, making room at i.
func (n *itNode[V]) open(i int) {
	for j := n.n; j > i; j-- {
		n.moveSlot(j, j-1)
	}
	n.n++
}

// close removes slot i, shifting the slots after it down.
func (n *itNode[V]) close(i int) {
	for j := i; j < n.n-1; j++ {
		n.moveSlot(j, j+1)
	}
	n.n--
	n.moveSlot(n.n, n.n) // clear
	n.fixPM(i)
}

// split moves the upper half of the full child at slot i to a new node at
// slot i+1.
func (n *itNode[V]) split(i int) {
	c := n.child[i]
	r := &itNode[V]{}
	for j := itMax / 2; j < c.n; j++ {
		r.copySlot(r.n, c, j)
		r.n++
		c.moveSlot(j, j) // clear
	}
	c.n = itMax / 2
	c.fixPM(0)
	r.fixPM(0)
	n.open(i + 1)
	n.child[i+1] = r
	n.copyKey(i+1, r, 0)
	n.summarize(i) // slot i keeps its key, which may be below c's first
	n.summarize(i + 1)
}

// copySlot copies slot j of m to slot i of n.
func (n *itNode[V]) copySlot(i int, m *itNode[V], j int) {
	n.lo[i], n.hi[i], n.pm[i] = m.lo[j], m.hi[j], m.pm[j]
	n.minSeq[i], n.maxSeq[i] = m.minSeq[j], m.maxSeq[j]
	n.id[i] = m.id[j]
	n.val[i], n.child[i] = m.val[j], m.child[j]
}

// copyKey sets the key of slot i of n to that of slot j of m.
func (n *itNode[V]) copyKey(i int, m *itNode[V], j int) {
	n.lo[i], n.id[i] = m.lo[j], m.id[j]
}

// summarize recomputes the summary of slot i from its child.
func (n *itNode[V]) summarize(i int) {
	c := n.child[i]
	minSeq, maxSeq := c.minSeq[0], c.maxSeq[0]
	for j := 1; j < c.n; j++ {
		minSeq, maxSeq = min(minSeq, c.minSeq[j]), max(maxSeq, c.maxSeq[j])
	}
	n.hi[i] = c.pm[c.n-1]
	n.minSeq[i], n.maxSeq[i] = minSeq, maxSeq
	n.fixPM(i)
}

// itFound is one answer of overlappingBatch: the index of the query and
// the id of a span overlapping it.
type itFound struct {
	q  int
	id uint64
}

// itVisit is a node a batched query has yet to look into.
type itVisit[V any] struct {
	n *itNode[V]
	q int
	j int // n.startingBy(qs[q])
}

// itBatch is the scratch space of overlappingBatch.
type itBatch[V any] struct {
	cur, next []itVisit[V]
	sink      uint64
}

// overlappingBatch is overlapping for every query of qs at once,
// appending (query index, span id) pairs to out. It walks the tree a level at a
// time for all the queries, touching the nodes of a level in a loop that
// does nothing else before searching them, so that their cache misses
// overlap rather than come one by one.
func (t *intervalTree[V]) overlappingBatch(qs []span, after, upTo uint64, b *itBatch[V], out []itFound) []itFound {
	if t.root == nil || after >= upTo || len(qs) == 0 {
		return out
	}
	cur := b.cur[:0]
	for i := range qs {
		cur = append(cur, itVisit[V]{n: t.root, q: i})
	}
	next := b.next[:0]
	for level := t.height; len(cur) > 0; level-- {
		var x uint64
		for _, v := range cur { // the lines a binary search of lo reads
			for i := 0; i < v.n.n; i += 4 {
				x += v.n.lo[i].lo
			}
		}
		// Then the slot each search ends at, and the lines of the walk
		// back from it.
		for i := range cur {
			v := &cur[i]
			v.j = v.n.startingBy(&qs[v.q])
			if j := v.j - 1; j >= 0 {
				x += v.n.pm[j].lo + v.n.hi[j].lo + v.n.maxSeq[j] + v.n.minSeq[j]
			}
		}
		b.sink += x
		next = next[:0]
		var buf [itMax]uint8
		for _, v := range cur {
			for _, i := range v.n.matchingBefore(v.j, &qs[v.q], after, upTo, &buf) {
				if level > 0 {
					next = append(next, itVisit[V]{n: v.n.child[i], q: v.q})
				} else {
					out = append(out, itFound{v.q, v.n.id[i]})
				}
			}
		}
		cur, next = next, cur
	}
	clear(cur[:cap(cur)]) // let the nodes go
	clear(next[:cap(next)])
	b.cur, b.next = cur[:0], next[:0]
	return out
}

// lessBit is a.less(b) as 0 or 1, without a branch: the borrow of the
// 128-bit subtraction a - b. The binary searches use it so that a
// comparison the branch predictor cannot guess (half of them) costs no
// misprediction.
func (a okey) lessBit(b okey) uint64 {
	_, c := bits.Sub64(a.lo, b.lo, 0)
	_, c = bits.Sub64(a.hi, b.hi, c)
	return c
}
