package journal

import "github.com/liege-db/liege/internal/mpenc"

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

// AppendRecord appends the msgpack of r to dst: the bytes Marshal(r)
// gives, for a caller that encodes records inside a larger value by hand
// (the reconciliation log of a long partition holds a million).
func AppendRecord(dst []byte, r *Record) []byte { return appendRecordPayload(dst, r) }

// appendRecordPayload appends the msgpack of r to dst.
func appendRecordPayload(dst []byte, r *Record) []byte {
	dst = append(dst, mpenc.Array16, 0, recordFields) // go-msgpack: array16 from 16 elements on
	dst = mpenc.AppendUint(dst, r.Pos)
	dst = mpenc.AppendUint(dst, r.Epoch)
	dst = mpenc.AppendUint(dst, uint64(r.Kind))
	dst = mpenc.AppendStr(dst, r.Origin)
	dst = mpenc.AppendUint(dst, r.OSeq)
	dst = mpenc.AppendUint(dst, r.HLC)
	dst = mpenc.AppendUint(dst, r.PeerSeen)
	dst = mpenc.AppendStr(dst, r.Proc)
	dst = mpenc.AppendBin(dst, r.Args)
	dst = mpenc.AppendBin(dst, r.Result)
	dst = append(dst, 0x90|txidFields)
	dst = mpenc.AppendStr(dst, r.Subject.Origin)
	dst = mpenc.AppendUint(dst, r.Subject.OSeq)
	if r.Reads == nil {
		dst = append(dst, mpenc.Nil)
	} else {
		dst = mpenc.AppendArrayLen(dst, len(r.Reads))
		for i := range r.Reads {
			p := &r.Reads[i]
			dst = append(dst, 0x90|pointFields)
			dst = mpenc.AppendBin(dst, p.Key)
			dst = appendVersion(dst, p.Version)
		}
	}
	if r.Ranges == nil {
		dst = append(dst, mpenc.Nil)
	} else {
		dst = mpenc.AppendArrayLen(dst, len(r.Ranges))
		for i := range r.Ranges {
			g := &r.Ranges[i]
			dst = append(dst, 0x90|rangeFields)
			dst = mpenc.AppendBin(dst, g.Lo)
			dst = mpenc.AppendBin(dst, g.Hi)
			dst = mpenc.AppendBool(dst, g.LoInclusive)
			dst = mpenc.AppendBool(dst, g.HiInclusive)
		}
	}
	if r.Writes == nil {
		dst = append(dst, mpenc.Nil)
	} else {
		dst = mpenc.AppendArrayLen(dst, len(r.Writes))
		for i := range r.Writes {
			w := &r.Writes[i]
			dst = append(dst, 0x90|writeFields)
			dst = mpenc.AppendBin(dst, w.Key)
			dst = mpenc.AppendUint(dst, uint64(w.Op))
			dst = mpenc.AppendBin(dst, w.Value)
			dst = mpenc.AppendInt(dst, w.Delta)
			dst = mpenc.AppendBin(dst, w.Before)
			dst = appendVersion(dst, w.BeforeVersion)
		}
	}
	dst = mpenc.AppendStr(dst, r.Instance)
	dst = mpenc.AppendStr(dst, r.Role)
	dst = mpenc.AppendUint(dst, r.HighOSeq)
	if b := r.Rollback; b == nil {
		dst = append(dst, mpenc.Nil)
	} else {
		dst = append(dst, 0x90|rollbackFields)
		dst = mpenc.AppendUint(dst, b.From)
		dst = mpenc.AppendUint(dst, b.To)
		dst = mpenc.AppendStr(dst, b.Reason)
		dst = mpenc.AppendStr(dst, b.LostFile)
		dst = mpenc.AppendUint(dst, b.Records)
		dst = mpenc.AppendUint(dst, b.PeerWatermark)
	}
	dst = mpenc.AppendUint(dst, r.Checkpoint)
	dst = mpenc.AppendStr(dst, r.IdempotencyKey)
	dst = mpenc.AppendUint(dst, uint64(r.OriginKind))
	return mpenc.AppendUint(dst, r.Reign)
}

func appendVersion(dst []byte, v Version) []byte {
	dst = append(dst, 0x90|versionFields)
	dst = mpenc.AppendUint(dst, v.HLC)
	return mpenc.AppendStr(dst, v.Origin)
}
