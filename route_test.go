package liege

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/route"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestRouteStart: where auto starts is the application's word. A procedure
// the application declares collision-prone is routed auto and forwards from
// the start (the prior), whether or not the operator also sets it auto; one
// set auto by the operator alone starts local; the operator's local wins
// over a declaration.
func TestRouteStart(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), ID: "A", CheckpointEvery: -1,
		Routes: []string{"operator_auto=auto", "declared_auto=auto", "declared_local=local"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	run := func(*Tx, string) (string, error) { return "ok", nil }
	correct := func(*Tx, string, string, string) (any, error) { return nil, nil }
	for _, p := range []Procedure[string, string]{
		{Name: "declared", Run: run, Correct: correct, CollisionProne: true},
		{Name: "declared_auto", Run: run, Correct: correct, CollisionProne: true},
		{Name: "declared_local", Run: run, Correct: correct, CollisionProne: true},
		{Name: "operator_auto", Run: run, Correct: correct},
		{Name: "plain", Run: run, Correct: correct},
	} {
		if err := Register(db, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CheckRoutes(); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		route      string
		forwarding bool
	}{
		"declared":       {RouteAuto, true},
		"declared_auto":  {RouteAuto, true},
		"declared_local": {RouteLocal, false},
		"operator_auto":  {RouteAuto, false},
		"plain":          {RouteLocal, false},
	}
	got := db.Routes()
	if len(got) != len(want) {
		t.Fatalf("routes %+v: want %d procedures", got, len(want))
	}
	for _, r := range got {
		w, ok := want[r.Proc]
		if !ok || r.Route != w.route || r.Forwarding != w.forwarding {
			t.Errorf("%s: route %s, forwarding %v; want %s, %v", r.Proc, r.Route, r.Forwarding, w.route, w.forwarding)
		}
	}
}

// TestRouteLinkGraceWindow: a call whose route forwards waits for the link
// while it has been down for less than the grace, not after; a rollback
// that leaves transactions to reconcile opens the window again, and the
// waiting call is forwarded once the link is up.
func TestRouteLinkGraceWindow(t *testing.T) {
	rt, err := newRouter(Options{RouteLinkGrace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rt.r.Declare("buy", false)
	db := &DB{rt: rt}
	db.routeState(true, true, false)
	db.routeState(false, true, false) // the link goes down: the window opens
	decided := func() <-chan route.Decision {
		ch := make(chan route.Decision, 1)
		go func() {
			_, d, err := rt.decide(context.Background(), "buy", nil)
			if err != nil {
				t.Error(err)
			}
			ch <- d
		}()
		return ch
	}
	ch := decided()
	select {
	case d := <-ch:
		t.Fatalf("link down within the grace: decided %v at once, want a wait for the link", d)
	case <-time.After(20 * time.Millisecond):
	}
	db.routeState(true, true, false)
	select {
	case d := <-ch:
		if d != route.Forward {
			t.Fatalf("the link came up: %v, want forward", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting call was not decided within 10s of the link coming up")
	}
	if n := counterValue(t, rt.waits.WithLabelValues("link_up")); n != 1 {
		t.Errorf("liege_route_link_waits_total{outcome=link_up} = %v after one wait the link ended, want 1", n)
	}
	// Down for longer than the grace: committed here at once.
	db.routeState(false, true, false)
	rt.mu.Lock()
	rt.waitFrom = time.Now().Add(-2 * time.Minute)
	rt.mu.Unlock()
	select {
	case d := <-decided():
		if d != route.Fallback {
			t.Fatalf("link down past the grace: %v, want fallback", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("link down past the grace: the call still waits after 10s (grace 1m), want no wait")
	}
	// A rollback leaves transactions to reconcile: the window opens again.
	db.routeState(false, true, true)
	ch = decided()
	select {
	case d := <-ch:
		t.Fatalf("reconciling, link down: decided %v at once, want a wait for the link", d)
	case <-time.After(20 * time.Millisecond):
	}
	db.routeState(true, true, true)
	select {
	case d := <-ch:
		if d != route.Forward {
			t.Fatalf("reconciling, link up: %v, want forward", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting call was not decided within 10s of the link coming up")
	}
	if n := counterValue(t, rt.waits.WithLabelValues("link_up")); n != 2 {
		t.Errorf("liege_route_link_waits_total{outcome=link_up} = %v after two waits the link ended, want 2", n)
	}
}

// TestRouteLinkGraceRunsOut: a call that waits out the whole grace is
// decided again (fallback, the link still down) and counted as expired; a
// caller that gives up first gets its context's error, counted as
// canceled; with no grace (negative) nothing waits.
func TestRouteLinkGraceRunsOut(t *testing.T) {
	rt, err := newRouter(Options{RouteLinkGrace: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rt.r.Declare("buy", false)
	db := &DB{rt: rt}
	db.routeState(true, true, false)
	db.routeState(false, true, false)
	_, d, err := rt.decide(context.Background(), "buy", nil)
	if err != nil || d != route.Fallback {
		t.Fatalf("grace ran out with the link down: %v, %v; want fallback, no error", d, err)
	}
	if n := counterValue(t, rt.waits.WithLabelValues("expired")); n != 1 {
		t.Errorf("liege_route_link_waits_total{outcome=expired} = %v, want 1", n)
	}

	rt, err = newRouter(Options{RouteLinkGrace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rt.r.Declare("buy", false)
	db = &DB{rt: rt}
	db.routeState(true, true, false)
	db.routeState(false, true, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := rt.decide(ctx, "buy", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller's deadline passed while waiting for the link: %v, want context.DeadlineExceeded", err)
	}
	if n := counterValue(t, rt.waits.WithLabelValues("canceled")); n != 1 {
		t.Errorf("liege_route_link_waits_total{outcome=canceled} = %v, want 1", n)
	}

	rt, err = newRouter(Options{RouteLinkGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	rt.r.Declare("buy", false)
	db = &DB{rt: rt}
	db.routeState(true, true, false)
	db.routeState(false, true, false)
	if _, d, err := rt.decide(context.Background(), "buy", nil); err != nil || d != route.Fallback {
		t.Fatalf("no grace, link down: %v, %v; want fallback at once", d, err)
	}
	for _, o := range []string{"link_up", "expired", "canceled"} {
		if n := counterValue(t, rt.waits.WithLabelValues(o)); n != 0 {
			t.Errorf("no grace: liege_route_link_waits_total{outcome=%s} = %v, want 0", o, n)
		}
	}
}

// counterValue reads one counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}
