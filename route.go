package liege

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/route"
	"github.com/liege-db/liege/journal"
	"github.com/prometheus/client_golang/prometheus"
)

// This file routes calls (DESIGN.md section 13): a vassal forwards the
// calls of a procedure routed to the liege, or routed auto while its
// measured conflict rate is high, over the peer link. The decision is
// package internal/route's (a pure Router); this is its driver: it feeds
// the Router commits, conflicts (engine.Hooks.OwnConflict), link and role,
// and carries out each decision.

// Routes, for Options.Routes and Procedure.Route.
const (
	RouteLocal = "local"
	RouteLiege = "liege"
	RouteAuto  = "auto"
)

// ErrRouteUnavailable is returned by a call routed to the liege while the
// vassal cannot reach it (and the operator did not choose availability for
// the procedure): nothing committed; retry after RouteRetryAfter.
var ErrRouteUnavailable = errors.New("the procedure is routed to the liege and the link to the liege is down")

// RouteRetryAfter is the Retry-After a refused call is told.
const RouteRetryAfter = 2 * time.Second

// DefaultRouteLinkGrace is Options.RouteLinkGrace's default: long enough
// for a reconnect after a restart, a reset or a rollback, short beside a
// partition.
const DefaultRouteLinkGrace = time.Second

// ForwardUnknownError is returned by a forwarded call whose outcome the
// vassal does not know (no answer in time): ask about TxID if set, else
// retry with Key, which returns the first outcome at either instance.
type ForwardUnknownError = engine.ForwardUnknownError

// ParseRoutes checks operator routes ("buy=auto", "withdraw=liege",
// "withdraw=liege+available") as Options.Routes takes them.
func ParseRoutes(routes []string) error {
	for _, s := range routes {
		if _, err := route.ParseOverride(s); err != nil {
			return err
		}
	}
	return nil
}

// router is the DB's routing state: the Router behind a mutex (callers and
// the executor both feed it) and the metrics.
type router struct {
	mu       sync.Mutex
	r        *route.Router
	override map[string]route.Override
	prefix   map[string]func(args any) []string
	up, vas  bool // as last told, executor-owned
	recon    bool

	// The link grace (Options.RouteLinkGrace), under mu: upCh is closed
	// when the link comes up and replaced when it goes down. waitFrom is
	// when the link went down, or, if later, when a rollback left own
	// transactions to reconcile: either way this vassal is behind the
	// liege and a call committed here would conflict almost surely.
	grace    time.Duration
	upCh     chan struct{}
	waitFrom time.Time

	saveMu sync.Mutex // one write of routesFile at a time

	forwarded *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	// latLocal and latForwarded are latency's two series, looked up once:
	// WithLabelValues hashes the label on every call.
	latLocal, latForwarded prometheus.Observer
	fallbacks              *prometheus.CounterVec
	changes                *prometheus.CounterVec
	refused                prometheus.Counter
	waits                  *prometheus.CounterVec
}

func newRouter(opts Options) (*router, error) {
	rt := &router{r: route.New(route.Config{}), override: map[string]route.Override{}, prefix: map[string]func(any) []string{},
		grace: opts.RouteLinkGrace, upCh: make(chan struct{}), waitFrom: time.Now()}
	if rt.grace == 0 {
		rt.grace = DefaultRouteLinkGrace
	}
	for _, s := range opts.Routes {
		o, err := route.ParseOverride(s)
		if err != nil {
			return nil, fmt.Errorf("open instance: %w", err)
		}
		rt.override[o.Proc] = o
		rt.r.Apply(o)
	}
	rt.forwarded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_forwarded_calls_total",
		Help: "Calls this vassal forwarded to the liege (DESIGN.md section 13), by outcome: committed (at the liege, applied here), procedure_error, unknown (no answer in time: the client is told the TxID or key to ask about), refused (not run: committed here or refused by route)."},
		[]string{"outcome"})
	rt.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "liege_call_latency_seconds",
		Help:    "Latency of committed calls at this instance, by route taken: local (committed here) or forwarded (committed at the liege and applied here).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"})
	rt.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_route_fallbacks_total",
		Help: "Calls routed to the liege (auto while forwarding, or liege with availability) committed here instead, by reason: link_down, or refused (the liege did not run it)."},
		[]string{"reason"})
	rt.changes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_route_changes_total",
		Help: "Switches of auto routing, by direction: forward (the conflict rate rose above the high threshold) or local (it stayed below the low one)."},
		[]string{"direction"})
	rt.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "liege_route_refused_total",
		Help: "Calls refused with 503 because their procedure is routed to the liege and the link is down."})
	rt.waits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liege_route_link_waits_total",
		Help: "Calls whose route forwards that waited out the link grace (Options.RouteLinkGrace, serve --route-link-grace) for a link that had just gone down, by outcome: link_up (the link came back in time and the call was decided again), expired (the grace ran out: committed here or refused), canceled (the caller gave up first)."},
		[]string{"outcome"})
	for _, o := range []string{"link_up", "expired", "canceled"} {
		rt.waits.WithLabelValues(o)
	}
	for _, o := range []string{"committed", "procedure_error", "unknown", "refused"} {
		rt.forwarded.WithLabelValues(o)
	}
	rt.latLocal = rt.latency.WithLabelValues("local")
	rt.latForwarded = rt.latency.WithLabelValues("forwarded")
	rt.fallbacks.WithLabelValues("link_down")
	rt.fallbacks.WithLabelValues("refused")
	rt.changes.WithLabelValues("forward")
	rt.changes.WithLabelValues("local")
	if reg := opts.Registerer; reg != nil {
		for _, c := range []prometheus.Collector{rt.forwarded, rt.latency, rt.fallbacks, rt.changes, rt.refused, rt.waits} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register routing metrics: %w", err)
			}
		}
	}
	return rt, nil
}

// registerRoute sets a newly registered procedure's route: auto for a
// collision-prone one, forwarding from the start (the application's word
// is the prior), else local; an operator's override wins over both (auto
// set by the operator alone starts local and forwards once measured).
func (db *DB) registerRoute(name string, collisionProne bool, prefix func(any) []string) {
	rt := db.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if prefix != nil {
		rt.prefix[name] = prefix
	}
	if collisionProne {
		rt.r.Declare(name, prefix != nil)
	} else {
		rt.r.Set(name, route.Local, prefix != nil, false)
	}
	if o, ok := rt.override[name]; ok {
		rt.r.Set(name, o.Route, prefix != nil, o.Available)
	}
	rt.r.Resume(name) // what was measured before a restart (routesFile)
}

// routesFile, in the instance directory, keeps what auto routing measured
// (route.Saved) across a restart: without it a restarted vassal commits
// its contended procedures locally again, and rolls them back, until it
// has measured them afresh. It is JSON in a journal frame (CRC-checked,
// replaced atomically), written at each checkpoint and at Close; a crash
// loses what was measured since the last one, no more.
const routesFile = "routes"

type routesOnDisk struct {
	Version int           `json:"version"`
	Meters  []route.Saved `json:"meters"`
}

// loadRoutes reads routesFile at Open. It is measurement, not data: a
// file that cannot be read is logged and auto routing starts afresh.
func (rt *router) loadRoutes(dir string, log *slog.Logger) {
	path := filepath.Join(dir, routesFile)
	b, err := journal.ReadFramedFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var f routesOnDisk
	if err == nil {
		if err = json.Unmarshal(b, &f); err == nil && f.Version != 1 {
			err = fmt.Errorf("version %d, want 1", f.Version)
		}
	}
	if err != nil {
		log.Warn("auto routing starts afresh: the measured routes could not be read", "file", path, "error", err)
		return
	}
	rt.mu.Lock()
	rt.r.Restore(f.Meters)
	rt.mu.Unlock()
}

// saveRoutes writes routesFile (any goroutine).
func (rt *router) saveRoutes(dir string) error {
	rt.mu.Lock()
	meters := rt.r.Save()
	rt.mu.Unlock()
	rt.saveMu.Lock()
	defer rt.saveMu.Unlock()
	path := filepath.Join(dir, routesFile)
	if len(meters) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(routesOnDisk{Version: 1, Meters: meters})
	if err == nil {
		err = journal.WriteFramedFile(path, b)
	}
	if err != nil {
		return fmt.Errorf("save the measured routes to %s: %w", path, err)
	}
	return nil
}

// CheckRoutes returns an error naming every operator route (Options.Routes)
// for a procedure that is not registered: call it once the application has
// registered its procedures.
func (db *DB) CheckRoutes() error {
	var errs []error
	db.rt.mu.Lock()
	defer db.rt.mu.Unlock()
	for name := range db.rt.override {
		if _, err := db.lookup(name); err != nil {
			errs = append(errs, fmt.Errorf("--route %s=...: this instance serves no procedure %q: check the name (liege serve --help lists the app's procedures)", name, name))
		}
	}
	return errors.Join(errs...)
}

// routeState tells the Router the link, the role and whether rolled-off
// own transactions await reconciliation (executor, from publish).
func (db *DB) routeState(up, vassal, reconciling bool) {
	rt := db.rt
	if up == rt.up && vassal == rt.vas && reconciling == rt.recon {
		return
	}
	wasUp, wasRecon := rt.up, rt.recon
	rt.up, rt.vas, rt.recon = up, vassal, reconciling
	rt.mu.Lock()
	rt.r.Link(up)
	rt.r.Role(vassal)
	rt.r.Reconciling(reconciling)
	switch {
	case up && !wasUp:
		close(rt.upCh)
	case !up && wasUp:
		rt.upCh, rt.waitFrom = make(chan struct{}), time.Now()
	}
	if reconciling && !wasRecon {
		rt.waitFrom = time.Now()
	}
	rt.mu.Unlock()
}

// decide is the Router's decision for a call, waiting out the link grace:
// a call that would be committed here or refused because the link is down
// waits, while the link has been down for less than the grace (or a
// rollback began reconciling less than the grace ago), for it to come up,
// and is decided again.
// It returns the call's key prefixes with the decision, taken under the
// same hold of mu.
func (rt *router) decide(ctx context.Context, name string, args any) ([]string, route.Decision, error) {
	rt.mu.Lock()
	prefixes := rt.prefixOf(name, args)
	dec := decideAll(rt.r, name, prefixes)
	wait := rt.grace - time.Since(rt.waitFrom)
	up := rt.upCh
	rt.mu.Unlock()
	if (dec != route.Fallback && dec != route.Refuse) || wait <= 0 {
		return prefixes, dec, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-up:
		rt.waits.WithLabelValues("link_up").Inc()
	case <-t.C:
		rt.waits.WithLabelValues("expired").Inc()
	case <-ctx.Done():
		rt.waits.WithLabelValues("canceled").Inc()
		return prefixes, dec, fmt.Errorf("call %s: waiting for the link to the liege: %w", name, ctx.Err())
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return prefixes, decideAll(rt.r, name, prefixes), nil
}

// decideAll is the Router's decision for a call with several key prefixes
// (mu held): forwarded if any prefix forwards (the call writes data the
// liege's side contends for), else refused or fallen back if any prefix
// would have forwarded with the link up, else local.
func decideAll(r *route.Router, name string, prefixes []string) route.Decision {
	dec := route.CommitLocal
	for _, p := range prefixes {
		switch d := r.Decide(name, p); {
		case d == route.Forward:
			return d
		case d == route.Refuse, d == route.Fallback && dec != route.Refuse:
			dec = d
		}
	}
	return dec
}

// prefixOf is the call's key prefixes ([""] without a prefix function).
func (rt *router) prefixOf(name string, args any) []string {
	if f := rt.prefix[name]; f != nil && args != nil {
		if ps := f(args); len(ps) > 0 {
			return ps
		}
	}
	return noPrefix
}

// noPrefix is the prefixes of a call measured per procedure only.
var noPrefix = []string{""}

// noteChanges logs and counts route changes (mu held).
func (db *DB) noteChanges(cs []route.Change) {
	for _, c := range cs {
		dir := "local"
		if c.Forwarding {
			dir = "forward"
		}
		db.rt.changes.WithLabelValues(dir).Inc()
		db.log.Warn("route changed: "+c.String(), "proc", c.Proc, "prefix", c.Prefix, "forwarding", c.Forwarding,
			"conflict_rate", c.Rate, "threshold", c.Threshold)
	}
}

// ownConflict feeds the Router an own transaction that took part in a
// conflict (engine.Hooks.OwnConflict, on the executor).
func (db *DB) ownConflict(r *journal.Record) {
	rt := db.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.r.Route(r.Proc) != route.Auto {
		return
	}
	for _, prefix := range db.prefixesOf(rt.prefix[r.Proc], r) {
		db.noteChanges(rt.r.Conflict(r.Proc, prefix))
	}
}

// peerTxn feeds the Router a transaction of the liege's own (not one this
// vassal forwarded) of an auto procedure (engine.Hooks.PeerTxn, on the
// executor).
func (db *DB) peerTxn(r *journal.Record, forwarded bool) {
	rt := db.rt
	if forwarded || !rt.vas {
		return
	}
	rt.mu.Lock()
	f, watch := rt.prefix[r.Proc], rt.r.AnyAuto()
	rt.mu.Unlock()
	if !watch {
		return
	}
	prefixes := db.prefixesOf(f, r) // decoded outside the lock: callers take it on every call
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, prefix := range prefixes {
		if prefix == "" && rt.r.Route(r.Proc) != route.Auto {
			continue
		}
		rt.r.LiegeCommitted(r.Proc, prefix)
	}
}

// prefixesOf decodes a journal record's arguments for its key prefixes
// ([""] without a prefix function, or when they do not decode).
func (db *DB) prefixesOf(f func(any) []string, r *journal.Record) []string {
	if f == nil {
		return noPrefix
	}
	p, err := db.lookup(r.Proc)
	if err != nil {
		return noPrefix
	}
	a, err := p.decodeArgs(r.Args)
	if err != nil {
		return noPrefix
	}
	if ps := f(a); len(ps) > 0 {
		return ps
	}
	return noPrefix
}

// routed runs c's call by its route: here, forwarded, or refused. c is
// the caller's (pooled) call, made by newCall; routed is done with it when
// it returns.
func (db *DB) routed(ctx context.Context, name string, c *call) (*Result, error) {
	t0 := time.Now()
	prefixes, err := db.route(ctx, name, c.ec.Args, &c.ec)
	if err != nil {
		return nil, err
	}
	// Forwarding gives a call without an idempotency key one (engine
	// forward.go); a fallback here runs the call as the caller made it.
	key := c.ec.IdempotencyKey
	var res Result
	err = db.run(ctx, c, &res)
	c.ec.IdempotencyKey = key
	if err = db.routedDone(ctx, name, &c.ec, prefixes, t0, &res, err); err != nil {
		return nil, err
	}
	return &res, nil
}

// route decides where ec goes (setting ec.Forward) and returns the call's
// key prefixes, for routedDone; an error refuses the call, with nothing
// run.
func (db *DB) route(ctx context.Context, name string, args any, ec *engine.Call) ([]string, error) {
	rt := db.rt
	prefixes, dec, err := rt.decide(ctx, name, args)
	if err != nil {
		return nil, err
	}
	switch dec {
	case route.Refuse:
		rt.refused.Inc()
		return nil, fmt.Errorf("call %s: %w: retry in %v, or at the liege", name, ErrRouteUnavailable, RouteRetryAfter)
	case route.Fallback:
		rt.fallbacks.WithLabelValues("link_down").Inc()
	}
	ec.Forward = dec == route.Forward
	return prefixes, nil
}

// routedDone finishes a call that route sent and the executor answered
// with res, err (begun at t0): a forwarded call the liege did not run
// falls back here or is refused by its route; a committed one is
// measured and fed to the Router.
func (db *DB) routedDone(ctx context.Context, name string, ec *engine.Call, prefixes []string, t0 time.Time, res *Result, err error) error {
	rt := db.rt
	if ec.Forward {
		switch {
		case errors.Is(err, engine.ErrNoForward):
			// Nothing committed at the liege: fall back or refuse by route.
			rt.forwarded.WithLabelValues("refused").Inc()
			rt.mu.Lock()
			r := rt.r.Route(name)
			rt.mu.Unlock()
			if r == route.Liege && !rt.override[name].Available {
				rt.refused.Inc()
				*res = Result{}
				return fmt.Errorf("call %s: %w (%v): retry in %v", name, ErrRouteUnavailable, err, RouteRetryAfter)
			}
			rt.fallbacks.WithLabelValues("refused").Inc()
			ec.Forward = false
			*res, err = db.submitCall(ctx, ec)
		case err == nil:
			rt.forwarded.WithLabelValues("committed").Inc()
		default:
			var unk *ForwardUnknownError
			if errors.As(err, &unk) {
				rt.forwarded.WithLabelValues("unknown").Inc()
			} else {
				rt.forwarded.WithLabelValues("procedure_error").Inc()
			}
		}
	}
	if err != nil || res.ReadOnly() {
		return err
	}
	lat := rt.latLocal
	if ec.Forward {
		lat = rt.latForwarded
	}
	lat.Observe(time.Since(t0).Seconds())
	rt.mu.Lock()
	for _, prefix := range prefixes {
		db.noteChanges(rt.r.Committed(name, prefix))
	}
	rt.mu.Unlock()
	return nil
}

// ProcRoute is one procedure's route, for /status.
type ProcRoute struct {
	Proc  string `json:"proc"`
	Route string `json:"route"`
	// ConflictRate is the measured rate: conflicts per committed
	// transaction, decayed (auto only).
	ConflictRate float64 `json:"conflict_rate"`
	// Forwarding: auto forwards the procedure now (link and role allowing).
	Forwarding bool `json:"forwarding"`
	// Available: a liege route that commits here while the link is down.
	Available bool `json:"available,omitempty"`
	// Prefixes measured, and how many of them auto forwards now.
	Prefixes           int `json:"prefixes,omitempty"`
	PrefixesForwarding int `json:"prefixes_forwarding,omitempty"`
}

// Routes returns the route of every procedure, by name.
func (db *DB) Routes() []ProcRoute {
	db.rt.mu.Lock()
	st := db.rt.r.Status()
	db.rt.mu.Unlock()
	out := make([]ProcRoute, 0, len(st))
	for _, s := range st {
		if _, err := db.lookup(s.Proc); err != nil {
			continue // an override for a procedure not registered (CheckRoutes)
		}
		out = append(out, ProcRoute{Proc: s.Proc, Route: s.Route, ConflictRate: s.Rate, Forwarding: s.Forwarding,
			Available: s.Available, Prefixes: s.Prefixes, PrefixesForwarding: s.PrefixesForwarding})
	}
	return out
}
