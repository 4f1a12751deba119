package journal

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Argument shapes the hand-written struct encoder handles.
type (
	seatArgs struct {
		Event    string
		Seat     int64
		Customer string
	}
	allKinds struct {
		S   string
		B   bool
		I   int
		I8  int8
		I16 int16
		I32 int32
		I64 int64
		U   uint
		U8  uint8
		U16 uint16
		U32 uint32
		U64 uint64
		F32 float32
		F64 float64
		N   namedInt
		NS  namedStr
	}
	namedInt   int32
	namedStr   string
	emptyArgs  struct{}
	unsorted   struct{ Zeta, Alpha, Mid string }
	manyFields struct {
		F01, F02, F03, F04, F05, F06, F07, F08, F09, F10, F11, F12, F13, F14, F15, F16, F17 int
	}
	withMethod struct{ A int } // a method go-msgpack ignores
)

func (withMethod) Validate() error { return nil }

// Shapes it leaves to go-msgpack: each could encode differently.
type (
	tagged struct {
		A int `codec:"a"`
	}
	jsonTagged struct {
		A int `json:"a,omitempty"`
	}
	unexported struct {
		A int
		//lint:ignore U1000 go-msgpack skips it, so the encoder must decline the type
		b int
	}
	embedded struct {
		seatArgs
		X int
	}
	withSlice  struct{ A []byte }
	withTime   struct{ T time.Time }
	withStruct struct{ A seatArgs }
	binMarsh   struct{ A int }
	binField   struct{ A binInt }
	binInt     int
	selfer     struct{ A int }
)

func (binMarsh) MarshalBinary() ([]byte, error)  { return nil, nil }
func (*binMarsh) UnmarshalBinary(b []byte) error { return nil }
func (binInt) MarshalBinary() ([]byte, error)    { return nil, nil }
func (*binInt) UnmarshalBinary(b []byte) error   { return nil }
func (selfer) CodecEncodeSelf(any)               {}
func (*selfer) CodecDecodeSelf(any)              {}

func TestStructMarshalerDeclines(t *testing.T) {
	for _, v := range []any{tagged{}, jsonTagged{}, unexported{}, embedded{}, withSlice{}, withTime{},
		withStruct{}, binMarsh{}, binField{}, selfer{}, time.Time{}, &seatArgs{}, 3, "s", []int{1}, map[string]int{}} {
		if p := planStruct(reflect.TypeOf(v)); p != nil {
			t.Errorf("%T: the hand-written encoder takes it; go-msgpack may encode it differently", v)
		}
		m := StructMarshaler(reflect.TypeOf(v))
		got, err := m(v)
		want, werr := Marshal(v)
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Errorf("%T: StructMarshaler gives %x, %v; Marshal %x, %v", v, got, err, want, werr)
		}
	}
}

// checkStruct fails unless the hand-written encoder writes exactly what
// go-msgpack writes for v.
func checkStruct(t interface {
	Helper()
	Fatalf(string, ...any)
}, v any) {
	t.Helper()
	p := planStruct(reflect.TypeOf(v))
	if p == nil {
		t.Fatalf("%T: not taken by the hand-written encoder", v)
	}
	want, err := Marshal(v)
	if err != nil {
		t.Fatalf("go-msgpack cannot encode %#v: %v", v, err)
	}
	if got := p.marshal(reflect.ValueOf(v)); !bytes.Equal(got, want) {
		t.Fatalf("encoders differ for %#v:\ngo-msgpack   %x\nhand-written %x", v, want, got)
	}
	if got, err := StructMarshaler(reflect.TypeOf(v))(v); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("StructMarshaler gives %x, %v for %#v, want %x", got, err, v, want)
	}
}

// genStr draws strings around every edge of msgpack's str formats.
func genStr(t *rapid.T, label string) string {
	n := rapid.SampledFrom([]int{0, 1, 31, 32, 255, 256, 65535, 65536}).Draw(t, label+"-edge")
	if rapid.Bool().Draw(t, label+"-short") {
		n = rapid.IntRange(0, 300).Draw(t, label+"-len")
	}
	return strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
}

func genInt(t *rapid.T, label string) int64 {
	if rapid.Bool().Draw(t, label+"-at-edge") {
		return rapid.SampledFrom(intEdges).Draw(t, label)
	}
	return rapid.Int64().Draw(t, label)
}

func genArgUint(t *rapid.T, label string) uint64 {
	if rapid.Bool().Draw(t, label+"-at-edge") {
		return uint64(rapid.SampledFrom(intEdges).Draw(t, label))
	}
	return rapid.Uint64().Draw(t, label)
}

func genFloat(t *rapid.T, label string) float64 {
	return rapid.SampledFrom([]float64{0, math.Copysign(0, -1), 1.5, -3e300, math.Inf(1), math.NaN(),
		math.MaxFloat32, math.SmallestNonzeroFloat64, rapid.Float64().Draw(t, label+"-any")}).Draw(t, label)
}

// Every value of every shape it takes encodes to go-msgpack's bytes: the
// journal's Args do not change with the encoder.
func TestStructMarshalerMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		checkStruct(t, seatArgs{Event: genStr(t, "event"), Seat: genInt(t, "seat"), Customer: genStr(t, "customer")})
		checkStruct(t, allKinds{
			S: genStr(t, "s"), B: rapid.Bool().Draw(t, "b"),
			I: int(genInt(t, "i")), I8: int8(genInt(t, "i8")), I16: int16(genInt(t, "i16")),
			I32: int32(genInt(t, "i32")), I64: genInt(t, "i64"),
			U: uint(genArgUint(t, "u")), U8: uint8(genArgUint(t, "u8")), U16: uint16(genArgUint(t, "u16")),
			U32: uint32(genArgUint(t, "u32")), U64: genArgUint(t, "u64"),
			F32: float32(genFloat(t, "f32")), F64: genFloat(t, "f64"),
			N: namedInt(genInt(t, "n")), NS: namedStr(genStr(t, "ns")),
		})
		checkStruct(t, unsorted{Zeta: genStr(t, "z"), Alpha: genStr(t, "a"), Mid: genStr(t, "m")})
		checkStruct(t, manyFields{F01: int(genInt(t, "f01")), F17: int(genInt(t, "f17"))})
		checkStruct(t, withMethod{A: int(genInt(t, "a"))})
	})
	checkStruct(t, emptyArgs{})
}

// BenchmarkMarshalArgs compares go-msgpack with the hand-written encoder
// on the ticket call's arguments.
func BenchmarkMarshalArgs(b *testing.B) {
	var v any = seatArgs{Event: "gala", Seat: 123456, Customer: "customer-104096"}
	for _, c := range []struct {
		name string
		m    func(any) ([]byte, error)
	}{{"go-msgpack", Marshal}, {"hand-written", StructMarshaler(reflect.TypeOf(v))}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.m(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
