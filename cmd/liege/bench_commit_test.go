package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// liege bench commit at small sizes: by default an untimed first pass of
// the most callers warms the process and is reported as cold, in an
// instance of its own; --cold skips it. Nothing is asserted about speed.
func TestBenchCommitColdPass(t *testing.T) {
	type report struct {
		Commit []struct {
			Callers int `json:"callers"`
			Engine  struct {
				Txns      int     `json:"txns"`
				TxnPerSec float64 `json:"txn_per_sec"`
			} `json:"engine"`
		} `json:"commit"`
		Cold *struct {
			Callers   int     `json:"callers"`
			Txns      int     `json:"txns"`
			TxnPerSec float64 `json:"txn_per_sec"`
			CPUus     float64 `json:"cpu_us_per_op"`
			Allocs    float64 `json:"allocs_per_op"`
		} `json:"cold"`
	}
	args := []string{"bench", "commit", "--callers", "1,4", "--txns", "40", "--no-raw", "--replay-records", "0",
		"--rollback-records", "0", "--memory-keys", "0", "--json", "--keep"}

	dir := t.TempDir()
	out, errOut := mustRun(t, "", append(args, "--dir", dir)...)
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if c := rep.Cold; c == nil || c.Callers != 4 || c.Txns != 40 || c.TxnPerSec <= 0 || c.Allocs <= 0 {
		t.Fatalf("cold figure %+v, want the first pass of 40 calls by 4 callers", rep.Cold)
	}
	if len(rep.Commit) != 2 || rep.Commit[0].Callers != 1 || rep.Commit[1].Callers != 4 ||
		rep.Commit[0].Engine.Txns != 40 || rep.Commit[1].Engine.TxnPerSec <= 0 {
		t.Fatalf("commit rows %+v", rep.Commit)
	}
	if !strings.Contains(errOut, "untimed (--cold skips it)") {
		t.Errorf("progress does not say the first pass is untimed:\n%s", errOut)
	}
	for _, sub := range []string{"engine-cold", "engine-c1", "engine-c4"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("instance %s: %v", sub, err)
		}
	}

	dir = t.TempDir()
	out, _ = mustRun(t, "", append(args, "--dir", dir, "--cold")...)
	rep = report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if rep.Cold != nil || len(rep.Commit) != 2 {
		t.Fatalf("with --cold: cold %+v, %d commit rows", rep.Cold, len(rep.Commit))
	}
	if _, err := os.Stat(filepath.Join(dir, "engine-cold")); !os.IsNotExist(err) {
		t.Errorf("with --cold an instance engine-cold was made (%v)", err)
	}
}
