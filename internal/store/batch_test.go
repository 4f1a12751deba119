package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// ApplyBatch leaves a store exactly as the same writes applied one by one
// would: contents, versions, Len and RawBytes, on both of its paths (one
// write at a time into a larger tree, or rebuild the tree, with keys the
// tree does not hold), and a snapshot taken before keeps what it held.
func TestApplyBatchMatchesOneByOne(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		want, got := New(), New()
		// A store already holding keys, so both paths run.
		for i := range rapid.IntRange(0, 3000).Draw(t, "preload") {
			k := []byte(fmt.Sprintf("k%05d", i*7%5000))
			want.Set(k, []byte("old"), journal.Version{HLC: 1, Origin: "A"})
			got.Set(k, []byte("old"), journal.Version{HLC: 1, Origin: "A"})
		}
		snap := got.Snapshot()
		before := contents(snap.Ascend)
		parallel := rapid.Bool().Draw(t, "parallel")
		var b Batch
		for range rapid.IntRange(1, 6).Draw(t, "batches") {
			for i := range rapid.IntRange(0, rapid.SampledFrom([]int{10, 500, 5000}).Draw(t, "size")).Draw(t, "writes") {
				k := []byte(fmt.Sprintf("k%05d", rapid.IntRange(0, 6000).Draw(t, "key")))
				if rapid.IntRange(0, 3).Draw(t, "op") == 0 {
					want.Delete(k)
					b.Delete(k)
					continue
				}
				v := []byte(fmt.Sprint("v", i))
				ver := journal.Version{HLC: uint64(i + 2), Origin: rapid.SampledFrom([]string{"A", "B"}).Draw(t, "origin")}
				want.Set(k, v, ver)
				b.Set(got, k, v, ver)
			}
			got.ApplyBatch(&b, parallel)
			if b.Len() != 0 || b.Bytes() != 0 {
				t.Fatalf("the batch holds %d writes (%d bytes) after ApplyBatch", b.Len(), b.Bytes())
			}
			if d := Equal(want, got); d != "" {
				t.Fatalf("batch and one by one differ: %s", d)
			}
			if want.Len() != got.Len() || want.RawBytes() != got.RawBytes() {
				t.Fatalf("Len %d vs %d, RawBytes %d vs %d", want.Len(), got.Len(), want.RawBytes(), got.RawBytes())
			}
		}
		if after := contents(snap.Ascend); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("a snapshot taken before ApplyBatch changed")
		}
	})
}

// A batch large enough for the parallel sort (two halves merged) applies
// as one by one would.
func TestApplyBatchParallel(t *testing.T) {
	want, got := New(), New()
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte { return []byte(fmt.Sprintf("\x02t\x00%06d", rng.IntN(120_000))) }
	for range 30_000 {
		k := key()
		want.Set(k, []byte("old"), journal.Version{HLC: 1, Origin: "A"})
		got.Set(k, []byte("old"), journal.Version{HLC: 1, Origin: "A"})
	}
	var b Batch
	for i := range 70_000 {
		k := key()
		if i%5 == 0 {
			want.Delete(k)
			b.Delete(k)
			continue
		}
		v := []byte(fmt.Sprint(i))
		want.Set(k, v, journal.Version{HLC: uint64(i + 2), Origin: "B"})
		b.Set(got, k, v, journal.Version{HLC: uint64(i + 2), Origin: "B"})
	}
	got.ApplyBatch(&b, true)
	if d := Equal(want, got); d != "" {
		t.Fatalf("parallel batch and one by one differ: %s", d)
	}
	if want.Len() != got.Len() || want.RawBytes() != got.RawBytes() {
		t.Fatalf("Len %d vs %d, RawBytes %d vs %d", want.Len(), got.Len(), want.RawBytes(), got.RawBytes())
	}
}

// Batch.Apply and Batch.Undo do what Store.Apply and Store.Undo do, adds
// and absent before-images included.
func TestBatchApplyUndoMatchStore(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		want, got := New(), New()
		var recs []*journal.Record
		for i := range rapid.IntRange(1, 60).Draw(t, "records") {
			r := &journal.Record{Kind: journal.KindLocal, Origin: "A", OSeq: uint64(i + 1), HLC: uint64(100 + i)}
			for range rapid.IntRange(1, 4).Draw(t, "writes") {
				k := []byte{byte(rapid.IntRange(0, 20).Draw(t, "key"))}
				prev, ver, ok := want.Get(k)
				w := journal.Write{Key: k, Op: journal.Op(rapid.IntRange(1, 3).Draw(t, "op")), Value: []byte{byte(i)}}
				if ok {
					w.Before, w.BeforeVersion = append([]byte(nil), prev...), ver
				}
				if w.Op == journal.OpDelete {
					w.Value = nil
				}
				r.Writes = append(r.Writes, w)
				want.Apply(&journal.Record{Kind: r.Kind, Origin: r.Origin, HLC: r.HLC, Writes: []journal.Write{w}})
			}
			recs = append(recs, r)
		}
		var b Batch
		for _, r := range recs {
			b.Apply(got, r)
		}
		got.ApplyBatch(&b, false)
		if d := Equal(want, got); d != "" {
			t.Fatalf("Batch.Apply: %s", d)
		}
		undone := New()
		for i := len(recs) - 1; i >= 0; i-- {
			want.Undo(recs[i])
			b.Undo(got, recs[i])
		}
		got.ApplyBatch(&b, false)
		if d := Equal(want, got); d != "" {
			t.Fatalf("Batch.Undo: %s", d)
		}
		if d := Equal(undone, got); d != "" {
			t.Fatalf("undoing every record from empty left %s", d)
		}
	})
}

func BenchmarkUndoOneByOne(b *testing.B) { benchUndo(b, false) }
func BenchmarkUndoBatch(b *testing.B)    { benchUndo(b, true) }

// benchUndo is a rollback of everything: a store of b.N ticket-like keys
// (written in a pseudo-random order, untimed) deletes them all, newest
// first, one by one or as one batch. ns/op is per key.
func benchUndo(b *testing.B, batch bool) {
	keys := make([][]byte, b.N)
	s := New()
	val := make([]byte, 100)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("\x02seat\x00\x02gala\x00\x15%08x", uint32(i)*2654435761))
		s.Set(keys[i], val, journal.Version{HLC: 1, Origin: "A"})
	}
	b.ReportAllocs()
	b.ResetTimer()
	if !batch {
		for i := len(keys) - 1; i >= 0; i-- {
			s.Delete(keys[i])
		}
	} else {
		var bt Batch
		for i := len(keys) - 1; i >= 0; i-- {
			bt.Delete(keys[i])
		}
		s.ApplyBatch(&bt, false)
	}
	if s.Len() != 0 {
		b.Fatalf("%d keys left", s.Len())
	}
}

// sortOps gives the last op of each key in key order, for keys of any
// length sharing long prefixes, holding zero bytes, and prefixes of one
// another (the cases of the multikey sort's chunks and padding).
func TestSortOpsMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alphabet := rapid.SampledFrom([]byte{0, 1, 'a', 0xff})
		prefix := rapid.SliceOfN(alphabet, 0, 20).Draw(t, "prefix")
		n := rapid.IntRange(0, 300).Draw(t, "ops")
		var b Batch
		s := New()
		for i := range n {
			k := append(append([]byte(nil), prefix...), rapid.SliceOfN(alphabet, 0, 20).Draw(t, "suffix")...)
			if rapid.IntRange(0, 4).Draw(t, "op") == 0 {
				b.Delete(k)
			} else {
				b.Set(s, k, []byte(fmt.Sprint(i)), journal.Version{})
			}
		}
		want := map[string]batchOp{}
		for _, op := range b.ops {
			want[op.it.key()] = op
		}
		got := sortOps(append([]batchOp(nil), b.ops...), false)
		if len(got) != len(want) {
			t.Fatalf("%d ops out for %d keys", len(got), len(want))
		}
		for j, op := range got {
			if j > 0 && got[j-1].it.key() >= op.it.key() {
				t.Fatalf("out of order at %d: %q then %q", j, got[j-1].it.key(), op.it.key())
			}
			if w := want[op.it.key()]; w != op {
				t.Fatalf("key %q: got op %+v, want the last added %+v", op.it.key(), op, w)
			}
		}
	})
}

func BenchmarkSortOps(b *testing.B) {
	var bt Batch
	s := New()
	val := make([]byte, 100)
	for i := range b.N {
		bt.Set(s, []byte(fmt.Sprintf("\x02seat\x00\x02gala\x00\x15%08x", uint32(i)*2654435761)), val, journal.Version{})
	}
	b.ResetTimer()
	sortOps(bt.ops, false)
}

// Sorting through scratch storage by radix (a LoadWorker's, given again
// from one batch to the next) gives the indexes the comparison sort
// gives, for keys alike in any bytes of their chunks, of any length,
// prefixes of one another, many equal.
func TestSortIdxRadixMatches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		alphabet := rapid.SampledFrom([]byte{0, 1, 'a', 0xff})
		var ents []sortEnt
		var out []uint32
		for round := range 2 {
			prefix := rapid.SliceOfN(alphabet, 0, 20).Draw(t, "prefix")
			n := rapid.IntRange(0, 1500).Draw(t, "ops")
			var b Batch
			s := New()
			for i := range n {
				k := append(append([]byte(nil), prefix...), rapid.SliceOfN(alphabet, 0, 12).Draw(t, "suffix")...)
				b.Set(s, k, []byte(fmt.Sprint(i)), journal.Version{})
			}
			want := sortIdx(b.ops, false)
			var got []uint32
			got, ents = sortIdxInto(b.ops, false, true, ents, out)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: radix %v, comparison %v", round, got, want)
			}
			out = got
		}
	})
}
