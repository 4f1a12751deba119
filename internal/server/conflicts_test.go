package server

import "testing"

// A lone instance has no conflicts; the parameters are checked.
func TestConflictsEndpoint(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.must(e.get("/v1/conflicts"), 200)
	if c, ok := a.body["conflicts"].([]any); !ok || len(c) != 0 || num(t, a.body["next"]) != 0 || a.body["more"] != false {
		t.Fatalf("GET /v1/conflicts on a lone instance: %v", a)
	}
	a = e.must(e.get("/v1/conflicts", "since", "7", "limit", "1000"), 200)
	if num(t, a.body["next"]) != 7 {
		t.Fatalf("next of an empty page after 7: %v", a)
	}
	e.mustErr(e.get("/v1/conflicts", "since", "-1"), 400, CodeBadRequest, "since", "-1")
	e.mustErr(e.get("/v1/conflicts", "limit", "0"), 400, CodeBadRequest, "limit", "1000")
	e.mustErr(e.get("/v1/conflicts", "limit", "1001"), 400, CodeBadRequest, "limit")
	e.mustErr(e.get("/v1/conflicts", "sinse", "1"), 400, CodeBadRequest, "sinse")
}
