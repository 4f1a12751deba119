package msgint

import (
	"bytes"
	"math"
	"testing"

	"github.com/liege-db/liege/journal"
)

// TestAgreesWithGoMsgpack: Append gives the bytes go-msgpack gives a signed
// integer, and Read takes back what go-msgpack writes for every integer
// type, at each boundary of the encodings.
func TestAgreesWithGoMsgpack(t *testing.T) {
	for _, n := range []int64{0, 1, 127, 128, -1, -32, -33, math.MinInt8, math.MinInt8 - 1, math.MaxInt8 + 1,
		math.MaxUint8, math.MaxUint8 + 1, math.MinInt16, math.MinInt16 - 1, math.MaxInt16, math.MaxInt16 + 1,
		math.MaxUint16 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt32, math.MaxInt32 + 1,
		math.MaxUint32 + 1, math.MinInt64, math.MaxInt64} {
		want, err := journal.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append(nil, n); !bytes.Equal(got, want) {
			t.Errorf("Append(%d) = % x, go-msgpack writes % x", n, got, want)
		}
		if got, rest, ok := Read(append(want, 0xc0)); !ok || got != n || !bytes.Equal(rest, []byte{0xc0}) {
			t.Errorf("Read(% x) = %d, % x, %v; want %d and the rest", want, got, rest, ok, n)
		}
		if n >= 0 {
			u, _ := journal.Marshal(uint64(n))
			if got, _, ok := Read(u); !ok || got != n {
				t.Errorf("Read of uint64 %d (% x) = %d, %v", n, u, got, ok)
			}
		}
	}
	if _, _, ok := Read(Append(nil, 0)[:0]); ok {
		t.Error("Read of nothing succeeded")
	}
	if _, _, ok := Read([]byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); ok {
		t.Error("Read of a uint64 above MaxInt64 succeeded")
	}
	if _, _, ok := Read([]byte{0xd2, 1, 2}); ok {
		t.Error("Read of a cut int32 succeeded")
	}
}
