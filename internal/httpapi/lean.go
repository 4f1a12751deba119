package httpapi

import (
	"encoding/json"
	"strconv"
)

// The lean decoders below read the plain JSON that this module's client
// and server write, without encoding/json's reflection: the field names
// exactly as declared, each once; strings of printable ASCII without
// escapes; integers without fraction or exponent. They check the JSON
// grammar as they go (raw parts, args and results, included), so their
// input need not be checked with json.Valid first. They report ok false
// for anything else, which the caller then decodes with encoding/json
// (and its precise errors): where a lean decoder accepts an input, it is
// valid JSON and it decodes it as encoding/json would (with unknown
// fields refused). Raw parts (args, results) are slices of the input.
// The fuzz tests hold them to that.

// LeanBatchRequest decodes the body of POST /v1/calls.
func LeanBatchRequest(b []byte) (req *BatchRequest, ok bool) {
	l := lexer{b: b}
	req = &BatchRequest{}
	if !l.consume('{') {
		return nil, false
	}
	var seenCalls bool
	var w waitFields
	for n := 0; l.more('}', n); n++ {
		key, ok := l.key()
		if !ok || !l.consume(':') {
			return nil, false
		}
		switch {
		case string(key) == "calls" && !seenCalls:
			seenCalls = true
			if l.null() {
				continue
			}
			if req.Calls, ok = l.calls(); !ok {
				return nil, false
			}
		default:
			if !w.field(&l, key) {
				return nil, false
			}
		}
	}
	req.MinToken, req.TimeoutMS = w.tok, w.timeout
	return req, l.end()
}

// waitFields are the fields every call request has besides its call or
// calls: min_token and timeout_ms (null or absent: none), each at most
// once.
type waitFields struct {
	tok               string
	timeout           *int64
	seenTok, seenTime bool
}

// field reads the value of key if it is one of the waitFields, and
// reports false for any other key, a repeated one or a bad value.
func (w *waitFields) field(l *lexer, key []byte) bool {
	var ok bool
	switch {
	case string(key) == "min_token" && !w.seenTok:
		w.seenTok = true
		w.tok, ok = l.str()
		return ok
	case string(key) == "timeout_ms" && !w.seenTime:
		w.seenTime = true
		if l.null() {
			return true
		}
		n, ok := l.int64()
		w.timeout = &n
		return ok
	}
	return false
}

// LeanCallRequest decodes the body of POST /v1/call/{proc} (not empty:
// an empty body is the zero CallRequest, which the server handles before).
func LeanCallRequest(b []byte) (req *CallRequest, ok bool) {
	l := lexer{b: b}
	req = &CallRequest{}
	if !l.consume('{') {
		return nil, false
	}
	var seenArgs bool
	var w waitFields
	for n := 0; l.more('}', n); n++ {
		key, ok := l.key()
		if !ok || !l.consume(':') {
			return nil, false
		}
		switch {
		case string(key) == "args" && !seenArgs:
			seenArgs = true
			if req.Args = l.value(); req.Args == nil {
				return nil, false
			}
		default:
			if !w.field(&l, key) {
				return nil, false
			}
		}
	}
	req.MinToken, req.TimeoutMS = w.tok, w.timeout
	return req, l.end()
}

// calls decodes the array of calls.
func (l *lexer) calls() ([]BatchCall, bool) {
	if !l.consume('[') {
		return nil, false
	}
	// Room for the calls, at about 100 bytes each.
	calls := make([]BatchCall, 0, min(len(l.b)/100+1, MaxBatch))
	for n := 0; l.more(']', n); n++ {
		if !l.consume('{') {
			return nil, false
		}
		var c BatchCall
		var seenProc, seenArgs, seenKey bool
		for m := 0; l.more('}', m); m++ {
			key, ok := l.key()
			if !ok || !l.consume(':') {
				return nil, false
			}
			switch {
			case string(key) == "proc" && !seenProc:
				seenProc = true
				if c.Proc, ok = l.same(l.last); !ok {
					return nil, false
				}
				l.last = c.Proc
			case string(key) == "args" && !seenArgs:
				seenArgs = true
				if c.Args = l.value(); c.Args == nil {
					return nil, false
				}
			case string(key) == "idempotency_key" && !seenKey:
				seenKey = true
				if c.IdempotencyKey, ok = l.str(); !ok {
					return nil, false
				}
			default:
				return nil, false
			}
		}
		if l.bad {
			return nil, false
		}
		calls = append(calls, c)
	}
	return calls, !l.bad
}

// lexer reads JSON, checking its grammar as encoding/json's scanner does.
type lexer struct {
	b   []byte
	i   int
	bad bool // set by more on a missing comma or end
	// last is the string that same hands out again when it comes again.
	last string

	// For the answer decoders: text is b as one string, whose substrings
	// an answer's strings are (one allocation for all of them, rather
	// than one each: the client keeps an answer's bytes anyway, in
	// BatchResult.Raw); answers and ids are the CallAnswers and TxIDs
	// handed out, allocated a chunk at a time.
	text    string
	answers []CallAnswer
	ids     []string
}

// answerText reads a string as str does, as a substring of l.text.
func (l *lexer) answerText() (string, bool) {
	b, ok := l.key()
	if !ok {
		return "", false
	}
	if l.text == "" {
		l.text = string(l.b)
	}
	end := l.i - 1 // the closing quote
	return l.text[end-len(b) : end], true
}

// answerChunk is how many CallAnswers (and TxIDs) the answer decoders
// allocate at once.
const answerChunk = 32

// newAnswer returns a new zero CallAnswer.
func (l *lexer) newAnswer() *CallAnswer {
	if len(l.answers) == cap(l.answers) {
		l.answers = make([]CallAnswer, 0, answerChunk)
	}
	l.answers = l.answers[:len(l.answers)+1]
	return &l.answers[len(l.answers)-1]
}

// newID returns a pointer to a new string holding id.
func (l *lexer) newID(id string) *string {
	if len(l.ids) == cap(l.ids) {
		l.ids = make([]string, 0, answerChunk)
	}
	l.ids = append(l.ids, id)
	return &l.ids[len(l.ids)-1]
}

// maxDepth bounds the nesting of a raw value the lexer checks; deeper
// values are left to encoding/json (whose own bound is 10,000).
const maxDepth = 512

// end reports whether only white space is left, and nothing went wrong.
func (l *lexer) end() bool {
	l.ws()
	return !l.bad && l.i == len(l.b)
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

// more is called before element n (from 0) of an object or array, whose
// opening was consumed: it reports false at the closing end (consumed),
// and true when element n follows, having consumed the comma that must
// come before any but the first. Anything else (no comma, no end) marks
// the lexer bad and reports false.
func (l *lexer) more(end byte, n int) bool {
	l.ws()
	switch {
	case l.i >= len(l.b):
	case l.b[l.i] == end:
		l.i++
		return false
	case n == 0:
		return true
	case l.b[l.i] == ',':
		l.i++
		return true
	}
	l.bad = true
	return false
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
	b, ok := l.key()
	return string(b), ok
}

// key is str without the copy: the string's bytes in the input, to
// compare (an object's key) and forget.
func (l *lexer) key() ([]byte, bool) {
	if !l.consume('"') {
		return nil, false
	}
	start := l.i
	for ; l.i < len(l.b); l.i++ {
		switch c := l.b[l.i]; {
		case c == '"':
			l.i++
			return l.b[start : l.i-1], true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, false
		}
	}
	return nil, false
}

// same reads a string as str does, returning prev itself when the string
// is prev (a batch's token, procedure name: the same in every element).
func (l *lexer) same(prev string) (string, bool) {
	b, ok := l.key()
	if ok && string(b) == prev {
		return prev, true
	}
	return string(b), ok
}

// int64 reads an integer without fraction or exponent.
func (l *lexer) int64() (int64, bool) {
	l.ws()
	start := l.i
	if l.i < len(l.b) && l.b[l.i] == '-' {
		l.i++
	}
	if !l.digits() {
		return 0, false
	}
	n, err := strconv.ParseInt(string(l.b[start:l.i]), 10, 64)
	return n, err == nil
}

// digits reads the digits of an integer as JSON writes it (no leading
// zero), refusing a fraction or exponent after them.
func (l *lexer) digits() bool {
	start := l.i
	for l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '9' {
		l.i++
	}
	if l.i == start || (l.b[start] == '0' && l.i-start > 1) {
		return false
	}
	return l.i == len(l.b) || (l.b[l.i] != '.' && l.b[l.i] != 'e' && l.b[l.i] != 'E')
}

// value reads one JSON value, checking its grammar, and returns its
// bytes (nil if it is not valid JSON).
func (l *lexer) value() json.RawMessage {
	l.ws()
	start := l.i
	if !l.skip(0) {
		return nil
	}
	return l.b[start:l.i]
}

// skip reads one JSON value at nesting depth, reporting whether it is
// valid.
func (l *lexer) skip(depth int) bool {
	l.ws()
	if l.i >= len(l.b) || depth > maxDepth {
		return false
	}
	switch c := l.b[l.i]; {
	case c == '{':
		l.i++
		for n := 0; l.more('}', n); n++ {
			l.ws()
			if !l.skipString() || !l.consume(':') || !l.skip(depth+1) {
				return false
			}
		}
		return !l.bad
	case c == '[':
		l.i++
		for n := 0; l.more(']', n); n++ {
			if !l.skip(depth + 1) {
				return false
			}
		}
		return !l.bad
	case c == '"':
		return l.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return l.number()
	case c == 't':
		return l.literal("true")
	case c == 'f':
		return l.literal("false")
	case c == 'n':
		return l.literal("null")
	}
	return false
}

// skipString reads the string that starts at l.i, checking its escapes
// and that it holds no control character.
func (l *lexer) skipString() bool {
	if l.i >= len(l.b) || l.b[l.i] != '"' {
		return false
	}
	for l.i++; l.i < len(l.b); l.i++ {
		switch c := l.b[l.i]; {
		case c == '"':
			l.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			l.i++
			if l.i >= len(l.b) {
				return false
			}
			switch l.b[l.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(l.b)-l.i < 5 {
					return false
				}
				for _, h := range l.b[l.i+1 : l.i+5] {
					if !isHex(h) {
						return false
					}
				}
				l.i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (l *lexer) number() bool {
	if l.b[l.i] == '-' {
		l.i++
	}
	start := l.i
	l.skipDigits()
	if l.i == start || (l.b[start] == '0' && l.i-start > 1) {
		return false
	}
	if l.i < len(l.b) && l.b[l.i] == '.' {
		l.i++
		if !l.skipDigits() {
			return false
		}
	}
	if l.i < len(l.b) && (l.b[l.i] == 'e' || l.b[l.i] == 'E') {
		l.i++
		if l.i < len(l.b) && (l.b[l.i] == '+' || l.b[l.i] == '-') {
			l.i++
		}
		if !l.skipDigits() {
			return false
		}
	}
	return true
}

// skipDigits skips decimal digits, reporting whether there was one.
func (l *lexer) skipDigits() bool {
	start := l.i
	for l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '9' {
		l.i++
	}
	return l.i > start
}

// literal reads the literal lit (true, false or null).
func (l *lexer) literal(lit string) bool {
	if len(l.b)-l.i < len(lit) || string(l.b[l.i:l.i+len(lit)]) != lit {
		return false
	}
	l.i += len(lit)
	return true
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
	for n := 0; l.more('}', n); n++ {
		key, ok := l.key()
		if !ok || !l.consume(':') {
			return nil, false
		}
		switch {
		case string(key) == "results" && !seenResults:
			seenResults = true
			if l.null() {
				continue
			}
			if ans.Results, ok = l.results(); !ok {
				return nil, false
			}
		case string(key) == "token" && !seenTok:
			seenTok = true
			if ans.Token, ok = l.same(l.last); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return ans, l.end()
}

// results decodes the array of results of a BatchAnswer.
func (l *lexer) results() ([]BatchResult, bool) {
	if !l.consume('[') {
		return nil, false
	}
	// Room for the results, at about 150 bytes each.
	out := make([]BatchResult, 0, min(len(l.b)/150+1, MaxBatch))
	for n := 0; l.more(']', n); n++ {
		l.ws()
		start := l.i
		if !l.consume('{') {
			return nil, false
		}
		var r BatchResult
		var seen uint
		for m := 0; l.more('}', m); m++ {
			key, ok := l.key()
			if !ok || !l.consume(':') {
				return nil, false
			}
			bit := uint(1) << resultKeyIndex(key)
			if seen&bit != 0 {
				return nil, false
			}
			seen |= bit
			if string(key) == "status" {
				st, ok := l.int64()
				if !ok || int64(int(st)) != st {
					return nil, false
				}
				r.Status = int(st)
				continue
			}
			if r.CallAnswer == nil {
				r.CallAnswer = l.newAnswer()
			}
			if !l.answerField(key, r.CallAnswer) {
				return nil, false
			}
		}
		if l.bad {
			return nil, false
		}
		r.Raw = l.b[start:l.i]
		out = append(out, r)
	}
	return out, !l.bad
}

// LeanCallAnswer decodes the answer 200 of POST /v1/call/{proc}.
func LeanCallAnswer(b []byte) (ans *CallAnswer, ok bool) {
	l := lexer{b: b}
	ans = &CallAnswer{}
	if !l.consume('{') {
		return nil, false
	}
	var seen uint
	for n := 0; l.more('}', n); n++ {
		key, ok := l.key()
		if !ok || !l.consume(':') {
			return nil, false
		}
		bit := uint(1) << resultKeyIndex(key)
		if seen&bit != 0 || string(key) == "status" {
			return nil, false
		}
		seen |= bit
		if !l.answerField(key, ans) {
			return nil, false
		}
	}
	return ans, l.end()
}

// answerField decodes the value of field key of a CallAnswer into a,
// reporting false for a field it does not know or a value it does not
// take.
func (l *lexer) answerField(key []byte, a *CallAnswer) (ok bool) {
	switch string(key) {
	case "txid":
		if l.null() {
			a.TxID = nil
			return true
		}
		id, ok := l.answerText()
		if !ok {
			return false
		}
		a.TxID = l.newID(id)
	case "hlc":
		a.HLC, ok = l.uint64()
		return ok
	case "hlc_time":
		a.HLCTime, ok = l.answerText()
		return ok
	case "pos":
		a.Pos, ok = l.uint64()
		return ok
	case "read_only":
		a.ReadOnly, ok = l.bool()
		return ok
	case "result":
		a.Result = l.value()
		return a.Result != nil
	case "token":
		a.Token, ok = l.same(l.last)
		l.last = a.Token
		return ok
	default: // "error", or a field this version does not know
		return false
	}
	return true
}

// resultKeyIndex numbers the keys of a result (10 for any other).
func resultKeyIndex(key []byte) int {
	for i, k := range [...]string{"status", "txid", "hlc", "hlc_time", "pos", "read_only", "result", "token", "error"} {
		if k == string(key) {
			return i
		}
	}
	return 10
}

// uint64 reads an unsigned integer without fraction or exponent.
func (l *lexer) uint64() (uint64, bool) {
	l.ws()
	start := l.i
	if !l.digits() {
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
// whose keys are all plain (printable ASCII without escapes).
func LeanObjectKeys(b []byte) ([]string, bool) {
	l := lexer{b: b}
	if !l.consume('{') {
		return nil, false
	}
	var keys []string
	for n := 0; l.more('}', n); n++ {
		k, ok := l.str()
		if !ok || !l.consume(':') || l.value() == nil {
			return nil, false
		}
		keys = append(keys, k)
	}
	return keys, l.end()
}
