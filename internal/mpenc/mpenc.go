// Package mpenc writes msgpack values byte for byte as go-msgpack (the
// reference codec, github.com/hashicorp/go-msgpack/v2 with the journal's
// handle: WriteExt, no PositiveIntUnsigned) writes them. The hand-written
// encoders of journal records (journal/fastenc.go) and link frames
// (replicate/link/fastframe.go) share it; each is fuzzed against
// go-msgpack in its own package. Its constants are the format bytes the
// hand-written decoders read too.
package mpenc

import (
	"encoding/binary"
	"math"
)

// msgpack format bytes.
const (
	Nil     = 0xc0
	False   = 0xc2
	True    = 0xc3
	Bin8    = 0xc4
	Bin16   = 0xc5
	Bin32   = 0xc6
	Uint8   = 0xcc
	Uint16  = 0xcd
	Uint32  = 0xce
	Uint64  = 0xcf
	Int8    = 0xd0
	Int16   = 0xd1
	Int32   = 0xd2
	Int64   = 0xd3
	Str8    = 0xd9
	Str16   = 0xda
	Str32   = 0xdb
	Array16 = 0xdc
	Array32 = 0xdd
	Float32 = 0xca
	Float64 = 0xcb
	Map16   = 0xde
	Map32   = 0xdf
)

// AppendUint is go-msgpack's EncodeUint: a positive fixint, else the
// smallest of uint8, uint16, uint32, uint64.
func AppendUint(dst []byte, x uint64) []byte {
	switch {
	case x <= math.MaxInt8:
		return append(dst, byte(x))
	case x <= math.MaxUint8:
		return append(dst, Uint8, byte(x))
	case x <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, Uint16), uint16(x))
	case x <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, Uint32), uint32(x))
	}
	return binary.BigEndian.AppendUint64(append(dst, Uint64), x)
}

// AppendInt is go-msgpack's EncodeInt without PositiveIntUnsigned: a
// fixint from -32 to 127, else the smallest signed format that holds x.
func AppendInt(dst []byte, x int64) []byte {
	switch {
	case x > math.MaxInt8:
		switch {
		case x <= math.MaxInt16:
			return binary.BigEndian.AppendUint16(append(dst, Int16), uint16(x))
		case x <= math.MaxInt32:
			return binary.BigEndian.AppendUint32(append(dst, Int32), uint32(x))
		}
		return binary.BigEndian.AppendUint64(append(dst, Int64), uint64(x))
	case x >= -32:
		return append(dst, byte(x))
	case x >= math.MinInt8:
		return append(dst, Int8, byte(x))
	case x >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, Int16), uint16(x))
	case x >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, Int32), uint32(x))
	}
	return binary.BigEndian.AppendUint64(append(dst, Int64), uint64(x))
}

// AppendBool is msgpack's true or false.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, True)
	}
	return append(dst, False)
}

// AppendStr is go-msgpack's EncodeStringEnc with WriteExt: fixstr, str8,
// str16 or str32.
func AppendStr(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 256:
		dst = append(dst, Str8, byte(n))
	case n < 65536:
		dst = binary.BigEndian.AppendUint16(append(dst, Str16), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, Str32), uint32(n))
	}
	return append(dst, s...)
}

// AppendBin is go-msgpack's EncodeStringBytesRaw with WriteExt: nil for a
// nil slice, else bin8, bin16 or bin32.
func AppendBin(dst, b []byte) []byte {
	if b == nil {
		return append(dst, Nil)
	}
	n := len(b)
	switch {
	case n < 256:
		dst = append(dst, Bin8, byte(n))
	case n < 65536:
		dst = binary.BigEndian.AppendUint16(append(dst, Bin16), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, Bin32), uint32(n))
	}
	return append(dst, b...)
}

// AppendArrayLen is go-msgpack's array header: fixarray, array16 or
// array32.
func AppendArrayLen(dst []byte, n int) []byte { return appendLen(dst, n, 0x90, Array16, Array32) }

// appendLen is a container header: fix|n below 16, else the 16- or 32-bit
// format byte and n.
func appendLen(dst []byte, n int, fix, b16, b32 byte) []byte {
	switch {
	case n < 16:
		return append(dst, fix|byte(n))
	case n < 65536:
		return binary.BigEndian.AppendUint16(append(dst, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, b32), uint32(n))
}

// AppendMapLen is go-msgpack's map header: fixmap, map16 or map32.
func AppendMapLen(dst []byte, n int) []byte { return appendLen(dst, n, 0x80, Map16, Map32) }

// AppendFloat32 and AppendFloat64 are go-msgpack's float32 and float64.
func AppendFloat32(dst []byte, f float32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, Float32), math.Float32bits(f))
}

func AppendFloat64(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, Float64), math.Float64bits(f))
}
