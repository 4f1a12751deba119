package store

import (
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// Swap is Set and Take is Delete, and each returns what Get returned just
// before it.
func TestSwapIsGetThenSet(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		swapped, set := New(), New()
		key := rapid.SampledFrom([]string{"a", "ab", "b", "\x00", "\xff"})
		for i := range rapid.IntRange(1, 50).Draw(t, "ops") {
			k := []byte(key.Draw(t, "k"))
			if rapid.IntRange(0, 4).Draw(t, "delete") == 0 {
				wantV, wantVer, wantOK := set.Get(k)
				wantV = append([]byte(nil), wantV...)
				set.Delete(k)
				gotV, gotVer, gotOK := swapped.Take(k)
				if gotOK != wantOK || string(gotV) != string(wantV) || gotVer != wantVer {
					t.Fatalf("Take(%q) returned %q %v %v; Get before Delete gave %q %v %v", k, gotV, gotVer, gotOK, wantV, wantVer, wantOK)
				}
				continue
			}
			v := []byte(rapid.StringN(0, 8, -1).Draw(t, "v"))
			ver := journal.Version{HLC: uint64(i + 1), Origin: rapid.SampledFrom([]string{"A", "B"}).Draw(t, "origin")}
			wantV, wantVer, wantOK := set.Get(k)
			wantV = append([]byte(nil), wantV...)
			set.Set(k, v, ver)
			gotV, gotVer, gotOK := swapped.Swap(k, v, ver)
			if gotOK != wantOK || string(gotV) != string(wantV) || gotVer != wantVer {
				t.Fatalf("Swap(%q) returned %q %v %v; Get before Set gave %q %v %v", k, gotV, gotVer, gotOK, wantV, wantVer, wantOK)
			}
		}
		if d := Equal(swapped, set); d != "" {
			t.Fatal(d)
		}
		if swapped.RawBytes() != set.RawBytes() {
			t.Fatalf("raw bytes %d after Swap, %d after Set", swapped.RawBytes(), set.RawBytes())
		}
	})
}
