package oracle

import (
	"encoding/binary"
	"math"
)

// The engine's integer values, as value.go of package liege encodes and
// decodes them (this package cannot import the engine, whose tests use it).
// The tests check that both agree.

// DecodeInt decodes a msgpack integer value exactly as the engine's
// Value.Int does: any msgpack integer form, nothing after it; a uint64
// above math.MaxInt64 is not an integer.
func DecodeInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	c := b[0]
	switch {
	case len(b) == 1 && c <= 0x7f:
		return int64(c), true
	case len(b) == 1 && c >= 0xe0:
		return int64(int8(c)), true
	case c <= 0x7f || c >= 0xe0:
		return 0, false // something follows the integer
	}
	var need int
	switch c {
	case 0xcc, 0xd0:
		need = 1
	case 0xcd, 0xd1:
		need = 2
	case 0xce, 0xd2:
		need = 4
	case 0xcf, 0xd3:
		need = 8
	default:
		return 0, false
	}
	if len(b) != 1+need {
		return 0, false
	}
	var u uint64
	for _, x := range b[1:] {
		u = u<<8 | uint64(x)
	}
	switch c {
	case 0xcf:
		if u > math.MaxInt64 {
			return 0, false
		}
		return int64(u), true
	case 0xcc, 0xcd, 0xce:
		return int64(u), true
	case 0xd0:
		return int64(int8(u)), true
	case 0xd1:
		return int64(int16(u)), true
	case 0xd2:
		return int64(int32(u)), true
	}
	return int64(u), true // 0xd3
}

// AppendInt appends the msgpack encoding of n in its smallest signed form,
// as the engine writes the value after an Add.
func AppendInt(dst []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 127:
		return append(dst, byte(n))
	case n < 0 && n >= -32:
		return append(dst, byte(n))
	case n >= math.MinInt8 && n <= math.MaxInt8:
		return append(dst, 0xd0, byte(n))
	case n >= math.MinInt16 && n <= math.MaxInt16:
		return append(dst, 0xd1, byte(n>>8), byte(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		return append(dst, 0xd2, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(n))
}

// decodeStr decodes a msgpack str or bin value (for messages only).
func decodeStr(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", false
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
		return "", false
	}
	if len(b)-h != n {
		return "", false
	}
	return string(b[h:]), true
}
