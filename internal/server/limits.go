package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of the HTTP server's bounds.
const (
	// DefaultMaxInFlight is how many requests are served at once; more are
	// refused with 503 and Retry-After rather than queued. It is above the
	// 256 concurrent clients a busy site runs (each waits a group commit),
	// and bounds the request bodies held at once to 512 MiB at the 1 MiB
	// body limit.
	DefaultMaxInFlight = 512
	// DefaultWriteGrace is how long an answer may take to be written once
	// it is ready: a client that does not read its answer is cut off then,
	// and the answer's memory freed.
	DefaultWriteGrace = 20 * time.Second
	// readTimeout bounds reading a request's headers and body.
	readTimeout = 30 * time.Second
	// retryAfter is the Retry-After of a request refused at the cap, in
	// seconds.
	retryAfter = "1"
)

// limit refuses requests beyond Options.MaxInFlight with 503 unavailable and
// Retry-After, so that a burst of slow or hostile clients cannot make the
// server hold an unbounded number of answers. /healthz and /readyz are not
// counted: a probe must not fail because the API is busy.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case s.slots <- struct{}{}:
		default:
			w.Header().Set("Retry-After", retryAfter)
			s.writeError(w, r, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
				Message: fmt.Sprintf("%d requests are in flight, this server's limit; retry in a moment", cap(s.slots))})
			return
		}
		defer func() { <-s.slots }()
		next.ServeHTTP(w, r)
	})
}

// HTTPServer returns an http.Server for the API with every timeout set: a
// client slow to send its headers or body, to read its answer, or idle on a
// kept-alive connection is cut off instead of pinning a goroutine and an
// answer's memory. errorLog receives the server's own errors (TLS, bad
// requests) at warn level.
func (s *Server) HTTPServer(errorLog *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout, // headers and body; waiting for min_token comes after
		// A backstop from the end of the headers to the last byte of the
		// answer: the body, the longest min_token wait, then the grace to
		// write. writeJSON sets the tighter deadline of WriteGrace once the
		// answer is ready.
		WriteTimeout:   readTimeout + s.opts.MaxWait + s.opts.WriteGrace,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(errorLog.Handler(), slog.LevelWarn),
	}
}
