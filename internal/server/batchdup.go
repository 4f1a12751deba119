package server

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/journal"
)

// A batch of POST /v1/calls may hold the same idempotency key twice (a
// client that queued a retry next to its first attempt). Run in parallel,
// which of the two commits, and whether the other then answers its
// outcome or 422, would depend on scheduling. Instead the first call in
// the batch's order runs, and each later call with its key is answered
// without running: with the first's answer if it names the same procedure
// with the same arguments (a retry), else 422 idempotency_key_reused.

// batchFirsts returns, for each call of calls, the index of the earlier
// call whose idempotency key it repeats, or -1.
func batchFirsts(calls []httpapi.BatchCall) []int {
	first := make([]int, len(calls))
	seen := make(map[string]int, len(calls)) // sized once: every call of a client's batch has a key
	for i, c := range calls {
		first[i] = -1
		if c.IdempotencyKey == "" {
			continue
		}
		if j, ok := seen[c.IdempotencyKey]; ok {
			first[i] = j
			continue
		}
		seen[c.IdempotencyKey] = i
	}
	return first
}

// sameCall reports whether calls i and j of a batch are the same call:
// the same procedure and the same arguments, compared as the engine
// compares a retry (the msgpack of the decoded arguments), or, where they
// did not decode, byte for byte.
func sameCall(calls []httpapi.BatchCall, args []any, i, j int) bool {
	if calls[i].Proc != calls[j].Proc {
		return false
	}
	if args[i] == nil || args[j] == nil {
		return args[i] == nil && args[j] == nil && bytes.Equal(bytes.TrimSpace(calls[i].Args), bytes.TrimSpace(calls[j].Args))
	}
	a, errA := journal.Marshal(args[i])
	b, errB := journal.Marshal(args[j])
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// answerRepeats answers each call that repeats an earlier call's key, once
// the earlier ones have their answers: in results (a refused or failed
// call) or done (a call that succeeded).
func (s *Server) answerRepeats(r *http.Request, calls []httpapi.BatchCall, args []any, first []int, results []httpapi.BatchResult, done []*liege.Result) {
	for i, j := range first {
		switch {
		case j < 0:
		case sameCall(calls, args, i, j):
			results[i], done[i] = results[j], done[j]
		default:
			results[i] = s.resultError(r, &Error{Status: http.StatusUnprocessableEntity, Code: CodeIdempotencyKeyReused,
				Message: fmt.Sprintf("calls[%d] has the idempotency_key %q of calls[%d] with another procedure or other arguments; it did not run: "+
					"a key names one call (a retry repeats it exactly), so give a new call a new key", i, calls[i].IdempotencyKey, j)})
		}
	}
}
