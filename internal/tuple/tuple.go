package tuple

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
)

// Type codes. See the package documentation for the layout.
const (
	intZeroCode = 0x14 // zero; positive n-byte integers are intZeroCode+n, negative intZeroCode-n
	intMinCode  = intZeroCode - 8
	intMaxCode  = intZeroCode + 8
	stringCode  = 0x1E

	// In a string's encoding a 0x00 is always followed by one of these.
	escapedZero = 0xFF // 0x00 0xFF: a 0x00 byte of the content
	terminator  = 0x01 // 0x00 0x01: the end of the string
)

// Tuple is a decoded key. Unpack returns elements of type string and int64
// only; Pack and String also accept the other types listed at Pack.
type Tuple []any

// Pack returns the encoding of the tuple (elems...) in a new slice.
//
// Elements may be string, []byte (encoded as the string with the same
// bytes), int, int8, int16, int32, int64, uint8, uint16, uint32, uint or
// uint64. Any other type is a programming error and makes Pack panic, as does
// a uint or uint64 greater than math.MaxInt64, which has no int64 form.
func Pack(elems ...any) []byte {
	n := 0
	for _, e := range elems {
		n += packedLen(e)
	}
	return Append(make([]byte, 0, n), elems...)
}

// Pack returns the encoding of t; see the package-level Pack.
func (t Tuple) Pack() []byte { return Pack(t...) }

// Append appends the encoding of the tuple (elems...) to dst and returns the
// extended slice. It accepts the same element types as Pack and panics in the
// same cases. It does not allocate when dst has enough spare capacity.
func Append(dst []byte, elems ...any) []byte {
	for i, e := range elems {
		dst = appendElem(dst, i, e)
	}
	return dst
}

func appendElem(dst []byte, i int, e any) []byte {
	switch v := e.(type) {
	case string:
		return AppendString(dst, v)
	case []byte:
		return appendString(dst, v)
	case int64:
		return AppendInt(dst, v)
	case int:
		return AppendInt(dst, int64(v))
	case int32:
		return AppendInt(dst, int64(v))
	case int16:
		return AppendInt(dst, int64(v))
	case int8:
		return AppendInt(dst, int64(v))
	case uint8:
		return AppendInt(dst, int64(v))
	case uint16:
		return AppendInt(dst, int64(v))
	case uint32:
		return AppendInt(dst, int64(v))
	case uint:
		return AppendInt(dst, uintToInt64(i, uint64(v)))
	case uint64:
		return AppendInt(dst, uintToInt64(i, v))
	default:
		panic(unsupported(i, reflect.TypeOf(e)))
	}
}

func uintToInt64(i int, v uint64) int64 {
	if v > math.MaxInt64 {
		panic(fmt.Sprintf("tuple: element %d: %d does not fit in int64", i, v))
	}
	return int64(v)
}

// unsupported takes the element's type, not the element: passing the
// element to fmt would make every element of Pack and Append escape, and
// K("seat", event, n) would allocate a box for event and n on every call.
func unsupported(i int, t reflect.Type) string {
	return fmt.Sprintf("tuple: element %d has unsupported type %v (want string, []byte or an integer type)", i, t)
}

// packedLen returns the encoded length of one element, or 0 for an
// unsupported one (which appendElem then rejects).
func packedLen(e any) int {
	switch v := e.(type) {
	case string:
		return 3 + len(v) + strings.Count(v, "\x00")
	case []byte:
		n := 3 + len(v)
		for _, c := range v {
			if c == 0 {
				n++
			}
		}
		return n
	case int64:
		return intLen(v)
	case int:
		return intLen(int64(v))
	case int8, int16, int32, uint8, uint16, uint32, uint, uint64:
		return 9 // at most; not worth a second type switch
	default:
		return 0
	}
}

func intLen(v int64) int {
	if v == 0 {
		return 1
	}
	return 1 + byteLen(magnitude(v))
}

// magnitude returns |v| as a uint64; it is correct for math.MinInt64.
func magnitude(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// byteLen returns the minimal number of bytes that hold u (0 for 0).
func byteLen(u uint64) int { return (bits.Len64(u) + 7) / 8 }

// AppendInt appends the encoding of the one-element tuple (v) to dst.
func AppendInt(dst []byte, v int64) []byte {
	if v == 0 {
		return append(dst, intZeroCode)
	}
	m := magnitude(v)
	n := byteLen(m)
	if v > 0 {
		dst = append(dst, intZeroCode+byte(n))
	} else {
		dst = append(dst, intZeroCode-byte(n))
		m = ^m // only the low n bytes are written
	}
	for shift := 8 * (n - 1); shift >= 0; shift -= 8 {
		dst = append(dst, byte(m>>shift))
	}
	return dst
}

// AppendString appends the encoding of the one-element tuple (s) to dst.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

func appendString[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, stringCode)
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, s[start:i+1]...)
			dst = append(dst, escapedZero)
			start = i + 1
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, 0, terminator)
}

// DecodeError reports a byte string that is not the canonical encoding of
// any tuple.
type DecodeError struct {
	Offset int    // offset in the key of the offending byte
	Reason string // what is wrong there
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("tuple: invalid key at byte %d: %s", e.Offset, e.Reason)
}

func decodeErr(off int, format string, args ...any) error {
	return &DecodeError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Unpack decodes a key produced by Pack or Append. Elements come back as
// int64 or string. It returns a *DecodeError if key is not the canonical
// encoding of a tuple; the empty key is the empty tuple.
func Unpack(key []byte) (Tuple, error) {
	// Every element takes at least one byte; most keys have a few.
	t := make(Tuple, 0, min(len(key), 6))
	for off := 0; off < len(key); {
		e, next, err := decodeElem(key, off)
		if err != nil {
			return nil, err
		}
		t = append(t, e)
		off = next
	}
	return t, nil
}

// decodeElem decodes the element starting at key[off] and returns it with
// the offset just past it.
func decodeElem(key []byte, off int) (any, int, error) {
	code := key[off]
	switch {
	case code == stringCode:
		return decodeString(key, off)
	case code == intZeroCode:
		return int64(0), off + 1, nil
	case code >= intMinCode && code <= intMaxCode:
		return decodeInt(key, off)
	default:
		return nil, 0, decodeErr(off, "unknown type code 0x%02x", code)
	}
}

func decodeInt(key []byte, off int) (any, int, error) {
	code := key[off]
	neg := code < intZeroCode
	n := int(code) - intZeroCode
	if neg {
		n = -n
	}
	body := key[off+1:]
	if len(body) < n {
		return nil, 0, decodeErr(off, "integer with type code 0x%02x is truncated: want %d magnitude byte(s), have %d", code, n, len(body))
	}
	body = body[:n]
	var u uint64
	for _, c := range body {
		u = u<<8 | uint64(c)
	}
	end := off + 1 + n
	if !neg {
		if body[0] == 0 {
			return nil, 0, decodeErr(off+1, "positive integer is not minimally encoded (leading byte 0x00)")
		}
		if u > math.MaxInt64 {
			return nil, 0, decodeErr(off, "positive integer 0x%s overflows int64", hex.EncodeToString(body))
		}
		return int64(u), end, nil
	}
	if body[0] == 0xFF {
		return nil, 0, decodeErr(off+1, "negative integer is not minimally encoded (leading byte 0xff)")
	}
	mask := ^uint64(0)
	if n < 8 {
		mask = 1<<(8*n) - 1
	}
	m := ^u & mask // the magnitude; nonzero because body[0] != 0xFF
	if m > 1<<63 {
		return nil, 0, decodeErr(off, "negative integer of magnitude %d overflows int64", m)
	}
	return -int64(m-1) - 1, end, nil
}

func decodeString(key []byte, off int) (any, int, error) {
	start := off + 1
	escapes := 0
	i := start
	for {
		if i >= len(key) {
			return nil, 0, decodeErr(off, "string has no 0x00 0x01 terminator")
		}
		if key[i] != 0 {
			i++
			continue
		}
		if i+1 >= len(key) {
			return nil, 0, decodeErr(i, "string ends in a lone 0x00 (want 0x00 0x01 terminator or 0x00 0xff escape)")
		}
		if key[i+1] == terminator {
			break
		}
		if key[i+1] != escapedZero {
			return nil, 0, decodeErr(i, "bad escape 0x00 0x%02x in string (want 0x00 0x01 terminator or 0x00 0xff escape)", key[i+1])
		}
		escapes++
		i += 2
	}
	raw := key[start:i]
	end := i + 2
	if escapes == 0 {
		return string(raw), end, nil
	}
	var b strings.Builder
	b.Grow(len(raw) - escapes)
	for j := 0; j < len(raw); j++ {
		b.WriteByte(raw[j])
		if raw[j] == 0 {
			j++ // skip the escapedZero byte
		}
	}
	return b.String(), end, nil
}

// PrefixEnd returns the smallest key that is greater than every key having
// prefix as a byte prefix: for the encoding of a tuple prefix p, the
// exclusive upper bound of the range of keys of tuples extending p. It
// returns nil if there is no such key, which is the case exactly when prefix
// is empty or consists only of 0xFF bytes. The result never aliases prefix.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return nil
}

// Format returns key in human form, like ("seat", "gala", 12). Strings are
// quoted as Go string literals. A key that does not decode is shown as
// raw(0x...) with its bytes in hex.
func Format(key []byte) string {
	t, err := Unpack(key)
	if err != nil {
		return "raw(0x" + hex.EncodeToString(key) + ")"
	}
	return t.String()
}

// String returns t in human form, like ("seat", "gala", 12), with strings
// quoted as Go string literals. An element of a type Pack does not accept is
// shown as !(type=value).
func (t Tuple) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, e := range t {
		if i > 0 {
			b.WriteString(", ")
		}
		switch v := e.(type) {
		case string:
			b.WriteString(strconv.Quote(v))
		case []byte:
			b.WriteString(strconv.Quote(string(v)))
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			fmt.Fprint(&b, v)
		default:
			fmt.Fprintf(&b, "!(%T=%v)", v, v)
		}
	}
	b.WriteByte(')')
	return b.String()
}
