package journal

import (
	"encoding/binary"
	"math"
)

// The hand-written record encoder: the bytes go-msgpack writes for a Record
// with MsgpackHandle (record_codecgen.go: structs as arrays in field order,
// minimal integers with unsigned fields as uint formats and Delta as int
// formats, str for strings, bin for byte strings, nil for nil slices and
// pointers), byte for byte, without go-msgpack's per-field interface calls
// and without a scratch buffer: the payload is appended in place.
//
// The format's definition stays go-msgpack's: encodeReference is the
// reference, and TestFastEncoderMatchesReference and FuzzFastEncoder
// compare the two byte for byte.

// appendRecordPayload appends the msgpack of r to dst.
func appendRecordPayload(dst []byte, r *Record) []byte {
	dst = append(dst, mpArray16, 0, recordFields) // go-msgpack: array16 from 16 elements on
	dst = appendUint(dst, r.Pos)
	dst = appendUint(dst, r.Epoch)
	dst = appendUint(dst, uint64(r.Kind))
	dst = appendStr(dst, r.Origin)
	dst = appendUint(dst, r.OSeq)
	dst = appendUint(dst, r.HLC)
	dst = appendUint(dst, r.PeerSeen)
	dst = appendStr(dst, r.Proc)
	dst = appendBin(dst, r.Args)
	dst = appendBin(dst, r.Result)
	dst = append(dst, 0x90|txidFields)
	dst = appendStr(dst, r.Subject.Origin)
	dst = appendUint(dst, r.Subject.OSeq)
	if r.Reads == nil {
		dst = append(dst, mpNil)
	} else {
		dst = appendArrayLen(dst, len(r.Reads))
		for i := range r.Reads {
			p := &r.Reads[i]
			dst = append(dst, 0x90|pointFields)
			dst = appendBin(dst, p.Key)
			dst = appendVersion(dst, p.Version)
		}
	}
	if r.Ranges == nil {
		dst = append(dst, mpNil)
	} else {
		dst = appendArrayLen(dst, len(r.Ranges))
		for i := range r.Ranges {
			g := &r.Ranges[i]
			dst = append(dst, 0x90|rangeFields)
			dst = appendBin(dst, g.Lo)
			dst = appendBin(dst, g.Hi)
			dst = appendBool(dst, g.LoInclusive)
			dst = appendBool(dst, g.HiInclusive)
		}
	}
	if r.Writes == nil {
		dst = append(dst, mpNil)
	} else {
		dst = appendArrayLen(dst, len(r.Writes))
		for i := range r.Writes {
			w := &r.Writes[i]
			dst = append(dst, 0x90|writeFields)
			dst = appendBin(dst, w.Key)
			dst = appendUint(dst, uint64(w.Op))
			dst = appendBin(dst, w.Value)
			dst = appendInt(dst, w.Delta)
			dst = appendBin(dst, w.Before)
			dst = appendVersion(dst, w.BeforeVersion)
		}
	}
	dst = appendStr(dst, r.Instance)
	dst = appendStr(dst, r.Role)
	dst = appendUint(dst, r.HighOSeq)
	if b := r.Rollback; b == nil {
		dst = append(dst, mpNil)
	} else {
		dst = append(dst, 0x90|rollbackFields)
		dst = appendUint(dst, b.From)
		dst = appendUint(dst, b.To)
		dst = appendStr(dst, b.Reason)
		dst = appendStr(dst, b.LostFile)
		dst = appendUint(dst, b.Records)
		dst = appendUint(dst, b.PeerWatermark)
	}
	dst = appendUint(dst, r.Checkpoint)
	dst = appendStr(dst, r.IdempotencyKey)
	dst = appendUint(dst, uint64(r.OriginKind))
	return appendUint(dst, r.Reign)
}

func appendVersion(dst []byte, v Version) []byte {
	dst = append(dst, 0x90|versionFields)
	dst = appendUint(dst, v.HLC)
	return appendStr(dst, v.Origin)
}

// appendUint is go-msgpack's EncodeUint: a positive fixint, else the
// smallest of uint8, uint16, uint32, uint64.
func appendUint(dst []byte, x uint64) []byte {
	switch {
	case x <= math.MaxInt8:
		return append(dst, byte(x))
	case x <= math.MaxUint8:
		return append(dst, mpUint8, byte(x))
	case x <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, mpUint16), uint16(x))
	case x <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, mpUint32), uint32(x))
	}
	return binary.BigEndian.AppendUint64(append(dst, mpUint64), x)
}

// appendInt is go-msgpack's EncodeInt without PositiveIntUnsigned: a
// fixint from -32 to 127, else the smallest signed format that holds x.
func appendInt(dst []byte, x int64) []byte {
	switch {
	case x > math.MaxInt8:
		switch {
		case x <= math.MaxInt16:
			return binary.BigEndian.AppendUint16(append(dst, mpInt16), uint16(x))
		case x <= math.MaxInt32:
			return binary.BigEndian.AppendUint32(append(dst, mpInt32), uint32(x))
		}
		return binary.BigEndian.AppendUint64(append(dst, mpInt64), uint64(x))
	case x >= -32:
		return append(dst, byte(x))
	case x >= math.MinInt8:
		return append(dst, mpInt8, byte(x))
	case x >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, mpInt16), uint16(x))
	case x >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, mpInt32), uint32(x))
	}
	return binary.BigEndian.AppendUint64(append(dst, mpInt64), uint64(x))
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, mpTrue)
	}
	return append(dst, mpFalse)
}

// appendStr is go-msgpack's EncodeStringEnc with WriteExt: fixstr, str8,
// str16 or str32.
func appendStr(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 256:
		dst = append(dst, mpStr8, byte(n))
	case n < 65536:
		dst = binary.BigEndian.AppendUint16(append(dst, mpStr16), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, mpStr32), uint32(n))
	}
	return append(dst, s...)
}

// appendBin is go-msgpack's EncodeStringBytesRaw with WriteExt: nil for a
// nil slice, else bin8, bin16 or bin32.
func appendBin(dst, b []byte) []byte {
	if b == nil {
		return append(dst, mpNil)
	}
	n := len(b)
	switch {
	case n < 256:
		dst = append(dst, mpBin8, byte(n))
	case n < 65536:
		dst = binary.BigEndian.AppendUint16(append(dst, mpBin16), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, mpBin32), uint32(n))
	}
	return append(dst, b...)
}

// appendArrayLen is go-msgpack's array header: fixarray, array16 or
// array32.
func appendArrayLen(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n < 65536:
		return binary.BigEndian.AppendUint16(append(dst, mpArray16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, mpArray32), uint32(n))
}
