package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/liege-db/liege/internal/httpapi"
)

// Error codes of the HTTP API (docs/http-api.md).
const (
	CodeBadRequest       = httpapi.CodeBadRequest
	CodeBadArgs          = httpapi.CodeBadArgs
	CodeUnauthorized     = httpapi.CodeUnauthorized
	CodeUnknownProcedure = httpapi.CodeUnknownProcedure
	CodeNotFound         = httpapi.CodeNotFound
	CodeMethodNotAllowed = httpapi.CodeMethodNotAllowed
	CodeTooLarge         = httpapi.CodeTooLarge
	CodeProcedureError   = httpapi.CodeProcedureError
	CodeNotCaughtUp      = httpapi.CodeNotCaughtUp
	CodeUnavailable      = httpapi.CodeUnavailable
	CodeInternal         = httpapi.CodeInternal
)

// Error is an answer other than 200, decoded from its
// {"error": {"code", "message"}} body. A body that is not of that form (a
// proxy's page) leaves Code empty and puts the start of the body in
// Message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(e.Status), " ", "_"))
	}
	if e.Message == "" {
		return fmt.Sprintf("%s (HTTP %d)", code, e.Status)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", code, e.Message, e.Status)
}

// IsCode reports whether err is (or wraps) an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// decodeError builds the *Error of a non-200 answer.
func decodeError(status int, body []byte) *Error {
	var b httpapi.ErrorBody
	if json.Unmarshal(body, &b) == nil && b.Error != nil && b.Error.Code != "" {
		return &Error{Status: status, Code: b.Error.Code, Message: b.Error.Message}
	}
	msg := strings.TrimSpace(string(body))
	const most = 200
	if len(msg) > most {
		cut := most
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Message: msg}
}

// ConnError is a request that got no answer: the connection failed, was
// cut, or timed out (WithTimeout), on every attempt.
type ConnError struct {
	// Method and URL are the request's.
	Method, URL string
	// Attempts is how many times it was tried.
	Attempts int
	// Err is the last attempt's error.
	Err error
}

func (e *ConnError) Error() string {
	tries := ""
	if e.Attempts > 1 {
		tries = fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	return fmt.Sprintf("%s %s: no answer%s: %v", e.Method, e.URL, tries, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// Timeout reports whether the last attempt timed out rather than failed to
// connect or was cut.
func (e *ConnError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &t) && t.Timeout())
}
