// Package jsonval converts the engine's msgpack values (stored values,
// procedure arguments and results) and tuple keys into values that
// encoding/json encodes faithfully.
//
// The conversion is the one the HTTP API documents (docs/http-api.md):
//
//   - maps get string keys: a non-string key is formatted with fmt (the
//     integer key 7 becomes "7", nil becomes "null"), and a key that is not
//     valid UTF-8 becomes "base64:" followed by its bytes in base64;
//   - strings and byte strings that are valid UTF-8 become JSON strings;
//     others become {"base64": "..."} with the bytes in standard base64,
//     because encoding/json would silently replace the invalid bytes;
//   - NaN and the infinities, which JSON cannot hold, become the strings
//     "NaN", "+Inf" and "-Inf";
//   - time.Time becomes an RFC 3339 string in UTC;
//   - integers, booleans and nil stay as they are, and arrays and maps are
//     converted element by element.
package jsonval

import (
	"encoding/base64"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// FromMsgpack decodes b (msgpack, as the journal encodes values, arguments
// and results) and converts the result with FromValue. Empty input is nil.
func FromMsgpack(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var v any
	if err := journal.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode msgpack value: %w", err)
	}
	return FromValue(v), nil
}

// FromValue converts a value decoded from msgpack (or built in Go from the
// same kinds of values) into one encoding/json encodes faithfully, as the
// package documentation describes.
func FromValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x
	case string:
		if utf8.ValidString(x) {
			return x
		}
		return Base64([]byte(x))
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return Base64(x)
	case float64:
		return finite(x)
	case float32:
		return finite(float64(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = FromValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[mapKey(k)] = FromValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[mapKey(k)] = FromValue(e)
		}
		return out
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

// Base64 is the JSON form of bytes that are not valid UTF-8:
// {"base64": "<standard base64>"}.
func Base64(b []byte) map[string]any {
	return map[string]any{"base64": base64.StdEncoding.EncodeToString(b)}
}

// Key returns a tuple key as a JSON array of its elements (integers and
// strings, a string that is not valid UTF-8 as {"base64": ...}), or nil
// (JSON null) for bytes that are not a tuple encoding.
func Key(key []byte) any {
	elems, err := tuple.ToJSONArray(key)
	if err != nil {
		return nil
	}
	for i, e := range elems {
		elems[i] = FromValue(e)
	}
	return elems
}

func finite(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return f
}

// mapKey turns a map key into a JSON object key.
func mapKey(k any) string {
	switch x := k.(type) {
	case string:
		if utf8.ValidString(x) {
			return x
		}
		return "base64:" + base64.StdEncoding.EncodeToString([]byte(x))
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return "base64:" + base64.StdEncoding.EncodeToString(x)
	case nil:
		return "null"
	}
	return fmt.Sprint(k)
}
