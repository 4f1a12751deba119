package journal

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/liege-db/liege/internal/mpenc"
	"pgregory.net/rapid"
)

// genBytes draws a byte string: nil, empty or up to max bytes (sometimes
// past the small-payload arena, so both allocation paths run).
func genBytes(t *rapid.T, label string, maxLen int) []byte {
	switch rapid.IntRange(0, 9).Draw(t, label+"-shape") {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return bytes.Repeat([]byte{0x5a}, rapid.IntRange(1, 70_000).Draw(t, label+"-big"))
	}
	return rapid.SliceOfN(rapid.Byte(), 1, maxLen).Draw(t, label)
}

// genUint draws numbers around every msgpack integer width.
func genUint(t *rapid.T, label string) uint64 {
	return rapid.SampledFrom([]uint64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1}).Draw(t, label) +
		rapid.Uint64Range(0, 3).Draw(t, label+"-plus")
}

func genString(t *rapid.T, label string) string {
	if rapid.IntRange(0, 20).Draw(t, label+"-long") == 0 {
		return string(bytes.Repeat([]byte{'s'}, rapid.IntRange(32, 70_000).Draw(t, label+"-n")))
	}
	return rapid.StringN(0, 40, -1).Draw(t, label)
}

func genVersion(t *rapid.T, label string) Version {
	return Version{HLC: genUint(t, label+"-hlc"), Origin: genString(t, label+"-origin")}
}

// genRecord draws any record the encoder can write, valid or not as a
// journal record: the decoders must agree on all of them.
func genRecord(t *rapid.T) *Record {
	r := &Record{
		Pos: genUint(t, "pos"), Epoch: genUint(t, "epoch"),
		Kind:   Kind(rapid.IntRange(0, 255).Draw(t, "kind")),
		Origin: genString(t, "origin"), OSeq: genUint(t, "oseq"), HLC: genUint(t, "hlc"),
		PeerSeen: genUint(t, "peerseen"), Proc: genString(t, "proc"),
		Args: genBytes(t, "args", 300), Result: genBytes(t, "result", 300),
		Subject:  TxID{Origin: genString(t, "subject"), OSeq: genUint(t, "subject-oseq")},
		Instance: genString(t, "instance"), Role: genString(t, "role"), HighOSeq: genUint(t, "highoseq"),
		Checkpoint: genUint(t, "checkpoint"), IdempotencyKey: genString(t, "idem"),
		OriginKind: Kind(rapid.IntRange(0, 255).Draw(t, "originkind")), Reign: genUint(t, "reign"),
	}
	if n := rapid.IntRange(-1, 20).Draw(t, "reads"); n >= 0 {
		r.Reads = make([]PointRead, n)
		for i := range r.Reads {
			r.Reads[i] = PointRead{Key: genBytes(t, "read", 40), Version: genVersion(t, "read-version")}
		}
	}
	if n := rapid.IntRange(-1, 4).Draw(t, "ranges"); n >= 0 {
		r.Ranges = make([]RangeRead, n)
		for i := range r.Ranges {
			r.Ranges[i] = RangeRead{Lo: genBytes(t, "lo", 20), Hi: genBytes(t, "hi", 20),
				LoInclusive: rapid.Bool().Draw(t, "loinc"), HiInclusive: rapid.Bool().Draw(t, "hiinc")}
		}
	}
	if n := rapid.IntRange(-1, 20).Draw(t, "writes"); n >= 0 {
		r.Writes = make([]Write, n)
		for i := range r.Writes {
			r.Writes[i] = Write{Key: genBytes(t, "key", 40), Op: Op(rapid.IntRange(0, 255).Draw(t, "op")),
				Value: genBytes(t, "value", 200), Delta: rapid.Int64().Draw(t, "delta"),
				Before: genBytes(t, "before", 200), BeforeVersion: genVersion(t, "before-version")}
		}
	}
	if rapid.Bool().Draw(t, "rollback") {
		r.Rollback = &RollbackInfo{From: genUint(t, "from"), To: genUint(t, "to"), Reason: genString(t, "reason"),
			LostFile: genString(t, "lostfile"), Records: genUint(t, "records"), PeerWatermark: genUint(t, "peerwm")}
	}
	return r
}

// referenceDecode decodes p with go-msgpack alone, as DecodePayload did
// before the hand-written decoder.
func referenceDecode(p []byte) (*Record, error) {
	r := &Record{}
	err := NewDecoder().decodeReference(p, r)
	return r, err
}

// fastDecode decodes p with the hand-written decoder alone.
func fastDecode(p []byte) (*Record, error) {
	r := &Record{}
	if err := decodeFast(p, r, map[string]string{}, false); err != nil {
		return nil, err
	}
	return r, r.validate()
}

// Every record the encoder writes is read by the hand-written decoder (it
// never falls back on what this build writes) into exactly what
// go-msgpack reads, nil and empty byte strings and slices told apart.
func TestFastDecoderMatchesReference(t *testing.T) {
	e := NewEncoder()
	rapid.Check(t, func(t *rapid.T) {
		r := genRecord(t)
		f, err := e.Frame(r)
		if err != nil {
			t.Fatal(err)
		}
		p, err := OpenFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		want, werr := referenceDecode(p)
		got, gerr := fastDecode(p)
		if errors.Is(gerr, errSlow) {
			t.Fatalf("the hand-written decoder left a record this build wrote to go-msgpack: %+v", r)
		}
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("errors differ: go-msgpack %v, hand-written %v", werr, gerr)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("decoders differ:\ngo-msgpack   %+v\nhand-written %+v", want, got)
		}
		// And through the public path, into a reused record.
		var again Record
		again.Writes = make([]Write, 3, 50)
		if err := NewDecoder().DecodeFrame(f, &again); (err == nil) != (werr == nil) {
			t.Fatalf("DecodeFrame: %v, go-msgpack: %v", err, werr)
		}
		if werr == nil && !reflect.DeepEqual(normalize(*want), normalize(again)) {
			t.Fatalf("DecodeFrame into a reused record:\n%+v\n%+v", want, &again)
		}
		// Borrowing: the same record, its byte strings in the frame.
		fc := append([]byte(nil), f...)
		var borrowed Record
		if err := NewDecoder().DecodeFrameBorrow(fc, &borrowed); (err == nil) != (werr == nil) {
			t.Fatalf("DecodeFrameBorrow: %v, go-msgpack: %v", err, werr)
		}
		if werr == nil {
			if !reflect.DeepEqual(normalize(*want), normalize(borrowed)) {
				t.Fatalf("DecodeFrameBorrow:\n%+v\n%+v", want, &borrowed)
			}
			for _, b := range borrowedBytes(&borrowed) {
				if len(b) > 0 && !aliases(fc, b) {
					t.Fatalf("DecodeFrameBorrow copied a byte string of %d bytes", len(b))
				}
			}
			// Clone: the same record, nothing shared with the frame or
			// with borrowed, which is then wiped.
			c := borrowed.Clone()
			if !reflect.DeepEqual(&borrowed, c) {
				t.Fatalf("Clone:\n%+v\n%+v", &borrowed, c)
			}
			for _, b := range borrowedBytes(c) {
				if len(b) > 0 && aliases(fc, b) {
					t.Fatalf("a clone's byte string of %d bytes is in the frame", len(b))
				}
			}
			if (len(c.Reads) > 0 && &c.Reads[0] == &borrowed.Reads[0]) || (len(c.Ranges) > 0 && &c.Ranges[0] == &borrowed.Ranges[0]) ||
				(len(c.Writes) > 0 && &c.Writes[0] == &borrowed.Writes[0]) || (c.Rollback != nil && c.Rollback == borrowed.Rollback) {
				t.Fatalf("a clone shares a slice or its rollback details with the record cloned")
			}
			wiped := borrowed
			wiped.Reads, wiped.Ranges, wiped.Writes = slices.Clone(borrowed.Reads), slices.Clone(borrowed.Ranges), slices.Clone(borrowed.Writes)
			for i := range borrowed.Reads {
				borrowed.Reads[i] = PointRead{}
			}
			for i := range borrowed.Writes {
				borrowed.Writes[i] = Write{}
			}
			for i := range borrowed.Ranges {
				borrowed.Ranges[i] = RangeRead{}
			}
			if borrowed.Rollback != nil {
				rb := *borrowed.Rollback
				wiped.Rollback = &rb
				*borrowed.Rollback = RollbackInfo{Reason: "wiped"}
			}
			saved := append([]byte(nil), fc...)
			for i := range fc {
				fc[i] = 0xa5
			}
			if !reflect.DeepEqual(normalize(*want), normalize(*c)) {
				t.Fatalf("a clone changed when the frame and the record cloned were overwritten:\n%+v\n%+v", want, c)
			}
			copy(fc, saved)
			borrowed = wiped
			// CopyBytes: the same record again, nothing in the frame.
			borrowed.CopyBytes()
			if !reflect.DeepEqual(normalize(*want), normalize(borrowed)) {
				t.Fatalf("CopyBytes changed the record:\n%+v\n%+v", want, &borrowed)
			}
			for _, b := range borrowedBytes(&borrowed) {
				if len(b) > 0 && aliases(fc, b) {
					t.Fatalf("after CopyBytes a byte string of %d bytes is in the frame", len(b))
				}
			}
		}
	})
}

// borrowedBytes returns r's byte strings.
func borrowedBytes(r *Record) [][]byte {
	bs := [][]byte{r.Args, r.Result}
	for _, rd := range r.Reads {
		bs = append(bs, rd.Key)
	}
	for _, rg := range r.Ranges {
		bs = append(bs, rg.Lo, rg.Hi)
	}
	for _, w := range r.Writes {
		bs = append(bs, w.Key, w.Value, w.Before)
	}
	return bs
}

// aliases reports whether b lies inside buf.
func aliases(buf, b []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= start && p+uintptr(len(b)) <= start+uintptr(len(buf))
}

// Records journaled before fields were added (shorter arrays) and written
// with other integer widths read as go-msgpack reads them.
func TestFastDecoderOlderAndOtherEncodings(t *testing.T) {
	full, err := NewEncoder().Frame(ticketRecord())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := OpenFrame(full)
	p = bytes.Clone(p)
	// go-msgpack writes the 22 fields as array16 (0xdc 0x00 0x16); drop
	// the trailing Reign (one positive fixint) to get a 21-field record.
	if p[0] != mpenc.Array16 || p[2] != recordFields {
		t.Fatalf("record header %x, want array16 of %d", p[:3], recordFields)
	}
	short := append([]byte{mpenc.Array16, 0, recordFields - 1}, p[3:len(p)-1]...)
	for name, payload := range map[string][]byte{
		"21 fields":     short,
		"fixarray head": append([]byte{0x9e}, p[3:len(p)-8]...), // first 14 fields (the last 8 are a byte each)
		"array32 head":  append([]byte{mpenc.Array32, 0, 0, 0, recordFields}, p[3:]...),
	} {
		want, werr := referenceDecode(payload)
		got, gerr := fastDecode(payload)
		if werr != nil || gerr != nil {
			t.Fatalf("%s: go-msgpack %v, hand-written %v", name, werr, gerr)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: decoders differ:\n%+v\n%+v", name, want, got)
		}
	}
	// A map-encoded record is go-msgpack's to read.
	var buf []byte
	h := MsgpackHandle()
	h.StructToArray = false
	if err := codec.NewEncoderBytes(&buf, h).Encode(map[string]uint64{"Pos": 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := fastDecode(buf); !errors.Is(err, errSlow) {
		t.Fatalf("a map payload: hand-written decoder returned %v, want errSlow", err)
	}
}

// FuzzFastDecoder feeds arbitrary payloads to both decoders: the
// hand-written one either leaves the payload to go-msgpack or decodes
// exactly what go-msgpack decodes.
func FuzzFastDecoder(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < frameHeader {
			return
		}
		p := data[frameHeader:]
		got, gerr := fastDecode(p)
		if errors.Is(gerr, errSlow) {
			return
		}
		want, werr := referenceDecode(p)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("go-msgpack %v, hand-written %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("decoders differ:\ngo-msgpack   %+v\nhand-written %+v", want, got)
		}
	})
}

// BenchmarkDecodeRecordReference is BenchmarkDecodeRecord with go-msgpack
// alone, for comparison in one run.
func BenchmarkDecodeRecordReference(b *testing.B) {
	f, _ := NewEncoder().Frame(ticketRecord())
	p, _ := OpenFrame(append([]byte(nil), f...))
	d := NewDecoder()
	var r Record
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		if err := d.decodeReference(p, &r); err != nil {
			b.Fatal(err)
		}
	}
}
