package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/benchkit"
)

// liege bench replicate with a list of caller counts runs each, in a
// directory of its own, and reports the best as the saturating rate. Small
// and short: nothing is asserted about speed.
func TestBenchReplicateCallerList(t *testing.T) {
	out, _ := mustRun(t, "", "bench", "replicate", "--callers", "2,3", "--duration", "300ms", "--warmup", "0", "--json")
	var rep struct {
		Runs []struct {
			Callers int
			Result  struct {
				TotalTxnPerSec float64
				Converged      bool
			}
		} `json:"runs"`
		Best *struct {
			Callers int
			Result  struct{ TotalTxnPerSec float64 }
		} `json:"best"`
		Half  *struct{} `json:"half"`
		Goals []goal    `json:"goals"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].Callers != 2 || rep.Runs[1].Callers != 3 {
		t.Fatalf("runs %+v: want one with 2 callers, then one with 3", rep.Runs)
	}
	bestRate := max(rep.Runs[0].Result.TotalTxnPerSec, rep.Runs[1].Result.TotalTxnPerSec)
	for _, r := range rep.Runs {
		if !r.Result.Converged || r.Result.TotalTxnPerSec <= 0 {
			t.Fatalf("run %+v: want converged, with transactions", r)
		}
	}
	if rep.Best == nil || rep.Best.Result.TotalTxnPerSec != bestRate {
		t.Fatalf("best %+v: want the run of %.0f txn/s", rep.Best, bestRate)
	}
	if rep.Half != nil || rep.Goals != nil {
		t.Fatalf("without --check: half %v, goals %v; want neither", rep.Half, rep.Goals)
	}
}

func TestBenchReplicateCheckRefusesRate(t *testing.T) {
	_, errOut, err := runCLI(t, "", "bench", "replicate", "--check", "--rate", "1000")
	if err == nil || !strings.Contains(errOut+err.Error(), "leave out --rate") {
		t.Fatalf("--check --rate: err %v, stderr %q; want a refusal naming --rate", err, errOut)
	}
}

func TestReplicateGoals(t *testing.T) {
	run := func(txnPerSec, lagA, lagB float64) *replicateRun {
		r := &replicateRun{Result: benchkit.ReplicateResult{TotalTxnPerSec: txnPerSec}}
		r.Result.Directions[0].LagP99ms, r.Result.Directions[1].LagP99ms = lagA, lagB
		return r
	}
	for _, c := range []struct {
		name      string
		best      *replicateRun
		half      *replicateRun
		wantMet   [3]bool
		wantWorst [2]float64
	}{
		{"all met", run(80_000, 249, 10), run(40_000, 50, 3), [3]bool{true, true, true}, [2]float64{249, 50}},
		{"slow", run(79_999, 10, 10), run(40_000, 10, 10), [3]bool{false, true, true}, [2]float64{10, 10}},
		{"lag at saturation, the worse direction", run(90_000, 10, 251), run(45_000, 10, 10), [3]bool{true, false, true}, [2]float64{251, 10}},
		{"lag at half", run(90_000, 10, 10), run(45_000, 51, 1), [3]bool{true, true, false}, [2]float64{10, 51}},
	} {
		gs := replicateGoals(c.best, c.half)
		if len(gs) != 3 {
			t.Fatalf("%s: %d goals, want 3", c.name, len(gs))
		}
		for i, g := range gs {
			if g.Met != c.wantMet[i] || !g.Measured {
				t.Errorf("%s: goal %q met %v, want %v", c.name, g.Name, g.Met, c.wantMet[i])
			}
		}
		if gs[1].Value != c.wantWorst[0] || gs[2].Value != c.wantWorst[1] {
			t.Errorf("%s: lag values %v and %v, want the worse directions %v", c.name, gs[1].Value, gs[2].Value, c.wantWorst)
		}
	}
}

// The reasons frames were dropped for come most frequent first, each with
// what it means, so that a storm of drops in a run reads at once.
func TestDroppedReasons(t *testing.T) {
	got := droppedReasons(map[string]float64{"gap": 10, "held": 400, "duplicate": 160, "made_up": 10})
	want := "held 400 (arrived while the receiver rolled back), duplicate 160 (held already: the sender rewound behind it), " +
		"gap 10 (not next after what it holds: sent before a rewind), made_up 10"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
