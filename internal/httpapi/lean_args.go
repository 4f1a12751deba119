package httpapi

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// LeanArgs decodes the JSON object b into *v, a flat struct (fields
// of basic kinds only, none embedded, at most 64), when b is plain: every
// key exactly one of the struct's JSON field names, once; strings of
// printable ASCII without escapes; numbers that fit their field; no null.
// It then does what a json.Decoder with DisallowUnknownFields does. ok is
// false for anything else, with *v left zero: decode it with
// encoding/json, which also says what is wrong.
func LeanArgs(b []byte, v any) (ok bool) {
	rv := reflect.ValueOf(v)
	fi := flatFields(rv.Type())
	if fi == nil || rv.IsNil() {
		return false
	}
	st := rv.Elem()
	defer func() {
		if !ok {
			st.SetZero()
		}
	}()
	l := lexer{b: b}
	if !l.consume('{') {
		return false
	}
	var seen uint64
	for n := 0; l.more('}', n); n++ {
		key, ok := l.key()
		if !ok || !l.consume(':') {
			return false
		}
		i := fi.lookupBytes(key)
		if i < 0 || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		f := st.Field(fi.fields[i])
		switch f.Kind() {
		case reflect.String:
			s, ok := l.str()
			if !ok {
				return false
			}
			f.SetString(s)
		case reflect.Bool:
			x, ok := l.bool()
			if !ok {
				return false
			}
			f.SetBool(x)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n, ok := l.int64()
			if !ok || f.OverflowInt(n) {
				return false
			}
			f.SetInt(n)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			n, ok := l.uint64()
			if !ok || f.OverflowUint(n) {
				return false
			}
			f.SetUint(n)
		case reflect.Float32, reflect.Float64:
			num := l.value()
			if len(num) == 0 || (num[0] != '-' && (num[0] < '0' || num[0] > '9')) {
				return false
			}
			x, err := strconv.ParseFloat(string(num), f.Type().Bits())
			if err != nil {
				return false
			}
			f.SetFloat(x)
		default:
			return false
		}
	}
	return l.end()
}

// flatInfo is what LeanArgs knows of a flat struct.
type flatInfo struct {
	names  []string // JSON field names
	fields []int    // their struct field indexes
}

func (fi *flatInfo) lookupBytes(name []byte) int {
	for i, n := range fi.names {
		if n == string(name) {
			return i
		}
	}
	return -1
}

func (fi *flatInfo) lookup(name string) int {
	for i, n := range fi.names {
		if n == name {
			return i
		}
	}
	return -1
}

var flatCache sync.Map // reflect.Type -> *flatInfo (nil: not flat)

// flatFields describes the struct t points to, nil if t is not a pointer
// to a flat struct.
func flatFields(t reflect.Type) *flatInfo {
	if v, ok := flatCache.Load(t); ok {
		return v.(*flatInfo)
	}
	fi := computeFlat(t)
	flatCache.Store(t, fi)
	return fi
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

// hasUnmarshaler reports whether t decodes itself.
func hasUnmarshaler(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(unmarshalerType) || pt.Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

func computeFlat(t reflect.Type) *flatInfo {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || hasUnmarshaler(t.Elem()) {
		return nil
	}
	st := t.Elem()
	fi := &flatInfo{}
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64:
		default:
			return nil
		}
		if hasUnmarshaler(f.Type) {
			return nil
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",string,") {
			return nil
		}
		if name == "" {
			name = f.Name
		}
		if fi.lookup(name) >= 0 {
			return nil // encoding/json drops both: let it judge
		}
		fi.names = append(fi.names, name)
		fi.fields = append(fi.fields, i)
	}
	if len(fi.names) > 64 {
		return nil
	}
	return fi
}
