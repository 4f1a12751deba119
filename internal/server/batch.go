package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/journal"
)

// handleCalls runs several calls sent in one request (POST /v1/calls):
// each as POST /v1/call/{proc} would, all at once, so that they share the
// request's cost and the instance's group commit. A malformed request is
// refused whole (400); a call that is refused or fails has its own status
// and error in its result, and the others run.
func (s *Server) handleCalls(r *http.Request) (any, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	if n := len(r.Header.Values("Idempotency-Key")); n > 0 {
		return nil, badRequest("POST /v1/calls takes no Idempotency-Key header: give each call its own idempotency_key")
	}
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	if path, bad := invalidText(body); bad {
		return nil, notText("the body", path)
	}
	req, err := decodeBatch(body)
	if err != nil {
		return nil, err
	}
	minTok, err := parseToken(req.MinToken)
	if err != nil {
		return nil, err
	}
	timeout, err := s.timeout(req.TimeoutMS)
	if err != nil {
		return nil, err
	}
	// Refuse what does not decode before waiting or running anything.
	ans := &httpapi.BatchAnswer{Results: make([]httpapi.BatchResult, len(req.Calls))}
	args := make([]any, len(req.Calls))
	for i, c := range req.Calls {
		a, e := s.batchArgs(c)
		if e != nil {
			ans.Results[i] = s.resultError(r, e)
			continue
		}
		args[i] = a
	}
	if err := s.waitFor(r.Context(), minTok, timeout); err != nil {
		return nil, err
	}
	first := batchFirsts(req.Calls) // batchdup.go: a repeated key runs once
	// The calls that run go to the instance in one hand-off (CallBatch).
	run := make([]liege.BatchCall, 0, len(req.Calls))
	for i, c := range req.Calls {
		if args[i] == nil || first[i] >= 0 {
			continue
		}
		run = append(run, liege.BatchCall{Proc: c.Proc, Args: args[i], Options: liege.CallOptions{IdempotencyKey: c.IdempotencyKey}})
	}
	s.db.CallBatch(r.Context(), run)
	var last journal.TxID // the largest committed, for tokenAfter
	done := make([]*liege.Result, len(req.Calls))
	j := 0
	for i := range req.Calls {
		if args[i] == nil || first[i] >= 0 {
			continue
		}
		bc := &run[j]
		j++
		if bc.Err != nil {
			ans.Results[i] = s.resultError(r, s.callError(bc.Proc, bc.Err))
			continue
		}
		if id := bc.Result.TxID; id.OSeq > last.OSeq {
			last = id
		}
		done[i] = &bc.Result
	}
	s.answerRepeats(r, req.Calls, args, first, ans.Results, done)
	ans.Token = s.tokenAfter(r.Context(), minTok, last)
	if b, ok := appendBatchAnswer(ans, done); ok {
		return b, nil
	}
	for i, res := range done {
		if res == nil {
			continue
		}
		a, e := s.callAnswer(req.Calls[i].Proc, res)
		if e != nil {
			ans.Results[i] = s.resultError(r, e)
			continue
		}
		a.Token = ans.Token
		ans.Results[i] = httpapi.BatchResult{Status: http.StatusOK, CallAnswer: a}
	}
	return ans, nil
}

// appendBatchAnswer writes the answer of POST /v1/calls into one buffer,
// with the bytes writeJSON's encoding/json would write for ans once the
// results of done (the calls that succeeded) are filled in as callAnswer
// fills them. It declines (ok false), to leave the answer to them, when a
// call has an error (its message may hold any character) or a string or
// result it does not write as they do.
func appendBatchAnswer(ans *httpapi.BatchAnswer, done []*liege.Result) (leanBody, bool) {
	tok := ans.Token
	if !isPlain(tok) {
		return nil, false
	}
	b := make([]byte, 0, 32+len(done)*(190+len(tok)))
	b = append(b, `{"results":[`...)
	for i, res := range done {
		if res == nil {
			return nil, false // an error, or a repeat of one
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"status":200,"txid":`...)
		if res.ReadOnly() {
			b = append(b, "null"...)
		} else {
			if !isPlain(res.TxID.Origin) {
				return nil, false
			}
			b = append(b, '"')
			b = append(b, res.TxID.Origin...)
			b = append(b, '/')
			b = strconv.AppendUint(b, res.TxID.OSeq, 10)
			b = append(b, '"')
		}
		b = append(b, `,"hlc":`...)
		b = strconv.AppendUint(b, res.HLC, 10)
		b = append(b, `,"hlc_time":"`...)
		b = appendHLCTime(b, res.HLC)
		b = append(b, `","pos":`...)
		b = strconv.AppendUint(b, res.Pos, 10)
		b = append(b, `,"read_only":`...)
		b = strconv.AppendBool(b, res.ReadOnly())
		b = append(b, `,"result":`...)
		var ok bool
		if b, ok = appendPlainMsgpackJSON(b, res.Raw); !ok {
			j, err := msgpackJSON(res.Raw)
			if err != nil {
				return nil, false // callAnswer says what is wrong
			}
			b = append(b, j...)
		}
		b = append(b, `,"token":"`...)
		b = append(b, tok...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"token":"`...)
	b = append(b, tok...)
	return append(b, "\"}\n"...), true
}

// decodeBatch decodes and checks the body of POST /v1/calls: by
// httpapi.LeanBatchRequest when it can (it checks the JSON as it reads),
// else by encoding/json, whose errors say what is wrong.
func decodeBatch(body []byte) (*httpapi.BatchRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest(`the body is empty: send {"calls": [{"proc": "set", "args": {...}}, ...]}`)
	}
	req, ok := httpapi.LeanBatchRequest(body)
	if !ok {
		req = &httpapi.BatchRequest{}
		if err := decodeStrict(body, req); err != nil {
			msg := jsonError("the body", err)
			if strings.HasPrefix(err.Error(), "json: unknown field ") {
				msg = fmt.Sprintf("the body has the %s; the fields of a batch are calls, min_token and timeout_ms, and those of a call proc, args and idempotency_key",
					strings.TrimPrefix(err.Error(), "json: "))
			}
			return nil, badRequest("%s", msg)
		}
	}
	switch n := len(req.Calls); {
	case n == 0:
		return nil, badRequest(`the batch has no calls: send {"calls": [{"proc": "set", "args": {...}}, ...]}`)
	case n > httpapi.MaxBatch:
		return nil, badRequest("the batch has %d calls; send at most %d per request", n, httpapi.MaxBatch)
	}
	return req, nil
}

// batchArgs checks one call of a batch and decodes its arguments.
func (s *Server) batchArgs(c httpapi.BatchCall) (any, *Error) {
	if c.Proc == "" {
		return nil, badRequest(`a call of the batch has no "proc": name the procedure to call`)
	}
	if n := len(c.IdempotencyKey); n > MaxIdempotencyKey {
		return nil, badRequest("the idempotency_key of a call must be 1 to %d bytes, not %d", MaxIdempotencyKey, n)
	}
	args, err := s.db.NewArgs(c.Proc)
	if err != nil {
		if errors.Is(err, liege.ErrUnknownProcedure) {
			return nil, s.unknownProcedure(c.Proc)
		}
		return nil, engineError(err)
	}
	if a := bytes.TrimSpace(c.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		if err := decodeArgs(a, args); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadArgs,
				Message: fmt.Sprintf("args do not decode into %s's arguments: %v", c.Proc, err)}
		}
	}
	return args, nil
}

// callAnswer is the answer of a call that succeeded.
func (s *Server) callAnswer(name string, res *liege.Result) (*httpapi.CallAnswer, *Error) {
	ans := &httpapi.CallAnswer{HLC: res.HLC, HLCTime: hlcTime(res.HLC), Pos: res.Pos, ReadOnly: res.ReadOnly()}
	if !res.ReadOnly() {
		id := res.TxID.String()
		ans.TxID = &id
	}
	var err error
	if ans.Result, err = msgpackJSON(res.Raw); err != nil {
		committed := "it committed nothing (read-only)"
		if !res.ReadOnly() {
			committed = "transaction " + res.TxID.String() + " committed"
		}
		return nil, &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
			Message: fmt.Sprintf("the call of %s succeeded (%s) but its result does not convert to JSON: %v", name, committed, err),
			Err:     fmt.Errorf("result of %s (%s): %w", name, res.TxID, err)}
	}
	return ans, nil
}

// resultError is the result of a call of a batch that was refused or
// failed; a 5xx with a cause is logged, as writeError does.
func (s *Server) resultError(r *http.Request, e *Error) httpapi.BatchResult {
	if e.Status >= 500 && e.Err != nil {
		s.log.Error("HTTP call of a batch failed", "method", r.Method, "path", r.URL.Path,
			"status", e.Status, "code", e.Code, "error", e.Err)
	}
	msg := e.Message
	if msg == "" && e.Err != nil && e.Status != http.StatusInternalServerError {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = "internal error (a bug in the server; it is logged)"
	}
	return httpapi.BatchResult{Status: e.Status, Error: &httpapi.ErrorDetail{Code: e.Code, Message: msg}}
}
