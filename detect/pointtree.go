package detect

import "fmt"

// pointTree is a set of points (order key, id), where an id carries a
// sequence number above its idxBits low bits (see treeID), answering
// "which points with an order key in span q and a sequence number in
// (after, upTo]" in O(log n + m) for m answers when the sequence numbers do
// not prune.
//
// It indexes the keys own transactions write, one point per (transaction,
// key), for the use check of the ranges an incoming transaction read. An
// interval tree would do (a point is a span of one key), but a point needs
// no upper bound nor prefix maximum, and its sequence number is in its id:
// a leaf slot here is 24 bytes where an interval tree's is 80, and the
// window holds several points per own transaction.
//
// It is a B+ tree ordered by (order key, id). An inner node's slot keeps
// the key its subtree starts at (at most the keys in the subtree, above
// those of the subtrees before it) and the smallest and largest sequence
// numbers in the subtree, so that a query skips a subtree whose sequence
// numbers all lie outside (after, upTo]: the writes inside a wide range
// that are clock-after the incoming transaction are not visited, a subtree
// at a time. Nodes split when full and are removed when empty, and never
// merge (the window drains by Prune and TruncateFrom; see intervalTree).
type pointTree struct {
	root   *ptNode
	height int // levels below the root
	n      int
}

// ptMax is the number of slots of a node.
const ptMax = 32

// ptNode is a leaf, whose slots are points, or an inner node (inner !=
// nil), whose slots are subtrees.
type ptNode struct {
	n     int
	ok    [ptMax]okey
	id    [ptMax]uint64
	inner *ptInner
}

// ptInner is what an inner node has beyond a leaf: by slot, the subtree
// and its sequence range.
type ptInner struct {
	minSeq, maxSeq [ptMax]uint64
	child          [ptMax]*ptNode
}

func ptSeq(id uint64) uint64 { return id >> idxBits }

// len returns the number of points in the tree.
func (t *pointTree) len() int { return t.n }

// insert adds the point (ok, id), which must not be in the tree.
func (t *pointTree) insert(ok okey, id uint64) {
	if t.root == nil {
		t.root = &ptNode{}
	}
	if t.root.n == ptMax {
		old := t.root
		t.root = &ptNode{n: 1, inner: &ptInner{}}
		t.root.ok[0], t.root.id[0] = old.ok[0], old.id[0]
		t.root.inner.child[0] = old
		t.root.split(0)
		t.height++
	}
	seq := ptSeq(id)
	n := t.root
	for level := t.height; level > 0; level-- {
		i := n.find(ok, id)
		if i < 0 {
			i = 0 // below every key: the first subtree takes it
			n.ok[0], n.id[0] = ok, id
		}
		if n.inner.child[i].n == ptMax {
			n.split(i)
			if n.keyAtMost(i+1, ok, id) {
				i++
			}
		}
		in := n.inner
		in.minSeq[i], in.maxSeq[i] = min(in.minSeq[i], seq), max(in.maxSeq[i], seq)
		n = in.child[i]
	}
	i := n.find(ok, id) + 1
	n.open(i)
	n.ok[i], n.id[i] = ok, id
	t.n++
}

// delete removes the point (ok, id), which must be in the tree.
func (t *pointTree) delete(ok okey, id uint64) {
	if t.root == nil || !t.root.delete(ok, id, t.height) {
		panic(fmt.Sprintf("detect: point tree: deleting point %d at %v, which is not in the tree", id, ok))
	}
	t.n--
	for t.height > 0 && t.root.n == 1 {
		t.root = t.root.inner.child[0]
		t.height--
	}
	if t.root.n == 0 {
		t.root, t.height = nil, 0
	}
}

// delete removes (ok, id) from the subtree at n, level levels high, and
// reports whether it was there.
func (n *ptNode) delete(ok okey, id uint64, level int) bool {
	i := n.find(ok, id)
	if i < 0 {
		return false
	}
	if level == 0 {
		if n.ok[i] != ok || n.id[i] != id {
			return false
		}
		n.close(i)
		return true
	}
	c := n.inner.child[i]
	if !c.delete(ok, id, level-1) {
		return false
	}
	switch seq := ptSeq(id); {
	case c.n == 0:
		n.close(i)
	case seq == n.inner.minSeq[i] || seq == n.inner.maxSeq[i]:
		n.summarize(i)
	}
	return true
}

// query appends to out the ids of the points with an order key in q and a
// sequence number in (after, upTo].
func (t *pointTree) query(q *span, after, upTo uint64, out []uint64) []uint64 {
	if t.root == nil || after >= upTo || q.hi.less(q.lo) {
		return out
	}
	return t.root.collect(q, after, upTo, t.height, out)
}

func (n *ptNode) collect(q *span, after, upTo uint64, level int, out []uint64) []uint64 {
	// The first slot at or above q.lo; in an inner node, the subtree
	// before it may hold keys equal to q.lo too.
	i := n.lowerBound(q.lo)
	if level == 0 {
		for ; i < n.n && !q.hi.less(n.ok[i]); i++ {
			if s := ptSeq(n.id[i]); s > after && s <= upTo {
				out = append(out, n.id[i])
			}
		}
		return out
	}
	in := n.inner
	for i = max(i-1, 0); i < n.n && !q.hi.less(n.ok[i]); i++ {
		if in.maxSeq[i] <= after || in.minSeq[i] > upTo {
			continue
		}
		out = in.child[i].collect(q, after, upTo, level-1, out)
	}
	return out
}

// lowerBound returns the first slot whose order key is at least ok.
func (n *ptNode) lowerBound(ok okey) int {
	// The first slot not below ok.
	base, m := 0, n.n
	for m > 1 {
		half := m >> 1
		base += half & -int(n.ok[base+half].lessBit(ok))
		m -= half
	}
	if m == 1 {
		base += int(n.ok[base].lessBit(ok))
	}
	return base
}

// keyAtMost reports whether the key of slot i is at most (ok, id).
func (n *ptNode) keyAtMost(i int, ok okey, id uint64) bool {
	if n.ok[i] != ok {
		return n.ok[i].less(ok)
	}
	return n.id[i] <= id
}

// find returns the last slot whose key is at most (ok, id), or -1.
func (n *ptNode) find(ok okey, id uint64) int {
	j, k := 0, n.n
	for j < k {
		m := int(uint(j+k) >> 1)
		if n.keyAtMost(m, ok, id) {
			j = m + 1
		} else {
			k = m
		}
	}
	return j - 1
}

// moveSlot copies slot from of m to slot to of n.
func (n *ptNode) moveSlot(to int, m *ptNode, from int) {
	n.ok[to], n.id[to] = m.ok[from], m.id[from]
	if n.inner != nil {
		n.inner.minSeq[to], n.inner.maxSeq[to] = m.inner.minSeq[from], m.inner.maxSeq[from]
		n.inner.child[to] = m.inner.child[from]
	}
}

// clearSlot lets go of what slot i held.
func (n *ptNode) clearSlot(i int) {
	n.ok[i], n.id[i] = okey{}, 0
	if n.inner != nil {
		n.inner.minSeq[i], n.inner.maxSeq[i], n.inner.child[i] = 0, 0, nil
	}
}

// open shifts the slots from i up by one, making room at i.
func (n *ptNode) open(i int) {
	for j := n.n; j > i; j-- {
		n.moveSlot(j, n, j-1)
	}
	n.n++
}

// close removes slot i, shifting the slots after it down.
func (n *ptNode) close(i int) {
	for j := i; j < n.n-1; j++ {
		n.moveSlot(j, n, j+1)
	}
	n.n--
	n.clearSlot(n.n)
}

// split moves the upper half of the full child at slot i to a new node at
// slot i+1.
func (n *ptNode) split(i int) {
	c := n.inner.child[i]
	r := &ptNode{}
	if c.inner != nil {
		r.inner = &ptInner{}
	}
	for j := ptMax / 2; j < c.n; j++ {
		r.moveSlot(r.n, c, j)
		r.n++
		c.clearSlot(j)
	}
	c.n = ptMax / 2
	n.open(i + 1)
	n.inner.child[i+1] = r
	n.ok[i+1], n.id[i+1] = r.ok[0], r.id[0]
	n.summarize(i) // slot i keeps its key, which may be below c's first
	n.summarize(i + 1)
}

// summarize recomputes the sequence range of slot i from its child.
func (n *ptNode) summarize(i int) {
	c := n.inner.child[i]
	var lo, hi uint64
	if c.inner == nil {
		lo, hi = ptSeq(c.id[0]), ptSeq(c.id[0])
		for j := 1; j < c.n; j++ {
			s := ptSeq(c.id[j])
			lo, hi = min(lo, s), max(hi, s)
		}
	} else {
		lo, hi = c.inner.minSeq[0], c.inner.maxSeq[0]
		for j := 1; j < c.n; j++ {
			lo, hi = min(lo, c.inner.minSeq[j]), max(hi, c.inner.maxSeq[j])
		}
	}
	n.inner.minSeq[i], n.inner.maxSeq[i] = lo, hi
}
