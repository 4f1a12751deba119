package store

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// A Loader leaves a store exactly as Store.Apply of every record in
// position order would: contents, versions, Len, RawBytes and Hash, from
// an empty store or one already holding keys (a checkpoint's), with
// overwrites within a record, a chunk and across chunks, deletes of held
// and absent keys, adds with their before-versions, chunks with no
// transaction, any chunk length and any number of workers, each taking
// every workers-th chunk on its own goroutine, and a Loader made with
// room for fewer chunks than it is given; a snapshot taken before keeps
// what it held.
func TestLoaderMatchesApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		want, got := New(), New()
		keys := rapid.IntRange(1, 300).Draw(t, "keys")
		key := func(t *rapid.T) []byte {
			// Keys of several lengths sharing prefixes, as tuple keys do.
			i := rapid.IntRange(0, keys-1).Draw(t, "key")
			return []byte(fmt.Sprintf("\x1ek\x00\x01%0*d", 1+i%11, i))
		}
		for i := range rapid.IntRange(0, 200).Draw(t, "preload") {
			k := key(t)
			ver := journal.Version{HLC: uint64(i + 1), Origin: "A"}
			want.Set(k, []byte("old"), ver)
			got.Set(k, []byte("old"), ver)
		}
		snap := got.Snapshot()
		before := contents(snap.Ascend)

		var recs []journal.Record
		for i := range rapid.IntRange(0, 400).Draw(t, "records") {
			r := journal.Record{Pos: uint64(i + 1), Kind: journal.KindLocal, Origin: rapid.SampledFrom([]string{"A", "B"}).Draw(t, "origin"),
				HLC: uint64(1000 + i)}
			if rapid.IntRange(0, 9).Draw(t, "meta") == 0 {
				r.Kind = journal.KindEpoch // not a transaction: no writes applied
			}
			for range rapid.IntRange(0, 4).Draw(t, "writes") {
				w := journal.Write{Key: key(t), Op: journal.Op(rapid.IntRange(1, 3).Draw(t, "op")), Value: []byte(fmt.Sprint("v", i))}
				switch w.Op {
				case journal.OpDelete:
					w.Value = nil
				case journal.OpAdd:
					w.BeforeVersion = journal.Version{HLC: uint64(rapid.IntRange(0, 2000).Draw(t, "beforeHLC")), Origin: "B"}
				}
				r.Writes = append(r.Writes, w)
			}
			recs = append(recs, r)
		}
		for i := range recs {
			if recs[i].Kind.IsTxn() {
				want.Apply(&recs[i])
			}
		}

		chunk := rapid.IntRange(1, 64).Draw(t, "chunk")
		workers := rapid.IntRange(1, 3).Draw(t, "workers")
		// The room a Loader is made with is a hint: a replay cuts chunks
		// of large records short, and gives more chunks than it counted.
		chunks := (len(recs) + chunk - 1) / chunk
		l := NewLoader(got, rapid.IntRange(0, chunks).Draw(t, "room"))
		ws := make([]*LoadWorker, workers)
		var wg sync.WaitGroup
		for w := range ws {
			ws[w] = l.Worker()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := w; c*chunk < len(recs); c += workers {
					for i := c * chunk; i < min((c+1)*chunk, len(recs)); i++ {
						if recs[i].Kind.IsTxn() {
							ws[w].Apply(c, &recs[i])
						}
					}
					ws[w].EndChunk()
				}
			}()
		}
		wg.Wait()
		l.Finish(ws...)

		if d := Equal(want, got); d != "" {
			t.Fatalf("Loader and Apply differ: %s", d)
		}
		if want.Len() != got.Len() || want.RawBytes() != got.RawBytes() || want.Hash() != got.Hash() {
			t.Fatalf("Len %d vs %d, RawBytes %d vs %d, or the hashes differ", want.Len(), got.Len(), want.RawBytes(), got.RawBytes())
		}
		// The tree searches as it iterates: every key is found, with its
		// value (Finish filled it in an order of its own, loadOrder).
		want.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
			gv, gver, ok := got.Get(k)
			if !ok || string(gv) != string(v) || gver != ver {
				t.Fatalf("Get %q after the load: %q %v %v, want %q %v", k, gv, gver, ok, v, ver)
			}
			return true
		})
		if after := contents(snap.Ascend); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("a snapshot taken before the load changed")
		}
		// The store goes on as a store.
		k := key(t)
		got.Set(k, []byte("after"), journal.Version{HLC: 9999, Origin: "A"})
		want.Set(k, []byte("after"), journal.Version{HLC: 9999, Origin: "A"})
		if d := Equal(want, got); d != "" {
			t.Fatalf("a Set after the load: %s", d)
		}
	})
}

// A chunk given to a Loader twice is a programming error.
func TestLoaderChunkTwicePanics(t *testing.T) {
	l := NewLoader(New(), 2)
	r := &journal.Record{Pos: 1, Kind: journal.KindLocal, Writes: []journal.Write{{Op: journal.OpSet, Key: []byte("k"), Value: []byte("v")}}}
	w := l.Worker()
	w.Apply(1, r)
	w.EndChunk()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a chunk given twice")
		}
	}()
	l.Worker().Apply(1, r)
}

// Finish fills the tree without comparing the keys it adds (loadOrder):
// merged writes out of order are a broken invariant that Finish panics
// on, saying which keys, and the store keeps what it held.
func TestLoaderFinishPanicsOnOrder(t *testing.T) {
	for _, preload := range []bool{false, true} {
		s := New()
		if preload {
			s.Set([]byte("0"), []byte("old"), journal.Version{HLC: 1, Origin: "A"})
		}
		l := NewLoader(s, 1)
		w := l.Worker()
		w.Apply(0, &journal.Record{Kind: journal.KindLocal, Writes: []journal.Write{
			{Op: journal.OpSet, Key: []byte("a"), Value: []byte("1")},
			{Op: journal.OpSet, Key: []byte("b"), Value: []byte("2")},
			{Op: journal.OpSet, Key: []byte("c"), Value: []byte("3")},
		}})
		w.EndChunk()
		ents := w.runs[0].ents
		ents[0], ents[2] = ents[2], ents[0] // c, b, a
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("Finish loaded writes out of order without a panic")
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, "key 62 ") || !strings.Contains(msg, "after 63:") {
					t.Fatalf("the panic does not name the keys: %s", msg)
				}
			}()
			l.Finish(w)
		}()
		if want := map[bool]int{false: 0, true: 1}[preload]; s.Len() != want {
			t.Fatalf("the store holds %d keys after the panic, want %d", s.Len(), want)
		}
	}
}

// A merge of runs returns every key of either once, in key order, the
// later chunk's write of a key both hold, each with the length of the
// prefix it shares with the key before it (which the merges after it
// compare instead of the keys): with keys that are prefixes of others,
// equal up to any byte, and long enough for whole words of the compare;
// merged by workers (into storage they used before) and by the Loader.
func TestLoaderMergeKeepsOrderAndPrefixes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const chunks = 6
		l := NewLoader(New(), chunks)
		key := rapid.SliceOfN(rapid.SampledFrom([]byte{0, 1, 2, 0xff}), 0, 20)
		w := l.Worker()
		var runs []run
		for c := range chunks {
			ks := map[string]bool{}
			for _, k := range rapid.SliceOfN(key, 0, 40).Draw(t, fmt.Sprint("keys", c)) {
				ks[string(k)] = true
			}
			for k := range ks {
				w.Apply(c, &journal.Record{Kind: journal.KindLocal, Writes: []journal.Write{{Op: journal.OpSet, Key: []byte(k), Value: []byte(fmt.Sprint(c))}}})
			}
			w.EndChunk()
			runs = append(runs, w.runs...)
			w.runs = nil
		}
		// Merge in a drawn order, as workers and Finish do.
		for len(runs) > 1 {
			i := rapid.IntRange(0, len(runs)-2).Draw(t, "merge")
			merge := l.merge
			if rapid.Bool().Draw(t, "worker") {
				merge = w.merge
			}
			runs = append(append(runs[:i:i], merge(runs[i], runs[i+1])), runs[i+2:]...)
		}
		want := map[string]uint32{} // key: the last chunk that wrote it
		for c := range chunks {
			ch := &l.table()[c]
			for i := range max(len(ch.offs)-1, 0) {
				want[string(ch.key(uint32(i)))] = uint32(c)
			}
		}
		var prev []byte
		for j, e := range runs[0].ents {
			k := l.key(e)
			if j > 0 && string(prev) >= string(k) {
				t.Fatalf("key %q after %q", k, prev)
			}
			if c, ok := want[string(k)]; !ok || c != e.chunk {
				t.Fatalf("key %q from chunk %d, want %d", k, e.chunk, c)
			}
			if p := commonPrefix(prev, k, 0); int(e.lcp) != p {
				t.Fatalf("key %q after %q says it shares %d bytes, not %d", k, prev, e.lcp, p)
			}
			prev = k
			delete(want, string(k))
		}
		if len(want) > 0 {
			t.Fatalf("%d keys missing from the merge", len(want))
		}
	})
}
