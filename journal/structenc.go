package journal

import (
	"reflect"
	"slices"
	"strings"

	"github.com/liege-db/liege/internal/mpenc"
)

// The hand-written encoder of flat structs, such as most procedures'
// arguments: the bytes go-msgpack writes for them with MsgpackHandle (a map
// from field name to value, the fields sorted by name; str for strings,
// minimal int and uint formats, float32 and float64), byte for byte,
// without go-msgpack's reflection walk and pooled scratch buffer. A type
// with anything that could change go-msgpack's encoding (a struct tag, an
// embedded or unexported field, a field of any other kind, a method
// go-msgpack looks for) is not handled: StructMarshaler says so and
// Marshal encodes it. TestStructMarshalerMatchesReference compares the two
// byte for byte.

// structPlan is how to encode one struct type.
type structPlan struct {
	t      reflect.Type
	fields []fieldPlan // sorted by name, as go-msgpack sorts a map's keys
	fixed  int         // bytes written whatever the values, bounded above
}

type fieldPlan struct {
	index int
	key   string // the msgpack str of the field's name
	kind  reflect.Kind
}

// StructMarshaler returns Marshal for values of type t: a hand-written
// encoder if t is a struct it handles, else Marshal itself. The function
// returned encodes a value of any other type with Marshal.
func StructMarshaler(t reflect.Type) func(v any) ([]byte, error) {
	p := planStruct(t)
	if p == nil {
		return Marshal
	}
	return func(v any) ([]byte, error) {
		if reflect.TypeOf(v) != p.t {
			return Marshal(v)
		}
		return p.marshal(reflect.ValueOf(v)), nil
	}
}

// goMsgpackMethods are the methods by which go-msgpack encodes a type its
// own way (codec.Selfer, encoding.BinaryMarshaler, codec.MissingFielder).
var goMsgpackMethods = []string{"CodecEncodeSelf", "CodecDecodeSelf", "MarshalBinary", "UnmarshalBinary", "CodecMissingFields"}

// plainType reports whether go-msgpack encodes t by its kind alone: no
// method it looks for, on t or *t.
func plainType(t reflect.Type) bool {
	for _, m := range goMsgpackMethods {
		if _, ok := t.MethodByName(m); ok {
			return false
		}
		if _, ok := reflect.PointerTo(t).MethodByName(m); ok {
			return false
		}
	}
	return true
}

// planStruct returns the plan for t, or nil if t is not a struct whose
// encoding it knows.
func planStruct(t reflect.Type) *structPlan {
	if t == nil || t.Kind() != reflect.Struct || !plainType(t) {
		return nil
	}
	p := &structPlan{t: t, fixed: 5}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous || f.Tag != "" || !plainType(f.Type) {
			return nil
		}
		var most int // the longest encoding of the value, less a string's bytes
		switch k := f.Type.Kind(); k {
		case reflect.String:
			most = 5
		case reflect.Bool:
			most = 1
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			most = 9
		default:
			return nil
		}
		key := string(mpenc.AppendStr(nil, f.Name))
		p.fields = append(p.fields, fieldPlan{index: i, key: key, kind: f.Type.Kind()})
		p.fixed += len(key) + most
	}
	slices.SortFunc(p.fields, func(a, b fieldPlan) int {
		return strings.Compare(t.Field(a.index).Name, t.Field(b.index).Name)
	})
	return p
}

// marshal encodes rv, a value of p.t, into one allocation of the size
// needed.
func (p *structPlan) marshal(rv reflect.Value) []byte {
	n := p.fixed
	for i := range p.fields {
		if f := &p.fields[i]; f.kind == reflect.String {
			n += rv.Field(f.index).Len()
		}
	}
	dst := mpenc.AppendMapLen(make([]byte, 0, n), len(p.fields))
	for i := range p.fields {
		f := &p.fields[i]
		dst = append(dst, f.key...)
		v := rv.Field(f.index)
		switch f.kind {
		case reflect.String:
			dst = mpenc.AppendStr(dst, v.String())
		case reflect.Bool:
			dst = mpenc.AppendBool(dst, v.Bool())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst = mpenc.AppendInt(dst, v.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			dst = mpenc.AppendUint(dst, v.Uint())
		case reflect.Float32:
			dst = mpenc.AppendFloat32(dst, float32(v.Float()))
		case reflect.Float64:
			dst = mpenc.AppendFloat64(dst, v.Float())
		}
	}
	return dst
}
