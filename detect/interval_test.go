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
// that key + "\x00") has at most three, and allKeys holds them all.
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

func shortKey() *rapid.Generator[[]byte] {
	return rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 2)
}

// longKey draws keys around the 15 bytes an order key holds: a run of 'a's
// of 0 to 18 bytes, then up to 3 bytes of the alphabet.
func longKey() *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		k := bytes.Repeat([]byte("a"), rapid.IntRange(0, 18).Draw(t, "run"))
		return append(k, rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 3).Draw(t, "tail")...)
	})
}

func rangeGen(key *rapid.Generator[[]byte]) *rapid.Generator[journal.RangeRead] {
	return rapid.Custom(func(t *rapid.T) journal.RangeRead {
		r := journal.RangeRead{LoInclusive: rapid.Bool().Draw(t, "loIncl"), HiInclusive: rapid.Bool().Draw(t, "hiIncl")}
		if rapid.IntRange(0, 4).Draw(t, "loInf") > 0 {
			r.Lo = key.Draw(t, "lo")
		}
		if rapid.IntRange(0, 4).Draw(t, "hiInf") > 0 {
			r.Hi = key.Draw(t, "hi")
		}
		return r
	})
}

func cmpOkey(a, b okey) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (s span) has(o okey) bool { return !o.less(s.lo) && !s.hi.less(o) }

func (s span) overlaps(q span) bool { return !s.hi.less(q.lo) && !q.hi.less(s.lo) }

// Order keys are monotone, and exact for keys of at most 15 bytes.
func TestOrderKey(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := longKey().Draw(t, "a"), longKey().Draw(t, "b")
		c, want := cmpOkey(orderKey(a), orderKey(b)), bytes.Compare(a, b)
		if len(a) < 16 && len(b) < 16 && c != want || c != 0 && c != want {
			t.Fatalf("order keys of %q, %q compare %d, the keys %d", a, b, c, want)
		}
	})
	for _, k := range []string{"", "\x00", "a", "a\x00", "aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaa\x00", "aaaaaaaaaaaaaab"} {
		if o := orderKey([]byte(k)); byte(o.lo) != byte(min(len(k), 16)) {
			t.Errorf("order key of %q is %v", k, o)
		}
	}
}

// A range read's span holds the order key of every key in the range, and of
// no short key outside it.
func TestRangeSpan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := shortKey()
		if rapid.Bool().Draw(t, "long") {
			keys = longKey()
		}
		r := rangeGen(keys).Draw(t, "r")
		s, ok := rangeSpan(&r)
		probes := append(slices.Clone(allKeys), rapid.SliceOfN(longKey(), 20, 20).Draw(t, "probes")...)
		for _, k := range [][]byte{r.Lo, r.Hi} {
			probes = append(probes, k, append(bytes.Clone(k), 0), append(bytes.Clone(k), 'a'))
			if len(k) > 0 {
				probes = append(probes, k[:len(k)-1])
			}
		}
		for _, k := range probes {
			in := ok && s.has(orderKey(k))
			if r.Contains(k) && !in || len(k) < 16 && in && !r.Contains(k) {
				t.Fatalf("range %q %v %q %v as %v (non-empty %v): key %q: contained %v, in the span %v",
					r.Lo, r.LoInclusive, r.Hi, r.HiInclusive, s, ok, k, r.Contains(k), in)
			}
			if contains(&r, k) != r.Contains(k) {
				t.Fatalf("contains(%+v, %q) = %v", r, k, contains(&r, k))
			}
		}
	})
}

func spanGen() *rapid.Generator[span] {
	return rapid.Custom(func(t *rapid.T) span {
		if rapid.IntRange(0, 4).Draw(t, "point") == 0 {
			return pointSpan(shortKey().Draw(t, "k"))
		}
		r := rangeGen(shortKey()).Draw(t, "r")
		s, _ := rangeSpan(&r) // empty spans too: the tree must cope
		return s
	})
}

type liveSpan struct {
	s      span
	seq    uint64
	val    int
	handle itHandle
}

// The interval tree against a list, through random inserts, deletes and
// queries, with the tree's invariants checked after every change. Small
// trees stay in one node, so most runs use many spans.
func TestIntervalTreeMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var tree intervalTree[int]
		var live []liveSpan
		seq := uint64(0)
		for step := range rapid.IntRange(1, 600).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 6 || len(live) == 0:
				s := spanGen().Draw(t, "s")
				// Sequence numbers mostly increase, as OSeqs do, but the
				// tree must not depend on it.
				if rapid.IntRange(0, 3).Draw(t, "jump") > 0 {
					seq += uint64(rapid.IntRange(0, 2).Draw(t, "dseq"))
				} else {
					seq = uint64(rapid.IntRange(0, 400).Draw(t, "seq"))
				}
				x := liveSpan{s: s, seq: seq, val: step}
				x.handle = tree.insert(s, seq, step)
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
				q := spanGen().Draw(t, "q")
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
					if x.seq > after && x.seq <= upTo && x.s.overlaps(q) {
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
	if c := cmpOkey(a.lo, b.lo); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// checkTree checks the B+ tree's shape, order, keys and summaries.
func checkTree[V comparable](t *intervalTree[V]) error {
	if t.root == nil {
		if t.n != 0 || t.height != 0 {
			return fmt.Errorf("empty tree with n %d, height %d", t.n, t.height)
		}
		return nil
	}
	count := 0
	var zero V
	// walk checks the subtree at n, whose keys must lie in [lo, hi) (nil:
	// unbounded).
	var walk func(n *itNode[V], level int, lo, hi *itHandle) error
	walk = func(n *itNode[V], level int, lo, hi *itHandle) error {
		if n.n < 1 || n.n > itMax || n == t.root && level > 0 && n.n < 2 {
			return fmt.Errorf("node at level %d has %d slots", level, n.n)
		}
		for i := range itMax {
			if i >= n.n && (n.val[i] != zero || n.child[i] != nil) {
				return fmt.Errorf("slot %d at level %d is past the end but not cleared", i, level)
			}
		}
		for i := range n.n {
			key := &itHandle{lo: n.lo[i], id: n.id[i]}
			if lo != nil && cmpHandle(key, lo) < 0 || hi != nil && cmpHandle(key, hi) >= 0 {
				return fmt.Errorf("slot %d at level %d (id %d) outside its subtree's key range", i, level, key.id)
			}
			pm := n.hi[i]
			if i > 0 && pm.less(n.pm[i-1]) {
				pm = n.pm[i-1]
			}
			if pm != n.pm[i] {
				return fmt.Errorf("slot %d at level %d: prefix max %v, want %v", i, level, n.pm[i], pm)
			}
			if i+1 < n.n && cmpHandle(key, &itHandle{lo: n.lo[i+1], id: n.id[i+1]}) >= 0 {
				return fmt.Errorf("slots %d, %d at level %d out of order", i, i+1, level)
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
				if hiB.less(c.hi[j]) {
					hiB = c.hi[j]
				}
				minSeq, maxSeq = min(minSeq, c.minSeq[j]), max(maxSeq, c.maxSeq[j])
			}
			if hiB != n.hi[i] || minSeq != n.minSeq[i] || maxSeq != n.maxSeq[i] {
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
		return fmt.Errorf("tree holds %d spans, len says %d", count, t.n)
	}
	return nil
}

// A tree several levels high: many spans, deleted from the front, the back
// and the middle, with queries checked against a scan.
func TestIntervalTreeLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	key := func() []byte {
		if r.IntN(4) == 0 {
			return []byte{alphabet[r.IntN(3)], alphabet[r.IntN(3)]}
		}
		return binary.BigEndian.AppendUint32([]byte("k"), r.Uint32N(1<<16))
	}
	randSpan := func() span {
		switch r.IntN(10) {
		case 0:
			return pointSpan(key())
		case 1:
			s, _ := rangeSpan(&journal.RangeRead{Hi: key(), HiInclusive: r.IntN(2) == 0})
			return s
		case 2:
			s, _ := rangeSpan(&journal.RangeRead{Lo: key(), LoInclusive: r.IntN(2) == 0})
			return s
		}
		lo, hi := key(), key()
		if bytes.Compare(lo, hi) > 0 && r.IntN(8) > 0 {
			lo, hi = hi, lo
		}
		s, _ := rangeSpan(&journal.RangeRead{Lo: lo, Hi: hi, LoInclusive: r.IntN(2) == 0, HiInclusive: r.IntN(2) == 0})
		return s
	}
	var tree intervalTree[int]
	var live []liveSpan
	check := func(phase string) {
		t.Helper()
		if err := checkTree(&tree); err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		for range 200 {
			q := randSpan()
			if r.IntN(3) == 0 {
				q = pointSpan(key())
			}
			after := r.Uint64N(uint64(len(live)) + 2)
			upTo := after + r.Uint64N(uint64(len(live))+2)
			got := tree.overlapping(&q, after, upTo, nil)
			var want []int
			for _, x := range live {
				if x.seq > after && x.seq <= upTo && x.s.overlaps(q) {
					want = append(want, x.val)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: overlapping(%v, (%d, %d]): %d answers, want %d", phase, q, after, upTo, len(got), len(want))
			}
		}
		// The batched query (in stages, as Window.Check steps it)
		// answers as the queries one by one do. Ids are values here.
		qs := make([]span, 50)
		for i := range qs {
			qs[i] = randSpan()
		}
		after := r.Uint64N(uint64(len(live)) + 2)
		upTo := after + r.Uint64N(uint64(len(live))+2)
		var b itBatch[int]
		got := make([][]int, len(qs))
		for _, f := range tree.overlappingBatch(qs, after, upTo, &b, nil) {
			got[f.q] = append(got[f.q], int(f.id))
		}
		for i := range qs {
			want := tree.overlapping(&qs[i], after, upTo, nil)
			slices.Sort(got[i])
			slices.Sort(want)
			if !slices.Equal(got[i], want) {
				t.Fatalf("%s: overlappingBatch query %d %v (%d, %d]: %d answers, want %d", phase, i, qs[i], after, upTo, len(got[i]), len(want))
			}
		}
	}
	seq := 0
	add := func(n int) {
		for range n {
			seq++
			s := randSpan()
			live = append(live, liveSpan{s: s, seq: uint64(seq), val: seq, handle: tree.insert(s, uint64(seq), seq)})
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
