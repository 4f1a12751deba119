package client

import (
	"encoding/json"
	"strconv"

	"github.com/liege-db/liege/internal/httpapi"
)

// The bodies of calls are written by appending rather than by
// json.Marshal, whose reflection and re-compaction of the args cost as
// much as the rest of the client's work per call. The bytes are those
// json.Marshal writes (the tests compare them); a string that is not
// plain (see plain) sends the body through json.Marshal instead.

// appendCallRequest appends the JSON of r, whose Args are nil or the
// output of json.Marshal (compact, HTML-escaped: json.Marshal would copy
// them as they are).
func appendCallRequest(b []byte, r *httpapi.CallRequest) ([]byte, bool) {
	b = append(b, '{')
	sep := false
	if r.Args != nil {
		b = append(append(b, `"args":`...), r.Args...)
		sep = true
	}
	if r.MinToken != "" {
		if !plain(r.MinToken) {
			return nil, false
		}
		if sep {
			b = append(b, ',')
		}
		b = appendQuoted(append(b, `"min_token":`...), r.MinToken)
		sep = true
	}
	if r.TimeoutMS != nil {
		if sep {
			b = append(b, ',')
		}
		b = strconv.AppendInt(append(b, `"timeout_ms":`...), *r.TimeoutMS, 10)
	}
	return append(b, '}'), true
}

// appendBatchRequest appends the JSON of r, whose calls' Args are nil or
// the output of json.Marshal.
func appendBatchRequest(b []byte, r *httpapi.BatchRequest) ([]byte, bool) {
	if r.Calls == nil {
		b = append(b, `{"calls":null`...)
	} else {
		b = append(b, `{"calls":[`...)
		for i := range r.Calls {
			c := &r.Calls[i]
			if !plain(c.Proc) || !plain(c.IdempotencyKey) {
				return nil, false
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(append(b, `{"proc":`...), c.Proc)
			if c.Args != nil {
				b = append(append(b, `,"args":`...), c.Args...)
			}
			if c.IdempotencyKey != "" {
				b = appendQuoted(append(b, `,"idempotency_key":`...), c.IdempotencyKey)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if r.MinToken != "" {
		if !plain(r.MinToken) {
			return nil, false
		}
		b = appendQuoted(append(b, `,"min_token":`...), r.MinToken)
	}
	if r.TimeoutMS != nil {
		b = strconv.AppendInt(append(b, `,"timeout_ms":`...), *r.TimeoutMS, 10)
	}
	return append(b, '}'), true
}

// plain reports whether json.Marshal writes s as it is between quotes:
// printable ASCII without '"', '\', and the '<', '>', '&' it escapes for
// HTML.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

func appendQuoted(b []byte, s string) []byte {
	return append(append(append(b, '"'), s...), '"')
}

// marshalBody is the JSON of a call's or a batch's body: appended when
// its strings are plain, else by json.Marshal.
func marshalBody(v any) ([]byte, error) {
	var (
		b  []byte
		ok bool
	)
	switch r := v.(type) {
	case *httpapi.CallRequest:
		b, ok = appendCallRequest(make([]byte, 0, 64+len(r.Args)+len(r.MinToken)), r)
	case *httpapi.BatchRequest:
		n := 64 + len(r.MinToken)
		for _, c := range r.Calls {
			n += 48 + len(c.Proc) + len(c.Args) + len(c.IdempotencyKey)
		}
		b, ok = appendBatchRequest(make([]byte, 0, n), r)
	}
	if ok {
		return b, nil
	}
	return json.Marshal(v)
}
