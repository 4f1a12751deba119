// Package route decides, per call, whether a vassal commits a procedure
// locally or forwards it to the liege (DESIGN.md section 13).
//
// A Router is a pure value: no goroutine, clock or I/O. The driver feeds it
// events (a transaction of a procedure committed, a procedure took part in
// a conflict, the link went up or down, the role changed) and asks it, for
// each call, Decide. The three routes:
//
//   - Local: commit here (the default).
//   - Liege: forward while this instance is a vassal with its link up; with
//     the link down refuse, unless the operator chose availability for the
//     procedure (then commit locally: a fallback).
//   - Auto: forward while the measured conflict rate (conflicts the
//     procedure took part in per committed transaction, exponentially
//     decayed over Config.Window transactions) of the procedure, or of the
//     call's key prefix where the application gives a prefix function, is
//     on; with the link down commit locally.
//
// Auto forwarding switches on when the rate rises above Config.High and
// off only once the rate has stayed below Config.Low for Config.Hold
// committed transactions (hysteresis, so the route does not flap).
//
// Where auto starts is the application's word. A procedure the application
// declares collision-prone (Declare; liege.Procedure.CollisionProne) is
// routed auto and starts forwarding, and so does each of its key prefixes
// seen meanwhile: the declaration is the prior, so the first conflicts are
// not needed to learn what the application already said, and a restarted
// vassal does not pay for them again. The prior is the procedure's: it
// ends once Config.Start of its commits have shown a rate below Low, and
// with it every prefix that forwards on the prior alone goes local (a
// prefix first seen afterwards starts local); a meter with evidence (a
// rate of Low or more, or the liege's own writes, below) keeps forwarding.
// A procedure set auto by the operator alone, with no declaration from the
// application, starts local (a cold start) and forwards once its measured
// rate crosses High.
//
// A meter that forwards sees no conflicts of its own (its calls commit at
// the liege), so it also counts the liege's own transactions on the same
// procedure, or on the same key prefix in any procedure measured per
// prefix (LiegeCommitted): while they come at a rate of Low or more per
// commit of ours the other site is writing the same data, and auto keeps
// forwarding. Without them a declared procedure's prior, or a measured
// switch, ends as above; a prefix only this site writes goes local.
//
// A vassal whose rolled-off transactions are not yet back from the liege
// (reprocessed or corrected there: Reconciling) forwards every auto
// procedure, each prefix, until they are: a call committed here meanwhile
// reads what the liege's reprocessing is about to rewrite, conflicts, and
// its rollback takes everything after it along, the spiral the post
// describes. It lasts one round of reconciliation, usually well under a
// second.
//
// A forwarded transaction commits at the liege and never rolls back: it
// counts as a committed transaction without a conflict unless the vassal
// sees it conflict, which decays the rate while the route forwards. The
// cost of coming back is a short local spell that measures the rate
// afresh.
package route

import (
	"fmt"
	"sort"
	"strings"
)

// Route is how a procedure's calls are routed.
type Route uint8

// The routes of DESIGN.md section 13.
const (
	Local Route = iota
	Liege
	Auto
)

var routeNames = [...]string{Local: "local", Liege: "liege", Auto: "auto"}

func (r Route) String() string {
	if int(r) < len(routeNames) {
		return routeNames[r]
	}
	return fmt.Sprintf("route(%d)", uint8(r))
}

// Parse parses "local", "liege" or "auto".
func Parse(s string) (Route, error) {
	for r, n := range routeNames {
		if s == n {
			return Route(r), nil
		}
	}
	return Local, fmt.Errorf("route %q: want local, liege or auto", s)
}

// Override is one operator's route for a procedure: "buy=auto",
// "withdraw=liege", "withdraw=liege+available" (liege, committing locally
// rather than refusing while the link is down).
type Override struct {
	Proc      string
	Route     Route
	Available bool
}

// ParseOverride parses "proc=route" or "proc=liege+available".
func ParseOverride(s string) (Override, error) {
	proc, r, ok := strings.Cut(s, "=")
	proc = strings.TrimSpace(proc)
	if !ok || proc == "" {
		return Override{}, fmt.Errorf("route %q: want procedure=local|liege|auto (e.g. buy=auto, withdraw=liege, withdraw=liege+available)", s)
	}
	o := Override{Proc: proc}
	r = strings.TrimSpace(r)
	if base, ok := strings.CutSuffix(r, "+available"); ok {
		o.Available = true
		r = base
	}
	rt, err := Parse(r)
	if err != nil {
		return Override{}, fmt.Errorf("route for %q: %w", proc, err)
	}
	if o.Available && rt != Liege {
		return Override{}, fmt.Errorf("route %q: +available applies to the liege route only (auto already commits locally while the link is down)", s)
	}
	o.Route = rt
	return o, nil
}

// Config tunes auto routing. Zero fields take the defaults.
type Config struct {
	// High: auto forwards once the decayed conflict rate exceeds it
	// (default 0.05 conflicts per committed transaction).
	High float64
	// Low: auto stops forwarding once the rate has stayed below Low for
	// Hold committed transactions (default High/4).
	Low float64
	// Window is the decay horizon in committed transactions: each commit
	// weighs the past by 1-1/Window (default 200).
	Window int
	// Hold is how many committed transactions the rate must stay below
	// Low before auto stops forwarding (default 10*Window: a forwarded
	// procedure commits without conflicts, so its rate always decays; the
	// hold keeps the local spells that measure it afresh rare).
	Hold int
	// MinCommits: no decision before this many commits were measured
	// (default 5), so that one early conflict does not switch a route. It
	// is low: a hot procedure often commits rarely (a sold-out section
	// answers without committing) and conflicts on most of its commits.
	MinCommits int
	// MaxPrefixes bounds the key prefixes measured per procedure (default
	// 4096); past it the prefixes measured least are forgotten.
	MaxPrefixes int
	// Start is how many commits with the rate below Low a declared
	// procedure (Declare), or a prefix of one first seen, forwards for
	// before it commits locally (default Window). A procedure set auto
	// without a declaration starts local whatever Start says.
	Start int
}

func (c *Config) defaults() {
	if c.High <= 0 {
		c.High = 0.05
	}
	if c.Low <= 0 || c.Low > c.High {
		c.Low = c.High / 4
	}
	if c.Window <= 0 {
		c.Window = 200
	}
	if c.Hold <= 0 {
		c.Hold = 10 * c.Window
	}
	if c.MinCommits <= 0 {
		c.MinCommits = 5
	}
	if c.MaxPrefixes <= 0 {
		c.MaxPrefixes = 4096
	}
	if c.Start <= 0 {
		c.Start = c.Window
	}
}

// newMeter returns the meter of a new auto procedure or prefix: a declared
// procedure's forwards for Start quiet commits (the prior), an undeclared
// one's starts local.
func (r *Router) newMeter(p *proc) meter {
	if !p.declared {
		return meter{}
	}
	return meter{forwarding: true, prior: true, below: max(r.cfg.Hold-r.cfg.Start, 0)}
}

// newPrefixMeter returns the meter of a prefix first seen: on the prior
// while its procedure is, else local.
func (r *Router) newPrefixMeter(p *proc) meter {
	if !p.inPrior() {
		return meter{}
	}
	return r.newMeter(p)
}

// meter is the decayed conflict rate of a procedure or one of its key
// prefixes, and whether auto forwards it.
type meter struct {
	commits, conflicts float64 // decayed
	liege              float64 // decayed: the liege's own commits while forwarding
	seen               int     // commits measured (saturating at MinCommits)
	forwarding         bool
	prior              bool // forwarding on the declaration alone, no evidence yet
	below              int  // commits in a row with the rate below Low
}

func (m *meter) rate() float64 {
	if m.commits == 0 {
		return 0
	}
	return m.conflicts / m.commits
}

// contended says the liege's own commits come at a rate of at least low
// per commit of ours.
func (m *meter) contended(low float64) bool {
	return m.liege > 0 && m.liege >= low*m.commits
}

// proc is one procedure's route and meters.
type proc struct {
	route     Route
	available bool
	prefixed  bool // the application measures it per key prefix
	declared  bool // the application declared it collision-prone (Declare)
	all       meter
	prefixes  map[string]*meter
}

// inPrior says the procedure still forwards on its declaration alone.
func (p *proc) inPrior() bool { return p.all.forwarding && p.all.prior }

// Decision is what to do with one call.
type Decision uint8

const (
	// CommitLocal: run the call here.
	CommitLocal Decision = iota
	// Forward: forward the call to the liege.
	Forward
	// Refuse: refuse the call (a liege route with the link down): the
	// driver answers 503 with Retry-After.
	Refuse
	// Fallback: run the call here although its route forwards it (the
	// link is down): auto, or liege with availability.
	Fallback
)

var decisionNames = [...]string{CommitLocal: "local", Forward: "forward", Refuse: "refuse", Fallback: "fallback"}

func (d Decision) String() string {
	if int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return fmt.Sprintf("decision(%d)", uint8(d))
}

// Change is a switch of auto forwarding, for the log and the metrics.
type Change struct {
	Proc, Prefix string // Prefix is empty for the procedure as a whole
	Forwarding   bool
	Rate         float64 // the decayed rate at the switch
	Threshold    float64 // High when it switched on, Low when off
}

func (c Change) String() string {
	what := c.Proc
	if c.Prefix != "" {
		what += " [" + c.Prefix + "]"
	}
	if c.Forwarding {
		return fmt.Sprintf("auto route of %s forwards to the liege: conflict rate %.3f above %.3f", what, c.Rate, c.Threshold)
	}
	return fmt.Sprintf("auto route of %s commits locally again: conflict rate %.3f stayed below %.3f", what, c.Rate, c.Threshold)
}

// Router is the routing decision of one instance. The zero value is not
// usable: call New.
type Router struct {
	cfg         Config
	procs       map[string]*proc
	linkUp      bool
	vassal      bool
	reconciling bool
	restored    map[string][]Saved // by procedure, until Resume (saved.go)
}

// New returns a Router with cfg, every procedure local, the link down and
// the role liege (nothing is forwarded until Role and Link say otherwise).
func New(cfg Config) *Router {
	cfg.defaults()
	return &Router{cfg: cfg, procs: map[string]*proc{}}
}

// Config returns the effective configuration (defaults filled in).
func (r *Router) Config() Config { return r.cfg }

func (r *Router) get(name string) *proc {
	p := r.procs[name]
	if p == nil {
		p = &proc{}
		r.procs[name] = p
	}
	return p
}

// Declare records the application's word that procedure name is
// collision-prone (prefixed: measured per key prefix) and routes it auto,
// forwarding from the start: the declaration is the prior. An operator's
// route set afterwards (Set, Apply) overrides the route; auto keeps the
// prior.
func (r *Router) Declare(name string, prefixed bool) {
	p := r.get(name)
	p.declared, p.prefixed = true, prefixed
	p.route, p.available = Auto, false
	p.all, p.prefixes = r.newMeter(p), nil
}

// Set sets procedure name's route. prefixed says the application measures
// it per key prefix. available (liege route only) commits locally instead
// of refusing while the link is down. Setting the route again keeps the
// meters. A procedure set auto here without a declaration (Declare)
// starts local.
func (r *Router) Set(name string, rt Route, prefixed, available bool) {
	p := r.get(name)
	was := p.route
	p.route, p.prefixed, p.available = rt, prefixed, available && rt == Liege
	switch {
	case rt != Auto:
		p.all.forwarding, p.all.below = false, 0
		p.prefixes = nil
	case was != Auto:
		p.all = r.newMeter(p)
	}
}

// Apply applies an operator's override (the prefix setting stays the
// application's).
func (r *Router) Apply(o Override) {
	p := r.get(o.Proc)
	r.Set(o.Proc, o.Route, p.prefixed, o.Available)
}

// Route returns procedure name's route.
func (r *Router) Route(name string) Route {
	if p := r.procs[name]; p != nil {
		return p.route
	}
	return Local
}

// Link says whether the link to the peer is up (handshake done).
func (r *Router) Link(up bool) { r.linkUp = up }

// Role says whether this instance is the vassal: only a vassal forwards.
func (r *Router) Role(vassal bool) { r.vassal = vassal }

// Reconciling says whether own transactions rolled off are awaiting their
// reconciliation at the liege: while they are, auto forwards every call.
func (r *Router) Reconciling(pending bool) { r.reconciling = pending }

// Decide says what to do with a call of procedure name whose key prefix is
// prefix ("" when the application gives none).
func (r *Router) Decide(name, prefix string) Decision {
	p := r.procs[name]
	if p == nil || !r.vassal {
		return CommitLocal
	}
	switch p.route {
	case Liege:
		switch {
		case r.linkUp:
			return Forward
		case p.available:
			return Fallback
		default:
			return Refuse
		}
	case Auto:
		if !r.forwarding(p, prefix) && !r.reconciling {
			return CommitLocal
		}
		if r.linkUp {
			return Forward
		}
		return Fallback
	}
	return CommitLocal
}

// Forwarding reports whether auto forwards calls of name with prefix now
// (link and role aside): by its meter, or while reconciling.
func (r *Router) Forwarding(name, prefix string) bool {
	p := r.procs[name]
	return p != nil && p.route == Auto && (r.forwarding(p, prefix) || r.reconciling)
}

// forwarding: a call with a key prefix follows its prefix's meter alone
// (a hot section is forwarded, the quiet ones of the same procedure stay
// local); a call without one follows the procedure's.
func (r *Router) forwarding(p *proc, prefix string) bool {
	if p.prefixed && prefix != "" {
		if m := p.prefixes[prefix]; m != nil {
			return m.forwarding
		}
		return p.inPrior() // a prefix not yet measured starts as a new meter does
	}
	return p.all.forwarding
}

// Committed says a transaction of procedure name with key prefix prefix
// committed (here, or at the liege for a forwarded call). It returns the
// route changes it caused.
func (r *Router) Committed(name, prefix string) []Change {
	return r.observe(name, prefix, r.commit)
}

// observe feeds one event of procedure name with key prefix prefix to its
// meters (step: commit or conflict) and returns the route changes. A
// procedure measured per prefix reports its prefixes' changes: its own
// meter decides only for calls without a prefix.
func (r *Router) observe(name, prefix string, step func(*meter) (Change, bool)) []Change {
	p := r.procs[name]
	if p == nil || p.route != Auto {
		return nil
	}
	var out []Change
	prior := p.inPrior()
	if m := r.prefix(p, prefix); m != nil {
		if c, ok := step(m); ok {
			c.Proc, c.Prefix = name, prefix
			out = append(out, c)
		}
	}
	if c, ok := step(&p.all); ok && !p.prefixed {
		c.Proc = name
		out = append(out, c)
	}
	if prior && !p.inPrior() {
		out = append(out, r.endPrior(name, p)...)
	}
	return out
}

// endPrior: procedure name's prior is over; every prefix that forwards on
// it alone goes local.
func (r *Router) endPrior(name string, p *proc) []Change {
	var out []Change
	for k, m := range p.prefixes {
		if m.forwarding && m.prior {
			m.forwarding, m.prior, m.below, m.liege = false, false, 0, 0
			out = append(out, Change{Proc: name, Prefix: k, Forwarding: false, Rate: m.rate(), Threshold: r.cfg.Low})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix < out[j].Prefix })
	return out
}

// Conflict says a transaction of procedure name with key prefix prefix
// took part in a conflict (either side of it). It returns the route
// changes it caused.
func (r *Router) Conflict(name, prefix string) []Change {
	return r.observe(name, prefix, r.conflict)
}

// LiegeCommitted says the liege committed a transaction of its own (not
// one this vassal forwarded) of procedure name with key prefix prefix. A
// forwarding meter of that procedure, or of that prefix in any procedure
// measured per prefix, counts it: the other site writes the same data, so
// coming back would collide.
func (r *Router) LiegeCommitted(name, prefix string) {
	if p := r.procs[name]; p != nil && p.route == Auto && (!p.prefixed || prefix == "") {
		r.contend(&p.all)
	}
	if prefix == "" {
		return
	}
	for _, p := range r.procs {
		if p.route == Auto && p.prefixed {
			if m := p.prefixes[prefix]; m != nil {
				r.contend(m)
			}
		}
	}
}

// AnyAuto reports whether some procedure is routed auto.
func (r *Router) AnyAuto() bool {
	for _, p := range r.procs {
		if p.route == Auto {
			return true
		}
	}
	return false
}

func (r *Router) contend(m *meter) {
	if !m.forwarding {
		return
	}
	m.liege++
	if m.contended(r.cfg.Low) {
		m.below, m.prior = 0, false
	}
}

// prefix returns the meter of p's prefix, making room for it.
func (r *Router) prefix(p *proc, prefix string) *meter {
	if !p.prefixed || prefix == "" {
		return nil
	}
	if m := p.prefixes[prefix]; m != nil {
		return m
	}
	if p.prefixes == nil {
		p.prefixes = map[string]*meter{}
	}
	if len(p.prefixes) >= r.cfg.MaxPrefixes {
		r.forget(p)
	}
	m := new(meter)
	*m = r.newPrefixMeter(p)
	p.prefixes[prefix] = m
	return m
}

// forget drops the half of p's prefix meters with the fewest commits,
// those that commit locally first.
func (r *Router) forget(p *proc) {
	type kv struct {
		k   string
		fwd bool
		c   float64
	}
	all := make([]kv, 0, len(p.prefixes))
	for k, m := range p.prefixes {
		all = append(all, kv{k, m.forwarding, m.commits})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].fwd != all[j].fwd {
			return !all[i].fwd
		}
		if all[i].c != all[j].c {
			return all[i].c < all[j].c
		}
		return all[i].k < all[j].k
	})
	for _, e := range all[:max(len(all)/2, 1)] {
		delete(p.prefixes, e.k)
	}
}

func (r *Router) decay() float64 { return 1 - 1/float64(r.cfg.Window) }

func (r *Router) commit(m *meter) (Change, bool) {
	d := r.decay()
	m.commits = m.commits*d + 1
	m.conflicts *= d
	m.liege *= d
	if m.seen < r.cfg.MinCommits {
		m.seen++
	}
	return r.judge(m, true)
}

func (r *Router) conflict(m *meter) (Change, bool) {
	m.conflicts++
	return r.judge(m, false)
}

// judge applies the hysteresis after an event; commit says the event was a
// commit (only commits count towards Hold).
func (r *Router) judge(m *meter, commit bool) (Change, bool) {
	rate := m.rate()
	if !m.forwarding {
		if m.seen >= r.cfg.MinCommits && rate > r.cfg.High {
			m.forwarding, m.below, m.prior = true, 0, false
			return Change{Forwarding: true, Rate: rate, Threshold: r.cfg.High}, true
		}
		return Change{}, false
	}
	if rate >= r.cfg.Low || m.contended(r.cfg.Low) {
		m.below, m.prior = 0, false
		return Change{}, false
	}
	if commit {
		m.below++
	}
	if m.below >= r.cfg.Hold {
		m.forwarding, m.below, m.liege, m.prior = false, 0, 0, false
		return Change{Forwarding: false, Rate: rate, Threshold: r.cfg.Low}, true
	}
	return Change{}, false
}

// ProcStatus is one procedure's route as /status shows it.
type ProcStatus struct {
	Proc  string  `json:"proc"`
	Route string  `json:"route"`
	Rate  float64 `json:"conflict_rate"`
	// Forwarding: auto forwards the procedure as a whole now (one measured
	// per key prefix: see PrefixesForwarding).
	Forwarding bool `json:"forwarding"`
	// Available: a liege route that commits locally while the link is down.
	Available bool `json:"available,omitempty"`
	// Prefixes is how many key prefixes are measured, PrefixesForwarding
	// how many of them auto forwards now.
	Prefixes           int `json:"prefixes,omitempty"`
	PrefixesForwarding int `json:"prefixes_forwarding,omitempty"`
}

// Status returns every procedure with a route, by name.
func (r *Router) Status() []ProcStatus {
	out := make([]ProcStatus, 0, len(r.procs))
	for name, p := range r.procs {
		s := ProcStatus{Proc: name, Route: p.route.String(), Rate: p.all.rate(), Forwarding: p.all.forwarding && !p.prefixed,
			Available: p.available, Prefixes: len(p.prefixes)}
		for _, m := range p.prefixes {
			if m.forwarding {
				s.PrefixesForwarding++
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proc < out[j].Proc })
	return out
}
