package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/internal/jsonval"
	"github.com/liege-db/liege/internal/tuple"
	buildinfo "github.com/liege-db/liege/internal/version"
	"github.com/liege-db/liege/journal"
)

func (s *Server) handleCall(r *http.Request) (any, error) {
	name := r.PathValue("proc")
	args, err := s.db.NewArgs(name)
	if err != nil {
		if errors.Is(err, liege.ErrUnknownProcedure) {
			return nil, s.unknownProcedure(name)
		}
		return nil, engineError(err)
	}
	if _, err := query(r); err != nil {
		return nil, err
	}
	idem := r.Header.Values("Idempotency-Key")
	if len(idem) > 1 {
		return nil, badRequest("send one Idempotency-Key header, not %d", len(idem))
	}
	var opts liege.CallOptions
	if len(idem) == 1 {
		opts.IdempotencyKey = idem[0]
		if n := len(opts.IdempotencyKey); n == 0 || n > MaxIdempotencyKey {
			return nil, badRequest("the Idempotency-Key header must be 1 to %d bytes, not %d", MaxIdempotencyKey, n)
		}
	}
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	if path, bad := invalidText(body); bad {
		return nil, notText("the body", path)
	}
	var req httpapi.CallRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if lean, ok := httpapi.LeanCallRequest(body); ok {
			req = *lean
		} else if err := decodeStrict(body, &req); err != nil {
			msg := jsonError("the body", err)
			if strings.HasPrefix(err.Error(), "json: unknown field ") {
				msg = fmt.Sprintf("the body has the %s; the fields of a call are args, min_token and timeout_ms",
					strings.TrimPrefix(err.Error(), "json: "))
			}
			return nil, badRequest("%s", msg)
		}
	}
	if a := bytes.TrimSpace(req.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		if err := decodeArgs(a, args); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadArgs,
				Message: fmt.Sprintf("args do not decode into %s's arguments: %v", name, err)}
		}
	}
	minTok, err := parseToken(req.MinToken)
	if err != nil {
		return nil, err
	}
	timeout, err := s.timeout(req.TimeoutMS)
	if err != nil {
		return nil, err
	}
	if err := s.waitFor(r.Context(), minTok, timeout); err != nil {
		return nil, err
	}
	res, err := s.db.CallWith(r.Context(), name, args, opts)
	if err != nil {
		return nil, s.callError(name, err)
	}
	ans, e := s.callAnswer(name, res)
	if e != nil {
		return nil, e
	}
	ans.Token = s.tokenAfter(r.Context(), minTok, res.TxID)
	return ans, nil
}

// unknownProcedure is the 404 for a procedure the instance does not serve.
func (s *Server) unknownProcedure(name string) *Error {
	procs := s.db.Procedures()
	slices.Sort(procs)
	serves := "this instance serves"
	if s.opts.App != "" {
		serves += " app " + s.opts.App + " with"
	}
	if len(procs) == 0 {
		serves += " no procedures"
	} else {
		serves += " " + strings.Join(procs, ", ")
	}
	return &Error{Status: http.StatusNotFound, Code: CodeUnknownProcedure,
		Message: fmt.Sprintf("unknown procedure %q: %s", name, serves)}
}

// callError maps the error of a call.
func (s *Server) callError(name string, err error) *Error {
	switch {
	case errors.Is(err, liege.ErrUnknownProcedure):
		return s.unknownProcedure(name)
	case errors.Is(err, liege.ErrBadArgs):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadArgs, Message: err.Error()}
	}
	if e := engineError(err); e.Status != http.StatusInternalServerError {
		return e
	}
	var pe *liege.PanicError
	if errors.As(err, &pe) {
		// A bug in the application, not a refusal: the stack is for the
		// log. Nothing was committed.
		s.log.Error("procedure panicked", "proc", name, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
			Message: fmt.Sprintf("procedure %q failed with an internal error; nothing was committed (the server log has the details)", name)}
	}
	// The procedure's own error: nothing was committed.
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeProcedureError, Message: err.Error()}
}

func (s *Server) handleKey(r *http.Request) (any, error) {
	q, err := query(r, "k", "min_token", "timeout_ms")
	if err != nil {
		return nil, err
	}
	if !q.Has("k") {
		return nil, badRequest(`the query parameter k is required: the key as a JSON array, e.g. k=["acct",1]`)
	}
	key, err := parseKey("k", q.Get("k"))
	if err != nil {
		return nil, err
	}
	minTok, timeout, err := s.queryWait(q)
	if err != nil {
		return nil, err
	}
	if err := s.waitFor(r.Context(), minTok, timeout); err != nil {
		return nil, err
	}
	e, found, err := s.db.Get(r.Context(), key)
	if err != nil {
		return nil, engineError(err)
	}
	ans := &httpapi.KeyAnswer{KeyHex: hex.EncodeToString(key), Found: found}
	if ans.Key, err = toJSON(jsonval.Key(key)); err != nil {
		return nil, fmt.Errorf("key %s: %w", liege.Key(key), err)
	}
	if found {
		if ans.Value, err = msgpackJSON(e.Value); err != nil {
			return nil, fmt.Errorf("value of key %s: %w", liege.Key(key), err)
		}
		ans.Version = &httpapi.Version{HLC: e.Version.HLC, Origin: e.Version.Origin}
	}
	ans.Token = s.tokenAfter(r.Context(), minTok, journal.TxID{})
	return ans, nil
}

func (s *Server) handleTxn(r *http.Request) (any, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	id, err := journal.ParseTxID(r.PathValue("txid"))
	if err != nil {
		return nil, badRequest("%v", err)
	}
	st, err := s.db.TxnStatus(r.Context(), id)
	if err != nil {
		return nil, engineError(err)
	}
	ans := &httpapi.TxnAnswer{TxID: id.String(), State: string(st.State)}
	if st.LostFile != "" {
		ans.LostFile = &st.LostFile
	}
	if rec := st.Record; rec != nil {
		pos, kind, proc := rec.Pos, rec.Kind.String(), rec.Proc
		ans.Pos, ans.Kind, ans.Proc = &pos, &kind, &proc
		if !rec.Subject.IsZero() {
			subj := rec.Subject.String()
			ans.Subject = &subj
		}
		if ans.Result, err = msgpackJSON(rec.Result); err != nil {
			return nil, fmt.Errorf("result of transaction %s at position %d: %w", id, rec.Pos, err)
		}
	}
	return ans, nil
}

func (s *Server) handleStatus(r *http.Request) (any, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	st, err := s.db.Status(r.Context())
	if err != nil {
		return nil, engineError(err)
	}
	tok, err := s.db.Token(r.Context())
	if err != nil {
		return nil, engineError(err)
	}
	build := httpapi.Build(buildinfo.Get())
	ans := &httpapi.Status{
		ID: st.ID, Role: s.opts.Role, App: s.opts.App, Epoch: st.Epoch, LastPos: st.LastPos,
		DurablePos: st.Durable, OSeq: st.HighOSeq, PeerWatermark: st.PeerWatermark,
		Watermarks: tok, Keys: st.Keys, UptimeS: time.Since(s.started).Seconds(),
		Build: &build, Routes: routesAnswer(s.db.Routes()),
	}
	if role := s.db.Role(); role != "" {
		ans.Role = role
		ans.Window = s.db.ReplStatus().Window
	}
	if rep := s.opts.Replication; rep != nil {
		ls := rep.Status()
		ans.Lag.Transactions = ls.LagIn
		ans.Link = &httpapi.Link{Connected: ls.Connected, Peer: ls.Peer, PeerRole: ls.PeerRole, PeerEpoch: ls.PeerEpoch,
			LagIn: ls.LagIn, LagOut: ls.LagOut, Discarding: ls.Discarding, ReconPending: ls.ReconPending,
			Reconnects: ls.Reconnects, Refused: ls.Refused, Idle: ls.Idle()}
	}
	return ans, nil
}

// readBody reads the request body, at most Options.MaxBody bytes.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
		Message: fmt.Sprintf("body is larger than %d bytes, this server's limit", s.opts.MaxBody)}
	if r.ContentLength > s.opts.MaxBody {
		return nil, tooLarge
	}
	b, err := readAll(io.LimitReader(r.Body, s.opts.MaxBody+1), r.ContentLength)
	if err != nil {
		return nil, badRequest("read the body: %v", err)
	}
	if int64(len(b)) > s.opts.MaxBody {
		return nil, tooLarge
	}
	return b, nil
}

// decodeStrict decodes exactly one JSON value from b into v, refusing
// object fields v does not have.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

// query parses r's query string, refusing parameters other than allowed
// and parameters given twice.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("malformed query string: %v", err)
	}
	for name, vs := range q {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, badRequest("unknown query parameter %q: %s takes none", name, r.URL.Path)
			}
			return nil, badRequest("unknown query parameter %q: %s takes %s", name, r.URL.Path, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, badRequest("query parameter %s is given %d times; give it once", name, len(vs))
		}
	}
	return q, nil
}

// parseKey parses a tuple key written as a JSON array.
func parseKey(param, s string) (liege.Key, error) {
	if path, bad := invalidText([]byte(s)); bad {
		return nil, notText("query parameter "+param, "element "+path)
	}
	k, err := tuple.ParseJSON([]byte(s))
	if err != nil {
		return nil, badRequest(`%s is not a tuple: %s; write a key as a JSON array of strings and integers, e.g. ["acct",1]`,
			param, strings.TrimPrefix(err.Error(), "tuple: "))
	}
	return k, nil
}

func parseToken(s string) (liege.Token, error) {
	t, err := httpapi.ParseToken(s)
	if err != nil {
		return nil, badRequest("min_token: %v", err)
	}
	return liege.Token(t), nil
}

// queryWait parses the min_token and timeout_ms query parameters.
func (s *Server) queryWait(q url.Values) (liege.Token, time.Duration, error) {
	tok, err := parseToken(q.Get("min_token"))
	if err != nil {
		return nil, 0, err
	}
	var ms *int64
	if q.Has("timeout_ms") {
		n, err := strconv.ParseInt(q.Get("timeout_ms"), 10, 64)
		if err != nil {
			return nil, 0, badRequest("timeout_ms must be an integer number of milliseconds, not %q", q.Get("timeout_ms"))
		}
		ms = &n
	}
	d, err := s.timeout(ms)
	return tok, d, err
}

// timeout is how long to wait for a min_token: timeout_ms (default
// DefaultTimeout), at most Options.MaxWait.
func (s *Server) timeout(ms *int64) (time.Duration, error) {
	if ms == nil {
		return min(DefaultTimeout, s.opts.MaxWait), nil
	}
	if *ms < 0 {
		return 0, badRequest("timeout_ms must be 0 or more milliseconds, not %d", *ms)
	}
	if *ms >= s.opts.MaxWait.Milliseconds() {
		return s.opts.MaxWait, nil
	}
	return time.Duration(*ms) * time.Millisecond, nil
}

// waitFor waits until the instance has applied everything tok names, at
// most timeout; a timeout of 0 does not wait.
func (s *Server) waitFor(ctx context.Context, tok liege.Token, timeout time.Duration) error {
	if len(tok) == 0 {
		return nil
	}
	now, err := s.db.Token(ctx)
	if err != nil {
		return engineError(err)
	}
	caughtUp := true
	for origin, n := range tok {
		have, known := now[origin]
		if n > 0 && !known {
			return &Error{Status: http.StatusServiceUnavailable, Code: CodeNotCaughtUp,
				Message: fmt.Sprintf("min_token %s names instance %q, whose transactions this instance (%s) does not apply; send the token to an instance of the pair that issued it",
					tok, origin, s.db.ID())}
		}
		if have < n {
			caughtUp = false
		}
	}
	if caughtUp {
		return nil
	}
	if timeout > 0 {
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		later, err := s.db.WaitApplied(wctx, tok)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
			return engineError(err)
		}
		if len(later) > 0 {
			now = later
		}
	}
	applied := "nothing"
	if len(now) > 0 {
		applied = now.String()
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeNotCaughtUp,
		Message: fmt.Sprintf("this instance has not applied everything min_token %s names within %v (it has applied %s); retry later or at the other instance",
			tok, timeout, applied)}
}

// tokenAfter is the session token of an answer: what the instance has
// applied now, merged with the request's min_token. If the instance closed
// meanwhile, the committed transaction's own OSeq stands in.
func (s *Server) tokenAfter(ctx context.Context, minTok liege.Token, committed journal.TxID) string {
	tok, err := s.db.Token(context.WithoutCancel(ctx))
	if err != nil {
		tok = liege.Token{}
		if !committed.IsZero() {
			tok[committed.Origin] = committed.OSeq
		}
	}
	return tok.Merge(minTok).String()
}

// routesAnswer is /status's routes: every procedure's route (DESIGN.md
// section 13).
func routesAnswer(rs []liege.ProcRoute) []httpapi.Route {
	out := make([]httpapi.Route, len(rs))
	for i, r := range rs {
		out[i] = httpapi.Route(r)
	}
	return out
}
