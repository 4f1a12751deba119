// Package msgint is the engine's msgpack integer codec: the smallest
// encoding go-msgpack gives a signed integer, and its reading, without an
// allocation. The root package (Value.Int, Tx.Add) and internal/engine
// (peer Adds, last-writer-wins) share it; internal/oracle keeps its own
// copy on purpose, as a checker independent of the engine.
package msgint

import (
	"math"

	"github.com/liege-db/liege/internal/mpenc"
)

// Append encodes an integer in the smallest msgpack form, as go-msgpack
// does for signed integers.
func Append(dst []byte, n int64) []byte { return mpenc.AppendInt(dst, n) }

// Read decodes the msgpack integer at the front of b and returns it with
// the rest of b; ok is false if b does not start with one that fits an
// int64.
func Read(b []byte) (int64, []byte, bool) {
	if len(b) == 0 {
		return 0, b, false
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return int64(c), b[1:], true
	case c >= 0xe0:
		return int64(int8(c)), b[1:], true
	}
	need := map[byte]int{0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8}[c]
	if need == 0 || len(b) < 1+need {
		return 0, b, false
	}
	p := b[1 : 1+need]
	var u uint64
	for _, x := range p {
		u = u<<8 | uint64(x)
	}
	rest := b[1+need:]
	switch c {
	case 0xcf:
		if u > math.MaxInt64 {
			return 0, b, false
		}
		return int64(u), rest, true
	case 0xcc, 0xcd, 0xce:
		return int64(u), rest, true
	case 0xd0:
		return int64(int8(u)), rest, true
	case 0xd1:
		return int64(int16(u)), rest, true
	case 0xd2:
		return int64(int32(u)), rest, true
	}
	return int64(u), rest, true
}
