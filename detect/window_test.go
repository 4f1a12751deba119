package detect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// bruteCheck is the dumb version of Window.Check: a scan of every own
// transaction in the window, in position order.
func bruteCheck(window []*Txn, t *Txn) []Hit {
	var hits []Hit
	for _, o := range window {
		if o.ID.OSeq <= t.PeerSeen {
			continue
		}
		if c, k, ok := Conflict(o, t); ok {
			hits = append(hits, Hit{Own: o, Check: c, Key: k})
		}
	}
	return hits
}

// keyOf reports whether k is one of x's key slices (the same memory).
func keyOf(k []byte, x *Txn) bool {
	same := func(y []byte) bool { return len(k) == len(y) && (len(k) == 0 || &k[0] == &y[0]) }
	return slices.ContainsFunc(x.Reads, same) || slices.ContainsFunc(x.Writes, func(w Write) bool { return same(w.Key) })
}

func hitsString(hs []Hit) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "[%v pos %d hlc %d %v %q] ", h.Own.ID, h.Own.Pos, h.Own.HLC, h.Check, h.Key)
	}
	return b.String()
}

func sameHits(a, b []Hit) bool {
	return slices.EqualFunc(a, b, func(x, y Hit) bool {
		return x.Own == y.Own && x.Check == y.Check && bytes.Equal(x.Key, y.Key)
	})
}

// Window.Check and First against the brute force, on random windows changed
// by random Add, Prune and TruncateFrom, with the indexes checked after
// every step. The own origin is "M"; incoming transactions come from "A" or
// "Z", so that equal HLCs are broken both ways. On failure rapid prints the
// seed and saves the case under testdata/rapid; -rapid.seed=N replays a
// seed, -rapid.checks=N runs more cases.
func TestWindowMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := NewWindow()
		// Weak hashes: keys share the lists of the key table.
		w.collide = rapid.IntRange(0, 3).Draw(t, "collide") == 0
		// Small merges, so that the runs take part.
		w.mergeMin = rapid.IntRange(1, 12).Draw(t, "mergeMin")
		// Point runs without the indexes of the keys (as for keys at index
		// 255 or later), so that Check finds the keys by their bytes.
		w.noIdx = rapid.IntRange(0, 3).Draw(t, "noIdx") == 0
		// Hot lists from few entries of a tag (collide makes tags shared).
		w.keys.hotMin = rapid.SampledFrom([]int{0, 2, 3, 5}).Draw(t, "hotMin")
		// Small blocks of HLCs, so that the searches cross them, and small
		// offsets in them, so that some HLCs go to the map.
		w.hlcs.every = rapid.Uint64Range(1, 8).Draw(t, "hlcEvery")
		w.hlcs.limit = rapid.SampledFrom([]uint64{hlcWide, 4, 1}).Draw(t, "hlcLimit")
		var model []*Txn
		oseq, pos, hlc := uint64(0), uint64(0), uint64(10)
		for range rapid.IntRange(1, 150).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 19).Draw(t, "op"); {
			case op < 9:
				// OSeqs have gaps after a rollback; positions are reused
				// after one (TruncateFrom below moves pos back).
				oseq += rapid.Uint64Range(1, 3).Draw(t, "dOSeq")
				pos += rapid.Uint64Range(1, 3).Draw(t, "dPos")
				hlc += rapid.Uint64Range(1, 3).Draw(t, "dHLC")
				o := txnGen(t, "own")
				o.ID, o.Pos, o.HLC = journal.TxID{Origin: "M", OSeq: oseq}, pos, hlc
				o.PeerSeen = rapid.Uint64Range(0, 10).Draw(t, "own.peerSeen")
				w.Add(o)
				model = append(model, o)
			case op < 11:
				wm := rapid.Uint64Range(0, oseq+1).Draw(t, "watermark")
				w.Prune(wm)
				model = slices.DeleteFunc(model, func(o *Txn) bool { return o.ID.OSeq <= wm })
			case op < 13:
				p := rapid.Uint64Range(0, pos+1).Draw(t, "truncatePos")
				w.TruncateFrom(p)
				model = slices.DeleteFunc(model, func(o *Txn) bool { return o.Pos >= p })
				if n := len(model); n > 0 {
					pos = model[n-1].Pos
				} else {
					pos = min(pos, p)
				}
			default:
				in := txnGen(t, "in")
				// "M" is a misuse (an own transaction checked as incoming),
				// but then equal clocks happen: only the update check may fire.
				in.ID = journal.TxID{Origin: rapid.SampledFrom([]string{"A", "Z", "M"}).Draw(t, "in.origin"), OSeq: 1}
				in.HLC = rapid.Uint64Range(8, hlc+2).Draw(t, "in.hlc")
				in.PeerSeen = rapid.Uint64Range(0, oseq+1).Draw(t, "in.peerSeen")
				got, want := w.Check(in), bruteCheck(model, in)
				if !sameHits(got, want) {
					t.Fatalf("Check(%v hlc %d peerSeen %d):\n got %s\nwant %s", in.ID, in.HLC, in.PeerSeen, hitsString(got), hitsString(want))
				}
				for i := range got { // a key slice of o or t, not a copy
					if !keyOf(got[i].Key, got[i].Own) && !keyOf(got[i].Key, in) {
						t.Fatalf("Check: hit %d: key %q is a slice of neither transaction", i, got[i].Key)
					}
				}
				first, ok := w.First(in)
				if ok != (len(want) > 0) || ok && !sameHits([]Hit{first}, want[:1]) {
					t.Fatalf("First = %s %v, want %s", hitsString([]Hit{first}), ok, hitsString(want))
				}
			}
			if w.Len() != len(model) {
				t.Fatalf("Len %d, want %d", w.Len(), len(model))
			}
			checkWindowIndexes(t, w)
		}
	})
}

// checkRuns checks the runs of w (sorted, fences and segment tree right,
// every entry the write or range it names, dead ones counted, none of a
// transaction rolled off) and returns the number of live entries in them.
// The trees must hold only transactions after the runs'.
func checkRuns(t *rapid.T, w *Window) (points, ranges int) {
	end := w.base + uint64(len(w.txns))
	dead := 0
	entry := func(s uint64) (o *Txn, ok bool) {
		switch {
		case s > w.runSeq || s >= end:
			t.Fatalf("run entry of sequence number %d: above the runs' %d or the window's end %d", s, w.runSeq, end)
		case s < w.base:
			dead++
			return nil, false
		}
		return w.txns[s-w.base], true
	}
	r := &w.runW
	for i := range r.seq.len() {
		if i > 0 && !(r.okAt(i-1).less(r.okAt(i)) || r.okAt(i-1) == r.okAt(i) && r.seqAt(i-1) <= r.seqAt(i)) {
			t.Fatalf("point run out of order at %d", i)
		}
		if o, ok := entry(r.seqAt(i)); ok {
			points++
			if j := r.idx[i]; j == runNoIdx && !slices.ContainsFunc(o.Writes, func(wr Write) bool { return orderKey(wr.Key) == r.okAt(i) }) ||
				j != runNoIdx && orderKey(o.Writes[j].Key) != r.okAt(i) {
				t.Fatalf("point run entry %d (index %d) is not a write of %v", i, j, o.ID)
			}
		}
	}
	oks := make([]okey, r.len())
	for i := range oks {
		oks[i] = r.okAt(i)
	}
	if want := buildPointRun(oks, r.seq.all(), r.idx, r.seq0); !slices.Equal(want.fence.f1.all(), r.fence.f1.all()) || !slices.Equal(want.fence.f2, r.fence.f2) ||
		!slices.Equal(want.his, r.his) || !slices.Equal(want.hb, r.hb) || !slices.Equal(want.hm, r.hm) {
		t.Fatalf("point run fences %v %v, want %v %v", r.fence.f1.all(), r.fence.f2, want.fence.f1.all(), want.fence.f2)
	}
	rr := &w.runR
	var rlo, rhi []okey
	var rseq []uint32
	for i := range rr.len() {
		rlo, rhi, rseq = append(rlo, rr.loAt(i)), append(rhi, rr.hiAt(i)), append(rseq, uint32(rr.seqAt(i)-rr.seq0))
	}
	for i := range rr.len() {
		if i > 0 && !(rlo[i-1].less(rlo[i]) || rlo[i-1] == rlo[i] && rr.seqAt(i-1) <= rr.seqAt(i)) {
			t.Fatalf("range run out of order at %d", i)
		}
		if o, ok := entry(rr.seqAt(i)); ok {
			ranges++
			if !slices.ContainsFunc(o.Ranges, func(g journal.RangeRead) bool {
				s, _ := rangeSpan(&g)
				return s.lo == rlo[i] && s.hi == rhi[i]
			}) {
				t.Fatalf("range run entry %d is not a range of %v", i, o.ID)
			}
		}
	}
	if want := buildRangeRun(rlo, rhi, rseq, rr.seq0); rr.len() > 0 && (!bytes.Equal(want.rec, rr.rec) || want.wide != rr.wide || !slices.Equal(want.loHis, rr.loHis) || !slices.Equal(want.hiHis, rr.hiHis) ||
		!slices.Equal(want.fence.f1.all(), rr.fence.f1.all()) || !slices.Equal(want.fence.f2, rr.fence.f2) || !slices.Equal(want.seg.all(), rr.seg.all())) {
		t.Fatalf("range run records, fences or segment tree not as built")
	}
	if dead != w.dead {
		t.Fatalf("the runs hold %d dead entries, the window counted %d", dead, w.dead)
	}
	w.writes.each(func(_ okey, id uint64) {
		if id>>idxBits <= w.runSeq {
			t.Fatalf("point tree holds sequence number %d, which the runs cover (to %d)", id>>idxBits, w.runSeq)
		}
	})
	w.ranges.each(func(_, _ okey, id uint64) {
		if id>>idxBits <= w.runSeq {
			t.Fatalf("interval tree holds sequence number %d, which the runs cover (to %d)", id>>idxBits, w.runSeq)
		}
	})
	return points, ranges
}

// checkWindowIndexes checks that the indexes hold exactly the window.
func checkWindowIndexes(t *rapid.T, w *Window) {
	checkHLCs(t, w)
	checkOSeqRuns(t, w)
	points, ranges, refs := 0, 0, 0
	want := make(map[uint64]int) // the entries the touch table must hold
	for i, o := range w.txns {
		if w.oseqs.at(w.base+uint64(i)) != o.ID.OSeq || w.hlcs.at(i, w.base+uint64(i)) != o.HLC || i > 0 && !w.txns[i-1].Before(o) {
			t.Fatalf("own %d out of order or out of date", i)
		}
		seq := w.base + uint64(i)
		eachTouch(o, func(k []byte, roles, ki int) {
			refs++
			want[touchEntry(w.hash(k), uint32(seq), roles, ki)]++
			if !bytes.Equal(w.keyAt(uint32(seq), uint32(ki)), k) {
				t.Fatalf("key index %d of %v is not key %q", ki, o.ID, k)
			}
			if roles&(roleAdd|roleSet) != 0 {
				points++
			}
		})
		for j := range o.Ranges {
			if _, ok := rangeSpan(&o.Ranges[j]); ok {
				ranges++
			}
		}
	}
	if err := checkTree(&w.ranges); err != nil {
		t.Fatal(err)
	}
	if err := checkPointTree(&w.writes); err != nil {
		t.Fatal(err)
	}
	runPoints, runRanges := checkRuns(t, w)
	if w.writes.len()+runPoints != points || w.ranges.len()+runRanges != ranges {
		t.Fatalf("trees hold %d points and %d ranges, the runs %d and %d live, the window %d and %d",
			w.writes.len(), w.ranges.len(), runPoints, runRanges, points, ranges)
	}
	tt := &w.keys
	used, inLists := 0, 0
	hot, inTable := map[uint64]bool{}, map[uint64]int{}
	for i, e := range tt.slots {
		if e == 0 {
			continue
		}
		used++
		// Robin Hood order: along a cluster, each entry is at most one
		// slot further from its home than the one before it (so homes do
		// not decrease), and a cluster starts with an entry at its home.
		p := (i + len(tt.slots) - 1) % len(tt.slots)
		if d := tt.dist(i, e); tt.slots[p] == 0 && d != 0 || tt.slots[p] != 0 && d > tt.dist(p, tt.slots[p])+1 {
			t.Fatalf("entry %x at slot %d, %d from its home, after an entry %d from its home", e, i, d, tt.dist(p, tt.slots[p]))
		}
		if isMarker(e) {
			if hot[touchTag(e)] {
				t.Fatalf("two markers of tag %x", touchTag(e))
			}
			hot[touchTag(e)] = true
			h := &tt.hot[touchSeq(e)]
			n := 0
			for c, es := range h.by {
				for j, x := range es {
					n++
					if touchTag(x) != touchTag(e) || class(touchRoles(x)) != c {
						t.Fatalf("hot list of tag %x holds entry %x (tag %x, roles %d) in class %d", touchTag(e), x, touchTag(x), touchRoles(x), c)
					}
					if j > 0 && touchSeq(x)-uint32(w.base) < touchSeq(es[j-1])-uint32(w.base) {
						t.Fatalf("hot list of tag %x, class %d, out of sequence order at %d", touchTag(e), c, j)
					}
					inLists++
					if want[x] == 0 {
						t.Fatalf("hot entry %x (seq %d, roles %d, index %d) is not a touch of the window", x, touchSeq(x), touchRoles(x), touchIdx(x))
					}
					want[x]--
				}
			}
			if n == 0 {
				t.Fatalf("hot list of tag %x is empty but marked", touchTag(e))
			}
			continue
		}
		inTable[touchTag(e)]++
		if want[e] == 0 {
			t.Fatalf("entry %x (seq %d, roles %d, index %d) is not a touch of the window", e, touchSeq(e), touchRoles(e), touchIdx(e))
		}
		want[e]--
	}
	for tag, n := range inTable {
		if hot[tag] || n >= tt.hotAt() {
			t.Fatalf("tag %x has %d entries in the table (hot list: %v), the most is %d", tag, n, hot[tag], tt.hotAt()-1)
		}
	}
	if len(tt.hot) != len(hot)+len(tt.free) {
		t.Fatalf("%d hot lists, %d markers, %d free", len(tt.hot), len(hot), len(tt.free))
	}
	for _, i := range tt.free {
		if tt.hot[i].len() != 0 {
			t.Fatalf("free hot list %d holds %d entries", i, tt.hot[i].len())
		}
	}
	if used != tt.n || used-len(hot)+inLists != refs {
		t.Fatalf("touch table holds %d entries (n %d, %d markers), its hot lists %d, the window %d", used, tt.n, len(hot), inLists, refs)
	}
	if tt.n > 0 && float64(tt.n) > touchMaxLoad*float64(len(tt.slots)) {
		t.Fatalf("touch table of %d slots holds %d entries: above the load it grows at", len(tt.slots), tt.n)
	}
}

func TestWindowAddPanics(t *testing.T) {
	own := func(oseq, pos, hlc uint64) *Txn {
		return &Txn{ID: journal.TxID{Origin: "A", OSeq: oseq}, Pos: pos, HLC: hlc}
	}
	for _, c := range []struct {
		name string
		next *Txn
		want string
	}{
		{"OSeq reused", own(5, 20, 200), "OSeq 5 is not above the last one added, 5"},
		{"position not after", own(6, 10, 200), "position 10 is not above 10"},
		{"clock not after", own(6, 11, 100), "clock (100, \"A\") is not after (100, \"A\")"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := NewWindow()
			w.Add(own(5, 10, 100))
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, c.want) {
					t.Fatalf("panic %v, want one containing %q", r, c.want)
				}
			}()
			w.Add(c.next)
		})
	}
	// OSeqs are never reused, not even after a rollback removed them.
	w := NewWindow()
	w.Add(own(5, 10, 100))
	w.TruncateFrom(10)
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("re-adding a rolled-off OSeq did not panic")
		}
	}()
	w.Add(own(5, 10, 101))
}

// The window returns hits in position order, one per own transaction, with
// the first check that fires.
func TestWindowExample(t *testing.T) {
	w := NewWindow()
	o1 := &Txn{ID: journal.TxID{Origin: "B", OSeq: 1}, Pos: 3, HLC: 10, Writes: []Write{{Key: []byte("seat/12")}}}
	o2 := &Txn{ID: journal.TxID{Origin: "B", OSeq: 2}, Pos: 5, HLC: 20,
		Ranges: []journal.RangeRead{{Lo: []byte("seat/"), Hi: []byte("seat0"), LoInclusive: true}},
		Writes: []Write{{Key: []byte("seat/13")}}}
	o3 := &Txn{ID: journal.TxID{Origin: "B", OSeq: 4}, Pos: 9, HLC: 40, Reads: [][]byte{[]byte("acct/7")}, Writes: []Write{{Key: []byte("log"), Add: true}}}
	for _, o := range []*Txn{o1, o2, o3} {
		w.Add(o)
	}
	// The liege's a, at HLC 15, scanned the seats and booked seat 14 and
	// added to the log and acct/7.
	a := &Txn{ID: journal.TxID{Origin: "A", OSeq: 9}, HLC: 15,
		Ranges: []journal.RangeRead{{Lo: []byte("seat/"), Hi: []byte("seat0"), LoInclusive: true}},
		Writes: []Write{{Key: []byte("seat/14")}, {Key: []byte("log"), Add: true}, {Key: []byte("acct/7"), Add: true}}}
	want := []Hit{
		{Own: o1, Check: CheckUse, Key: []byte("seat/12")},       // o1 inserted into a's scan before a
		{Own: o2, Check: CheckMirrorUse, Key: []byte("seat/14")}, // a inserted into o2's scan before o2
		{Own: o3, Check: CheckMirrorUse, Key: []byte("acct/7")},  // a added to what o3 read; log is add/add
	}
	if got := w.Check(a); !sameHits(got, want) {
		t.Fatalf("Check:\n got %s\nwant %s", hitsString(got), hitsString(want))
	}
	if h, ok := w.First(a); !ok || h.Own != o1 {
		t.Fatalf("First = %s, want o1", hitsString([]Hit{h}))
	}
	a.PeerSeen = 1 // a's origin had seen o1
	if h, _ := w.First(a); h.Own != o2 {
		t.Fatalf("First with PeerSeen 1 = %s, want o2", hitsString([]Hit{h}))
	}
	w.Prune(2)
	w.TruncateFrom(9)
	if w.Len() != 0 || w.Check(a) != nil || w.keys.n != 0 || w.keys.slots != nil || w.writes.len() != 0 || w.ranges.len() != 0 || w.runW.len() != 0 || w.runR.len() != 0 {
		t.Fatalf("window not empty after Prune and TruncateFrom: %d own, %d keys", w.Len(), w.keys.n)
	}
}

// Benchmarks. Keys are 10 bytes, "k" + 8-byte big-endian number + "v",
// drawn from a million; ranges are short scans of up to 16 keys (the kind
// Next and small Scans record). Own transactions: 6 reads, 3 writes, 1
// range. Incoming: the same shape, with HLC anywhere in the window and
// PeerSeen 0, so that the whole window is unseen (the worst case).

const benchKeySpace = 1 << 20

func benchKey(n uint64) []byte {
	k := make([]byte, 10)
	k[0] = 'k'
	binary.BigEndian.PutUint64(k[1:9], n)
	k[9] = 'v'
	return k
}

// benchTxn makes a transaction through FromRecord, as the engine will.
func benchTxn(r *rand.Rand, origin string, oseq, hlc uint64) *Txn {
	rec := &journal.Record{Kind: journal.KindLocal, Origin: origin, OSeq: oseq, Pos: oseq, HLC: hlc}
	for range 6 {
		rec.Reads = append(rec.Reads, journal.PointRead{Key: benchKey(r.Uint64N(benchKeySpace))})
	}
	for _, op := range []journal.Op{journal.OpSet, journal.OpSet, journal.OpAdd} {
		rec.Writes = append(rec.Writes, journal.Write{Key: benchKey(r.Uint64N(benchKeySpace)), Op: op})
	}
	lo := r.Uint64N(benchKeySpace)
	rec.Ranges = []journal.RangeRead{{Lo: benchKey(lo), Hi: benchKey(lo + 1 + r.Uint64N(16)), LoInclusive: true}}
	return FromRecord(rec)
}

func benchWindow(n int) (*Window, []*Txn) {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	w := NewWindow()
	for i := 1; i <= n; i++ {
		w.Add(benchTxn(r, "A", uint64(i), uint64(i)*10))
	}
	in := make([]*Txn, 4096)
	for i := range in {
		in[i] = benchTxn(r, "B", uint64(i+1), r.Uint64N(uint64(n)*10+10))
	}
	runtime.GC() // not while measuring
	return w, in
}

func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("window=%d", n), func(b *testing.B) {
			w, in := benchWindow(n)
			hits, i := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				hits += len(w.Check(in[i%len(in)]))
				i++
			}
			b.ReportMetric(float64(hits)/float64(i), "hits/op")
		})
	}
}

// BenchmarkCheckWideScan: the incoming transaction scanned a tenth of the
// key space and is clock-before every own transaction, so the ~30,000 own
// writes inside its scan are not conflicts (they came after it). The
// sequence augmentation of the interval tree skips them.
func BenchmarkCheckWideScan(b *testing.B) {
	w, _ := benchWindow(100_000)
	t := &Txn{ID: journal.TxID{Origin: "B", OSeq: 1}, HLC: 1,
		Ranges: []journal.RangeRead{{Lo: benchKey(0), Hi: benchKey(benchKeySpace / 10), LoInclusive: true}},
		Writes: []Write{{Key: []byte("elsewhere")}}}
	b.ReportAllocs()
	for b.Loop() {
		if len(w.Check(t)) != 0 {
			b.Fatal("unexpected hits")
		}
	}
}

// BenchmarkAddPrune: the cost of keeping a window of 100,000 up to date,
// per own transaction added and later pruned.
func BenchmarkAddPrune(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	const n = 100_000
	txns := make([]*Txn, 2*n)
	for i := range txns {
		txns[i] = benchTxn(r, "A", uint64(i+1), uint64(i+1)*10)
	}
	b.ReportAllocs()
	addPruneLoop(b, txns, n)
}

// addPruneLoop measures, per iteration, adding the next of txns to a window
// of n of them and pruning its oldest; it starts over with fresh OSeqs when
// txns run out.
func addPruneLoop(b *testing.B, txns []*Txn, n int) {
	w := NewWindow()
	for _, o := range txns[:n] {
		w.Add(o)
	}
	next := n
	for b.Loop() {
		if next == len(txns) { // start over with fresh OSeqs
			b.StopTimer()
			base := txns[len(txns)-1].ID.OSeq
			for i, o := range txns {
				o.ID.OSeq, o.Pos, o.HLC = base+uint64(i+1), base+uint64(i+1), (base+uint64(i+1))*10
			}
			w = NewWindow()
			for _, o := range txns[:n] {
				w.Add(o)
			}
			next = n
			b.StartTimer()
		}
		w.Add(txns[next])
		w.Prune(txns[next-n].ID.OSeq)
		next++
	}
}

// checkOSeqRuns checks that the runs of OSeqs are as few as the OSeqs
// allow (a run ends where the next OSeq is not the one after), none ends
// before the window, and firstAbove agrees with a scan for every OSeq in
// the window and the values around them.
func checkOSeqRuns(t *rapid.T, w *Window) {
	o := &w.oseqs
	if len(w.txns) == 0 {
		if len(o.seq) != 0 {
			t.Fatalf("an empty window holds %d runs of OSeqs", len(o.seq))
		}
		return
	}
	runs := 1
	for i := 1; i < len(w.txns); i++ {
		if w.txns[i].ID.OSeq != w.txns[i-1].ID.OSeq+1 {
			runs++
		}
	}
	if len(o.seq) != runs || len(o.seq) != len(o.oseq) || (len(o.seq) > 1 && o.seq[1] <= w.base) || o.seq[0] > w.base {
		t.Fatalf("%d runs of OSeqs from %v, want %d from the window's base %d", len(o.seq), o.seq, runs, w.base)
	}
	end := w.base + uint64(len(w.txns))
	var xs []uint64
	for _, own := range w.txns {
		xs = append(xs, own.ID.OSeq-1, own.ID.OSeq, own.ID.OSeq+1)
	}
	xs = append(xs, 0, math.MaxUint64)
	for _, x := range xs {
		want := 0
		for want < len(w.txns) && w.txns[want].ID.OSeq <= x {
			want++
		}
		if got := o.firstAbove(w.base, end, x); got != w.base+uint64(want) {
			t.Fatalf("first OSeq above %d at sequence number %d, want %d", x, got, w.base+uint64(want))
		}
	}
}

// checkHLCs checks the blocks of HLCs: an offset per transaction, a base
// per block from the first transaction's to the last's, the map holding
// exactly the HLCs too far from their bases, and firstAbove agreeing with
// a scan for every HLC in the window and the values around them.
func checkHLCs(t *rapid.T, w *Window) {
	h := &w.hlcs
	if len(h.d) != len(w.txns) {
		t.Fatalf("%d HLC offsets, %d Txns", len(h.d), len(w.txns))
	}
	if len(w.txns) == 0 {
		if len(h.base) != 0 || len(h.wide) != 0 {
			t.Fatalf("an empty window holds %d HLC blocks and %d wide HLCs", len(h.base), len(h.wide))
		}
		return
	}
	last := w.base + uint64(len(w.txns)) - 1
	if h.first != w.base/h.every || h.first+uint64(len(h.base))-1 != last/h.every {
		t.Fatalf("HLC blocks %d to %d, want %d to %d", h.first, h.first+uint64(len(h.base))-1, w.base/h.every, last/h.every)
	}
	wide := 0
	for i, o := range w.txns {
		s := w.base + uint64(i)
		if b := h.base[s/h.every-h.first]; b > o.HLC || (o.HLC-b >= h.limit) != (h.d[i] == hlcWide) {
			t.Fatalf("HLC %d of sequence number %d: base %d, offset %d (limit %d)", o.HLC, s, b, h.d[i], h.limit)
		}
		if h.d[i] == hlcWide {
			wide++
		}
	}
	if wide != len(h.wide) {
		t.Fatalf("%d wide HLCs in the map, %d in the window", len(h.wide), wide)
	}
	var xs []uint64
	for _, own := range w.txns {
		xs = append(xs, own.HLC-1, own.HLC, own.HLC+1)
	}
	xs = append(xs, 0, math.MaxUint64)
	for _, x := range xs {
		want := 0
		for want < len(w.txns) && w.txns[want].HLC <= x {
			want++
		}
		if got := h.firstAbove(w.base, x); got != want {
			t.Fatalf("first HLC above %d at index %d, want %d", x, got, want)
		}
	}
}

// hotTxn is benchTxn plus an Add to one of two counters every transaction
// touches (the ATM app's totals): a key with an entry per own transaction.
func hotTxn(r *rand.Rand, origin string, oseq, hlc uint64) *Txn {
	o := benchTxn(r, origin, oseq, hlc)
	o.Writes = append(o.Writes, Write{Key: []byte(fmt.Sprintf("counter/%d", oseq%2)), Add: true})
	return o
}

// BenchmarkHotKey: a window in which every own transaction Adds to one of
// two counters; per own transaction added and pruned (the window kept at
// its size), and per incoming transaction, which Adds to them too (no
// conflict: Adds commute, so the counters must cost nothing).
func BenchmarkHotKey(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		r := rand.New(rand.NewPCG(3, uint64(n)))
		txns := make([]*Txn, 2*n)
		for i := range txns {
			txns[i] = hotTxn(r, "A", uint64(i+1), uint64(i+1)*10)
		}
		in := make([]*Txn, 4096)
		for i := range in {
			in[i] = hotTxn(r, "B", uint64(i+1), r.Uint64N(uint64(n)*10+10))
		}
		w := NewWindow()
		for _, o := range txns[:n] {
			w.Add(o)
		}
		b.Run(fmt.Sprintf("check/window=%d", n), func(b *testing.B) {
			hits, i := 0, 0
			for b.Loop() {
				hits += len(w.Check(in[i%len(in)]))
				i++
			}
			b.ReportMetric(float64(hits)/float64(i), "hits/op")
		})
		b.Run(fmt.Sprintf("addprune/window=%d", n), func(b *testing.B) { addPruneLoop(b, txns, n) })
	}
}

// A key every own transaction touches goes to a hot list: the table keeps
// one marker for it, not a cluster of the window, and Check answers from
// the list what the brute force does for each kind of incoming touch.
func TestHotKeyGoesToAList(t *testing.T) {
	const n = 5000
	w := NewWindow()
	var model []*Txn
	for i := 1; i <= n; i++ {
		o := &Txn{ID: journal.TxID{Origin: "M", OSeq: uint64(i)}, Pos: uint64(i), HLC: uint64(i) * 10,
			Writes: []Write{{Key: []byte("counter"), Add: true}, {Key: []byte(fmt.Sprintf("k%d", i))}}}
		if i%100 == 0 { // a few read it, a few Set it
			o.Reads = append(o.Reads, []byte("counter"))
		}
		if i%1000 == 0 {
			o.Writes[0].Add = false
		}
		w.Add(o)
		model = append(model, o)
	}
	tag := w.hash([]byte("counter")) >> 40
	inTable, markers := 0, 0
	for _, e := range w.keys.slots {
		switch {
		case e == 0 || touchTag(e) != tag:
		case isMarker(e):
			markers++
			if got := w.keys.hot[touchSeq(e)].len(); got != n {
				t.Fatalf("the hot list of the counter holds %d entries, want %d", got, n)
			}
		default:
			inTable++
		}
	}
	if markers != 1 || inTable != 0 {
		t.Fatalf("the counter has %d markers and %d entries in the table, want 1 and 0", markers, inTable)
	}
	for _, tc := range []struct {
		name string
		t    *Txn
	}{
		{"add", &Txn{Writes: []Write{{Key: []byte("counter"), Add: true}}}},
		{"set", &Txn{Writes: []Write{{Key: []byte("counter")}}}},
		{"read", &Txn{Reads: [][]byte{[]byte("counter")}}},
		{"read and add", &Txn{Reads: [][]byte{[]byte("counter")}, Writes: []Write{{Key: []byte("counter"), Add: true}}}},
	} {
		in := tc.t
		in.ID, in.HLC, in.PeerSeen = journal.TxID{Origin: "B", OSeq: 1}, n*5+3, n/10
		got, want := w.Check(in), bruteCheck(model, in)
		if !sameHits(got, want) {
			t.Fatalf("%s: Check gives %d hits, the brute force %d", tc.name, len(got), len(want))
		}
		if tc.name != "add" && len(want) == 0 {
			t.Fatalf("%s: no hits: the case tests nothing", tc.name)
		}
	}
	w.TruncateFrom(n - 10)
	w.Prune(n)
	if w.keys.n != 0 || w.keys.hot != nil {
		t.Fatalf("an empty window keeps %d entries and %d hot lists", w.keys.n, len(w.keys.hot))
	}
}
