package main

import (
	"testing"

	"github.com/liege-db/liege/client"
)

// TestRouteRows checks the route lines of liege status.
func TestRouteRows(t *testing.T) {
	got := map[string]string{}
	for _, r := range routeRows([]client.Route{
		{Proc: "buy", Route: "auto", ConflictRate: 0.125, Forwarding: true},
		{Proc: "buy_best", Route: "auto", ConflictRate: 0.01, Prefixes: 3, PrefixesForwarding: 1},
		{Proc: "refund", Route: "auto"},
		{Proc: "withdraw", Route: "liege"},
		{Proc: "deposit", Route: "liege", Available: true},
		{Proc: "tickets", Route: "local"},
	}) {
		got[r[0]] = r[1]
	}
	for k, want := range map[string]string{
		"route buy":      "auto, conflict rate 0.125, forwards to the liege now",
		"route buy_best": "auto, conflict rate 0.010, forwards 1 of 3 key prefixes to the liege now",
		"route refund":   "auto, conflict rate 0.000, commits here now",
		"route withdraw": "liege (refused while the link is down)",
		"route deposit":  "liege (commits here while the link is down)",
		"route tickets":  "local",
	} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
}
