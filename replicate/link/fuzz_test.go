package link

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode checks the frame decoder on arbitrary bodies: no panic,
// allocation bounded by the body's size, and a body that decodes encodes to
// a body that decodes to the same frame and encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for i := range 7 {
		f.Add(mustEncode(f, sample("A", i))[headerLen:])
	}
	f.Add(mustEncode(f, hello("A"))[headerLen:])
	f.Add([]byte{})
	f.Add([]byte{0xc1})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01})                                                  // array claiming 4G elements
	f.Add([]byte{0x9c, 0x07, 0xdb, 0xff, 0xff, 0xff, 0xff, 'c'})                                       // cluster claiming 4 GiB
	f.Add([]byte{0x9c, 0x02, 0xa1, 'c', 0xa1, 'A', 0, 0, 0xc0, 0, 0, 1, 0xc6, 0xff, 0xff, 0xff, 0xff}) // record claiming 4 GiB
	f.Add([]byte{0x82, 0xa4, 'K', 'i', 'n', 'd', 0x01, 0xa7, 'C', 'l', 'u', 's', 't', 'e', 'r'})       // a map
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr Frame
		var err error
		n := allocated(func() { err = Decode(data, &fr) })
		// Decoding copies at most the body into the frame, plus bounded
		// bookkeeping (slices of up to MaxInitLen elements at first).
		if limit := uint64(64*len(data) + 64<<10); n > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", len(data), n, limit)
		}
		if err != nil {
			return
		}
		enc, err := Encode(nil, &fr)
		if err != nil {
			t.Fatalf("decoded frame %+v does not encode: %v", fr, err)
		}
		var again Frame
		if err := Decode(enc[headerLen:], &again); err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if !reflect.DeepEqual(fr, again) {
			t.Fatalf("frame does not round-trip:\n%+v\n%+v", fr, again)
		}
		if enc2, _ := Encode(nil, &again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", enc, enc2)
		}
	})
}
