package journal

import (
	"bytes"
	"fmt"
	"testing"
)

// largeRecord is a transaction record whose arguments, value and
// before-image are each size bytes.
func largeRecord(size int) *Record {
	v := bytes.Repeat([]byte{0xa5}, size)
	return &Record{Pos: 7, Kind: KindLocal, Origin: "A", OSeq: 3, HLC: 1, Proc: "set",
		Args: v, Result: []byte{0xc0},
		Writes: []Write{{Key: []byte("k"), Op: OpSet, Value: v, Before: v}}}
}

// A record with large values decodes whole, allocating about its own size:
// the codec used to grow each byte string 256 bytes at a time, copying it
// at every step (gigabytes for a value of 1 MiB, and a minute to open an
// instance holding 48 of them).
func TestLargeValuesDecodeInOnePass(t *testing.T) {
	for _, size := range []int{100 << 10, 1 << 20, 16 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			r := largeRecord(size)
			f, err := NewEncoder().Frame(r)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder()
			var got Record
			n := allocated(func() { err = d.DecodeFrame(f, &got) })
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Args, r.Args) || len(got.Writes) != 1 || !bytes.Equal(got.Writes[0].Value, r.Args) ||
				!bytes.Equal(got.Writes[0].Before, r.Args) {
				t.Fatalf("the %d-byte values did not decode as encoded", size)
			}
			if limit := uint64(8 * len(f)); n > limit { // before: about a thousand times
				t.Fatalf("decoding a %d-byte frame allocated %d bytes, over %d: byte strings are grown piecemeal", len(f), n, limit)
			}
		})
	}
}

func BenchmarkDecodeLargeValue(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(fmt.Sprint(size>>20, "MiB"), func(b *testing.B) {
			f, err := NewEncoder().Frame(largeRecord(size))
			if err != nil {
				b.Fatal(err)
			}
			d := NewDecoder()
			var r Record
			b.SetBytes(int64(len(f)))
			b.ResetTimer()
			for range b.N {
				if err := d.DecodeFrame(f, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
