package detect

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/liege-db/liege/journal"
)

// bound is one end of an interval of keys (byte strings in bytewise order).
type bound struct {
	// pre and pre2 are the key's first 16 bytes, big-endian, zero-padded.
	// Only keys that agree on them and are both longer than 16 bytes need
	// the keys themselves to be compared: a cache miss saved per comparison
	// of short keys (a tuple key such as ("seat", "gala", 12) has 14 bytes).
	pre, pre2 uint64
	key       []byte
	unbounded bool // -inf as a lower bound, +inf as an upper bound
	inclusive bool
}

func newBound(key []byte, unbounded, inclusive bool) bound {
	var b [16]byte
	copy(b[:], key)
	return bound{
		pre: binary.BigEndian.Uint64(b[:8]), pre2: binary.BigEndian.Uint64(b[8:]),
		key: key, unbounded: unbounded, inclusive: inclusive,
	}
}

// interval is the set of keys k with lo <= k <= hi, each end inclusive or
// exclusive or unbounded. It may be empty.
type interval struct{ lo, hi bound }

// rangeInterval converts a range read; an empty Lo or Hi is unbounded, as in
// journal.RangeRead.Contains.
func rangeInterval(r *journal.RangeRead) interval {
	return interval{
		lo: newBound(r.Lo, len(r.Lo) == 0, r.LoInclusive),
		hi: newBound(r.Hi, len(r.Hi) == 0, r.HiInclusive),
	}
}

// pointInterval is the interval holding exactly k (which may be empty).
func pointInterval(k []byte) interval {
	b := newBound(k, false, true)
	return interval{lo: b, hi: b}
}

// cmpKeys compares the keys of two bounds, as bytes.Compare.
func cmpKeys(a, b *bound) int {
	switch {
	case a.pre != b.pre:
		return cmp.Compare(a.pre, b.pre)
	case a.pre2 != b.pre2:
		return cmp.Compare(a.pre2, b.pre2)
	case len(a.key) <= 16 || len(b.key) <= 16:
		// Equal first 16 bytes with zero padding: a key of at most 16
		// bytes is a prefix of the other key, zero padding and all.
		return cmp.Compare(len(a.key), len(b.key))
	}
	return bytes.Compare(a.key[16:], b.key[16:])
}

// cmpLower orders lower bounds by the sets of keys above them, largest set
// first: -inf, then by key, and for one key inclusive before exclusive.
func cmpLower(a, b *bound) int {
	switch {
	case a.unbounded && b.unbounded:
		return 0
	case a.unbounded:
		return -1
	case b.unbounded:
		return 1
	}
	if c := cmpKeys(a, b); c != 0 {
		return c
	}
	switch {
	case a.inclusive == b.inclusive:
		return 0
	case a.inclusive:
		return -1
	}
	return 1
}

// cmpUpper orders upper bounds by the sets of keys below them, smallest set
// first: by key, for one key exclusive before inclusive, and +inf last.
func cmpUpper(a, b *bound) int {
	switch {
	case a.unbounded && b.unbounded:
		return 0
	case a.unbounded:
		return 1
	case b.unbounded:
		return -1
	}
	if c := cmpKeys(a, b); c != 0 {
		return c
	}
	switch {
	case a.inclusive == b.inclusive:
		return 0
	case a.inclusive:
		return 1
	}
	return -1
}

// nonEmpty reports whether some key k satisfies lo <= k <= hi. Keys are
// discrete: the smallest key above k is k+"\x00", so ("a", "a\x00") holds
// nothing, and nothing is below the empty key.
func nonEmpty(lo, hi *bound) bool {
	switch {
	case hi.unbounded:
		return true // lo's key, or the key right after it
	case lo.unbounded:
		return len(hi.key) > 0 || hi.inclusive // "" is the smallest key
	}
	switch c := cmpKeys(lo, hi); {
	case c > 0:
		return false
	case c == 0:
		return lo.inclusive && hi.inclusive
	}
	// lo.key < hi.key: lo.key itself if inclusive, else the key right after
	// it, lo.key+"\x00", which is <= hi.key and equal only if hi.key is
	// exactly that.
	return lo.inclusive || hi.inclusive || !isSuccessor(lo.key, hi.key)
}

// isSuccessor reports whether b == a+"\x00", the key right after a.
func isSuccessor(a, b []byte) bool {
	return len(b) == len(a)+1 && b[len(a)] == 0 && bytes.HasPrefix(b, a)
}

// overlaps reports whether iv and q have a key in common.
func (iv *interval) overlaps(q *interval) bool { return overlap(&iv.lo, &iv.hi, q) }

// overlap reports whether the interval from lo to hi and q have a key in
// common: whether their intersection, from the larger lower bound to the
// smaller upper bound, is not empty.
func overlap(lo, hi *bound, q *interval) bool {
	if cmpLower(&q.lo, lo) > 0 {
		lo = &q.lo
	}
	if cmpUpper(&q.hi, hi) < 0 {
		hi = &q.hi
	}
	return nonEmpty(lo, hi)
}

func (iv interval) String() string {
	lo, hi := "(-inf", "+inf)"
	if !iv.lo.unbounded {
		lo = fmt.Sprintf("(%q", iv.lo.key)
		if iv.lo.inclusive {
			lo = fmt.Sprintf("[%q", iv.lo.key)
		}
	}
	if !iv.hi.unbounded {
		hi = fmt.Sprintf("%q)", iv.hi.key)
		if iv.hi.inclusive {
			hi = fmt.Sprintf("%q]", iv.hi.key)
		}
	}
	return lo + ", " + hi
}

// intervalTree is a set of intervals, each with a sequence number and a
// value, answering "which intervals with a sequence number in (after, upTo]
// overlap q" in O(log n + m) for m answers when the sequence numbers do not
// prune.
//
// It is the interval tree of CLRS section 14.3 (ordered by lower bound,
// each subtree augmented with its largest upper bound) built as a B+ tree
// rather than a binary tree, and augmented with the smallest and largest
// sequence numbers too. A subtree whose intervals all end before q starts,
// or whose sequence numbers all lie outside (after, upTo], is skipped whole,
// and the scan of an inner node stops at the first subtree that starts after
// q ends. Intervals inserted in sequence order with equal lower bounds (many
// transactions scanning the same range) sit in subtrees of consecutive
// sequence numbers, so those are skipped too.
//
// Why a B+ tree: a window of 100,000 transactions does not fit in the
// caches, and a binary tree costs a dependent cache miss per level (a treap
// of 100,000 ranges has ~30 levels: ~5 µs per query, measured). Here a node
// keeps the summaries of its slots in arrays, so scanning one is a few
// adjacent cache lines, and the tree has 3 or 4 levels.
//
// Inner nodes keep their slots sorted. Leaves do not: a leaf is scanned
// whole anyway, and unsorted it takes an interval by appending and gives
// one up by moving its last slot into the hole, without shifting arrays of
// bounds; it is sorted only when it splits. Nodes split when full and are
// removed when empty, and never merge: a window drains by Prune and
// TruncateFrom, so nodes empty out rather than linger half full, and the
// height is that of the largest size reached.
type intervalTree[V any] struct {
	root   *itNode[V]
	height int // levels below the root
	nextID uint64
	n      int
}

// itMax is the number of slots of a node.
const itMax = 32

// itNode is a leaf, whose slots are intervals, or an inner node, whose slots
// are subtrees. A slot's key is (lower bound, id). The slots of an inner
// node are in key order; the key of a subtree's slot is at most the keys in
// the subtree and above the keys in the subtrees before it, and the slot
// summarizes the subtree's largest upper bound and sequence range.
type itNode[V any] struct {
	n int
	// The summaries the queries scan, by slot: the pres of the lower and
	// upper bounds (0 for -inf and MaxUint64 for +inf, which only ever
	// make the quick comparisons inconclusive), and the sequence range.
	loPre, hiPre   [itMax]uint64
	minSeq, maxSeq [itMax]uint64
	// The bounds themselves, for when the pres do not decide.
	lo, hi [itMax]bound
	id     [itMax]uint64
	// Leaves hold values, inner nodes children.
	val   [itMax]V
	child [itMax]*itNode[V]
}

// itHandle names an interval in the tree, for delete.
type itHandle struct {
	lo bound
	id uint64
}

// len returns the number of intervals in the tree.
func (t *intervalTree[V]) len() int { return t.n }

// insert adds iv with sequence number seq and value v, and returns the
// handle to pass to delete.
func (t *intervalTree[V]) insert(iv interval, seq uint64, v V) itHandle {
	t.nextID++
	h := itHandle{lo: iv.lo, id: t.nextID}
	hp := loPre(&h.lo)
	if t.root == nil {
		t.root = &itNode[V]{}
	}
	if t.root.n == itMax {
		old := t.root
		t.root = &itNode[V]{n: 1}
		t.root.child[0] = old
		t.root.split(0, t.height)
		t.root.copyKey(0, old, 0) // old is sorted now
		t.height++
	}
	n := t.root
	for level := t.height; level > 0; level-- {
		i := n.find(&h, hp)
		if i < 0 {
			i = 0 // below every key: the first subtree takes it
			n.lo[0], n.loPre[0], n.id[0] = h.lo, hp, h.id
		}
		if n.child[i].n == itMax {
			n.split(i, level-1)
			if n.keyAtMost(i+1, &h, hp) {
				i++
			}
		}
		// Widen the summary on the way down; the new interval ends below.
		if cmpUpper(&iv.hi, &n.hi[i]) > 0 {
			n.hi[i], n.hiPre[i] = iv.hi, hiPre(&iv.hi)
		}
		n.minSeq[i], n.maxSeq[i] = min(n.minSeq[i], seq), max(n.maxSeq[i], seq)
		n = n.child[i]
	}
	i := n.n
	n.n++
	n.lo[i], n.hi[i], n.id[i] = iv.lo, iv.hi, h.id
	n.loPre[i], n.hiPre[i] = hp, hiPre(&iv.hi)
	n.minSeq[i], n.maxSeq[i] = seq, seq
	n.val[i] = v
	t.n++
	return h
}

// delete removes the interval h names, which must be in the tree.
func (t *intervalTree[V]) delete(h itHandle) {
	if t.root == nil {
		t.notFound(&h)
	}
	if _, _, ok := t.root.delete(&h, loPre(&h.lo), t.height); !ok {
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
	panic(fmt.Sprintf("detect: interval tree: deleting interval %d starting at %v, which is not in the tree",
		h.id, interval{lo: h.lo, hi: bound{unbounded: true}}))
}

// delete removes h from the subtree at n, level levels high, and reports
// whether it was there, with the upper bound and sequence number it had
// (the summaries above need recomputing only if it was their extreme).
func (n *itNode[V]) delete(h *itHandle, hp uint64, level int) (hi bound, seq uint64, ok bool) {
	if level == 0 {
		for i := range n.n {
			if n.id[i] == h.id {
				hi, seq = n.hi[i], n.minSeq[i]
				n.n--
				n.moveSlot(i, n.n)
				return hi, seq, true
			}
		}
		return hi, seq, false
	}
	i := n.find(h, hp)
	if i < 0 {
		return hi, seq, false
	}
	c := n.child[i]
	if hi, seq, ok = c.delete(h, hp, level-1); !ok {
		return hi, seq, false
	}
	switch {
	case c.n == 0:
		n.close(i)
	case cmpUpper(&hi, &n.hi[i]) == 0 || seq == n.minSeq[i] || seq == n.maxSeq[i]:
		n.summarize(i)
	}
	return hi, seq, true
}

// overlapping appends to out the values of the intervals that overlap q and
// whose sequence numbers lie in (after, upTo].
func (t *intervalTree[V]) overlapping(q *interval, after, upTo uint64, out []V) []V {
	if t.root == nil || after >= upTo {
		return out
	}
	return t.root.collect(q, loPre(&q.lo), hiPre(&q.hi), after, upTo, t.height, out)
}

func (n *itNode[V]) collect(q *interval, qlo, qhi, after, upTo uint64, level int, out []V) []V {
	for i := 0; i < n.n; i++ {
		// Slot i starts after q ends? Then, in an inner node, so do the
		// slots after it.
		if n.loPre[i] > qhi || n.loPre[i] == qhi && !nonEmpty(&n.lo[i], &q.hi) {
			if level > 0 {
				break
			}
			continue
		}
		// Slot i ends before q starts, or is out of sequence? (In this
		// order: most slots a query passes end before it.)
		if n.hiPre[i] < qlo || n.maxSeq[i] <= after || n.minSeq[i] > upTo ||
			n.hiPre[i] == qlo && !nonEmpty(&q.lo, &n.hi[i]) {
			continue
		}
		if level > 0 {
			out = n.child[i].collect(q, qlo, qhi, after, upTo, level-1, out)
		} else if overlap(&n.lo[i], &n.hi[i], q) {
			out = append(out, n.val[i])
		}
	}
	return out
}

// The quick comparisons. Where two pres differ the keys differ the same way
// in their first 8 bytes, so one key is below the other and not its
// successor (k+"\x00" has the pre of k): the intersection of two bounds is
// empty exactly when their pres say so. An unbounded end gets the pre that
// never decides: lower 0, upper max.
func loPre(b *bound) uint64 {
	if b.unbounded {
		return 0
	}
	return b.pre
}

func hiPre(b *bound) uint64 {
	if b.unbounded {
		return math.MaxUint64
	}
	return b.pre
}

// keyAtMost reports whether the key of slot i is at most h's (hp is
// loPre(&h.lo)).
func (n *itNode[V]) keyAtMost(i int, h *itHandle, hp uint64) bool {
	if n.loPre[i] != hp {
		return n.loPre[i] < hp
	}
	if c := cmpLower(&n.lo[i], &h.lo); c != 0 {
		return c < 0
	}
	return n.id[i] <= h.id
}

// find returns the last slot of an inner node whose key is at most h's, or
// -1.
func (n *itNode[V]) find(h *itHandle, hp uint64) int {
	return sort.Search(n.n, func(i int) bool { return !n.keyAtMost(i, h, hp) }) - 1
}

// cmpSlots compares the keys of slots i and j.
func (n *itNode[V]) cmpSlots(i, j int) int {
	if c := cmpLower(&n.lo[i], &n.lo[j]); c != 0 {
		return c
	}
	return cmp.Compare(n.id[i], n.id[j])
}

// moveSlot moves slot from to slot to, and clears slot from.
func (n *itNode[V]) moveSlot(to, from int) {
	if to != from {
		n.loPre[to], n.hiPre[to] = n.loPre[from], n.hiPre[from]
		n.minSeq[to], n.maxSeq[to] = n.minSeq[from], n.maxSeq[from]
		n.lo[to], n.hi[to], n.id[to] = n.lo[from], n.hi[from], n.id[from]
		n.val[to], n.child[to] = n.val[from], n.child[from]
	}
	var zero V
	n.lo[from], n.hi[from], n.val[from], n.child[from] = bound{}, bound{}, zero, nil // let go
}

// open shifts the slots of an inner node from i up by one, making room at
// i.
func (n *itNode[V]) open(i int) {
	for j := n.n; j > i; j-- {
		n.moveSlot(j, j-1)
	}
	n.n++
}

// close removes slot i of an inner node, shifting the slots after it down.
func (n *itNode[V]) close(i int) {
	for j := i; j < n.n-1; j++ {
		n.moveSlot(j, j+1)
	}
	n.n--
	n.moveSlot(n.n, n.n) // clear
}

// split moves the upper half of the full child at slot i, level levels
// high, to a new node at slot i+1. A leaf is sorted first.
func (n *itNode[V]) split(i, level int) {
	c := n.child[i]
	if level == 0 {
		c.sort()
	}
	r := &itNode[V]{}
	for j := itMax / 2; j < c.n; j++ {
		r.copySlot(r.n, c, j)
		r.n++
		c.moveSlot(j, j) // clear
	}
	c.n = itMax / 2
	n.open(i + 1)
	n.child[i+1] = r
	n.copyKey(i+1, r, 0)
	n.summarize(i) // slot i keeps its key, which may be below c's first
	n.summarize(i + 1)
}

// sort puts the slots of a leaf in key order.
func (n *itNode[V]) sort() {
	var perm [itMax]int
	for i := range n.n {
		perm[i] = i
	}
	slices.SortFunc(perm[:n.n], n.cmpSlots)
	old := *n
	for i, p := range perm[:n.n] {
		n.copySlot(i, &old, p)
	}
}

// copySlot copies slot j of m to slot i of n.
func (n *itNode[V]) copySlot(i int, m *itNode[V], j int) {
	n.loPre[i], n.hiPre[i] = m.loPre[j], m.hiPre[j]
	n.minSeq[i], n.maxSeq[i] = m.minSeq[j], m.maxSeq[j]
	n.lo[i], n.hi[i], n.id[i] = m.lo[j], m.hi[j], m.id[j]
	n.val[i], n.child[i] = m.val[j], m.child[j]
}

// copyKey sets the key of slot i of n to that of slot j of m.
func (n *itNode[V]) copyKey(i int, m *itNode[V], j int) {
	n.lo[i], n.loPre[i], n.id[i] = m.lo[j], m.loPre[j], m.id[j]
}

// summarize recomputes the summary of slot i from its child.
func (n *itNode[V]) summarize(i int) {
	c := n.child[i]
	hi, minSeq, maxSeq := 0, c.minSeq[0], c.maxSeq[0]
	for j := 1; j < c.n; j++ {
		// A larger pre is a larger upper bound (see hiPre).
		if c.hiPre[j] > c.hiPre[hi] || c.hiPre[j] == c.hiPre[hi] && cmpUpper(&c.hi[j], &c.hi[hi]) > 0 {
			hi = j
		}
		minSeq, maxSeq = min(minSeq, c.minSeq[j]), max(maxSeq, c.maxSeq[j])
	}
	n.hi[i], n.hiPre[i], n.minSeq[i], n.maxSeq[i] = c.hi[hi], c.hiPre[hi], minSeq, maxSeq
}
