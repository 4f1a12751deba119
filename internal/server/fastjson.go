package server

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/httpapi"
)

// plainMsgpackJSON converts the commonest results to JSON without going
// through jsonval and encoding/json: nil, booleans, small non-negative
// integers, and strings of printable ASCII other than '"' and '\' (a
// procedure's "ok"). The bytes are those msgpackJSON's general path
// writes; ok is false for anything else, which takes that path.
func plainMsgpackJSON(b []byte) (json.RawMessage, bool) {
	out, ok := appendPlainMsgpackJSON(nil, b)
	if !ok {
		return nil, false
	}
	return out, true
}

// appendPlainMsgpackJSON is plainMsgpackJSON appending to out.
func appendPlainMsgpackJSON(out, b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return out, false
	}
	switch c := b[0]; {
	case len(b) == 1 && c == 0xc0:
		return append(out, "null"...), true
	case len(b) == 1 && c == 0xc2:
		return append(out, "false"...), true
	case len(b) == 1 && c == 0xc3:
		return append(out, "true"...), true
	case len(b) == 1 && c <= 0x7f: // positive fixint
		return strconv.AppendUint(out, uint64(c), 10), true
	}
	var s []byte
	switch c := b[0]; {
	case c >= 0xa0 && c <= 0xbf: // fixstr
		s = b[1:]
		if len(s) != int(c&0x1f) {
			return nil, false
		}
	case c == 0xd9 && len(b) >= 2: // str 8
		s = b[2:]
		if len(s) != int(b[1]) {
			return nil, false
		}
	default:
		return out, false
	}
	if !isPlain(s) {
		return out, false
	}
	if out == nil {
		out = make([]byte, 0, len(s)+2)
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"'), true
}

// isPlain reports whether s is plain printable ASCII without '"' or '\',
// which encoding/json writes as it is.
func isPlain[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// leanBody is an answer already written as writeJSON would write it
// (appendBatchAnswer).
type leanBody []byte

// readAll is io.ReadAll starting with room for sizeHint bytes (the
// request's Content-Length, if known) and one more, so that a body of the
// announced size is read without growing the buffer.
func readAll(r io.Reader, sizeHint int64) ([]byte, error) {
	b := make([]byte, 0, max(sizeHint, 511)+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// leanJSON encodes the answers of calls (*httpapi.CallAnswer and
// *httpapi.BatchAnswer) by appending, with the bytes writeJSON's
// encoding/json would write (a newline included); ok is false for any
// other value, or an answer with a string that is not plain printable
// ASCII (an error's message), which encoding/json then encodes.
func leanJSON(v any) (b []byte, ok bool) {
	switch a := v.(type) {
	case leanBody:
		return a, true
	case *httpapi.CallAnswer:
		b, ok = appendCallAnswer(make([]byte, 0, 256+len(a.Result)), a, true)
	case *httpapi.BatchAnswer:
		n := 32
		for _, r := range a.Results {
			n += 200
			if r.CallAnswer != nil {
				n += len(r.Result)
			}
		}
		b = append(make([]byte, 0, n), `{"results":[`...)
		for i, r := range a.Results {
			if i > 0 {
				b = append(b, ',')
			}
			if r.Error != nil || r.CallAnswer == nil {
				return nil, false
			}
			b = append(b, `{"status":`...)
			b = strconv.AppendInt(b, int64(r.Status), 10)
			b = append(b, ',')
			if b, ok = appendCallAnswer(b, r.CallAnswer, false); !ok {
				return nil, false
			}
		}
		b = append(b, `],"token":`...)
		if b, ok = appendPlain(b, a.Token); !ok {
			return nil, false
		}
		b = append(b, '}')
	default:
		return nil, false
	}
	if !ok {
		return nil, false
	}
	return append(b, '\n'), true
}

// appendCallAnswer appends the fields of a (and its braces if braces,
// else only the closing one, for a BatchResult whose status is written).
func appendCallAnswer(b []byte, a *httpapi.CallAnswer, braces bool) ([]byte, bool) {
	if braces {
		b = append(b, '{')
	}
	ok := true
	b = append(b, `"txid":`...)
	if a.TxID == nil {
		b = append(b, "null"...)
	} else if b, ok = appendPlain(b, *a.TxID); !ok {
		return nil, false
	}
	b = append(b, `,"hlc":`...)
	b = strconv.AppendUint(b, a.HLC, 10)
	b = append(b, `,"hlc_time":`...)
	if b, ok = appendPlain(b, a.HLCTime); !ok {
		return nil, false
	}
	b = append(b, `,"pos":`...)
	b = strconv.AppendUint(b, a.Pos, 10)
	b = append(b, `,"read_only":`...)
	b = strconv.AppendBool(b, a.ReadOnly)
	b = append(b, `,"result":`...)
	switch {
	case a.Result == nil:
		b = append(b, "null"...)
	case len(a.Result) == 0:
		return nil, false // encoding/json refuses it
	default:
		// Compact already (msgpackJSON wrote it); encoding/json would
		// copy it as it is.
		b = append(b, a.Result...)
	}
	b = append(b, `,"token":`...)
	if b, ok = appendPlain(b, a.Token); !ok {
		return nil, false
	}
	return append(b, '}'), true
}

// appendPlain appends s quoted, if it is plain printable ASCII without '"'
// or '\' (which encoding/json writes as it is).
func appendPlain(b []byte, s string) ([]byte, bool) {
	if !isPlain(s) {
		return nil, false
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// hlcTimeLayout is internal/hlc's layout of Timestamp.String's physical
// part (TestHLCTimeIsTimestampString holds the two equal).
const hlcTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// hlcTime is hlc.Timestamp(ts).String() in one allocation instead of
// three (an answer's hlc_time).
func hlcTime(ts uint64) string {
	var buf [48]byte
	return string(appendHLCTime(buf[:0], ts))
}

// appendHLCTime appends hlcTime(ts).
func appendHLCTime(b []byte, ts uint64) []byte {
	t := hlc.Timestamp(ts)
	b = t.Physical().AppendFormat(b, hlcTimeLayout)
	b = append(b, '+')
	return strconv.AppendUint(b, uint64(t.Logical()), 10)
}
