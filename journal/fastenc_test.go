package journal

import (
	"bytes"
	"math"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"pgregory.net/rapid"
)

// checkEncoders fails unless the hand-written encoder writes exactly the
// payload go-msgpack writes for r, and a frame around it as AppendFrame
// does, after whatever dst already holds.
func checkEncoders(t interface {
	Helper()
	Fatal(...any)
	Fatalf(string, ...any)
}, r *Record) {
	t.Helper()
	want, err := encodeReference(r)
	if err != nil {
		t.Fatalf("go-msgpack cannot encode the record: %v", err)
	}
	if got := appendRecordPayload(nil, r); !bytes.Equal(got, want) {
		t.Fatalf("encoders differ for %+v:\ngo-msgpack   %x\nhand-written %x", r, want, got)
	}
	prefix := []byte("earlier frames")
	f, err := NewEncoder().AppendRecord(bytes.Clone(prefix), r)
	if err != nil {
		t.Fatal(err)
	}
	if wantF := AppendFrame(bytes.Clone(prefix), want); !bytes.Equal(f, wantF) {
		t.Fatalf("AppendRecord wrote frame %x, want %x", f, wantF)
	}
}

// Every record, valid as a journal record or not, encodes to go-msgpack's
// bytes: the journal on disk does not change with the encoder.
func TestFastEncoderMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := genRecord(t)
		if rapid.Bool().Draw(t, "delta-widths") && len(r.Writes) > 0 {
			r.Writes[0].Delta = rapid.SampledFrom(intEdges).Draw(t, "delta-edge")
		}
		checkEncoders(t, r)
	})
}

// intEdges are the integers at every edge of msgpack's integer formats.
var intEdges = []int64{0, 1, 127, 128, 255, 256, math.MaxInt16, math.MaxInt16 + 1, math.MaxUint16, math.MaxUint16 + 1,
	math.MaxInt32, math.MaxInt32 + 1, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
	-1, -32, -33, math.MinInt8, math.MinInt8 - 1, math.MinInt16, math.MinInt16 - 1, math.MinInt32, math.MinInt32 - 1, math.MinInt64}

// The integer, string, byte string and array widths at their edges,
// including the 16- and 32-bit lengths random records rarely reach.
func TestFastEncoderWidths(t *testing.T) {
	for _, d := range intEdges {
		checkEncoders(t, &Record{Kind: KindLocal, Writes: []Write{{Key: []byte{1}, Op: OpAdd, Delta: d}}})
		u := uint64(d)
		checkEncoders(t, &Record{Pos: u, Epoch: u, OSeq: u, HLC: u, Reign: u, Subject: TxID{OSeq: u}})
	}
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		s := string(bytes.Repeat([]byte{'x'}, n))
		b := []byte(s)
		checkEncoders(t, &Record{Origin: s, Proc: s, Args: b, Result: b, Instance: s, Role: s, IdempotencyKey: s,
			Rollback: &RollbackInfo{Reason: s, LostFile: s}})
	}
	for _, n := range []int{0, 15, 16, 65535, 65536} {
		checkEncoders(t, &Record{Reads: make([]PointRead, n), Ranges: make([]RangeRead, min(n, 16)), Writes: make([]Write, min(n, 16))})
	}
	// nil and empty are told apart, as go-msgpack tells them.
	checkEncoders(t, &Record{Args: []byte{}, Result: nil, Reads: []PointRead{}, Ranges: nil, Writes: []Write{{Value: []byte{}}}})
}

// FuzzFastEncoder encodes whatever go-msgpack decodes from arbitrary bytes
// both ways and compares the bytes.
func FuzzFastEncoder(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < frameHeader {
			return
		}
		r, err := referenceDecode(data[frameHeader:])
		if err != nil {
			return
		}
		checkEncoders(t, r)
	})
}

// BenchmarkEncodeRecordReference is BenchmarkEncodeRecord with go-msgpack,
// for comparison in one run.
func BenchmarkEncodeRecordReference(b *testing.B) {
	r := ticketRecord()
	var buf []byte
	enc := codec.NewEncoderBytes(&buf, handle)
	b.ReportAllocs()
	for b.Loop() {
		enc.ResetBytes(&buf)
		if err := enc.Encode(r); err != nil {
			b.Fatal(err)
		}
		_ = AppendFrame(nil, buf)
	}
}
