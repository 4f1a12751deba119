package store

import (
	"fmt"
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
		var b Batch
		for range rapid.IntRange(1, 6).Draw(t, "batches") {
			for i := range rapid.IntRange(0, rapid.SampledFrom([]int{10, 500, 40_000}).Draw(t, "size")).Draw(t, "writes") {
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
			got.ApplyBatch(&b)
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
		got.ApplyBatch(&b)
		if d := Equal(want, got); d != "" {
			t.Fatalf("Batch.Apply: %s", d)
		}
		undone := New()
		for i := len(recs) - 1; i >= 0; i-- {
			want.Undo(recs[i])
			b.Undo(got, recs[i])
		}
		got.ApplyBatch(&b)
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
		s.ApplyBatch(&bt)
	}
	if s.Len() != 0 {
		b.Fatalf("%d keys left", s.Len())
	}
}
