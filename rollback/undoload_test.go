package rollback

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// backwardLoad visits the same records in the same order as backward,
// newest first, over several chunks; every chunk reaches reduce once, its
// records newest first, each worker's chunks in order; it stops at the
// first error, from a read or from fn, having visited what came before it.
func TestBackwardLoad(t *testing.T) {
	const n = 5*decodeChunk + 17
	fr := newFrames(t, n)
	for name, j := range journals(fr) {
		t.Run(name, func(t *testing.T) {
			visit := func(head, target uint64, stopAt uint64) (seen []uint64, chunks map[int][]uint64, err error) {
				var mu sync.Mutex
				chunks = map[int][]uint64{}
				last := map[int]int{}
				reduce := func(w, c int, recs []journal.Record) {
					mu.Lock()
					defer mu.Unlock()
					if l, ok := last[w]; ok && l >= c {
						t.Errorf("worker %d got chunk %d after chunk %d", w, c, l)
					}
					last[w] = c
					if _, dup := chunks[c]; dup {
						t.Errorf("chunk %d reduced twice", c)
					}
					for _, r := range recs {
						chunks[c] = append(chunks[c], r.Pos)
					}
				}
				err = backwardLoad(Env{Journal: j}, head, target, reduce, visitFrames(&seen, stopAt))
				return seen, chunks, err
			}
			for _, c := range []struct{ head, target uint64 }{{n, 1}, {n, 2}, {n - 5, decodeChunk}, {40, 3}, {7, 7}} {
				seen, chunks, err := visit(c.head, c.target, 0)
				if err != nil {
					t.Fatalf("%d..%d: %v", c.head, c.target, err)
				}
				var want, reduced []uint64
				for p := c.head; p >= c.target; p-- {
					want = append(want, p)
				}
				for i := range backwardChunks(c.head, c.target) {
					reduced = append(reduced, chunks[i]...)
				}
				if !slices.Equal(seen, want) || !slices.Equal(reduced, want) || len(chunks) != backwardChunks(c.head, c.target) {
					t.Fatalf("%d..%d: fn saw %v..., chunks reduced %d holding %v..., want %d records from the head down",
						c.head, c.target, seen[:min(5, len(seen))], len(chunks), reduced[:min(5, len(reduced))], len(want))
				}
			}
			seen, _, err := visit(n, 1, 2*decodeChunk)
			if err == nil || err.Error() != "stop" || len(seen) != n-2*decodeChunk+1 {
				t.Fatalf("fn's error: got %v after %d records", err, len(seen))
			}
			fr.bad = decodeChunk + 3
			seen, chunks, err := visit(n, 1, 0)
			fr.bad = 0
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte("bad sector")) || len(seen) != n-decodeChunk-3 {
				t.Fatalf("read error: got %v after %d records, want it after %d", err, len(seen), n-decodeChunk-3)
			}
			for c, ps := range chunks {
				if slices.Contains(ps, decodeChunk+3) {
					t.Fatalf("chunk %d, which failed to read, reached reduce", c)
				}
			}
		})
	}
}

// The undo step gives the same state (and watermark, largest HLC and own
// transactions) with Env.DecodeAhead (store.Loader on two goroutines) as
// without (one batch on the caller), and that state is the one replaying
// the records below the target gives: records of the instance and of a
// peer, sets, deletes and adds over few keys (so the before-images chain),
// across several chunks, from a state the journal started on.
func TestUndoLoadedMatchesUndo(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 3))
		n := 2*decodeChunk + rng.IntN(4*decodeChunk)
		keys := 1 + rng.IntN(600)
		start := store.New()
		for i := range rng.IntN(300) {
			start.Set([]byte(fmt.Sprint("k", rng.IntN(keys))), []byte("start"), journal.Version{HLC: uint64(i + 1), Origin: "B"})
		}
		// Build the journal on a model of the state, so that each write
		// holds the before-image the state had.
		model := copyOf(start)
		enc := journal.NewEncoder()
		j := &frames{f: map[uint64][]byte{}}
		var states []*store.Snapshot // states[p-1]: after position p-1
		for p := uint64(1); p <= uint64(n); p++ {
			states = append(states, model.Snapshot())
			r := journal.Record{Pos: p, Epoch: 1, Kind: journal.KindLocal, Origin: "A", OSeq: p, HLC: 1000 + p}
			if rng.IntN(3) == 0 {
				r.Kind, r.Origin, r.OSeq = journal.KindPeer, "B", p/3+1
			}
			for range 1 + rng.IntN(3) {
				k := []byte(fmt.Sprint("k", rng.IntN(keys)))
				w := journal.Write{Key: k, Op: journal.OpSet, Value: []byte(fmt.Sprint("v", p))}
				if v, ver, ok := model.Get(k); ok {
					w.Before, w.BeforeVersion = bytes.Clone(v), ver
				}
				switch rng.IntN(5) {
				case 0:
					w.Op, w.Value = journal.OpDelete, nil
				case 1:
					w.Op = journal.OpAdd
				}
				r.Writes = append(r.Writes, w)
				model.Apply(&journal.Record{Kind: r.Kind, Origin: r.Origin, HLC: r.HLC, Writes: []journal.Write{w}})
			}
			f, err := enc.Frame(&r)
			if err != nil {
				t.Fatal(err)
			}
			j.f[p] = bytes.Clone(f)
		}
		target := 2 + uint64(rng.IntN(n/2))
		in := &Intent{Target: target, Head: uint64(n), Self: "A", PeerWatermark: 77}
		results := map[bool]string{}
		for _, ahead := range []bool{false, true} {
			st := copyOf(model)
			wm, maxHLC, own, err := undo(Env{Journal: j, Store: st, Self: "A", PeerWatermark: 77, DecodeAhead: ahead}, in, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := copyOf(states[target-1])
			if d := store.Equal(want, st); d != "" {
				t.Fatalf("seed %d, ahead %v: undoing %d..%d: %s", seed, ahead, target, n, d)
			}
			if want.Len() != st.Len() || want.RawBytes() != st.RawBytes() || want.Hash() != st.Hash() {
				t.Fatalf("seed %d, ahead %v: Len %d vs %d, RawBytes %d vs %d", seed, ahead, want.Len(), st.Len(), want.RawBytes(), st.RawBytes())
			}
			results[ahead] = fmt.Sprint(wm, maxHLC, own)
		}
		if results[false] != results[true] {
			t.Fatalf("seed %d: watermark, largest HLC and own rolled off: %s without decoding ahead, %s with", seed, results[false], results[true])
		}
	}
}

// copyOf returns a new store holding what src holds.
func copyOf(src interface {
	Ascend([]byte, store.Visit)
}) *store.Store {
	s := store.New()
	src.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		s.Set(k, v, ver)
		return true
	})
	return s
}

// TestBackwardLoadReusesRecords: backwardLoad decodes later chunks into
// the records of chunks fn has seen; a record decoded into one that held
// more (or fewer, or no) writes and reads has exactly its own, for reduce
// and for fn.
func TestBackwardLoadReusesRecords(t *testing.T) {
	const n = 40*decodeChunk + 3 // more chunks than free keeps
	enc := journal.NewEncoder()
	j := &frames{f: map[uint64][]byte{}}
	want := map[uint64]string{}
	for p := uint64(1); p <= n; p++ {
		r := journal.Record{Pos: p, Epoch: 1, Kind: journal.KindLocal, Origin: "A", OSeq: p, HLC: 10 * p}
		// Shapes change with the position and the chunk, so that a
		// record is decoded into one of another shape.
		for k := range (p + p/decodeChunk) % 4 {
			r.Writes = append(r.Writes, journal.Write{Key: []byte(fmt.Sprint(p, ".", k)), Op: journal.OpSet, Value: []byte{byte(p)}})
		}
		for k := range (p / 7) % 3 {
			r.Reads = append(r.Reads, journal.PointRead{Key: []byte(fmt.Sprint("r", p, ".", k))})
		}
		f, err := enc.Frame(&r)
		if err != nil {
			t.Fatal(err)
		}
		j.f[p] = bytes.Clone(f)
		var d journal.Record
		if err := journal.NewDecoder().DecodeFrame(j.f[p], &d); err != nil {
			t.Fatal(err)
		}
		want[p] = fmt.Sprint(d)
	}
	var mu sync.Mutex
	reduce := func(_, _ int, recs []journal.Record) {
		mu.Lock()
		defer mu.Unlock()
		for i := range recs {
			if got := fmt.Sprint(recs[i]); got != want[recs[i].Pos] {
				t.Errorf("reduce saw %s, want %s", got, want[recs[i].Pos])
			}
		}
	}
	seen := 0
	err := backwardLoad(Env{Journal: j}, n, 1, reduce, func(p uint64, r *journal.Record) error {
		seen++
		if got := fmt.Sprint(*r); r.Pos != p || got != want[p] {
			return fmt.Errorf("at %d fn saw %s, want %s", p, got, want[p])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Fatalf("fn saw %d records, want %d", seen, n)
	}
}

// TestBackwardLoadCutsLargeChunks: records of large values end a chunk
// once its frames reach decodeChunkBytes, so a rollback of many of them
// never holds more than a few chunks of frames; every record is still
// reduced once and seen in order.
func TestBackwardLoadCutsLargeChunks(t *testing.T) {
	const n, size = 40, 400 << 10
	enc := journal.NewEncoder()
	fr := &frames{f: map[uint64][]byte{}}
	for p := uint64(1); p <= n; p++ {
		r := journal.Record{Pos: p, Epoch: 1, Kind: journal.KindLocal, Origin: "A", OSeq: p, HLC: 10 * p,
			Writes: []journal.Write{{Key: []byte(fmt.Sprint(p)), Op: journal.OpSet, Value: bytes.Repeat([]byte{byte(p)}, size)}}}
		f, err := enc.Frame(&r)
		if err != nil {
			t.Fatal(err)
		}
		fr.f[p] = bytes.Clone(f)
	}
	for name, j := range journals(fr) {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			chunks := map[int]int{}
			reduce := func(_, c int, recs []journal.Record) {
				mu.Lock()
				chunks[c] += len(recs)
				mu.Unlock()
			}
			var seen []uint64
			err := backwardLoad(Env{Journal: j}, n, 1, reduce, func(p uint64, r *journal.Record) error {
				if r.Pos != p || len(r.Writes) != 1 || len(r.Writes[0].Value) != size || r.Writes[0].Value[size-1] != byte(p) {
					return fmt.Errorf("at %d got the record of position %d", p, r.Pos)
				}
				seen = append(seen, p)
				return nil
			})
			if err != nil || len(seen) != n || seen[0] != n || seen[n-1] != 1 {
				t.Fatalf("%v after %d records", err, len(seen))
			}
			// Three frames of 400 KiB pass 1 MiB.
			per := (decodeChunkBytes + size - 1) / size
			total := 0
			for c := range len(chunks) {
				if k := chunks[c]; k == 0 || k > per {
					t.Fatalf("chunk %d of %d holds %d records of %d bytes, want 1 to %d", c, len(chunks), k, size, per)
				}
				total += chunks[c]
			}
			if total != n {
				t.Fatalf("chunks reduced %d records, want %d", total, n)
			}
		})
	}
}
