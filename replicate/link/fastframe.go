package link

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/liege-db/liege/internal/mpenc"
)

// The hand-written frame codec. Every frame of a replication stream went
// through go-msgpack's reflective encoder and decoder, about a fifth of
// the link's CPU time and five allocations per frame received. This file
// writes the bytes go-msgpack writes for a wireFrame (an array of its 17
// fields in order, minimal integers, str for strings, bin for byte
// strings, nil for nil byte strings and a nil Records), byte for byte, and
// reads them back in two allocations (the Frame's byte strings share one
// copy of the body; Cluster and From are reused from the previous frame).
//
// It is an accelerator, not a second definition of the wire format: the
// decoder reads only what this encoder writes, and whatever else a body
// holds (a shorter or longer array, a string as bin, a number in a wider
// form than needed, trailing bytes, a length past the end) is left to
// go-msgpack (errSlowFrame), which decides and words the error.
// TestFastFrameMatchesReference and FuzzFastFrameDecode compare the two.

// errSlowFrame says the fast decoder leaves a body to go-msgpack.
var errSlowFrame = errors.New("link: frame left to the reference decoder")

// wireFields is the length of the array go-msgpack writes for a wireFrame.
const wireFields = 17

// appendWire appends f's body as go-msgpack encodes its wireFrame.
func appendWire(b []byte, f *Frame) []byte {
	b = append(b, mpenc.Array16, 0, wireFields)
	b = mpenc.AppendUint(b, uint64(f.Kind))
	b = mpenc.AppendStr(b, f.Cluster)
	b = mpenc.AppendStr(b, f.From)
	b = mpenc.AppendUint(b, f.Epoch)
	b = mpenc.AppendUint(b, uint64(f.Version))
	b = mpenc.AppendStr(b, f.Role)
	b = mpenc.AppendUint(b, f.Watermark)
	b = mpenc.AppendInt(b, f.WallClock)
	b = mpenc.AppendUint(b, f.Prev)
	b = mpenc.AppendBin(b, f.Record)
	b = mpenc.AppendStr(b, f.Subject)
	if f.Records == nil {
		b = append(b, mpenc.Nil)
	} else {
		b = mpenc.AppendArrayLen(b, len(f.Records))
		for _, r := range f.Records {
			b = mpenc.AppendBin(b, r)
		}
	}
	b = mpenc.AppendUint(b, f.Reign)
	b = mpenc.AppendUint(b, f.Stable)
	b = mpenc.AppendBin(b, f.Chunk)
	b = mpenc.AppendUint(b, f.Offset)
	return mpenc.AppendUint(b, f.Total)
}

// fastFrameReader is the cursor of one decoding. own is the body the
// Frame's byte strings are sliced from: the caller's when it is owned (the
// caller never writes it again), else a copy made at the first byte
// string (not aliasing the caller's buffer).
type fastFrameReader struct {
	p, own []byte
	i      int
}

// decodeFastFrame decodes body into f, or returns errSlowFrame. cluster
// and from are the previous frame's on this connection: the same bytes
// decode to the same strings, without an allocation. With owned, f's byte
// strings are slices of body, which the caller must never write again;
// without it, of a copy.
func decodeFastFrame(body []byte, f *Frame, cluster, from string, owned bool) error {
	d := fastFrameReader{p: body}
	if owned {
		d.own = body
	}
	if n, err := d.len(0, 0, 0, mpenc.Array16, mpenc.Array32); err != nil || n != wireFields {
		return errSlowFrame
	}
	var w Frame
	var err error
	var k uint64
	if k, err = d.uint(math.MaxUint8); err != nil {
		return err
	}
	w.Kind = Kind(k)
	if w.Cluster, err = d.str(cluster); err != nil {
		return err
	}
	if w.From, err = d.str(from); err != nil {
		return err
	}
	if w.Epoch, err = d.uint(math.MaxUint64); err != nil {
		return err
	}
	var v uint64
	if v, err = d.uint(math.MaxUint16); err != nil {
		return err
	}
	w.Version = uint16(v)
	if w.Role, err = d.str(""); err != nil {
		return err
	}
	if w.Watermark, err = d.uint(math.MaxUint64); err != nil {
		return err
	}
	if w.WallClock, err = d.int(); err != nil {
		return err
	}
	if w.Prev, err = d.uint(math.MaxUint64); err != nil {
		return err
	}
	if w.Record, err = d.bin(); err != nil {
		return err
	}
	if w.Subject, err = d.str(""); err != nil {
		return err
	}
	if w.Records, err = d.bins(); err != nil {
		return err
	}
	if w.Reign, err = d.uint(math.MaxUint64); err != nil {
		return err
	}
	if w.Stable, err = d.uint(math.MaxUint64); err != nil {
		return err
	}
	if w.Chunk, err = d.bin(); err != nil {
		return err
	}
	if w.Offset, err = d.uint(math.MaxUint64); err != nil {
		return err
	}
	if w.Total, err = d.uint(math.MaxUint64); err != nil {
		return err
	}
	if d.i != len(d.p) {
		return errSlowFrame
	}
	*f = w
	return nil
}

func (d *fastFrameReader) byte() (byte, error) {
	if d.i >= len(d.p) {
		return 0, errSlowFrame
	}
	b := d.p[d.i]
	d.i++
	return b, nil
}

func (d *fastFrameReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.p)-d.i {
		return nil, errSlowFrame
	}
	b := d.p[d.i : d.i+n]
	d.i += n
	return b, nil
}

// len reads a container header of the forms given (a zero form byte is
// not accepted); nil is -1.
func (d *fastFrameReader) len(fix byte, fixMax int, b8, b16, b32 byte) (int, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	var x []byte
	switch {
	case c == mpenc.Nil:
		return -1, nil
	case fix != 0 && c >= fix && int(c-fix) < fixMax:
		return int(c - fix), nil
	case b8 != 0 && c == b8:
		if x, err = d.take(1); err != nil {
			return 0, err
		}
		return int(x[0]), nil
	case c == b16:
		if x, err = d.take(2); err != nil {
			return 0, err
		}
		return int(binary.BigEndian.Uint16(x)), nil
	case c == b32:
		if x, err = d.take(4); err != nil {
			return 0, err
		}
		return int(binary.BigEndian.Uint32(x)), nil
	}
	return 0, errSlowFrame
}

// uint reads an unsigned integer no larger than limit.
func (d *fastFrameReader) uint(limit uint64) (uint64, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	var v uint64
	var x []byte
	switch c {
	case mpenc.Uint8:
		x, err = d.take(1)
		if err == nil {
			v = uint64(x[0])
		}
	case mpenc.Uint16:
		x, err = d.take(2)
		if err == nil {
			v = uint64(binary.BigEndian.Uint16(x))
		}
	case mpenc.Uint32:
		x, err = d.take(4)
		if err == nil {
			v = uint64(binary.BigEndian.Uint32(x))
		}
	case mpenc.Uint64:
		x, err = d.take(8)
		if err == nil {
			v = binary.BigEndian.Uint64(x)
		}
	default:
		if c > math.MaxInt8 {
			return 0, errSlowFrame // nil, a signed form: go-msgpack reads them
		}
		v = uint64(c)
	}
	if err != nil || v > limit {
		return 0, errSlowFrame
	}
	return v, nil
}

func (d *fastFrameReader) int() (int64, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	if c <= math.MaxInt8 || c >= 0xe0 {
		return int64(int8(c)), nil
	}
	var x []byte
	switch c {
	case mpenc.Int8:
		if x, err = d.take(1); err != nil {
			return 0, err
		}
		return int64(int8(x[0])), nil
	case mpenc.Int16:
		if x, err = d.take(2); err != nil {
			return 0, err
		}
		return int64(int16(binary.BigEndian.Uint16(x))), nil
	case mpenc.Int32:
		if x, err = d.take(4); err != nil {
			return 0, err
		}
		return int64(int32(binary.BigEndian.Uint32(x))), nil
	case mpenc.Int64:
		if x, err = d.take(8); err != nil {
			return 0, err
		}
		return int64(binary.BigEndian.Uint64(x)), nil
	}
	return 0, errSlowFrame
}

// str reads a str (not nil, not bin); prev is returned if the bytes are
// the same.
func (d *fastFrameReader) str(prev string) (string, error) {
	n, err := d.len(0xa0, 32, mpenc.Str8, mpenc.Str16, mpenc.Str32)
	if err != nil || n < 0 {
		return "", errSlowFrame
	}
	b, err := d.take(n)
	if err != nil {
		return "", err
	}
	if prev == string(b) {
		return prev, nil
	}
	return string(b), nil
}

// bin reads a byte string (nil for nil or empty, as blob decodes them),
// sliced from the copy of the body.
func (d *fastFrameReader) bin() ([]byte, error) {
	n, err := d.len(0, 0, mpenc.Bin8, mpenc.Bin16, mpenc.Bin32)
	if err != nil || n <= 0 {
		return nil, err
	}
	start := d.i
	if _, err := d.take(n); err != nil {
		return nil, err
	}
	if d.own == nil {
		d.own = append([]byte(nil), d.p...)
	}
	return d.own[start : start+n : start+n], nil
}

// bins reads Records: nil for nil or an empty array, as decode makes it.
func (d *fastFrameReader) bins() ([][]byte, error) {
	n, err := d.len(0x90, 16, 0, mpenc.Array16, mpenc.Array32)
	if err != nil || n <= 0 {
		return nil, err
	}
	if n > len(d.p)-d.i { // each takes a byte at least
		return nil, errSlowFrame
	}
	out := make([][]byte, n)
	for i := range out {
		if out[i], err = d.bin(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
