package liege

import (
	"context"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/route"
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
			d, err := rt.decide(context.Background(), "buy", noPrefix)
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
}
