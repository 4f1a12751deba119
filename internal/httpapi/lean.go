package httpapi

import (
	"encoding/json"
	"strconv"
)

// The lean decoders below read the plain JSON that this module's client
// and server write, without encoding/json's reflection: the field names
// exactly as declared, each once; strings of printable ASCII without
// escapes; integers without fraction or exponent. Their input must be
// valid JSON (json.Valid). They report ok false for anything else, which
// the caller then decodes with encoding/json (and its precise errors):
// where a lean decoder accepts an input, it decodes it as encoding/json
// would (with unknown fields refused). Raw parts (args, results) are
// slices of the input.

// LeanBatchRequest decodes the body of POST /v1/calls.
func LeanBatchRequest(b []byte) (req *BatchRequest, ok bool) {
	l := lexer{b: b}
	req = &BatchRequest{}
	if !l.consume('{') {
		return nil, false
	}
	var seenCalls, seenTok, seenTimeout bool
	for l.more('}') {
		key, ok := l.str()
		if !ok || !l.consume(':') {
			return nil, false
		}
		switch {
		case key == "calls" && !seenCalls:
			seenCalls = true
			if l.null() {
				continue
			}
			if req.Calls, ok = l.calls(); !ok {
				return nil, false
			}
		case key == "min_token" && !seenTok:
			seenTok = true
			if req.MinToken, ok = l.str(); !ok {
				return nil, false
			}
		case key == "timeout_ms" && !seenTimeout:
			seenTimeout = true
			if l.null() {
				continue
			}
			n, ok := l.int64()
			if !ok {
				return nil, false
			}
			req.TimeoutMS = &n
		default:
			return nil, false
		}
	}
	l.ws()
	return req, l.i == len(b)
}

// calls decodes the array of calls.
func (l *lexer) calls() ([]BatchCall, bool) {
	if !l.consume('[') {
		return nil, false
	}
	calls := []BatchCall{}
	for l.more(']') {
		if !l.consume('{') {
			return nil, false
		}
		var c BatchCall
		var seenProc, seenArgs, seenKey bool
		for l.more('}') {
			key, ok := l.str()
			if !ok || !l.consume(':') {
				return nil, false
			}
			switch {
			case key == "proc" && !seenProc:
				seenProc = true
				if c.Proc, ok = l.str(); !ok {
					return nil, false
				}
			case key == "args" && !seenArgs:
				seenArgs = true
				if c.Args = l.value(); c.Args == nil {
					return nil, false
				}
			case key == "idempotency_key" && !seenKey:
				seenKey = true
				if c.IdempotencyKey, ok = l.str(); !ok {
					return nil, false
				}
			default:
				return nil, false
			}
		}
		calls = append(calls, c)
	}
	return calls, true
}

// lexer reads valid JSON.
type lexer struct {
	b []byte
	i int
}

func (l *lexer) ws() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

// consume skips white space and c, reporting whether c was there.
func (l *lexer) consume(c byte) bool {
	l.ws()
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	return false
}

// more is called before each element of an object or array: it skips the
// comma before any but the first, and reports false (having consumed it)
// at the closing end.
func (l *lexer) more(end byte) bool {
	l.ws()
	if l.i < len(l.b) && l.b[l.i] == end {
		l.i++
		return false
	}
	if l.i < len(l.b) && l.b[l.i] == ',' {
		l.i++
	}
	return true
}

// null consumes a null, if that is what comes.
func (l *lexer) null() bool {
	l.ws()
	if len(l.b)-l.i >= 4 && string(l.b[l.i:l.i+4]) == "null" {
		l.i += 4
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (l *lexer) str() (string, bool) {
	if !l.consume('"') {
		return "", false
	}
	start := l.i
	for ; l.i < len(l.b); l.i++ {
		switch c := l.b[l.i]; {
		case c == '"':
			s := string(l.b[start:l.i])
			l.i++
			return s, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return "", false
		}
	}
	return "", false
}

// int64 reads an integer without fraction or exponent.
func (l *lexer) int64() (int64, bool) {
	l.ws()
	start := l.i
	if l.i < len(l.b) && l.b[l.i] == '-' {
		l.i++
	}
	for l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '9' {
		l.i++
	}
	if l.i < len(l.b) && (l.b[l.i] == '.' || l.b[l.i] == 'e' || l.b[l.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(l.b[start:l.i]), 10, 64)
	return n, err == nil
}

// value skips one JSON value and returns its bytes (nil if none).
func (l *lexer) value() json.RawMessage {
	l.ws()
	start := l.i
	if l.i >= len(l.b) {
		return nil
	}
	switch l.b[l.i] {
	case '"':
		l.skipString()
	case '{', '[':
		depth := 0
	scan:
		for l.i < len(l.b) {
			switch l.b[l.i] {
			case '"':
				l.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			l.i++
			if depth == 0 {
				break scan
			}
		}
	default: // a number, true, false or null
		for l.i < len(l.b) && !isDelim(l.b[l.i]) {
			l.i++
		}
	}
	if l.i > len(l.b) || l.i == start {
		return nil
	}
	return l.b[start:l.i]
}

// skipString skips the string that starts at l.i.
func (l *lexer) skipString() {
	for l.i++; l.i < len(l.b) && l.b[l.i] != '"'; l.i++ {
		if l.b[l.i] == '\\' {
			l.i++
		}
	}
	l.i++
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// LeanBatchAnswer decodes the answer of POST /v1/calls (a result with an
// error is left to encoding/json: its message may hold any character).
func LeanBatchAnswer(b []byte) (ans *BatchAnswer, ok bool) {
	l := lexer{b: b}
	ans = &BatchAnswer{}
	if !l.consume('{') {
		return nil, false
	}
	var seenResults, seenTok bool
	for l.more('}') {
		key, ok := l.str()
		if !ok || !l.consume(':') {
			return nil, false
		}
		switch {
		case key == "results" && !seenResults:
			seenResults = true
			if l.null() {
				continue
			}
			if ans.Results, ok = l.results(); !ok {
				return nil, false
			}
		case key == "token" && !seenTok:
			seenTok = true
			if ans.Token, ok = l.str(); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	l.ws()
	return ans, l.i == len(b)
}

// results decodes the array of results of a BatchAnswer.
func (l *lexer) results() ([]BatchResult, bool) {
	if !l.consume('[') {
		return nil, false
	}
	out := []BatchResult{}
	for l.more(']') {
		l.ws()
		start := l.i
		if !l.consume('{') {
			return nil, false
		}
		var r BatchResult
		var seen uint
		for l.more('}') {
			key, ok := l.str()
			if !ok || !l.consume(':') {
				return nil, false
			}
			bit := uint(1) << resultKeyIndex(key)
			if seen&bit != 0 {
				return nil, false
			}
			seen |= bit
			if key != "status" && r.CallAnswer == nil {
				r.CallAnswer = &CallAnswer{}
			}
			a := r.CallAnswer
			switch key {
			case "status":
				n, ok := l.int64()
				if !ok || int64(int(n)) != n {
					return nil, false
				}
				r.Status = int(n)
			case "txid":
				if l.null() {
					a.TxID = nil
					continue
				}
				id, ok := l.str()
				if !ok {
					return nil, false
				}
				a.TxID = &id
			case "hlc":
				if a.HLC, ok = l.uint64(); !ok {
					return nil, false
				}
			case "hlc_time":
				if a.HLCTime, ok = l.str(); !ok {
					return nil, false
				}
			case "pos":
				if a.Pos, ok = l.uint64(); !ok {
					return nil, false
				}
			case "read_only":
				if a.ReadOnly, ok = l.bool(); !ok {
					return nil, false
				}
			case "result":
				if a.Result = l.value(); a.Result == nil {
					return nil, false
				}
			case "token":
				if a.Token, ok = l.str(); !ok {
					return nil, false
				}
			default: // "error", or a field this version does not know
				return nil, false
			}
		}
		r.Raw = l.b[start:l.i]
		out = append(out, r)
	}
	return out, true
}

// resultKeyIndex numbers the keys of a result (10 for any other).
func resultKeyIndex(key string) int {
	for i, k := range [...]string{"status", "txid", "hlc", "hlc_time", "pos", "read_only", "result", "token", "error"} {
		if k == key {
			return i
		}
	}
	return 10
}

// uint64 reads an unsigned integer without fraction or exponent.
func (l *lexer) uint64() (uint64, bool) {
	l.ws()
	start := l.i
	for l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '9' {
		l.i++
	}
	if l.i < len(l.b) && (l.b[l.i] == '.' || l.b[l.i] == 'e' || l.b[l.i] == 'E' || l.b[l.i] == '-') {
		return 0, false
	}
	n, err := strconv.ParseUint(string(l.b[start:l.i]), 10, 64)
	return n, err == nil
}

// bool reads true or false.
func (l *lexer) bool() (bool, bool) {
	l.ws()
	switch {
	case len(l.b)-l.i >= 4 && string(l.b[l.i:l.i+4]) == "true":
		l.i += 4
		return true, true
	case len(l.b)-l.i >= 5 && string(l.b[l.i:l.i+5]) == "false":
		l.i += 5
		return false, true
	}
	return false, false
}

// LeanObjectKeys returns the keys of the JSON object b, if b is an object
// whose keys are all plain (printable ASCII without escapes). b must be
// valid JSON.
func LeanObjectKeys(b []byte) ([]string, bool) {
	l := lexer{b: b}
	if !l.consume('{') {
		return nil, false
	}
	var keys []string
	for l.more('}') {
		k, ok := l.str()
		if !ok || !l.consume(':') || l.value() == nil {
			return nil, false
		}
		keys = append(keys, k)
	}
	l.ws()
	return keys, l.i == len(b)
}
