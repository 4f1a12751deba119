package main

import (
	"encoding/json"
	"testing"
)

// liege bench detect --counters runs the workload with counters every
// transaction Adds to, says so, and holds no goal to it (the goals are the
// default workload's). Small and short: nothing is asserted about speed.
func TestBenchDetectCounters(t *testing.T) {
	out, _ := mustRun(t, "", "bench", "detect", "--sizes", "300,2000", "--counters", "2", "--duration", "50ms", "--incoming", "64", "--json")
	var rep detectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if rep.Workload.Counters != 2 || len(rep.Rows) != 2 || rep.Goal != nil || rep.MemGoal != nil {
		t.Fatalf("workload %+v, %d rows, goals %v %v: want counters 2, 2 rows, no goals", rep.Workload, len(rep.Rows), rep.Goal, rep.MemGoal)
	}
	for _, r := range rep.Rows {
		if r.Checks == 0 || r.NsPerTxn <= 0 {
			t.Fatalf("window %d: %d checks, %.0f ns each", r.Window, r.Checks, r.NsPerTxn)
		}
	}
	if _, _, err := runCLI(t, "", "bench", "detect", "--counters", "-1"); err == nil {
		t.Fatal("--counters -1 was taken")
	}
}
