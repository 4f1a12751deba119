package liege

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/liege-db/liege/internal/msgint"
	"github.com/liege-db/liege/journal"
)

// Value is a stored value: msgpack bytes, as held in the state and journal.
// It must not be modified.
type Value []byte

// ErrNotInteger is returned by Value.Int for a value that is not an integer.
var ErrNotInteger = errors.New("value is not an integer")

// Int decodes an integer value.
func (v Value) Int() (int64, error) {
	n, rest, ok := msgint.Read(v)
	if !ok || len(rest) != 0 {
		return 0, ErrNotInteger
	}
	return n, nil
}

// Str decodes a string (or binary) value.
func (v Value) Str() (string, error) {
	s, rest, ok := readStr(v)
	if !ok || len(rest) != 0 {
		var x any
		if err := journal.Unmarshal(v, &x); err == nil {
			return "", fmt.Errorf("value is a %T, not a string", x)
		}
		return "", errors.New("value is not a string")
	}
	return s, nil
}

// Decode decodes the value into out (a pointer), as msgpack.
func (v Value) Decode(out any) error { return journal.Unmarshal(v, out) }

// Any decodes the value into a Go value of its natural type.
func (v Value) Any() (any, error) {
	var x any
	err := journal.Unmarshal(v, &x)
	return x, err
}

// appendValue appends the msgpack encoding of v. Strings, byte slices,
// integers, booleans and nil are encoded here without the reflective
// encoder; the result is byte-identical to go-msgpack's (tested).
func appendValue(dst []byte, v any) ([]byte, error) {
	if b, ok := appendBasic(dst, v); ok {
		return b, nil
	}
	b, err := journal.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendBasic is appendValue for the types it encodes itself; ok is false
// for any other. It does not keep v, so a value converted to an interface
// only to be passed here stays off the heap.
func appendBasic(dst []byte, v any) (out []byte, ok bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, 0xc0), true
	case bool:
		if x {
			return append(dst, 0xc3), true
		}
		return append(dst, 0xc2), true
	case string:
		return appendStr(dst, x), true
	case []byte:
		return appendBin(dst, x), true
	case int:
		return msgint.Append(dst, int64(x)), true
	case int64:
		return msgint.Append(dst, x), true
	case int32:
		return msgint.Append(dst, int64(x)), true
	case Value:
		return append(dst, x...), true
	}
	return dst, false
}

// appendResult appends the msgpack encoding of a procedure's result r. A
// result of a type appendBasic encodes is not boxed on the heap (passing r
// on as an interface to the reflective encoder would box every result).
func appendResult[R any](dst []byte, r R) ([]byte, error) {
	if b, ok := appendBasic(dst, any(r)); ok {
		return b, nil
	}
	return appendValue(dst, any(r))
}

// appendBin encodes a msgpack bin, the form go-msgpack writes for []byte
// with WriteExt set.
func appendBin(dst, b []byte) []byte {
	n := len(b)
	switch {
	case n < 256:
		dst = append(dst, 0xc4, byte(n))
	case n < 65536:
		dst = append(dst, 0xc5, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, b...)
}

// appendStr encodes a msgpack str, the form go-msgpack writes for strings.
func appendStr(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 256:
		dst = append(dst, 0xd9, byte(n))
	case n < 65536:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...)
}

func readStr(b []byte) (string, []byte, bool) {
	if len(b) == 0 {
		return "", b, false
	}
	c := b[0]
	var n, h int
	switch {
	case c&0xe0 == 0xa0:
		n, h = int(c&0x1f), 1
	case (c == 0xd9 || c == 0xc4) && len(b) >= 2:
		n, h = int(b[1]), 2
	case (c == 0xda || c == 0xc5) && len(b) >= 3:
		n, h = int(binary.BigEndian.Uint16(b[1:])), 3
	case (c == 0xdb || c == 0xc6) && len(b) >= 5:
		n, h = int(binary.BigEndian.Uint32(b[1:])), 5
	default:
		return "", b, false
	}
	if len(b)-h < n {
		return "", b, false
	}
	return string(b[h : h+n]), b[h+n:], true
}
