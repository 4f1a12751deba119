package detect

import (
	"cmp"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The runs against brute force, at sizes the window tests do not reach
// (both levels of the fences, the segment tree behind the walk back of
// stab): random points and spans over a small key space, so that keys
// repeat, with a few wide spans.
func TestRunsMatchBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 6000).Draw(t, "n")
		space := rapid.Uint64Range(1, 3000).Draw(t, "space")
		wide := rapid.IntRange(0, 3).Draw(t, "wide")
		seed := rapid.Uint64().Draw(t, "seed")
		rnd := func(i, salt uint64) uint64 { // deterministic from the seed
			x := (seed ^ salt*0x9E3779B97F4A7C15) + i*0xBF58476D1CE4E5B9
			x ^= x >> 31
			x *= 0x94D049BB133111EB
			return x ^ x>>29
		}
		ok := func(v uint64) okey { return okey{hi: v / 7, lo: v % 7} }
		type pt struct {
			ok okey
			id uint64
		}
		type sp struct {
			lo, hi okey
			id     uint64
		}
		pts, sps := make([]pt, n), make([]sp, n)
		// Sequence numbers from 2^24-500 on (wide, past a few records): the
		// range run's records widen while it is built.
		var seqBase uint64 = 1
		if rapid.Bool().Draw(t, "wide") {
			seqBase = 1<<24 - 500
		}
		for i := range n {
			id := treeID(seqBase+rnd(uint64(i), 1)%1000, i)
			pts[i] = pt{ok(rnd(uint64(i), 2) % space), id}
			lo := rnd(uint64(i), 3) % space
			hi := lo + rnd(uint64(i), 4)%20
			if i < wide {
				hi = lo + space
			}
			sps[i] = sp{ok(lo), ok(hi), id}
		}
		slices.SortFunc(pts, func(a, b pt) int {
			if a.ok != b.ok {
				if a.ok.less(b.ok) {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.id, b.id)
		})
		slices.SortFunc(sps, func(a, b sp) int {
			if a.lo != b.lo {
				if a.lo.less(b.lo) {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.id, b.id)
		})
		// The runs keep sequence numbers from seq0 on, and answer ids
		// without the index.
		seq0 := rapid.Uint64Range(0, 1).Draw(t, "seq0")
		var pok []okey
		var pseq []uint32
		var pidx []uint8
		var slo, shi []okey
		var sseq []uint32
		for i := range n {
			pok, pseq, pidx = append(pok, pts[i].ok), append(pseq, uint32(pts[i].id>>idxBits-seq0)), append(pidx, runIdx(pts[i].id))
			if pidx[i] == runNoIdx {
				pts[i].id = treeID(pts[i].id>>idxBits, idxNone)
			}
			slo, shi, sseq = append(slo, sps[i].lo), append(shi, sps[i].hi), append(sseq, uint32(sps[i].id>>idxBits-seq0))
			sps[i].id = treeID(sps[i].id>>idxBits, idxNone)
		}
		pr, rr := buildPointRun(pok, pseq, pidx, seq0), buildRangeRun(slo, shi, sseq, seq0)
		// searchAll answers as the searches one by one do.
		var ss []runSearch
		for range 20 {
			k := ok(rapid.Uint64Range(0, space+1).Draw(t, "k"))
			ss = append(ss, runSearch{f: &pr.fence, p: &pr.okeys, k: k}, runSearch{f: &rr.fence, rr: &rr, k: k, strict: true})
		}
		searchAll(ss)
		for _, s := range ss {
			want := 0
			if s.rr != nil {
				want = s.rr.search(s.k)
				for want < s.rr.len() && !s.k.less(s.rr.loAt(want)) || want > 0 && s.k.less(s.rr.loAt(want-1)) {
					t.Fatalf("range run search %v: %d, not the number of spans starting at or before it", s.k, want)
				}
			} else {
				want = s.f.search(s.p, s.k, s.strict)
			}
			if s.i != want {
				t.Fatalf("searchAll %v (strict %v): %d, want %d", s.k, s.strict, s.i, want)
			}
		}
		for range 20 {
			a, b := rapid.Uint64Range(0, space).Draw(t, "a"), rapid.Uint64Range(0, space).Draw(t, "b")
			after := rapid.Uint64Range(0, 1000).Draw(t, "after")
			upTo := rapid.Uint64Range(after, 1001).Draw(t, "upTo")
			q := span{ok(min(a, b)), ok(max(a, b))}
			in := func(id uint64) bool { return id>>idxBits > after && id>>idxBits <= upTo }
			var want []uint64
			for _, p := range pts {
				if !p.ok.less(q.lo) && !q.hi.less(p.ok) && in(p.id) {
					want = append(want, p.id)
				}
			}
			if got := pr.query(&q, after, upTo, nil); !slices.Equal(got, want) {
				t.Fatalf("query %v (%d, %d]: got %v, want %v", q, after, upTo, got, want)
			}
			want = want[:0]
			for _, s := range sps {
				if !q.lo.less(s.lo) && !s.hi.less(q.lo) && in(s.id) {
					want = append(want, s.id)
				}
			}
			got := rr.stab(q.lo, after, upTo, nil)
			if rr.len() > 0 {
				pr.touchFrom(pr.firstAtLeast(q.lo)) // in bounds
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("stab %v (%d, %d]: got %v, want %v", q.lo, after, upTo, got, want)
			}
		}
	})
}

// TestRunSeqs checks that the packed sequence numbers of a run read back
// as added, in 3 bytes each and after a value past 2^24 made them 4.
func TestRunSeqs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		xs := rapid.SliceOf(rapid.OneOf(rapid.Uint32Range(0, 1<<24-1), rapid.Uint32())).Draw(t, "xs")
		s := makeRunSeqs(rapid.IntRange(0, 4).Draw(t, "cap"))
		for i, x := range xs {
			s.add(x)
			if s.len() != i+1 || s.at(i) != x {
				t.Fatalf("after adding %d: len %d, last %d", x, s.len(), s.at(i))
			}
		}
		if got := s.all(); !slices.Equal(got, xs) && len(xs) > 0 {
			t.Fatalf("got %v, want %v", got, xs)
		}
		if wide := slices.ContainsFunc(xs, func(x uint32) bool { return x >= 1<<24 }); s.wide != wide {
			t.Fatalf("wide %v, want %v", s.wide, wide)
		}
	})
}

// TestRangeRunStabBounds stabs, at every key, runs of unit spans [i, i]
// with a few long spans among them whose upper bounds end exactly on
// keys blocks later: the walk back over the records' prefix maxima (of
// the blocks before each) must go on while one reaches the key, also
// past four blocks (the segment tree), and stop only when none does.
func TestRangeRunStabBounds(t *testing.T) {
	ok := func(v uint64) okey { return okey{lo: v} }
	for _, long := range [][2]uint64{{0, 35}, {3, 16}, {17, 32}, {5, 100}, {40, 41}, {0, 0}} {
		var lo, hi []okey
		var seq []uint32
		for i := range uint64(120) {
			lo, hi, seq = append(lo, ok(i)), append(hi, ok(i)), append(seq, uint32(i+1))
			if i == long[0] {
				lo, hi, seq = append(lo, ok(i)), append(hi, ok(long[1])), append(seq, 1000)
			}
		}
		r := buildRangeRun(lo, hi, seq, 0)
		for k := range uint64(130) {
			var want []uint64
			for i := range lo {
				if !ok(k).less(lo[i]) && !hi[i].less(ok(k)) {
					want = append(want, treeID(uint64(seq[i]), idxNone))
				}
			}
			got := r.stab(ok(k), 0, 2000, nil)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("long span %v: stab %d: got %v, want %v", long, k, got, want)
			}
		}
	}
}
