package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/inject"
	"github.com/liege-db/liege/internal/oracle"
)

// TestInjectSim runs the deterministic simulator through the CLI: the same
// arguments give the same trace_hash with another --workers and with
// GOMAXPROCS=1, a planted bug exits 1 naming the seed, the oracle item and
// the command that reruns it, and that command replays the failure.
func TestInjectSim(t *testing.T) {
	run := func(env []string, args ...string) (int, string) {
		p := launch(t, env, append([]string{"inject", "--sim"}, args...)...)
		code := p.wait(2 * time.Minute)
		return code, p.output.String()
	}
	var hashes []string
	for _, c := range []struct {
		env     []string
		workers string
	}{{nil, "2"}, {nil, "1"}, {[]string{"GOMAXPROCS=1"}, "3"}} {
		code, out := run(c.env, "--seeds", "60", "--from", "500", "--workers", c.workers, "--json")
		if code != 0 {
			t.Fatalf("liege inject --sim exited %d:\n%s", code, out)
		}
		var rep struct {
			Seeds, Passed, Failed, SeedsWithRollback int64
			Steps                                    int64
			TraceHash                                string          `json:"trace_hash"`
			FirstFailure                             json.RawMessage `json:"first_failure"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if rep.Seeds != 60 || rep.Passed != 60 || rep.Failed != 0 || string(rep.FirstFailure) != "null" || rep.Steps < 60*300 {
			t.Fatalf("unexpected summary:\n%s", out)
		}
		hashes = append(hashes, rep.TraceHash)
	}
	if hashes[0] != hashes[1] || hashes[0] != hashes[2] || len(hashes[0]) != 64 {
		t.Fatalf("trace_hash differs between equal runs (--workers 2, 1, and 3 with GOMAXPROCS=1): %q", hashes)
	}

	code, out := run(nil, "--seeds", "500", "--break", "prev", "--model")
	if code != 1 {
		t.Fatalf("--break prev exited %d, want 1:\n%s", code, out)
	}
	_, rerun, ok := strings.Cut(out, "rerun it: liege ")
	if !ok || !strings.Contains(out, "oracle item") || !strings.Contains(out, "seed ") {
		t.Fatalf("--break prev does not name the seed, the oracle item and the rerun command:\n%s", out)
	}
	code, replay := run(nil, strings.Fields(strings.TrimPrefix(strings.TrimSpace(rerun), "inject --sim"))...)
	failed := func(s string) string {
		i := strings.Index(s, "liege inject: seed ")
		if i < 0 {
			return ""
		}
		line, _, _ := strings.Cut(s[i:], "\n")
		return line
	}
	if code != 1 || !strings.Contains(replay, "FAIL oracle item") || failed(replay) != failed(out) || failed(out) == "" {
		t.Fatalf("the rerun command %q exited %d without replaying the same failure:\n%s\nfirst run:\n%s", rerun, code, replay, out)
	}
}

// injectRun runs liege inject with args into a temporary --out and returns
// its exit code, its report and the output directory.
func injectRun(t *testing.T, args ...string) (int, *inject.Report, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "inj")
	p := launch(t, nil, append([]string{"inject", "--quiet", "--out", out}, args...)...)
	code := p.wait(4 * time.Minute)
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatalf("liege inject %v exited %d without report.json (%v):\n%s", args, code, err, p.output)
	}
	var rep inject.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if code != 0 {
		t.Logf("liege inject %v exited %d:\n%s", args, code, p.output)
	}
	return code, &rep, out
}

// TestInjectAllFaults runs a short real-process run of each application
// with every fault and checks that it passed and that the checker ran
// every check.
func TestInjectAllFaults(t *testing.T) {
	for i, app := range []string{"ticketing", "atm", "kv"} {
		t.Run(app, func(t *testing.T) {
			code, rep, out := injectRun(t, "--app", app, "--duration", "8s", "--rate", "120", "--contention", "0.3",
				"--seed", strconv.Itoa(i+1), "--faults", "all")
			if code != 0 || !rep.Passed {
				t.Fatalf("exit %d, passed %v: %s", code, rep.Passed, rep.Runs[0].Failure)
			}
			run := rep.Runs[0]
			names := map[string]bool{}
			for _, c := range run.Checks {
				names[c.Name] = true
				if !c.Passed {
					t.Errorf("check %q failed: %s", c.Name, c.Detail)
				}
			}
			for _, step := range []string{oracle.CheckTxIDs, oracle.CheckState, oracle.CheckCopies, oracle.CheckOrder,
				oracle.CheckReplay, oracle.CheckFinalState, oracle.CheckSubjects, oracle.CheckAcked, oracle.CheckMaybe,
				oracle.CheckOnce, oracle.CheckInvariant} {
				if !slices.ContainsFunc(run.Checks, func(c inject.Check) bool { return strings.HasPrefix(c.Name, "oracle "+step+":") && c.Passed }) {
					t.Errorf("the oracle step %s did not run and pass: %v", step, run.Checks)
				}
			}
			for _, want := range []string{"every answered call accounted for", "the " + app + " invariant at A", "the " + app + " invariant at B",
				"a clock beyond the bound is refused", "both sites went idle after the heal", "export with journalctl inspect/state --json",
				"no anomalies: double sales, unflagged overdrafts, money drift, vanished effects"} {
				if !names[want] {
					t.Errorf("check %q did not run", want)
				}
			}
			if run.Totals.ChecksRun != len(run.Checks) || run.Totals.ChecksPassed != run.Totals.ChecksRun {
				t.Errorf("checks %d/%d of %d", run.Totals.ChecksPassed, run.Totals.ChecksRun, len(run.Checks))
			}
			if run.Totals.Acked == 0 || run.Totals.Transactions < run.Totals.Acked/2 {
				t.Errorf("acked %d, path %d: the load did not run", run.Totals.Acked, run.Totals.Transactions)
			}
			kinds := map[string]bool{}
			for _, f := range run.Faults {
				kinds[f.Kind] = true
			}
			for _, k := range []string{inject.FaultPartition, inject.FaultKill, inject.FaultSkewBeyond, inject.FaultLatency} {
				if !kinds[k] {
					t.Errorf("no %s fault in the report: %+v", k, run.Faults)
				}
			}
			if run.Totals.ClockRefused == 0 {
				t.Errorf("the clock beyond the bound was not reported refused")
			}
			if len(run.Timeline) < 10 {
				t.Errorf("%d timeline samples", len(run.Timeline))
			}
			for _, f := range []string{"report.html", "path/calls.jsonl", "path/inspect-A.json", "path/state-B.json"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestInjectLWWBaseline runs ticketing with a partition under both merges:
// last-writer-wins must show an anomaly (a seat sold twice with nobody told,
// a ticket that vanished) that the path-consistent run does not have.
func TestInjectLWWBaseline(t *testing.T) {
	code, rep, _ := injectRun(t, "--app", "ticketing", "--duration", "6s", "--rate", "100", "--contention", "0.6",
		"--seed", "7", "--faults", "partition", "--merge", "lww")
	if code != 0 {
		t.Fatalf("exit %d: the path run must pass: %s", code, rep.Runs[0].Failure)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].Merge != "path" || rep.Runs[1].Merge != "lww" {
		t.Fatalf("runs %+v", rep.Runs)
	}
	path, lww := rep.Runs[0].Anomalies, rep.Runs[1].Anomalies
	if path.Total() != 0 {
		t.Errorf("the path-consistent run has anomalies: %+v", path)
	}
	if lww.Total() == 0 {
		t.Errorf("the last-writer-wins run shows no anomaly: %+v (totals %+v)", lww, rep.Runs[1].Totals)
	}
	t.Logf("lww anomalies: %+v", lww)
}

// TestInjectUsage checks that bad flags are refused with a reason.
func TestInjectUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--faults", "drop"}, "--sim"},
		{[]string{"--faults", "bogus"}, "unknown fault"},
		{[]string{"--merge", "crdt"}, "--merge must be path or lww"},
		{[]string{"--route", "sometimes"}, "--route must be never, auto, liege or compare"},
		{[]string{"--app", "chess"}, "ticketing, atm or kv"},
		{[]string{"--contention", "2"}, "--contention must be between 0 and 1"},
	} {
		p := launch(t, nil, append([]string{"inject", "--out", t.TempDir()}, c.args...)...)
		if code := p.wait(time.Minute); code != 2 {
			t.Errorf("%v exited %d, want 2:\n%s", c.args, code, p.output)
		}
		if !strings.Contains(p.output.String(), c.want) {
			t.Errorf("%v: output lacks %q:\n%s", c.args, c.want, p.output)
		}
	}
}

// TestInjectSimFull runs what issue 11 asks of CI on a liege binary built
// without -race (the package's tests may run under it; the simulator would
// be ten times slower there): 2,000 seeds of 300 steps on the real engine
// all pass, and each deliberately broken protocol fails within 2,000
// seeds, naming the seed and the violated item: an oracle item, or for
// --break discard the section 8 rule checked on the wire (internal/sim's
// checkRejected says why the oracle alone does not see that one).
func TestInjectSimFull(t *testing.T) {
	run := func(args ...string) (int, string) {
		p := launch(t, nil, append([]string{"inject", "--sim"}, args...)...)
		code := p.wait(5 * time.Minute)
		return code, p.output.String()
	}
	code, out := run("--seeds", "2000", "--steps", "300", "--workers", "2", "--json")
	var rep struct {
		Seeds, Passed, Failed int64
		Steps                 int64
		SeedsWithRollback     int64  `json:"seeds_with_rollback"`
		Engine                string `json:"engine"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("liege inject --sim --seeds 2000 exited %d: %v:\n%s", code, err, out)
	}
	if code != 0 || rep.Seeds != 2000 || rep.Passed != 2000 || rep.Failed != 0 || rep.Steps < 2000*300 ||
		rep.Engine != "internal/engine" || rep.SeedsWithRollback < 1000 {
		t.Fatalf("liege inject --sim --seeds 2000 exited %d:\n%s", code, out)
	}
	for brk, item := range map[string]string{"literal": "oracle item", "prev": "oracle item", "subject": "oracle item", "discard": "8:discarding"} {
		code, out := run("--seeds", "2000", "--steps", "300", "--workers", "2", "--break", brk)
		if code != 1 || !strings.Contains(out, item) || !strings.Contains(out, "liege inject: seed ") {
			t.Errorf("--break %s exited %d, want 1 naming a seed and %q:\n%s", brk, code, item, out)
		}
	}
}
