package liege

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// The fast value encoder must write exactly what go-msgpack writes, so that
// values and results compare equal however they were encoded.
func TestAppendValueMatchesMsgpack(t *testing.T) {
	cases := []any{nil, true, false, "", "x", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 255),
		strings.Repeat("s", 256), strings.Repeat("s", 70000), []byte("bytes"),
		0, 1, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -128, -129, -32768, -32769,
		math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64,
		int64(7), int32(-7), []int{1, 2}, map[string]int{"b": 2, "a": 1}}
	for _, v := range cases {
		want, err := journal.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendValue(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%T %.20v: got %x, want %x", v, v, got, want)
		}
	}
}

func TestValueDecodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Int64().Draw(t, "n")
		s := rapid.String().Draw(t, "s")
		b, _ := appendValue(nil, n)
		if got, err := Value(b).Int(); err != nil || got != n {
			t.Fatalf("Int(%d) = %d, %v", n, got, err)
		}
		b, _ = appendValue(nil, s)
		if got, err := Value(b).Str(); err != nil || got != s {
			t.Fatalf("Str(%q) = %q, %v", s, got, err)
		}
		if _, err := Value(b).Int(); err == nil {
			t.Fatalf("a string decoded as an integer")
		}
	})
}
