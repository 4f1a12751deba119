package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/metricstest"
)

// scrape GETs url (a /metrics) and parses it, failing the test unless it
// answers 200 in the Prometheus text format.
func scrape(t *testing.T, url string) metricstest.Series {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	s, err := metricstest.Parse(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return s
}

// TestServeMetricsAddr checks that --metrics-addr serves /metrics without
// the API's bearer token, while the API port still demands it for
// /metrics as for everything else.
func TestServeMetricsAddr(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServe(t, nil, "--dir", t.TempDir(), "--id", "A", "--auth-token-file", tokFile, "--metrics-addr", maddr)

	m := scrape(t, "http://"+maddr+"/metrics")
	if len(m.With("liege_instance_info", `id="A"`, `role="liege"`, `app="kv"`)) != 1 {
		t.Errorf("the metrics listener's scrape lacks liege_instance_info{id=\"A\",role=\"liege\",app=\"kv\"}: %v", m.With("liege_instance_info"))
	}
	if code, ans := s.request("GET", "/metrics", ""); code != 401 {
		t.Errorf("the API's /metrics without a token: %d %v, want 401", code, ans)
	}
	req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer hunter2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the API's /metrics with the token: %s", resp.Status)
	}
	if code, ans := s.request("POST", "/v1/admin/role", `{"role":"vassal"}`); code != 401 {
		t.Errorf("the API's admin endpoint without a token: %d %v, want 401", code, ans)
	}
}
