package inject

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// summaryReport is a small hand-made report of two runs whose figures are
// all different, so that each can be found in its row and column.
func summaryReport() *Report {
	return &Report{
		Version: ReportVersion, App: "atm", Seed: 7, DurationS: 60, Rate: 200, Contention: 0.25,
		Faults: []string{"partition", "kill"},
		Runs: []Run{
			{
				Merge: "path",
				Totals: Totals{
					Calls: 12034, Acked: 11500, Maybe: 21, Refused: 313, ReadOnly: 200,
					Transactions: 11500, Conflicts: map[string]int{"use": 17, "update": 96},
					Rollbacks: 3, RolledOff: 44, Reprocessed: 30, Corrected: 14,
					MaxLag: 812, MaxWindow: 9, FaultsInjected: 6, ClockRefused: 1,
					ChecksRun: 5, ChecksPassed: 5, Seconds: 64.2,
				},
				Checks: []Check{{Name: "oracle 1: same path", Passed: true}},
				Passed: true,
			},
			{
				Merge: "lww",
				Totals: Totals{
					Calls: 12101, Acked: 11611, Maybe: 19, Refused: 270, ReadOnly: 201,
					Transactions: 11623, Conflicts: map[string]int{"use": 0, "update": 0},
					MaxLag: 790, MaxWindow: 8, FaultsInjected: 6, ClockRefused: 1,
					ChecksRun: 5, ChecksPassed: 2, Seconds: 63.9,
				},
				Checks: []Check{
					{Name: "oracle 1: same path", Passed: false},
					{Name: "invariant: balances", Passed: false},
				},
				Failure:   "oracle 1: A and B differ from position 2,001: A has A/77, B has B/80",
				Anomalies: Anomalies{UnflaggedNegative: 2, MoneyDrift: -1500, MoneyWrong: 4, Diverged: true},
			},
		},
		Passed: true,
	}
}

// findRow finds a row of the table: a label, then the path and
// lww columns.
func findRow(t *testing.T, out, label string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(label) + `\s{2,}(\S+(?: tx)?)\s+(\S+)\s*$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Errorf("no row %q in\n%s", label, out)
		return nil
	}
	return m[1:]
}

func TestWriteSummary(t *testing.T) {
	var buf bytes.Buffer
	WriteSummary(&buf, summaryReport())
	out := buf.String()
	t.Logf("\n%s", out)

	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("line of %d columns: %q", n, l)
		}
		if strings.TrimRight(l, " ") != l {
			t.Errorf("trailing spaces: %q", l)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+path\s+lww\s*$`).MatchString(out) {
		t.Errorf("no header with the runs' names")
	}
	for _, c := range []struct {
		label     string
		path, lww string
	}{
		{"transactions", "11,500", "11,623"},
		{"calls", "12,034", "12,101"},
		{"acked", "11,500", "11,611"},
		{"maybe", "21", "19"},
		{"refused", "313", "270"},
		{"read-only", "200", "201"},
		{"conflicts", "113", "0"},
		{"use", "17", "0"},
		{"update", "96", "0"},
		{"rollbacks", "3", "0"},
		{"records rolled off", "44", "0"},
		{"reprocessed", "30", "0"},
		{"corrected", "14", "0"},
		{"max lag (tx)", "812", "790"},
		{"max window", "9", "8"},
		{"faults injected", "6", "6"},
		{"clock refusals", "1", "1"},
		{"checks passed", "5/5", "2/5"},
		{"anomalies", "0", "8"},
		{"unflagged negative", "0", "2"},
		{"money drift", "0", "-1,500"},
		{"money wrong", "0", "4"},
		{"diverged", "no", "yes"},
	} {
		got := findRow(t, out, c.label)
		if got != nil && (got[0] != c.path || got[1] != c.lww) {
			t.Errorf("row %q: %q, want [%s %s]", c.label, got, c.path, c.lww)
		}
	}
	// Rows of anomalies no run has are left out.
	for _, s := range []string{"double sold", "vanished"} {
		if strings.Contains(out, s) {
			t.Errorf("row %q although no run has one", s)
		}
	}
	// The order of the rows.
	last := -1
	for _, s := range []string{"transactions", "calls", "conflicts", "rollbacks", "reprocessed", "max lag", "faults injected", "checks passed", "anomalies"} {
		i := strings.Index(out, s)
		if i < last {
			t.Errorf("row %q out of order", s)
		}
		last = i
	}
	if !strings.Contains(out, "lww baseline (expected to fail): oracle 1: A and B differ from position 2,001") {
		t.Errorf("no failure line for lww")
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	final := lines[len(lines)-1]
	if !strings.HasPrefix(final, "PASS: path run, 5/5 checks passed, no anomalies; lww 2/5, 8 anomalies") {
		t.Errorf("final line %q", final)
	}
	if !strings.Contains(out, "\nliege inject atm: seed 7, 60 s at 200 tx/s, contention 0.25\nfaults: partition, kill\n") {
		t.Errorf("no headline")
	}
}

func TestWriteSummaryFail(t *testing.T) {
	r := summaryReport()
	r.Runs = r.Runs[:1]
	r.Passed = false
	r.Runs[0].Passed = false
	r.Runs[0].Totals.ChecksPassed = 4
	r.Runs[0].Failure = "oracle 2: A/12 and B/9 both sold [\"seat\",\"gala\",3] " + strings.Repeat("and much more detail ", 8)
	var buf bytes.Buffer
	WriteSummary(&buf, r)
	out := buf.String()
	t.Logf("\n%s", out)
	if !strings.Contains(out, "FAILED path: oracle 2: A/12 and B/9") {
		t.Errorf("no failure line")
	}
	for _, l := range strings.Split(out, "\n") {
		if utf8.RuneCountInString(l) > 80 {
			t.Errorf("line of %d columns: %q", utf8.RuneCountInString(l), l)
		}
	}
	if !strings.HasSuffix(out, "FAIL: path run, 4/5 checks passed, no anomalies\n") {
		t.Errorf("final line wrong:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^\s*transactions\s+11,500$`).MatchString(out) {
		t.Errorf("no one-column transactions row")
	}
}

func TestWriteSummaryEmpty(t *testing.T) {
	var buf bytes.Buffer
	WriteSummary(&buf, &Report{})
	if !strings.HasSuffix(buf.String(), "FAIL: no run\n") {
		t.Errorf("got %q", buf.String())
	}
	buf.Reset()
	WriteSummary(&buf, nil)
	if !strings.Contains(buf.String(), "FAIL") {
		t.Errorf("got %q", buf.String())
	}
}

func TestSummaryProgress(t *testing.T) {
	s := Sample{T: 12, Sites: [2]SiteSample{
		{Up: true, CommitsPerS: 120.4, LagIn: 3},
		{Up: false},
	}}
	t.Run("not a terminal", func(t *testing.T) {
		var buf bytes.Buffer
		p := &Progress{Sites: [2]string{"A", "B"}}
		for i := 0; i <= 10; i++ { // every 500ms for 5s: lines at 0, 2, 4 s
			p.Update(&buf, time.Duration(i)*500*time.Millisecond, time.Minute, s, 1234+i, 1200, []string{"partition"})
		}
		p.Done(&buf)
		out := buf.String()
		if strings.Contains(out, "\r") {
			t.Errorf("carriage return in a plain output: %q", out)
		}
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Errorf("%d lines, want 3:\n%s", len(lines), out)
		}
		want := "[ 0s/60s] A 120/s B down  lag 3/-  calls 1,234 acked 1,200  faults: partition"
		if lines[0] != want {
			t.Errorf("line\n%q, want\n%q", lines[0], want)
		}
		if !strings.HasPrefix(lines[2], "[ 4s/60s]") {
			t.Errorf("last line %q", lines[2])
		}
	})
	t.Run("terminal", func(t *testing.T) {
		var buf bytes.Buffer
		p := &Progress{tty: 1}
		faults := []string{"partition", "latency", "bandwidth", "slicer", "skew-beyond", "kill-reconcile"}
		p.Update(&buf, time.Second, time.Minute, s, 10, 9, faults)
		s2 := s
		s2.Sites[1] = SiteSample{Up: true, CommitsPerS: 99.6, LagIn: 12}
		p.Update(&buf, 1500*time.Millisecond, time.Minute, s2, 11, 10, nil)
		p.Done(&buf)
		out := buf.String()
		parts := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
		if len(parts) != 3 || parts[0] != "" || !strings.HasSuffix(out, "\n") {
			t.Fatalf("want two \\r-lines and a newline, got %q", out)
		}
		for _, l := range parts[1:] {
			if n := utf8.RuneCountInString(l); n > 79 {
				t.Errorf("line of %d columns: %q", n, l)
			}
		}
		if utf8.RuneCountInString(parts[1]) != utf8.RuneCountInString(parts[2]) {
			t.Errorf("second line does not cover the first: %q", parts)
		}
		if !strings.HasPrefix(parts[2], "[ 2s/60s] liege 120/s vassal 100/s  lag 3/12  calls 11 acked 10") {
			t.Errorf("line %q", parts[2])
		}
	})
	t.Run("file", func(t *testing.T) {
		f, err := os.CreateTemp(t.TempDir(), "progress")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var p Progress
		if p.terminal(f) {
			t.Error("a regular file taken for a terminal")
		}
	})
}

func TestSummaryFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtInt(0), "0"},
		{fmtInt(999), "999"},
		{fmtInt(1000), "1,000"},
		{fmtInt(-1234567), "-1,234,567"},
		{fmtUint(18446744073709551615), "18,446,744,073,709,551,615"},
		{fmtSigned(1200), "+1,200"},
		{fmtSigned(-3), "-3"},
		{fmtFloat(0.30000001, 2), "0.3"},
		{fmtFloat(12345.678, 1), "12,345.7"},
		{fmtFloat(-0.01, 1), "0"},
		{fmtSeconds(42.46), "42.5 s"},
		{fmtSeconds(60), "60 s"},
		{fmtSeconds(125), "2m 05s"},
		{fmtSeconds(7260), "2h 01m"},
		{fmtTick(0.4, 0.2), "0.4"},
		{fmtTick(20000, 5000), "20k"},
		{fmtTick(150, 50), "150"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
