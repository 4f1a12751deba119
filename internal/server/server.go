// Package server is the HTTP API of `liege serve`: procedure calls, reads,
// transaction status, health, status and metrics over JSON, exactly as
// docs/http-api.md describes.
package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/internal/jsonval"
	"github.com/liege-db/liege/replicate"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Options.
const (
	DefaultMaxBody = 1 << 20
	DefaultMaxWait = 30 * time.Second
	// DefaultTimeout is how long a request carrying a min_token waits for
	// it when it gives no timeout_ms (bounded by Options.MaxWait).
	DefaultTimeout = 5 * time.Second
	// DefaultLimit and MaxLimit bound GET /v1/keys.
	DefaultLimit = 1000
	MaxLimit     = 100_000
	// MaxIdempotencyKey is the longest Idempotency-Key accepted, in bytes:
	// the key is journaled with the transaction.
	MaxIdempotencyKey = 256
)

// Options configure a Server.
type Options struct {
	// App names the application whose procedures the instance serves; it
	// appears in /status and in unknown-procedure errors.
	App string
	// AuthToken, if not empty, is the bearer token every endpoint except
	// /healthz requires.
	AuthToken string
	// MaxBody is the largest request body accepted (DefaultMaxBody if 0).
	MaxBody int64
	// MaxWait bounds the timeout_ms of a request (DefaultMaxWait if 0).
	MaxWait time.Duration
	// Logger receives request logs (debug) and internal errors
	// (slog.Default() if nil).
	Logger *slog.Logger
	// Registry is the process's Prometheus registry, served on /metrics;
	// the server registers its own request metrics on it. If nil, /metrics
	// answers 404.
	Registry *prometheus.Registry
	// Role is the instance's role ("liege" or "vassal"), shown by /status
	// ("liege" if empty).
	Role string
	// Replication, if set, is the instance's replicator, shown by /status.
	Replication *replicate.Replicator
	// Cluster names the pair (serve --cluster); it labels
	// liege_instance_info so that "two lieges" is counted per pair.
	Cluster string
	// ReadyLag is the most peer transactions left to apply for /readyz to
	// say ready while the link is up (DefaultReadyLag if 0).
	ReadyLag int
	// MaxInFlight bounds the requests served at once; more are refused
	// with 503 and Retry-After (DefaultMaxInFlight if 0).
	MaxInFlight int
	// WriteGrace bounds the writing of an answer once it is ready
	// (DefaultWriteGrace if 0).
	WriteGrace time.Duration
	// MaxAnswer bounds the bytes of one GET /v1/keys answer; more keys are
	// left to the next page (DefaultMaxAnswer if 0).
	MaxAnswer int
}

// Server serves one instance over HTTP.
type Server struct {
	db      *liege.DB
	opts    Options
	log     *slog.Logger
	authSum [sha256.Size]byte
	mux     *http.ServeMux
	allowed map[string][]string // pattern -> methods
	started time.Time
	slots   chan struct{} // one per request in flight (limit)

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns a server for db. It registers its request metrics on
// opts.Registry, if set.
func New(db *liege.DB, opts Options) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Role == "" {
		opts.Role = "liege"
	}
	if opts.ReadyLag <= 0 {
		opts.ReadyLag = DefaultReadyLag
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.WriteGrace <= 0 {
		opts.WriteGrace = DefaultWriteGrace
	}
	if opts.MaxAnswer <= 0 {
		opts.MaxAnswer = DefaultMaxAnswer
	}
	s := &Server{
		db:      db,
		opts:    opts,
		log:     opts.Logger,
		authSum: sha256.Sum256([]byte(opts.AuthToken)),
		mux:     http.NewServeMux(),
		allowed: map[string][]string{},
		started: time.Now(),
		slots:   make(chan struct{}, opts.MaxInFlight),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "liege_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: prometheus.ExponentialBuckets(100e-6, 4, 10)}, []string{"route"}),
	}
	if opts.Registry != nil {
		s.requests = registerOrReuse(opts.Registry, s.requests)
		s.latency = registerOrReuse(opts.Registry, s.latency)
		registerOrReuse(opts.Registry, prometheus.Collector(newInfoCollector(db, opts.App, opts.Cluster, opts.Role)))
	}
	s.route("POST", "/v1/call/{proc}", s.api(s.handleCall))
	s.route("POST", "/v1/calls", s.api(s.handleCalls))
	s.route("GET", "/v1/key", s.api(s.handleKey))
	s.route("GET", "/v1/keys", s.api(s.handleKeys))
	s.route("GET", "/v1/txn/{txid...}", s.api(s.handleTxn))
	s.route("GET", "/v1/conflicts", s.api(s.handleConflicts))
	s.route("POST", "/v1/admin/role", s.api(s.handleRole))
	s.route("POST", "/v1/admin/quiesce", s.api(s.handleQuiesce))
	s.route("GET", "/v1/admin/backup", s.handleBackup) // backup.go
	s.route("GET", "/healthz", s.handleHealthz)
	s.route("GET", "/readyz", s.handleReadyz)
	s.route("GET", "/status", s.api(s.handleStatus))
	s.route("GET", "/metrics", s.handleMetrics())
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
			Message: fmt.Sprintf("no endpoint %s; the endpoints are %s", r.URL.Path, s.endpoints())})
	})
	return s
}

// registerOrReuse registers c on reg, or returns the collector already
// registered under the same name (a second Server on one registry).
func registerOrReuse[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}

// route registers h for method and pattern, and a handler answering 405
// for the pattern's other methods.
func (s *Server) route(method, pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(method+" "+pattern, h)
	if _, ok := s.allowed[pattern]; !ok {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			allow := s.allowed[pattern]
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))})
		})
	}
	s.allowed[pattern] = append(s.allowed[pattern], method)
	if method == http.MethodGet {
		s.allowed[pattern] = append(s.allowed[pattern], http.MethodHead)
	}
}

// endpoints lists the routes for a not_found message.
func (s *Server) endpoints() string {
	var out []string
	for p, ms := range s.allowed {
		out = append(out, ms[0]+" "+p)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// Handler returns the HTTP handler: the routes behind request logging, the
// cap on requests in flight, panic recovery and (with Options.AuthToken)
// bearer authentication.
func (s *Server) Handler() http.Handler {
	return s.observe(s.limit(s.recoverPanics(s.authenticate(s.mux))))
}

// statusWriter records the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs every request at debug level and counts it.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		took := time.Since(t0)
		route := r.Pattern // set by the mux on this request
		if route == "" {
			route = "unmatched"
		}
		s.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.latency.WithLabelValues(route).Observe(took.Seconds())
		s.log.Debug("http request", "method", r.Method, "path", r.URL.Path, "route", route,
			"status", sw.status, "bytes", sw.bytes, "took", took, "remote", r.RemoteAddr)
	})
}

// recoverPanics turns a panic in a handler into a 500 and a log line.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response; it logs nothing
			}
			s.log.Error("panic serving HTTP request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				// The answer has begun: all we can do is cut it short.
				panic(http.ErrAbortHandler)
			}
			s.writeJSON(w, http.StatusInternalServerError, errorBody(CodeInternal,
				"internal error (a bug in the server; it is logged)"))
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate requires the bearer token on every path but /healthz.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.opts.AuthToken == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		if msg := s.checkAuth(r); msg != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="liege"`)
			s.writeError(w, r, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkAuth returns why r is not authorized, or "".
func (s *Server) checkAuth(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "missing Authorization header: send Authorization: Bearer <token> with the token of the server's --auth-token-file"
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "the Authorization header must be Bearer <token>"
	}
	// Hash both sides so that the comparison takes the same time whatever
	// the length of the token offered.
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(got[:], s.authSum[:]) != 1 {
		return "wrong bearer token"
	}
	return ""
}

// handleMetrics serves the registry in the Prometheus text format.
func (s *Server) handleMetrics() http.HandlerFunc {
	if s.opts.Registry == nil {
		return func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
				Message: "metrics are not enabled on this server (it was built without a Prometheus registry)"})
		}
	}
	return metricsHandler(s.opts.Registry, s.log).ServeHTTP
}

// api adapts a handler that returns an answer or an error.
func (s *Server) api(h func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, v)
	}
}

// writeError answers err: an *Error as itself, anything else as a 500 with
// the error logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Err: err}
	}
	if e.Status >= 500 && e.Err != nil {
		s.log.Error("HTTP request failed", "method", r.Method, "path", r.URL.Path,
			"status", e.Status, "code", e.Code, "error", e.Err)
	}
	msg := e.Message
	if msg == "" && e.Status == http.StatusInternalServerError {
		msg = "internal error (a bug in the server; it is logged)"
	}
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	s.writeJSON(w, e.Status, errorBody(e.Code, msg))
}

func errorBody(code, msg string) *httpapi.ErrorBody {
	return &httpapi.ErrorBody{Error: &httpapi.ErrorDetail{Code: code, Message: msg}}
}

// toJSON encodes v as the JSON writeJSON would write for it inside an
// answer (no HTML escaping, no newline).
func toJSON(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// msgpackJSON converts a stored msgpack value to its JSON
// (docs/http-api.md: how values are answered).
func msgpackJSON(b []byte) (json.RawMessage, error) {
	if out, ok := plainMsgpackJSON(b); ok {
		return out, nil
	}
	v, err := jsonval.FromMsgpack(b)
	if err != nil {
		return nil, err
	}
	return toJSON(v)
}

// writeJSON answers v as JSON with status.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	if lean, ok := leanJSON(v); ok {
		s.writeBody(w, status, lean)
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Error("encode HTTP answer", "error", err)
		status = http.StatusInternalServerError
		b.Reset()
		_ = enc.Encode(errorBody(CodeInternal, "internal error: the answer does not encode as JSON (it is logged)"))
	}
	s.writeBody(w, status, b.Bytes())
}

var (
	contentTypeJSON = []string{"application/json"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
)

// writeBody answers the JSON body b with status.
func (s *Server) writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	// The same values for every answer: shared slices (of capacity 1, so
	// that an Add elsewhere copies rather than appends into them).
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	// Declared, so that an answer over net/http's 2 KiB buffer (a batch's)
	// is not sent chunked, and the client reads it into one buffer of
	// the right size.
	h.Set("Content-Length", strconv.Itoa(len(b)))
	// A client that does not read its answer is cut off after WriteGrace,
	// freeing the answer (ResponseController reaches the connection).
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.WriteGrace))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
