package inject

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
)

// This file is routing in the runner (DESIGN.md section 13): --route
// never|auto|liege|compare decides how the instances route the
// application's collision-prone procedures, and compare runs the same seed
// and faults twice, never then auto, for a side-by-side report.

// Routes --route takes.
const (
	RouteNever   = "never"
	RouteAuto    = "auto"
	RouteLiege   = "liege"
	RouteCompare = "compare"
)

// runRoutes returns the routes of the runs --route asks for.
func runRoutes(route string) ([]string, error) {
	switch route {
	case "", RouteAuto:
		return []string{RouteAuto}, nil
	case RouteNever, RouteLiege:
		return []string{route}, nil
	case RouteCompare:
		return []string{RouteNever, RouteAuto}, nil
	}
	return nil, fmt.Errorf("--route must be never, auto, liege or compare, not %q", route)
}

// plannedRun is one run of an invocation.
type plannedRun struct{ merge, route, name string }

// runPlan lists the runs of cfg: one per route, then the lww baseline if
// asked for, without routing (the baseline shows what dropping the
// protocol costs; routing would hide it). A run's directory is its merge,
// or merge-route when several routes run.
func runPlan(cfg Config) []plannedRun {
	routes, _ := runRoutes(cfg.Route)
	var out []plannedRun
	for _, rt := range routes {
		name := "path"
		if len(routes) > 1 {
			name += "-" + rt
		}
		out = append(out, plannedRun{merge: "path", route: rt, name: name})
	}
	if cfg.LWW {
		out = append(out, plannedRun{merge: "lww", route: RouteNever, name: "lww"})
	}
	return out
}

// routeArgs are the liege serve flags of route for app's collision-prone
// procedures: none for auto (the app's default), each one local for never,
// each one to the liege for liege.
func routeArgs(app, route string) ([]string, error) {
	if route == RouteAuto || route == "" {
		return nil, nil
	}
	a, err := apps.Lookup(app)
	if err != nil {
		return nil, err
	}
	reg := liege.NewRegistry()
	if err := a.Register(reg); err != nil {
		return nil, fmt.Errorf("register app %s: %w", app, err)
	}
	to := "local"
	if route == RouteLiege {
		to = "liege"
	}
	var args []string
	for _, p := range reg.CollisionProne() {
		args = append(args, "--route", p+"="+to)
	}
	return args, nil
}

// latencies fills run's call latencies per site and route, and the
// corrections per 1,000 acknowledged transactions, from the call log. A
// call at the vassal answered with a liege TxID was forwarded.
func latencies(run *Run, calls *oracle.CallLog) {
	var ds [2][2][]time.Duration // site, local/forwarded
	for i := range calls.Calls {
		c := &calls.Calls[i]
		if c.Outcome() != oracle.OutcomeAcked || c.TxID == nil || c.AnsweredNs <= c.SentNs {
			continue
		}
		site := slices.IndexFunc(run.Sites[:], func(s Site) bool { return s.ID == c.Site })
		id, err := journal.ParseTxID(*c.TxID)
		if site < 0 || err != nil {
			continue
		}
		fwd := 0
		if id.Origin != c.Site {
			fwd = 1
		}
		ds[site][fwd] = append(ds[site][fwd], time.Duration(c.AnsweredNs-c.SentNs))
	}
	for s := range ds {
		run.Latency[s] = SiteLatency{Local: latencyOf(ds[s][0]), Forwarded: latencyOf(ds[s][1])}
	}
	if run.Totals.Acked > 0 {
		run.Totals.CorrectionsPer1000 = float64(run.Totals.Corrected) * 1000 / float64(run.Totals.Acked)
	}
}

func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / float64(time.Millisecond)
	}
	return Latency{N: len(ds), P50Ms: q(0.5), P99Ms: q(0.99)}
}

// fmtLatency is "p50 / p99 ms (n)", or "-" for no calls.
func fmtLatency(l Latency) string {
	if l.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f / %.1f ms (%s)", l.P50Ms, l.P99Ms, fmtInt(int64(l.N)))
}
