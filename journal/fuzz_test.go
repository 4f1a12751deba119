package journal

import (
	"bytes"
	"reflect"
	"runtime"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	e := NewEncoder()
	for _, r := range []*Record{
		ticketRecord(),
		{Pos: 1, Kind: KindOpen, Instance: "A"},
		{Pos: 9, Epoch: 2, Kind: KindEpoch, HighOSeq: 40, Rollback: &RollbackInfo{From: 5, To: 8, Reason: "test", LostFile: "lost/x.ltf", Records: 4}},
		{Pos: 3, Kind: KindCorrection, Origin: "A", OSeq: 2, Subject: TxID{Origin: "B", OSeq: 7},
			Ranges: []RangeRead{{Lo: []byte{0x1e, 'a', 0, 1}, Hi: nil, LoInclusive: true}},
			Writes: []Write{{Key: []byte{0x15, 1}, Op: OpAdd, Delta: -5, Value: []byte{0x05}, Before: []byte{0x0a}, BeforeVersion: Version{HLC: 9, Origin: "B"}}}},
	} {
		fr, err := e.Frame(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), fr...))
	}
	f.Add([]byte{})
	f.Add([]byte{FrameVersion, 0, 0, 0, 0})
	f.Add([]byte{FrameVersion, 0, 0, 0, 0, 0xdd, 0xff, 0xff, 0xff, 0xff}) // array claiming 4G elements
	f.Add([]byte{FrameVersion, 0, 0, 0, 0, 0xc6, 0xff, 0xff, 0xff, 0xff}) // bin claiming 4 GiB
}

// allocated returns the bytes allocated while running fn.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// FuzzFrame checks the frame decoder: no panic, and a frame that opens is
// exactly the frame AppendFrame makes of its payload.
func FuzzFrame(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := OpenFrame(data)
		if err != nil {
			return
		}
		if again := AppendFrame(nil, p); !bytes.Equal(again, data) {
			t.Fatalf("frame does not round-trip: %x -> %x", data, again)
		}
	})
}

// FuzzRecord checks the record decoder on arbitrary payloads (the checksum
// is made valid so the fuzzer reaches msgpack): no panic, allocation bounded
// by the input's size, and what decodes encodes and decodes to the same
// record.
func FuzzRecord(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < frameHeader {
			return
		}
		frame := AppendFrame(nil, data[frameHeader:])
		d := NewDecoder()
		var r Record
		var err error
		n := allocated(func() { err = d.DecodeFrame(frame, &r) })
		// Decoding copies at most the input into the record, plus bounded
		// bookkeeping (slice headers of up to MaxInitLen elements at first).
		if limit := uint64(64*len(frame) + 64<<10); n > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", len(frame), n, limit)
		}
		if err != nil {
			return
		}
		again, err := NewEncoder().Frame(&r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		var r2 Record
		if err := NewDecoder().DecodeFrame(again, &r2); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(r), normalize(r2)) {
			t.Fatalf("record does not round-trip:\n%+v\n%+v", r, r2)
		}
	})
}

// normalize makes empty and nil slices equal for comparison.
func normalize(r Record) Record {
	nb := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	r.Args, r.Result = nb(r.Args), nb(r.Result)
	if len(r.Reads) == 0 {
		r.Reads = nil
	}
	if len(r.Ranges) == 0 {
		r.Ranges = nil
	}
	if len(r.Writes) == 0 {
		r.Writes = nil
	}
	for i := range r.Reads {
		r.Reads[i].Key = nb(r.Reads[i].Key)
	}
	for i := range r.Ranges {
		r.Ranges[i].Lo, r.Ranges[i].Hi = nb(r.Ranges[i].Lo), nb(r.Ranges[i].Hi)
	}
	for i := range r.Writes {
		w := &r.Writes[i]
		w.Value, w.Before = nb(w.Value), nb(w.Before)
	}
	return r
}
