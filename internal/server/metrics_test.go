package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/metricstest"
	buildinfo "github.com/liege-db/liege/internal/version"
	"github.com/liege-db/liege/replicate"
	"github.com/prometheus/client_golang/prometheus"
)

// TestInstanceInfoFollowsTheRole checks liege_instance_info's labels, and
// that after a role change the old role's series is gone, not left beside
// the new one (a "two lieges" alert counts these series).
func TestInstanceInfoFollowsTheRole(t *testing.T) {
	reg := prometheus.NewRegistry()
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "B", PeerID: "A", Role: liege.RoleVassal, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A Replicator attaches the protocol's Node; Promote needs it.
	if err := db.Attach("eu", replicate.NodeConfig{}); err != nil {
		t.Fatal(err)
	}
	New(db, Options{App: "bank", Registry: reg, Role: liege.RoleVassal, Cluster: "eu"})
	info := func() metricstest.Series { return metricstest.Gather(t, reg).With("liege_instance_info") }

	got := info()
	if len(got) != 1 {
		t.Fatalf("liege_instance_info has %d series, want 1: %v", len(got), got)
	}
	for k, v := range got {
		for _, l := range []string{`id="B"`, `role="vassal"`, `peer="A"`, `app="bank"`, `version="`, `cluster="eu"`} {
			if !strings.Contains(k, l) {
				t.Errorf("%s lacks %s", k, l)
			}
		}
		if strings.Contains(k, `version=""`) || v != 1 {
			t.Errorf("%s = %v: want a version and the value 1", k, v)
		}
	}
	if err := db.Promote(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	got = info()
	if len(got) != 1 || len(got.With("liege_instance_info", `role="liege"`)) != 1 {
		t.Errorf("after a promote liege_instance_info is %v, want one series with role=\"liege\"", got)
	}
}

// TestMetricsHandlerNeedsNoToken checks the handler of --metrics-addr: it
// serves /metrics without any Authorization header, and nothing else.
func TestMetricsHandlerNeedsNoToken(t *testing.T) {
	e := newEnv(t, Options{AuthToken: "s3cret"})
	ms := httptest.NewServer(MetricsHandler(e.srv.opts.Registry, nil))
	defer ms.Close()

	resp, err := http.Get(ms.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	s, err := metricstest.Parse(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics on the metrics handler without a token: %d %v", resp.StatusCode, err)
	}
	for _, name := range []string{"liege_instance_info", "liege_commits_total", "go_goroutines"} {
		if !s.Names()[name] {
			t.Errorf("the metrics handler's scrape lacks %s", name)
		}
	}
	for _, path := range []string{"/status", "/v1/keys", "/"} {
		resp, err := http.Get(ms.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), "only GET /metrics") {
			t.Errorf("GET %s on the metrics listener: %d %s, want 404 saying it serves only /metrics", path, resp.StatusCode, b)
		}
	}
	// The API's own /metrics still needs the token.
	e.mustErr(e.do("GET", "/metrics", ""), 401, CodeUnauthorized)
	e.must(e.do("GET", "/metrics", "", "Authorization", "Bearer s3cret"), 200)
}

func TestBuildVersion(t *testing.T) {
	v := buildinfo.Get().Label()
	if v == "" || strings.Contains(v, "(") {
		t.Errorf("version label %q, want a module version or devel, with +revision when recorded", v)
	}
}
