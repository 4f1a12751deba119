package detect

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// The alphabet of the brute-force checks. Bound keys have at most two
// bytes, so every key that can witness an overlap ("", a bound's key, or
// that key + "\x00") has at most three, and allKeys holds them all: the
// brute force over allKeys is exact.
var (
	alphabet = []byte{0, 'a', 'b'}
	allKeys  = func() [][]byte {
		keys := [][]byte{{}}
		for n := 1; n <= 3; n++ {
			for _, k := range keys {
				if len(k) == n-1 {
					for _, c := range alphabet {
						keys = append(keys, append(bytes.Clone(k), c))
					}
				}
			}
		}
		return keys
	}()
)

// member is the definition of k in iv, written without nonEmpty.
func member(iv interval, k []byte) bool {
	if !iv.lo.unbounded {
		c := bytes.Compare(k, iv.lo.key)
		if c < 0 || c == 0 && !iv.lo.inclusive {
			return false
		}
	}
	if !iv.hi.unbounded {
		c := bytes.Compare(k, iv.hi.key)
		if c > 0 || c == 0 && !iv.hi.inclusive {
			return false
		}
	}
	return true
}

func bruteOverlaps(a, b interval) bool {
	for _, k := range allKeys {
		if member(a, k) && member(b, k) {
			return true
		}
	}
	return false
}

func shortKey() *rapid.Generator[[]byte] {
	return rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 2)
}

func boundGen() *rapid.Generator[bound] {
	return rapid.Custom(func(t *rapid.T) bound {
		return newBound(shortKey().Draw(t, "key"), rapid.IntRange(0, 4).Draw(t, "unbounded") == 0, rapid.Bool().Draw(t, "inclusive"))
	})
}

func intervalGen() *rapid.Generator[interval] {
	return rapid.Custom(func(t *rapid.T) interval {
		if rapid.IntRange(0, 4).Draw(t, "point") == 0 {
			return pointInterval(shortKey().Draw(t, "k"))
		}
		return interval{lo: boundGen().Draw(t, "lo"), hi: boundGen().Draw(t, "hi")}
	})
}

func TestNonEmptyEdges(t *testing.T) {
	b := func(k string, incl bool) bound { return newBound([]byte(k), false, incl) }
	inf := newBound(nil, true, false)
	for _, c := range []struct {
		lo, hi bound
		want   bool
	}{
		{b("a", false), b("a\x00", false), false}, // nothing between a key and the next one
		{b("a", false), b("a\x00", true), true},
		{b("a", true), b("a\x00", false), true},
		{b("a", false), b("a\x00\x00", false), true}, // a\x00 is inside
		{b("a", false), b("b", false), true},
		{b("a", true), b("a", true), true},
		{b("a", true), b("a", false), false},
		{b("b", true), b("a", true), false},
		{inf, b("", false), false}, // nothing below the empty key
		{inf, b("", true), true},
		{b("", false), inf, true},
		{inf, inf, true},
		{b("\xff", false), inf, true},
	} {
		if got := nonEmpty(&c.lo, &c.hi); got != c.want {
			t.Errorf("nonEmpty(%v) = %v, want %v", interval{c.lo, c.hi}, got, c.want)
		}
	}
}

// The interval algebra against the definition, over every witness key.
func TestIntervalAlgebra(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, q := intervalGen().Draw(t, "a"), intervalGen().Draw(t, "q")
		if got, want := a.overlaps(&q), bruteOverlaps(a, q); got != want {
			t.Fatalf("%v overlaps %v = %v, want %v", a, q, got, want)
		}
		if got, want := nonEmpty(&a.lo, &a.hi), bruteOverlaps(a, a); got != want {
			t.Fatalf("nonEmpty(%v) = %v, want %v", a, got, want)
		}
		// The bound orders agree with inclusion of the key sets, and the
		// key order with bytes.Compare.
		inf := newBound(nil, true, false)
		for _, k := range allKeys {
			if cmpLower(&a.lo, &q.lo) <= 0 && member(interval{lo: q.lo, hi: inf}, k) && !member(interval{lo: a.lo, hi: inf}, k) {
				t.Fatalf("lower %v <= %v but %q is above only the second", a, q, k)
			}
			if cmpUpper(&a.hi, &q.hi) <= 0 && member(interval{lo: inf, hi: a.hi}, k) && !member(interval{lo: inf, hi: q.hi}, k) {
				t.Fatalf("upper %v <= %v but %q is below only the first", a, q, k)
			}
		}
		if got, want := cmpKeys(&a.lo, &q.hi), bytes.Compare(a.lo.key, q.hi.key); got != want {
			t.Fatalf("cmpKeys(%q, %q) = %d, want %d", a.lo.key, q.hi.key, got, want)
		}
		// A range read converts to the interval journal.RangeRead.Contains
		// describes.
		r := journal.RangeRead{Lo: shortKey().Draw(t, "lo"), Hi: shortKey().Draw(t, "hi"),
			LoInclusive: rapid.Bool().Draw(t, "li"), HiInclusive: rapid.Bool().Draw(t, "hi")}
		iv := rangeInterval(&r)
		for _, k := range allKeys {
			p := pointInterval(k)
			if r.Contains(k) != member(iv, k) || member(iv, k) != iv.overlaps(&p) || contains(&r, k) != r.Contains(k) {
				t.Fatalf("range %+v as %v: key %q: Contains %v, member %v, overlaps %v, contains %v",
					r, iv, k, r.Contains(k), member(iv, k), iv.overlaps(&p), contains(&r, k))
			}
		}
	})
}

// longKey draws keys around the 16 bytes bound keeps inline: a run of 'a's
// of 0 to 18 bytes, then up to 3 bytes of the alphabet.
func longKey() *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		k := bytes.Repeat([]byte("a"), rapid.IntRange(0, 18).Draw(t, "run"))
		return append(k, rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 3).Draw(t, "tail")...)
	})
}

// Long keys: the inline prefixes compare like bytes.Compare, and nonEmpty
// agrees with its definition: the smallest key above lo ("" for -inf, lo's
// key if inclusive, else lo's key + "\x00") is below hi.
func TestLongKeys(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := longKey().Draw(t, "a"), longKey().Draw(t, "b")
		ba, bb := newBound(a, false, true), newBound(b, false, true)
		if got, want := cmpKeys(&ba, &bb), bytes.Compare(a, b); got != want {
			t.Fatalf("cmpKeys(%q, %q) = %d, want %d", a, b, got, want)
		}
		if got, want := isSuccessor(a, b), bytes.Equal(b, append(bytes.Clone(a), 0)); got != want {
			t.Fatalf("isSuccessor(%q, %q) = %v, want %v", a, b, got, want)
		}
		lo := newBound(a, rapid.IntRange(0, 5).Draw(t, "loInf") == 0, rapid.Bool().Draw(t, "loIncl"))
		hi := newBound(b, rapid.IntRange(0, 5).Draw(t, "hiInf") == 0, rapid.Bool().Draw(t, "hiIncl"))
		smallest := []byte{}
		if !lo.unbounded {
			smallest = bytes.Clone(lo.key)
			if !lo.inclusive {
				smallest = append(smallest, 0)
			}
		}
		if got, want := nonEmpty(&lo, &hi), member(interval{lo: lo, hi: hi}, smallest); got != want {
			t.Fatalf("nonEmpty(%v) = %v, want %v", interval{lo, hi}, got, want)
		}
	})
}

type liveInterval struct {
	iv     interval
	seq    uint64
	val    int
	handle itHandle
}

// The interval tree against a list, through random inserts, deletes and
// queries, with the tree's invariants checked after every change. Small
// trees stay in one node, so most runs use many intervals.
func TestIntervalTreeMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var tree intervalTree[int]
		var live []liveInterval
		seq := uint64(0)
		for step := range rapid.IntRange(1, 600).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 6 || len(live) == 0:
				iv := intervalGen().Draw(t, "iv")
				// Sequence numbers mostly increase, as OSeqs do, but the
				// tree must not depend on it.
				if rapid.IntRange(0, 3).Draw(t, "jump") > 0 {
					seq += uint64(rapid.IntRange(0, 2).Draw(t, "dseq"))
				} else {
					seq = uint64(rapid.IntRange(0, 400).Draw(t, "seq"))
				}
				x := liveInterval{iv: iv, seq: seq, val: step}
				x.handle = tree.insert(iv, seq, step)
				live = append(live, x)
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
					tree.delete(live[i].handle)
					live = slices.Delete(live, i, i+1)
					if len(live) == 0 {
						break
					}
				}
			default:
				q := intervalGen().Draw(t, "q")
				after := uint64(rapid.IntRange(0, 420).Draw(t, "after"))
				upTo := uint64(rapid.IntRange(0, 420).Draw(t, "upTo"))
				if rapid.Bool().Draw(t, "unboundedUpTo") {
					upTo = ^uint64(0)
				}
				if rapid.Bool().Draw(t, "allSeqs") {
					after, upTo = 0, ^uint64(0)
				}
				got := tree.overlapping(&q, after, upTo, nil)
				var want []int
				for _, x := range live {
					if x.seq > after && x.seq <= upTo && bruteOverlaps(x.iv, q) {
						want = append(want, x.val)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("overlapping(%v, (%d, %d]) = %v, want %v", q, after, upTo, got, want)
				}
			}
			if err := checkTree(&tree); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// cmpHandle orders tree keys: lower bound, then id.
func cmpHandle(a, b *itHandle) int {
	if c := cmpLower(&a.lo, &b.lo); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// checkTree checks the B+ tree's shape, order, keys and summaries.
func checkTree[V any](t *intervalTree[V]) error {
	if t.root == nil {
		if t.n != 0 || t.height != 0 {
			return fmt.Errorf("empty tree with n %d, height %d", t.n, t.height)
		}
		return nil
	}
	count := 0
	// walk checks the subtree at n, whose keys must lie in [lo, hi) (nil:
	// unbounded).
	var walk func(n *itNode[V], level int, lo, hi *itHandle) error
	walk = func(n *itNode[V], level int, lo, hi *itHandle) error {
		if n.n < 1 || n.n > itMax || n == t.root && level > 0 && n.n < 2 {
			return fmt.Errorf("node at level %d has %d slots", level, n.n)
		}
		for i := range itMax {
			if i >= n.n && (n.lo[i].key != nil || n.hi[i].key != nil || n.child[i] != nil) {
				return fmt.Errorf("slot %d at level %d is past the end but not cleared", i, level)
			}
		}
		for i := range n.n {
			key := &itHandle{lo: n.lo[i], id: n.id[i]}
			if n.loPre[i] != loPre(&n.lo[i]) || n.hiPre[i] != hiPre(&n.hi[i]) {
				return fmt.Errorf("slot %d at level %d: pres out of date", i, level)
			}
			if lo != nil && cmpHandle(key, lo) < 0 || hi != nil && cmpHandle(key, hi) >= 0 {
				return fmt.Errorf("slot %d at level %d (id %d) outside its subtree's key range", i, level, key.id)
			}
			if level == 0 {
				if n.minSeq[i] != n.maxSeq[i] {
					return fmt.Errorf("leaf slot with a sequence range")
				}
				count++
				continue
			}
			next := hi
			if i+1 < n.n {
				next = &itHandle{lo: n.lo[i+1], id: n.id[i+1]}
				if cmpHandle(key, next) >= 0 {
					return fmt.Errorf("slots %d, %d at level %d out of order", i, i+1, level)
				}
			}
			c := n.child[i]
			hiB, minSeq, maxSeq := c.hi[0], c.minSeq[0], c.maxSeq[0]
			for j := 1; j < c.n; j++ {
				if cmpUpper(&c.hi[j], &hiB) > 0 {
					hiB = c.hi[j]
				}
				minSeq, maxSeq = min(minSeq, c.minSeq[j]), max(maxSeq, c.maxSeq[j])
			}
			if cmpUpper(&hiB, &n.hi[i]) != 0 || minSeq != n.minSeq[i] || maxSeq != n.maxSeq[i] {
				return fmt.Errorf("slot %d at level %d: summary (%v, %d, %d), want (%v, %d, %d)",
					i, level, n.hi[i], n.minSeq[i], n.maxSeq[i], hiB, minSeq, maxSeq)
			}
			if err := walk(c, level-1, key, next); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(t.root, t.height, nil, nil); err != nil {
		return err
	}
	if count != t.n {
		return fmt.Errorf("tree holds %d intervals, len says %d", count, t.n)
	}
	return nil
}

// A tree several levels high: many intervals, deleted from the front, the
// back and the middle, with queries checked against a scan (using overlaps,
// which TestIntervalAlgebra checks against the definition).
func TestIntervalTreeLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	key := func() []byte {
		if r.IntN(4) == 0 {
			return []byte{alphabet[r.IntN(3)], alphabet[r.IntN(3)]}
		}
		return binary.BigEndian.AppendUint32([]byte("k"), r.Uint32N(1<<16))
	}
	randInterval := func() interval {
		switch r.IntN(10) {
		case 0:
			return pointInterval(key())
		case 1:
			return interval{lo: newBound(nil, true, false), hi: newBound(key(), false, r.IntN(2) == 0)}
		case 2:
			return interval{lo: newBound(key(), false, r.IntN(2) == 0), hi: newBound(nil, true, false)}
		}
		lo, hi := key(), key()
		if bytes.Compare(lo, hi) > 0 && r.IntN(8) > 0 {
			lo, hi = hi, lo
		}
		return interval{lo: newBound(lo, false, r.IntN(2) == 0), hi: newBound(hi, false, r.IntN(2) == 0)}
	}
	var tree intervalTree[int]
	var live []liveInterval
	check := func(phase string) {
		t.Helper()
		if err := checkTree(&tree); err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		for range 200 {
			q := randInterval()
			if r.IntN(3) == 0 {
				q = pointInterval(key())
			}
			after := r.Uint64N(uint64(len(live)) + 2)
			upTo := after + r.Uint64N(uint64(len(live))+2)
			got := tree.overlapping(&q, after, upTo, nil)
			var want []int
			for _, x := range live {
				if x.seq > after && x.seq <= upTo && x.iv.overlaps(&q) {
					want = append(want, x.val)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: overlapping(%v, (%d, %d]): %d answers, want %d", phase, q, after, upTo, len(got), len(want))
			}
		}
	}
	seq := 0
	add := func(n int) {
		for range n {
			seq++
			iv := randInterval()
			live = append(live, liveInterval{iv: iv, seq: uint64(seq), val: seq, handle: tree.insert(iv, uint64(seq), seq)})
		}
	}
	add(30_000)
	if tree.height < 2 {
		t.Fatalf("height %d: the test wants a tree of several levels", tree.height)
	}
	check("filled")
	for _, x := range live[:10_000] { // Prune
		tree.delete(x.handle)
	}
	live = live[10_000:]
	check("pruned")
	for _, x := range live[15_000:] { // TruncateFrom
		tree.delete(x.handle)
	}
	live = live[:15_000]
	check("truncated")
	add(10_000)
	r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for _, x := range live[:20_000] {
		tree.delete(x.handle)
	}
	live = live[20_000:]
	check("random deletes")
	for _, x := range live {
		tree.delete(x.handle)
	}
	live = nil
	check("emptied")
	add(100)
	check("refilled")
}
