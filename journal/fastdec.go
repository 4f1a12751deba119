package journal

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/liege-db/liege/internal/mpenc"
)

// The hand-written record decoder. It reads the msgpack go-msgpack writes
// for a Record (record_codecgen.go, MsgpackHandle: structs as arrays in
// field order, minimal integers, str for strings, bin for byte strings, nil
// for nil slices and pointers), byte for byte the format on disk, at a
// fraction of the reflective decoder's cost: no per-field interface calls,
// one allocation for all the byte strings of a small record, interned
// origins and procedure names, and a large value copied once (go-msgpack
// grows it in steps, copying at each).
//
// It is an accelerator, not a second definition of the format: whatever it
// does not read exactly as go-msgpack would (a struct as a map, an array
// longer than the struct, a negative number for an unsigned field, a length
// running past the payload, any other surprise) makes it return errSlow,
// and DecodePayload hands the payload to go-msgpack, which decides (and
// words the error). TestFastDecoderMatchesReference and FuzzFastDecoder
// compare the two on random records and arbitrary bytes.

// errSlow says the fast decoder leaves a payload to go-msgpack.
var errSlow = errors.New("journal: payload left to the reference decoder")

// arenaMax is the largest payload whose byte strings share one allocation:
// small enough that a key kept from a record (a window, an index) cannot
// pin much besides itself; a larger record's byte strings are allocated
// one by one.
const arenaMax = 2 << 10

// internMax bounds the strings a Decoder interns (origins, procedure
// names, roles): there are a handful of each, and a hostile stream of
// distinct names must not grow the table without end.
const internMax = 256

// emptyBytes is what an empty byte string decodes to: non-nil and empty,
// as go-msgpack makes it (nil is kept for a msgpack nil: a Write with a
// nil Before is an absent before-image).
var emptyBytes = []byte{}

// Record field count: the length of the array go-msgpack writes for one.
const (
	recordFields   = 22
	writeFields    = 6
	txidFields     = 2
	versionFields  = 2
	pointFields    = 2
	rangeFields    = 4
	rollbackFields = 6
)

// fastReader is the cursor of one decoding.
type fastReader struct {
	p     []byte
	i     int
	arena []byte // a copy of p when len(p) <= arenaMax; byte strings are sliced from it
	names map[string]string
}

// decodeFast decodes payload p into r (already Reset), or returns errSlow.
// With borrow, r's byte strings alias p instead of a copy of it.
func decodeFast(p []byte, r *Record, names map[string]string, borrow bool) error {
	d := fastReader{p: p, names: names}
	switch {
	case borrow:
		d.arena = p
	case len(p) <= arenaMax:
		d.arena = append(make([]byte, 0, len(p)), p...)
	}
	return d.record(r)
}

func (d *fastReader) byte() (byte, error) {
	if d.i >= len(d.p) {
		return 0, errSlow
	}
	b := d.p[d.i]
	d.i++
	return b, nil
}

// take returns the next n bytes of the payload.
func (d *fastReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.p)-d.i {
		return nil, errSlow
	}
	b := d.p[d.i : d.i+n]
	d.i += n
	return b, nil
}

// arrayLen reads an array header; nil is -1.
func (d *fastReader) arrayLen() (int, error) {
	b, err := d.byte()
	if err != nil {
		return 0, err
	}
	switch {
	case b >= 0x90 && b <= 0x9f:
		return int(b & 0x0f), nil
	case b == mpenc.Array16:
		x, err := d.take(2)
		if err != nil {
			return 0, err
		}
		return int(binary.BigEndian.Uint16(x)), nil
	case b == mpenc.Array32:
		x, err := d.take(4)
		if err != nil {
			return 0, err
		}
		n := int(binary.BigEndian.Uint32(x))
		if n > len(d.p)-d.i { // every element takes at least a byte
			return 0, errSlow
		}
		return n, nil
	case b == mpenc.Nil:
		return -1, nil
	}
	return 0, errSlow
}

// structLen reads the array header of a struct with fields fields: a
// longer array (fields this build does not know) is left to go-msgpack.
func (d *fastReader) structLen(fields int) (int, error) {
	n, err := d.arrayLen()
	if err != nil || n > fields {
		return 0, errSlow
	}
	return n, nil
}

func (d *fastReader) uint() (uint64, error) {
	b, err := d.byte()
	if err != nil {
		return 0, err
	}
	if b <= 0x7f {
		return uint64(b), nil
	}
	switch b {
	case mpenc.Nil:
		return 0, nil
	case mpenc.Uint8:
		x, err := d.take(1)
		if err != nil {
			return 0, err
		}
		return uint64(x[0]), nil
	case mpenc.Uint16:
		x, err := d.take(2)
		if err != nil {
			return 0, err
		}
		return uint64(binary.BigEndian.Uint16(x)), nil
	case mpenc.Uint32:
		x, err := d.take(4)
		if err != nil {
			return 0, err
		}
		return uint64(binary.BigEndian.Uint32(x)), nil
	case mpenc.Uint64:
		x, err := d.take(8)
		if err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint64(x), nil
	}
	// Signed encodings of unsigned fields are legal msgpack that this
	// encoder never writes: go-msgpack reads them.
	return 0, errSlow
}

func (d *fastReader) uint8() (uint8, error) {
	v, err := d.uint()
	if err != nil || v > math.MaxUint8 {
		return 0, errSlow
	}
	return uint8(v), nil
}

func (d *fastReader) int() (int64, error) {
	b, err := d.byte()
	if err != nil {
		return 0, err
	}
	if b <= 0x7f || b >= 0xe0 {
		return int64(int8(b)), nil
	}
	switch b {
	case mpenc.Nil:
		return 0, nil
	case mpenc.Int8:
		x, err := d.take(1)
		if err != nil {
			return 0, err
		}
		return int64(int8(x[0])), nil
	case mpenc.Int16:
		x, err := d.take(2)
		if err != nil {
			return 0, err
		}
		return int64(int16(binary.BigEndian.Uint16(x))), nil
	case mpenc.Int32:
		x, err := d.take(4)
		if err != nil {
			return 0, err
		}
		return int64(int32(binary.BigEndian.Uint32(x))), nil
	case mpenc.Int64:
		x, err := d.take(8)
		if err != nil {
			return 0, err
		}
		return int64(binary.BigEndian.Uint64(x)), nil
	case mpenc.Uint8, mpenc.Uint16, mpenc.Uint32, mpenc.Uint64:
		d.i--
		v, err := d.uint()
		if err != nil || v > math.MaxInt64 {
			return 0, errSlow
		}
		return int64(v), nil
	}
	return 0, errSlow
}

func (d *fastReader) bool() (bool, error) {
	b, err := d.byte()
	if err != nil {
		return false, err
	}
	switch b {
	case mpenc.Nil, mpenc.False, 0:
		return false, nil
	case mpenc.True, 1:
		return true, nil
	}
	return false, errSlow
}

// raw reads a str or bin header and returns its content (aliasing p) and
// where it starts; nil is reported by isNil.
func (d *fastReader) raw() (b []byte, start int, isNil bool, err error) {
	c, err := d.byte()
	if err != nil {
		return nil, 0, false, err
	}
	var n int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == mpenc.Str8 || c == mpenc.Bin8:
		x, err := d.take(1)
		if err != nil {
			return nil, 0, false, err
		}
		n = int(x[0])
	case c == mpenc.Str16 || c == mpenc.Bin16:
		x, err := d.take(2)
		if err != nil {
			return nil, 0, false, err
		}
		n = int(binary.BigEndian.Uint16(x))
	case c == mpenc.Str32 || c == mpenc.Bin32:
		x, err := d.take(4)
		if err != nil {
			return nil, 0, false, err
		}
		n = int(binary.BigEndian.Uint32(x))
	case c == mpenc.Nil:
		return nil, 0, true, nil
	default:
		return nil, 0, false, errSlow // e.g. a byte string written as an array of numbers
	}
	start = d.i
	b, err = d.take(n)
	return b, start, false, err
}

// bytes reads a byte string the record owns (not aliasing p).
func (d *fastReader) bytes() ([]byte, error) {
	b, start, isNil, err := d.raw()
	switch {
	case err != nil || isNil:
		return nil, err
	case len(b) == 0:
		return emptyBytes, nil
	case d.arena != nil:
		end := start + len(b)
		return d.arena[start:end:end], nil
	}
	// append, not make and copy: a large value is not zeroed first.
	return append([]byte(nil), b...), nil
}

// string reads a string, interned when intern is set.
func (d *fastReader) string(intern bool) (string, error) {
	b, _, isNil, err := d.raw()
	if err != nil || isNil || len(b) == 0 {
		return "", err
	}
	if !intern || d.names == nil {
		return string(b), nil
	}
	if s, ok := d.names[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if len(d.names) < internMax {
		d.names[s] = s
	}
	return s, nil
}

func (d *fastReader) record(r *Record) error {
	n, err := d.arrayLen()
	if err != nil || n < 0 || n > recordFields {
		return errSlow // a record as a map, nil, or with fields unknown here
	}
	for f := range n {
		if err := d.recordField(r, f); err != nil {
			return err
		}
	}
	return nil
}

func (d *fastReader) recordField(r *Record, f int) (err error) {
	switch f {
	case 0:
		r.Pos, err = d.uint()
	case 1:
		r.Epoch, err = d.uint()
	case 2:
		var k uint8
		k, err = d.uint8()
		r.Kind = Kind(k)
	case 3:
		r.Origin, err = d.string(true)
	case 4:
		r.OSeq, err = d.uint()
	case 5:
		r.HLC, err = d.uint()
	case 6:
		r.PeerSeen, err = d.uint()
	case 7:
		r.Proc, err = d.string(true)
	case 8:
		r.Args, err = d.bytes()
	case 9:
		r.Result, err = d.bytes()
	case 10:
		r.Subject, err = d.txid()
	case 11:
		r.Reads, err = d.reads(r.Reads)
	case 12:
		r.Ranges, err = d.ranges(r.Ranges)
	case 13:
		r.Writes, err = d.writes(r.Writes)
	case 14:
		r.Instance, err = d.string(true)
	case 15:
		r.Role, err = d.string(true)
	case 16:
		r.HighOSeq, err = d.uint()
	case 17:
		r.Rollback, err = d.rollback()
	case 18:
		r.Checkpoint, err = d.uint()
	case 19:
		r.IdempotencyKey, err = d.string(false)
	case 20:
		var k uint8
		k, err = d.uint8()
		r.OriginKind = Kind(k)
	case 21:
		r.Reign, err = d.uint()
	}
	return err
}

func (d *fastReader) txid() (TxID, error) {
	var t TxID
	n, err := d.structLen(txidFields)
	if err != nil || n < 0 {
		return t, err
	}
	if n > 0 {
		if t.Origin, err = d.string(true); err != nil {
			return t, err
		}
	}
	if n > 1 {
		t.OSeq, err = d.uint()
	}
	return t, err
}

func (d *fastReader) version() (Version, error) {
	var v Version
	n, err := d.structLen(versionFields)
	if err != nil || n < 0 {
		return v, err
	}
	if n > 0 {
		if v.HLC, err = d.uint(); err != nil {
			return v, err
		}
	}
	if n > 1 {
		v.Origin, err = d.string(true)
	}
	return v, err
}

// sliceOf reads a slice's array header and returns the slice to fill:
// nil for nil, else old's storage (Record.Reset keeps it) resized to n,
// or a new slice. Elements are overwritten whole by the caller.
//
// minElem is the fewest bytes a well-formed element takes (the array
// header and one byte per field): a count claiming more elements than the
// payload can hold is left to go-msgpack, so what a claimed count makes
// this decoder allocate stays within a small multiple of the payload.
func sliceOf[T any](d *fastReader, old []T, minElem int) ([]T, int, error) {
	n, err := d.arrayLen()
	if err != nil {
		return nil, 0, err
	}
	switch {
	case n < 0:
		return nil, -1, nil
	case n == 0 && old == nil:
		return []T{}, 0, nil // as go-msgpack: an empty array is an empty, non-nil slice
	case n > (len(d.p)-d.i)/minElem:
		return nil, 0, errSlow
	case n <= cap(old):
		return old[:n], n, nil
	}
	return make([]T, n), n, nil
}

func (d *fastReader) reads(old []PointRead) ([]PointRead, error) {
	s, n, err := sliceOf(d, old, 1+pointFields)
	if err != nil || n <= 0 {
		return s, err
	}
	for i := range s {
		e := PointRead{}
		m, err := d.structLen(pointFields)
		if err != nil {
			return nil, err
		}
		if m > 0 {
			if e.Key, err = d.bytes(); err != nil {
				return nil, err
			}
		}
		if m > 1 {
			if e.Version, err = d.version(); err != nil {
				return nil, err
			}
		}
		s[i] = e
	}
	return s, nil
}

func (d *fastReader) ranges(old []RangeRead) ([]RangeRead, error) {
	s, n, err := sliceOf(d, old, 1+rangeFields)
	if err != nil || n <= 0 {
		return s, err
	}
	for i := range s {
		e := RangeRead{}
		m, err := d.structLen(rangeFields)
		if err != nil {
			return nil, err
		}
		for f := range max(m, 0) {
			switch f {
			case 0:
				e.Lo, err = d.bytes()
			case 1:
				e.Hi, err = d.bytes()
			case 2:
				e.LoInclusive, err = d.bool()
			case 3:
				e.HiInclusive, err = d.bool()
			}
			if err != nil {
				return nil, err
			}
		}
		s[i] = e
	}
	return s, nil
}

func (d *fastReader) writes(old []Write) ([]Write, error) {
	s, n, err := sliceOf(d, old, 1+writeFields)
	if err != nil || n <= 0 {
		return s, err
	}
	for i := range s {
		e := Write{}
		m, err := d.structLen(writeFields)
		if err != nil {
			return nil, err
		}
		for f := range max(m, 0) {
			switch f {
			case 0:
				e.Key, err = d.bytes()
			case 1:
				var op uint8
				op, err = d.uint8()
				e.Op = Op(op)
			case 2:
				e.Value, err = d.bytes()
			case 3:
				e.Delta, err = d.int()
			case 4:
				e.Before, err = d.bytes()
			case 5:
				e.BeforeVersion, err = d.version()
			}
			if err != nil {
				return nil, err
			}
		}
		s[i] = e
	}
	return s, nil
}

func (d *fastReader) rollback() (*RollbackInfo, error) {
	m, err := d.structLen(rollbackFields)
	if err != nil || m < 0 {
		return nil, err
	}
	ri := &RollbackInfo{}
	for f := range m {
		switch f {
		case 0:
			ri.From, err = d.uint()
		case 1:
			ri.To, err = d.uint()
		case 2:
			ri.Reason, err = d.string(false)
		case 3:
			ri.LostFile, err = d.string(false)
		case 4:
			ri.Records, err = d.uint()
		case 5:
			ri.PeerWatermark, err = d.uint()
		}
		if err != nil {
			return nil, err
		}
	}
	return ri, nil
}
