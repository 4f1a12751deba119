package detect

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

type livePoint struct {
	ok okey
	id uint64
}

func cmpPoint(a, b livePoint) int {
	if c := cmpOkey(a.ok, b.ok); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// bruteQuery is pointTree.query by a scan of the live points, sorted.
func bruteQuery(live []livePoint, q span, after, upTo uint64) []uint64 {
	var want []uint64
	for _, p := range live {
		if s := ptSeq(p.id); s > after && s <= upTo && q.has(p.ok) {
			want = append(want, p.id)
		}
	}
	slices.Sort(want)
	return want
}

// The point tree against a list, through random inserts, deletes and
// queries, with the tree's invariants checked after every change.
func TestPointTreeMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var tree pointTree
		var live []livePoint
		seq, next := uint64(0), uint64(0)
		for range rapid.IntRange(1, 600).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 6 || len(live) == 0:
				// Sequence numbers mostly increase, as OSeqs do, but the
				// tree must not depend on it; many points share a key.
				if rapid.IntRange(0, 3).Draw(t, "jump") > 0 {
					seq += uint64(rapid.IntRange(0, 2).Draw(t, "dseq"))
				} else {
					seq = uint64(rapid.IntRange(0, 400).Draw(t, "seq"))
				}
				next++
				p := livePoint{orderKey(shortKey().Draw(t, "k")), treeID(seq, int(next%(1<<idxBits)))}
				if slices.ContainsFunc(live, func(x livePoint) bool { return x == p }) {
					continue
				}
				tree.insert(p.ok, p.id)
				live = append(live, p)
			case op < 8:
				// Delete mostly the oldest (Prune) or the newest
				// (TruncateFrom), sometimes any, sometimes many.
				for range rapid.IntRange(1, 1+len(live)/4).Draw(t, "deletes") {
					i := 0
					switch rapid.IntRange(0, 2).Draw(t, "which") {
					case 1:
						i = len(live) - 1
					case 2:
						i = rapid.IntRange(0, len(live)-1).Draw(t, "del")
					}
					tree.delete(live[i].ok, live[i].id)
					live = slices.Delete(live, i, i+1)
					if len(live) == 0 {
						break
					}
				}
			default:
				q := spanGen().Draw(t, "q")
				after := uint64(rapid.IntRange(0, 420).Draw(t, "after"))
				upTo := uint64(rapid.IntRange(0, 420).Draw(t, "upTo"))
				if rapid.Bool().Draw(t, "unboundedUpTo") {
					upTo = ^uint64(0) >> idxBits
				}
				if rapid.Bool().Draw(t, "allSeqs") {
					after, upTo = 0, ^uint64(0)>>idxBits
				}
				got := tree.query(&q, after, upTo, nil)
				slices.Sort(got)
				if want := bruteQuery(live, q, after, upTo); !slices.Equal(got, want) {
					t.Fatalf("query(%v, (%d, %d]) = %v, want %v", q, after, upTo, got, want)
				}
			}
			if err := checkPointTree(&tree); err != nil {
				t.Fatal(err)
			}
			if tree.len() != len(live) {
				t.Fatalf("len %d, want %d", tree.len(), len(live))
			}
		}
	})
}

// A tree several levels high, filled and drained as a window is, with
// queries checked against a scan.
func TestPointTreeLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	var tree pointTree
	var live []livePoint
	check := func(phase string) {
		t.Helper()
		if err := checkPointTree(&tree); err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		for range 200 {
			lo := r.Uint32N(1 << 16)
			q := span{orderKey(binary.BigEndian.AppendUint32([]byte("k"), lo)),
				orderKey(binary.BigEndian.AppendUint32([]byte("k"), lo+r.Uint32N(1<<12)))}
			after := r.Uint64N(uint64(len(live)) + 2)
			upTo := after + r.Uint64N(uint64(len(live))+2)
			got := tree.query(&q, after, upTo, nil)
			slices.Sort(got)
			if want := bruteQuery(live, q, after, upTo); !slices.Equal(got, want) {
				t.Fatalf("%s: query(%v, (%d, %d]): %d answers, want %d", phase, q, after, upTo, len(got), len(want))
			}
		}
	}
	seq := uint64(0)
	add := func(n int) {
		for range n {
			seq++
			for i := range 1 + r.IntN(4) { // a transaction writes a few keys
				p := livePoint{orderKey(binary.BigEndian.AppendUint32([]byte("k"), r.Uint32N(1<<16))), treeID(seq, i)}
				tree.insert(p.ok, p.id)
				live = append(live, p)
			}
		}
	}
	add(20_000)
	if tree.height < 2 {
		t.Fatalf("height %d: the test wants a tree of several levels", tree.height)
	}
	check("filled")
	for _, p := range live[:20_000] { // Prune
		tree.delete(p.ok, p.id)
	}
	live = live[20_000:]
	check("pruned")
	for _, p := range live[10_000:] { // TruncateFrom
		tree.delete(p.ok, p.id)
	}
	live = live[:10_000]
	check("truncated")
	r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for _, p := range live {
		tree.delete(p.ok, p.id)
	}
	live = nil
	check("emptied")
	add(100)
	check("refilled")
}

// checkPointTree checks the B+ tree's shape, order, keys and summaries.
func checkPointTree(t *pointTree) error {
	if t.root == nil {
		if t.n != 0 || t.height != 0 {
			return fmt.Errorf("empty point tree with n %d, height %d", t.n, t.height)
		}
		return nil
	}
	count := 0
	// walk checks the subtree at n, whose keys must lie in [lo, hi) (nil:
	// unbounded), and returns its sequence range.
	var walk func(n *ptNode, level int, lo, hi *livePoint) (uint64, uint64, error)
	walk = func(n *ptNode, level int, lo, hi *livePoint) (minSeq, maxSeq uint64, err error) {
		if n.n < 1 || n.n > ptMax || n == t.root && level > 0 && n.n < 2 {
			return 0, 0, fmt.Errorf("node at level %d has %d slots", level, n.n)
		}
		if (level == 0) != (n.inner == nil) {
			return 0, 0, fmt.Errorf("node at level %d: inner %v", level, n.inner != nil)
		}
		for i := n.n; i < ptMax; i++ {
			if n.ok[i] != (okey{}) || n.id[i] != 0 || n.inner != nil && n.inner.child[i] != nil {
				return 0, 0, fmt.Errorf("slot %d at level %d is past the end but not cleared", i, level)
			}
		}
		minSeq = ^uint64(0)
		for i := range n.n {
			key := livePoint{n.ok[i], n.id[i]}
			if lo != nil && cmpPoint(key, *lo) < 0 || hi != nil && cmpPoint(key, *hi) >= 0 {
				return 0, 0, fmt.Errorf("slot %d at level %d (id %d) outside its subtree's key range", i, level, key.id)
			}
			var next *livePoint
			if i+1 < n.n {
				next = &livePoint{n.ok[i+1], n.id[i+1]}
				if cmpPoint(key, *next) >= 0 {
					return 0, 0, fmt.Errorf("slots %d, %d at level %d out of order", i, i+1, level)
				}
			} else {
				next = hi
			}
			if level == 0 {
				count++
				minSeq, maxSeq = min(minSeq, ptSeq(key.id)), max(maxSeq, ptSeq(key.id))
				continue
			}
			lo, hi, err := walk(n.inner.child[i], level-1, &key, next)
			if err != nil {
				return 0, 0, err
			}
			if lo != n.inner.minSeq[i] || hi != n.inner.maxSeq[i] {
				return 0, 0, fmt.Errorf("slot %d at level %d: sequence range [%d, %d], want [%d, %d]",
					i, level, n.inner.minSeq[i], n.inner.maxSeq[i], lo, hi)
			}
			minSeq, maxSeq = min(minSeq, lo), max(maxSeq, hi)
		}
		return minSeq, maxSeq, nil
	}
	if _, _, err := walk(t.root, t.height, nil, nil); err != nil {
		return err
	}
	if count != t.n {
		return fmt.Errorf("tree holds %d points, len says %d", count, t.n)
	}
	return nil
}
