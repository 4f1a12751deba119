package tuple

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ParseJSON encodes a key written as a JSON array of strings and integers,
// like ["seat","gala",12]. Numbers must be integer literals that fit in an
// int64: 1.5, 1e3, 1.0 and 9223372036854775808 are all rejected. Errors name
// the offending element by its zero-based index, as in
// "tuple: element 2: 1.5 is not an integer".
//
// JSON strings are Unicode text, so a string element holding bytes that are
// not valid UTF-8 cannot be written this way; encoding/json replaces such
// bytes with U+FFFD.
func ParseJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("tuple: %w", syntaxErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("tuple: key must be a JSON array like [\"seat\", 12], got %s", describeJSON(tok))
	}
	key := []byte{}
	for i := 0; dec.More(); i++ {
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("tuple: element %d: %w", i, syntaxErr(err))
		}
		switch v := v.(type) {
		case string:
			key = AppendString(key, v)
		case json.Number:
			n, err := parseJSONInt(v)
			if err != nil {
				return nil, fmt.Errorf("tuple: element %d: %w", i, err)
			}
			key = AppendInt(key, n)
		default:
			return nil, fmt.Errorf("tuple: element %d: %s is not a string or integer", i, describeJSON(v))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, fmt.Errorf("tuple: %w", syntaxErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("tuple: %w", syntaxErr(err))
		}
		return nil, errors.New("tuple: unexpected data after the JSON array")
	}
	return key, nil
}

// syntaxErr describes an error from the JSON decoder.
func syntaxErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// parseJSONInt converts a JSON number to an int64, explaining why not if it
// cannot.
func parseJSONInt(n json.Number) (int64, error) {
	s := string(n)
	v, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return v, nil
	}
	if !strings.ContainsAny(s, ".eE") {
		return 0, fmt.Errorf("%s does not fit in a 64-bit signed integer", s)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f != math.Trunc(f) {
		return 0, fmt.Errorf("%s is not an integer", s)
	}
	return 0, fmt.Errorf("%s is not an integer literal (write integers without a fraction or exponent)", s)
}

// describeJSON names a decoded JSON value or token for an error message.
func describeJSON(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case string:
		return "the string " + strconv.Quote(v)
	case json.Number:
		return "the number " + string(v)
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "'" + v.String() + "'"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// ToJSONArray decodes key like Unpack but returns the elements as a []any of
// int64 and string, ready for encoding/json: ParseJSON of its JSON encoding
// gives key back whenever the strings are valid UTF-8.
func ToJSONArray(key []byte) ([]any, error) {
	t, err := Unpack(key)
	if err != nil {
		return nil, err
	}
	return []any(t), nil
}
