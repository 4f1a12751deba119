package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// The error codes of docs/http-api.md, from the one list in
// internal/httpapi.
const (
	CodeBadRequest           = httpapi.CodeBadRequest
	CodeBadArgs              = httpapi.CodeBadArgs
	CodeUnauthorized         = httpapi.CodeUnauthorized
	CodeUnknownProcedure     = httpapi.CodeUnknownProcedure
	CodeNotFound             = httpapi.CodeNotFound
	CodeMethodNotAllowed     = httpapi.CodeMethodNotAllowed
	CodeTooLarge             = httpapi.CodeTooLarge
	CodeProcedureError       = httpapi.CodeProcedureError
	CodeNotCaughtUp          = httpapi.CodeNotCaughtUp
	CodeUnavailable          = httpapi.CodeUnavailable
	CodeInternal             = httpapi.CodeInternal
	CodeIdempotencyKeyReused = httpapi.CodeIdempotencyKeyReused
	CodeTxnTooLarge          = httpapi.CodeTxnTooLarge
)

// Error is an answer other than 200: its status, code and message become
// the {"error": {"code", "message"}} body. Err, if set, is the cause,
// logged for 5xx answers.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
	// RetryAfter, if set, becomes the Retry-After header (whole seconds).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Code + ": " + e.Message
	}
	if e.Err != nil {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code
}

func (e *Error) Unwrap() error { return e.Err }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// engineError maps an error from a DB method other than a call's own
// procedure error: closing and journal failures are 503 unavailable, a
// request the client abandoned is 503 too (nobody reads it), anything else
// is a 500.
func engineError(err error) *Error {
	var fatal *journal.FatalError
	switch {
	case errors.Is(err, liege.ErrClosed), errors.Is(err, journal.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the instance is shutting down; retry at the other instance or once it is back", Err: err}
	case errors.Is(err, liege.ErrIdempotencyKeyReused):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeIdempotencyKeyReused, Message: err.Error()}
	case errors.Is(err, liege.ErrTxnTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTxnTooLarge, Message: err.Error()}
	case errors.Is(err, liege.ErrAwaitingPeer):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error(), Err: err}
	case errors.Is(err, liege.ErrQuiesced):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the instance is quiesced for a switchover; retry in a moment", Err: err}
	case errors.As(err, &fatal):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the instance's journal failed and it takes no more requests until it is restarted: " + err.Error(), Err: err}
	case errors.Is(err, replicate.ErrHearsLiege), errors.Is(err, replicate.ErrRole), errors.Is(err, replicate.ErrBusy),
		errors.Is(err, replicate.ErrAwaitingSeed):
		return &Error{Status: http.StatusConflict, Code: CodeBadRequest, Message: err.Error(), Err: err}
	case errors.Is(err, liege.ErrRouteUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error(), RetryAfter: liege.RouteRetryAfter}
	case errors.As(err, new(*liege.ForwardUnknownError)):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the request was canceled before the instance answered it"}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Err: err}
}

// jsonError describes an encoding/json error in the body (what names the
// JSON being decoded: "body", "args").
func jsonError(what string, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s is not valid JSON: %v (at byte %d)", what, syn, syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s field %q must be %s, not a JSON %s", what, typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return fmt.Sprintf("%s must be %s, not a JSON %s", what, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, errTrailingData):
		return fmt.Sprintf("%s has data after its JSON value; send exactly one JSON object", what)
	case strings.Contains(err.Error(), "unexpected EOF"), err.Error() == "EOF":
		return fmt.Sprintf("%s is not valid JSON: unexpected end of input", what)
	}
	return fmt.Sprintf("%s does not decode: %v", what, err)
}

// jsonKind names a Go kind as the JSON a client should send.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	case k == "slice", k == "array":
		return "an array"
	case k == "map", k == "struct":
		return "an object"
	}
	return "a " + k
}

var errTrailingData = errors.New("data after the JSON value")
