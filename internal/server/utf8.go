package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// invalidText finds the first JSON string in data (an object key or a
// value) that is not valid Unicode text: raw bytes that are not UTF-8, or
// an escaped lone surrogate (\ud800). encoding/json would store either as
// U+FFFD without a word, changing the client's data. It returns the string's
// path ("args.value", "args.list[2]", `args["k\u00e9"]` for odd names) and
// true, or false when every string is text. JSON that does not parse is
// left to the decoder's own error.
func invalidText(data []byte) (string, bool) {
	if utf8.Valid(data) && !surrogateEscape(data) {
		return "", false // the common case, without tokenizing
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		key    string // object: the current member's name
		index  int    // array: the current element's index
		member bool   // object: the next string is a member's name
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for i, f := range stack {
			switch {
			case !f.object:
				fmt.Fprintf(&b, "[%d]", f.index)
			case isIdent(f.key):
				if i > 0 || b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			default:
				fmt.Fprintf(&b, "[%s]", strconv.QuoteToASCII(f.key))
			}
		}
		if b.Len() == 0 {
			return "the value"
		}
		return b.String()
	}
	// advance moves past a finished value in the enclosing container.
	advance := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].member = true
			} else {
				stack[n-1].index++
			}
		}
	}
	prev := dec.InputOffset()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		raw := data[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, frame{object: true, member: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				advance()
			}
		case string:
			top := len(stack) - 1
			if top >= 0 && stack[top].object && stack[top].member {
				stack[top].key, stack[top].member = tok, false
				if !isText(raw, tok) {
					return path() + " (a member's name)", true
				}
				continue
			}
			if !isText(raw, tok) {
				return path(), true
			}
			advance()
		default:
			advance()
		}
	}
}

// isText reports whether a decoded JSON string s, read from raw (its token
// with the separators around it), is what the client sent: valid UTF-8,
// and no U+FFFD the decoder put in for a lone surrogate escape.
func isText(raw []byte, s string) bool {
	if !utf8.Valid(raw) {
		return false
	}
	n := strings.Count(s, "\uFFFD")
	if n == 0 {
		return true
	}
	sent := bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
	return n <= sent
}

// isIdent reports whether a member name prints plainly in a path.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// notText is the 400 for a string that is not valid UTF-8 text at path,
// in what ("the body", "query parameter k").
func notText(what, path string) *Error {
	code := CodeBadRequest
	if strings.HasPrefix(path, "args") {
		code = CodeBadArgs
	}
	return &Error{Status: 400, Code: code, Message: fmt.Sprintf(
		"%s: %s is not valid UTF-8 text (raw bytes that are not UTF-8, or a lone surrogate escape); it would be stored altered, so it is refused: send text as UTF-8, and bytes to a procedure argument of type []byte as a base64 string",
		what, path)}
}

// surrogateEscape reports whether data holds a \uD800..\uDFFF escape
// (half of a pair, or a lone one that invalidText must look at).
func surrogateEscape(data []byte) bool {
	for {
		i := bytes.Index(data, []byte(`\u`))
		if i < 0 || i+3 >= len(data) {
			return false
		}
		if c, d := data[i+2], data[i+3]; (c == 'd' || c == 'D') && strings.IndexByte("89abcdefABCDEF", d) >= 0 {
			return true
		}
		data = data[i+2:]
	}
}
