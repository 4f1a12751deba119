package store

import (
	"fmt"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// GetHint and SwapHint answer as Get and Swap do whatever the hint holds:
// the path of the same key, of another key, or one made stale by writes in
// between. The tree is several levels deep so that hints span levels.
func TestHintsNeverChangeAnswers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		hinted, plain := New(), New()
		n := rapid.IntRange(1, 3000).Draw(t, "keys")
		key := func(i int) []byte { return []byte(fmt.Sprintf("k%05d", i)) }
		for i := 0; i < n; i += 2 { // every other key present
			v := []byte(fmt.Sprint("v", i))
			hinted.Set(key(i), v, journal.Version{HLC: 1, Origin: "A"})
			plain.Set(key(i), v, journal.Version{HLC: 1, Origin: "A"})
		}
		var h Hint
		for op := range rapid.IntRange(1, 100).Draw(t, "ops") {
			k := key(rapid.IntRange(0, n+1).Draw(t, "key"))
			if rapid.Bool().Draw(t, "fresh hint") {
				h = Hint{}
			}
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				gv, gver, gok := hinted.GetHint(k, &h)
				wv, wver, wok := plain.Get(k)
				if gok != wok || string(gv) != string(wv) || gver != wver {
					t.Fatalf("GetHint(%s) = %q %v %v, Get = %q %v %v", k, gv, gver, gok, wv, wver, wok)
				}
			case 1:
				v := []byte(fmt.Sprint("w", op))
				ver := journal.Version{HLC: uint64(op + 2), Origin: "B"}
				gv, gver, gok := hinted.SwapHint(k, v, ver, &h)
				wv, wver, wok := plain.Swap(k, v, ver)
				if gok != wok || string(gv) != string(wv) || gver != wver {
					t.Fatalf("SwapHint(%s) = %q %v %v, Swap = %q %v %v", k, gv, gver, gok, wv, wver, wok)
				}
			case 2: // a write the hint knows nothing of
				hinted.Delete(k)
				plain.Delete(k)
			}
		}
		if d := Equal(hinted, plain); d != "" {
			t.Fatal(d)
		}
		if hinted.RawBytes() != plain.RawBytes() {
			t.Fatalf("raw bytes %d with hints, %d without", hinted.RawBytes(), plain.RawBytes())
		}
	})
}

// BenchmarkGetThenSwap is the ticket transaction's reads and writes on a
// tree of 400k keys: read an absent key, write it, write another; with
// the read's path as the write's hint and without.
func BenchmarkGetThenSwap(b *testing.B) {
	for _, hinted := range []bool{false, true} {
		b.Run(fmt.Sprint("hint=", hinted), func(b *testing.B) {
			s := New()
			ver := journal.Version{HLC: 1, Origin: "A"}
			val := make([]byte, 100)
			for i := range 400_000 {
				s.Set([]byte(fmt.Sprintf("seat/%09d", i*7919%400_000*2)), val, ver)
			}
			keys := make([][]byte, b.N)
			for i := range keys {
				keys[i] = []byte(fmt.Sprintf("seat/%09d", (i*7919%400_000)*2+1))
			}
			b.ResetTimer()
			for i := range b.N {
				var h Hint
				if hinted {
					s.GetHint(keys[i], &h)
					s.SwapHint(keys[i], val, ver, &h)
				} else {
					s.Get(keys[i])
					s.Swap(keys[i], val, ver)
				}
			}
		})
	}
}
