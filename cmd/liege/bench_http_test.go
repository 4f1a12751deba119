package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// liege bench http runs at small sizes and reports ratio_256; nothing is
// asserted about speed.
func TestBenchHTTPJSON(t *testing.T) {
	out, _ := mustRun(t, "", "bench", "http", "--clients", "1,256", "--calls", "300", "--engine-txns", "300",
		"--dir", t.TempDir(), "--json")
	var rep struct {
		HTTP []struct {
			Mode        string  `json:"mode"`
			Clients     int     `json:"clients"`
			Calls       int     `json:"calls"`
			CallsPerSec float64 `json:"calls_per_sec"`
			P50us       float64 `json:"p50_us"`
			P99us       float64 `json:"p99_us"`
			Ratio       float64 `json:"ratio"`
			CPUus       float64 `json:"cpu_us_per_call"`
			Requests    int     `json:"requests"`
			ServerUs    float64 `json:"server_us_per_request"`
			Fsyncs      int     `json:"fsyncs"`
		} `json:"http"`
		Engine *struct {
			Callers   int     `json:"callers"`
			TxnPerSec float64 `json:"txn_per_sec"`
			Before    float64 `json:"txn_per_sec_before"`
			After     float64 `json:"txn_per_sec_after"`
			CPUBefore float64 `json:"cpu_us_per_txn_before"`
			CPUAfter  float64 `json:"cpu_us_per_txn_after"`
		} `json:"engine"`
		Ratio256     *float64 `json:"ratio_256"`
		Ratio256Mode string   `json:"ratio_256_mode"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if e := rep.Engine; e == nil || e.Callers != 256 || e.Before <= 0 || e.After <= 0 || e.TxnPerSec != (e.Before+e.After)/2 ||
		e.CPUBefore <= 0 || e.CPUAfter <= 0 {
		t.Fatalf("engine figure %+v", rep.Engine)
	}
	if len(rep.HTTP) != 4 {
		t.Fatalf("%d HTTP rows, want single and batch at 1 and 256 clients: %s", len(rep.HTTP), out)
	}
	best := 0.0
	for i, r := range rep.HTTP {
		wantMode := []string{"single", "single", "batch", "batch"}[i]
		wantClients := []int{1, 256, 1, 256}[i]
		if r.Mode != wantMode || r.Clients != wantClients || r.Calls != 300 || r.CallsPerSec <= 0 ||
			r.P50us <= 0 || r.P50us > r.P99us || r.Ratio <= 0 || r.CPUus <= 0 ||
			r.Requests <= 0 || r.Requests > r.Calls || (r.Mode == "single" && r.Requests != r.Calls) || r.ServerUs <= 0 || r.Fsyncs <= 0 {
			t.Errorf("row %d: %+v", i, r)
		}
		if r.Clients == 256 && r.Ratio > best {
			best = r.Ratio
		}
	}
	if rep.Ratio256 == nil || *rep.Ratio256 != best || rep.Ratio256Mode == "" {
		t.Fatalf("ratio_256 %v (%s), want the best ratio at 256 clients, %v", rep.Ratio256, rep.Ratio256Mode, best)
	}
}

func TestBenchHTTPRefusesBadFlags(t *testing.T) {
	wantFail(t, "", []string{"bench", "http", "--modes", "h3"}, `unknown mode "h3"`, "single, batch")
	wantFail(t, "", []string{"bench", "http", "--clients", "0"}, "--clients")
	out, errOut, err := runCLI(t, "", "bench", "http", "--clients", "2", "--calls", "20", "--engine-txns", "0",
		"--modes", "single", "--dir", t.TempDir())
	if err != nil || !strings.Contains(out, "not measured") {
		t.Fatalf("without the engine figure: %v\n%s\n%s", err, out, errOut)
	}
}
