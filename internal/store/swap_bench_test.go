package store

import (
	"fmt"
	"testing"

	"github.com/liege-db/liege/journal"
)

// BenchmarkBeforeImage is what a peer record's write costs the store with
// the before-image read first and written after (Get, then Set: the
// two-pass path of engine.applyPeer) and in one search (Swap), both in one
// run: a tree of 200k keys like those of `liege bench replicate` (seat and
// owner keys, ~100-byte values), each op writing one new key and
// overwriting one present key.
//
//	go test ./internal/store -run '^$' -bench BeforeImage -benchmem -count 5
func BenchmarkBeforeImage(b *testing.B) {
	const preset = 200_000
	val := make([]byte, 100)
	key := func(i int) []byte { return fmt.Appendf(nil, "\x02seat\x00\x02gala\x00\x15%08d", i) }
	for _, v := range []struct {
		name  string
		write func(s *Store, k []byte, ver journal.Version) ([]byte, journal.Version, bool)
	}{
		{"get-set", func(s *Store, k []byte, ver journal.Version) ([]byte, journal.Version, bool) {
			prev, pv, ok := s.Get(k)
			s.Set(k, val, ver)
			return prev, pv, ok
		}},
		{"swap", func(s *Store, k []byte, ver journal.Version) ([]byte, journal.Version, bool) {
			return s.Swap(k, val, ver)
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			s := New()
			ver := journal.Version{HLC: 1, Origin: "A"}
			for i := range preset {
				s.Set(key(2*i), val, ver)
			}
			keys := make([][]byte, 0, 2*b.N)
			for i := range b.N {
				keys = append(keys, key(2*preset+2*i), key(2*(i%preset)))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, _, ok := v.write(s, keys[2*i], ver); ok {
					b.Fatal("a new key was found present")
				}
				if _, _, ok := v.write(s, keys[2*i+1], ver); !ok {
					b.Fatal("a present key was found absent")
				}
			}
		})
	}
}
