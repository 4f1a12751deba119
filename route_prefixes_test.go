package liege

import (
	"testing"

	"github.com/liege-db/liege/internal/route"
)

// A call with several key prefixes (atm's transfer: its two accounts) is
// forwarded when any of them forwards, and with the link down falls back
// where a forwarding prefix would have been forwarded.
func TestDecideAllPrefixes(t *testing.T) {
	r := route.New(route.Config{High: 0.1, Window: 50, MinCommits: 10, Start: 0})
	r.Set("transfer", route.Auto, true, false)
	r.Role(true)
	r.Link(true)
	for range 100 {
		r.Committed("transfer", "shared")
		r.Conflict("transfer", "shared")
		for range 20 {
			r.Committed("transfer", "b-1")
			r.Committed("transfer", "b-2")
		}
	}
	if d := r.Decide("transfer", "shared"); d != route.Forward {
		t.Fatalf("hot prefix shared: %v, want forward", d)
	}
	for _, tc := range []struct {
		prefixes []string
		want     route.Decision
	}{
		{[]string{"b-1", "b-2"}, route.CommitLocal},
		{[]string{"b-1", "shared"}, route.Forward}, // into a hot account
		{[]string{"shared", "b-2"}, route.Forward}, // from one
	} {
		if got := decideAll(r, "transfer", tc.prefixes); got != tc.want {
			t.Errorf("prefixes %v: %v, want %v", tc.prefixes, got, tc.want)
		}
	}
	r.Link(false)
	if got := decideAll(r, "transfer", []string{"b-1", "shared"}); got != route.Fallback {
		t.Errorf("link down, one hot prefix: %v, want fallback", got)
	}
	if got := decideAll(r, "transfer", []string{"b-1", "b-2"}); got != route.CommitLocal {
		t.Errorf("link down, cold prefixes: %v, want local", got)
	}
}
