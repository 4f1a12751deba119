package inject

import (
	"slices"
	"testing"

	"github.com/liege-db/liege/internal/oracle"
)

func TestRunPlan(t *testing.T) {
	for _, tc := range []struct {
		route string
		lww   bool
		want  []plannedRun
	}{
		{route: "", want: []plannedRun{{"path", "auto", "path"}}},
		{route: "auto", lww: true, want: []plannedRun{{"path", "auto", "path"}, {"lww", "never", "lww"}}},
		{route: "never", want: []plannedRun{{"path", "never", "path"}}},
		{route: "compare", lww: true, want: []plannedRun{{"path", "never", "path-never"}, {"path", "auto", "path-auto"}, {"lww", "never", "lww"}}},
	} {
		if got := runPlan(Config{Route: tc.route, LWW: tc.lww}); !slices.Equal(got, tc.want) {
			t.Errorf("--route %q lww %v: %v, want %v", tc.route, tc.lww, got, tc.want)
		}
	}
	if _, err := runRoutes("sometimes"); err == nil {
		t.Error("--route sometimes: no error")
	}
}

func TestRouteArgs(t *testing.T) {
	got, err := routeArgs("ticketing", RouteNever)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--route", "buy=local", "--route", "buy_best=local", "--route", "refund=local"}
	if !slices.Equal(got, want) {
		t.Errorf("ticketing never: %v, want %v", got, want)
	}
	if got, _ := routeArgs("atm", RouteAuto); got != nil {
		t.Errorf("atm auto: %v, want no flags (the app's routes)", got)
	}
}

func TestLatencies(t *testing.T) {
	id := func(s string) *string { return &s }
	calls := &oracle.CallLog{Calls: []oracle.Call{
		{Site: "A", Status: 200, SentNs: 0, AnsweredNs: 2e6, TxID: id("A/1")},
		{Site: "B", Status: 200, SentNs: 0, AnsweredNs: 3e6, TxID: id("B/1")},
		{Site: "B", Status: 200, SentNs: 0, AnsweredNs: 9e6, TxID: id("A/2")}, // forwarded
		{Site: "B", Status: 503, SentNs: 0, AnsweredNs: 1e6},
	}}
	run := &Run{Sites: [2]Site{{ID: "A"}, {ID: "B"}}, Totals: Totals{Acked: 3, Corrected: 1}}
	latencies(run, calls)
	if l := run.Latency[1]; l.Local.N != 1 || l.Local.P50Ms != 3 || l.Forwarded.N != 1 || l.Forwarded.P50Ms != 9 {
		t.Errorf("vassal latency %+v: want 1 local at 3ms, 1 forwarded at 9ms", l)
	}
	if l := run.Latency[0]; l.Local.N != 1 || l.Forwarded.N != 0 {
		t.Errorf("liege latency %+v", l)
	}
	if got := run.Totals.CorrectionsPer1000; got < 333 || got > 334 {
		t.Errorf("corrections per 1000: %v, want 333.3", got)
	}
}
