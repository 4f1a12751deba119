package liege

import (
	"testing"
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
