package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// TestEngineErrorStatus: each error a DB method returns, wrapped as the
// engine wraps it, becomes its documented status and code, and the
// message keeps what the error says to do.
func TestEngineErrorStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("promote A: %w", err) }
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{wrap(liege.ErrClosed), http.StatusServiceUnavailable, CodeUnavailable},
		{wrap(journal.ErrClosed), http.StatusServiceUnavailable, CodeUnavailable},
		{wrap(liege.ErrIdempotencyKeyReused), http.StatusUnprocessableEntity, CodeIdempotencyKeyReused},
		{wrap(liege.ErrTxnTooLarge), http.StatusRequestEntityTooLarge, CodeTxnTooLarge},
		{wrap(liege.ErrAwaitingPeer), http.StatusServiceUnavailable, CodeUnavailable},
		{wrap(liege.ErrQuiesced), http.StatusServiceUnavailable, CodeUnavailable},
		{wrap(replicate.ErrHearsLiege), http.StatusConflict, CodeBadRequest},
		{wrap(replicate.ErrRole), http.StatusConflict, CodeBadRequest},
		{wrap(replicate.ErrBusy), http.StatusConflict, CodeBadRequest},
		{wrap(liege.ErrAwaitingSeed), http.StatusConflict, CodeBadRequest},
		{wrap(liege.ErrRouteUnavailable), http.StatusServiceUnavailable, CodeUnavailable},
		{wrap(context.Canceled), http.StatusServiceUnavailable, CodeUnavailable},
		{wrap(badRequest("bad %s", "thing")), http.StatusBadRequest, CodeBadRequest},
		{errors.New("disk on fire"), http.StatusInternalServerError, CodeInternal},
	} {
		e := engineError(c.err)
		if e.Status != c.status || e.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, e.Status, e.Code, c.status, c.code)
		}
	}
	// A promote refused while awaiting the seed says why and what to do.
	e := engineError(wrap(liege.ErrAwaitingSeed))
	if !strings.Contains(e.Message, "checkpoint") || !errors.Is(e, liege.ErrAwaitingSeed) {
		t.Errorf("awaiting seed: message %q, cause %v", e.Message, e.Err)
	}
}
