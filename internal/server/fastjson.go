package server

import (
	"encoding/json"
	"strconv"
)

// plainMsgpackJSON converts the commonest results to JSON without going
// through jsonval and encoding/json: nil, booleans, small non-negative
// integers, and strings of printable ASCII other than '"' and '\' (a
// procedure's "ok"). The bytes are those msgpackJSON's general path
// writes; ok is false for anything else, which takes that path.
func plainMsgpackJSON(b []byte) (json.RawMessage, bool) {
	if len(b) == 0 {
		return nil, false
	}
	switch c := b[0]; {
	case len(b) == 1 && c == 0xc0:
		return json.RawMessage("null"), true
	case len(b) == 1 && c == 0xc2:
		return json.RawMessage("false"), true
	case len(b) == 1 && c == 0xc3:
		return json.RawMessage("true"), true
	case len(b) == 1 && c <= 0x7f: // positive fixint
		return strconv.AppendUint(nil, uint64(c), 10), true
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
		return nil, false
	}
	out := make([]byte, 0, len(s)+2)
	out = append(out, '"')
	for _, ch := range s {
		if ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\' {
			return nil, false
		}
	}
	out = append(out, s...)
	return append(out, '"'), true
}
