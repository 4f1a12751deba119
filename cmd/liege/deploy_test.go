package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The operator's kit in deploy/: Prometheus alert rules with their promtool
// unit tests, and a Grafana dashboard. These tests check that promtool
// accepts the rules and passes their tests, and that every metric the
// rules and the dashboard use exists in a live pair's scrape.

const (
	rulesFile     = "../../deploy/prometheus/liege-rules.yml"
	rulesTestFile = "../../deploy/prometheus/liege-rules_test.yml"
	dashboardFile = "../../deploy/grafana/liege.json"
)

// promtool returns the path of a promtool, installing Debian's prometheus
// package with scripts/ensure-promtool.sh if needed; it skips the test,
// saying why, only where none can be installed.
func promtool(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "../../scripts/ensure-promtool.sh")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("scripts/ensure-promtool.sh did not finish within 5 minutes:\n%s", stderr.String())
		}
		t.Skipf("SKIPPED: no promtool and it could not be installed, so the alert rules are not checked (%v):\n%s", err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// TestAlertRules runs promtool check rules and promtool test rules on
// deploy/prometheus.
func TestAlertRules(t *testing.T) {
	pt := promtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command(pt, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// metricName is a metric name of ours or of the Go collector's (go_*).
var metricName = regexp.MustCompile(`\b(liege|go)_[a-z0-9_]+\b`)

// ruleExprs returns the expr of every rule in a Prometheus rule file:
// "expr: ..." on one line, or a block scalar ("expr: >-") on the lines
// indented under it. (A line reader rather than a YAML dependency; the
// test fails if it finds fewer expressions than alerts.)
func ruleExprs(text string) (exprs []string, alerts int) {
	lines := strings.Split(text, "\n")
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "- alert:") {
			alerts++
		}
		rest, ok := strings.CutPrefix(l, "expr:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ">") && !strings.HasPrefix(rest, "|") {
			exprs = append(exprs, rest)
			continue
		}
		var block []string
		for j := i + 1; j < len(lines) && (strings.TrimSpace(lines[j]) == "" || indent(lines[j]) > indent(lines[i])); j++ {
			block = append(block, strings.TrimSpace(lines[j]))
			i = j
		}
		exprs = append(exprs, strings.Join(block, " "))
	}
	return exprs, alerts
}

// dashboardExprs returns every "expr" and templating query of a Grafana
// dashboard, and the number of panels with targets.
func dashboardExprs(t *testing.T, b []byte) (exprs []string, panels int) {
	t.Helper()
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["targets"]; ok {
				panels++
			}
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(d)
	return exprs, panels
}

// usedMetrics returns the metric names the rules and the dashboard use,
// each with where it is used.
func usedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	exprs, alerts := ruleExprs(string(rules))
	if alerts < 8 || len(exprs) != alerts {
		t.Fatalf("%s: found %d expressions for %d alerts; the reader of rule files misses some", rulesFile, len(exprs), alerts)
	}
	used := map[string][]string{}
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			used[m] = append(used[m], "rules")
		}
	}
	dash, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	dexprs, panels := dashboardExprs(t, dash)
	if panels < 10 {
		t.Fatalf("%s: only %d panels with queries", dashboardFile, panels)
	}
	for _, e := range dexprs {
		for _, m := range metricName.FindAllString(e, -1) {
			used[m] = append(used[m], "dashboard")
		}
	}
	return used
}

// TestDeployMetricsExistInAPairScrape runs a liege and a vassal as `liege
// serve` processes with --metrics-addr, puts a transaction through each,
// scrapes both metrics listeners once the pair is idle, and checks that
// every metric the alert rules and the dashboard name is in both scrapes:
// a renamed or never-exported metric would leave an alert silent.
func TestDeployMetricsExistInAPairScrape(t *testing.T) {
	used := usedMetrics(t)
	for _, want := range []string{"liege_instance_info", "liege_link_up", "liege_replication_lag_seconds", "liege_journal_disk_bytes"} {
		if used[want] == nil {
			t.Fatalf("the rules and dashboard do not use %s: the name extraction is broken (found %v)", want, slices.Sorted(maps.Keys(used)))
		}
	}
	a, b := newPairProcs(t, "--cluster", "deploy-test")
	maddrs := map[*pairProc]string{}
	for _, p := range []*pairProc{a, b} {
		maddrs[p] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		p.args = append(p.args, "--metrics-addr", maddrs[p])
	}
	a.start(t)
	b.start(t)
	for _, p := range []*pairProc{a, b} {
		if code, m := p.s.request("POST", "/v1/call/set", `{"args":{"key":"k`+filepath.Base(p.dir)+`","value":"v"}}`); code != 200 {
			t.Fatalf("call on %s: %d %v", p.dir, code, m)
		}
	}
	waitIdle(t, a, b)
	for _, p := range []*pairProc{a, b} {
		names := scrape(t, "http://"+maddrs[p]+"/metrics").Names()
		var missing []string
		for m, where := range used {
			if !names[m] {
				missing = append(missing, fmt.Sprintf("%s (used by the %s)", m, strings.Join(slices.Compact(slices.Sorted(slices.Values(where))), " and ")))
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Errorf("the scrape of %s lacks metrics the rules or the dashboard use:\n  %s", filepath.Base(p.dir), strings.Join(missing, "\n  "))
		}
	}
}

// TestDashboardShowsBothSites checks the dashboard's layout: an instance
// variable of the chosen cluster that selects every site, and every panel
// repeated per instance, side by side, querying only its instance.
func TestDashboardShowsBothSites(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Multi      bool   `json:"multi"`
				IncludeAll bool   `json:"includeAll"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Type            string `json:"type"`
			Title           string `json:"title"`
			Repeat          string `json:"repeat"`
			RepeatDirection string `json:"repeatDirection"`
			MaxPerRow       int    `json:"maxPerRow"`
			Targets         []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		if v.Name == "instance" && (!v.Multi || !v.IncludeAll || !strings.Contains(v.Definition, `cluster="$cluster"`)) {
			t.Errorf("the instance variable must select several sites (multi, include all) of $cluster: %+v", v)
		}
	}
	for _, want := range []string{"datasource", "cluster", "instance"} {
		if !slices.Contains(vars, want) {
			t.Errorf("the dashboard has no %s variable (it has %v)", want, vars)
		}
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Repeat != "instance" || p.RepeatDirection != "h" || p.MaxPerRow != 2 {
			t.Errorf("panel %q is not repeated per instance side by side (repeat %q, direction %q, max per row %d)", p.Title, p.Repeat, p.RepeatDirection, p.MaxPerRow)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			for _, sel := range regexp.MustCompile(`liege_[a-z0-9_]+(\{[^}]*\})?`).FindAllStringSubmatch(tg.Expr, -1) {
				if !strings.Contains(sel[1], `instance="$instance"`) {
					t.Errorf("panel %q: %s does not select instance=\"$instance\"", p.Title, sel[0])
				}
			}
		}
	}
}
