package inject

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testReport is a hand-made report of two runs (path, lww) over 90 s with
// faults of several kinds, a kill of the vassal (down for four samples), a
// kill of the liege, conflicts, a rollback and its reconciliation.
func testReport() *Report {
	faults := []FaultEvent{
		{Kind: "bandwidth", Target: "link", StartS: 5, EndS: 8.5, Detail: "bandwidth 64 KiB/s"},
		{Kind: "partition", Target: "link", StartS: 10, EndS: 20, Detail: "both directions"},
		{Kind: "latency", Target: "link", StartS: 25, EndS: 40, Detail: "latency 40ms ±20ms"},
		{Kind: "reset", Target: "link", StartS: 30, EndS: 30, Detail: "reset every connection"},
		{Kind: "kill", Target: "B", StartS: 45, EndS: 45, Detail: "SIGKILL, restart after 4s"},
		{Kind: "kill-rollback", Target: "B", StartS: 55.5, EndS: 55.5, Detail: "SIGKILL during rollback (failpoint rollback-mid-undo)"},
		{Kind: "skew-beyond", Target: "B", StartS: 58, EndS: 58, Detail: "refused: clock 2s ahead"},
		{Kind: "partition-oneway", Target: "A->B", StartS: 60, EndS: 66, Detail: "A->B dropped"},
		{Kind: "kill", Target: "A", StartS: 67, EndS: 67, Detail: "SIGKILL, restart after 2s"},
		{Kind: "slicer", Target: "link", StartS: 70, EndS: 73, Detail: "slicer 8 bytes, 1ms"},
	}
	timeline := func(scale float64, conflicts int) []Sample {
		var out []Sample
		for i := 1; i <= 90; i++ {
			t := float64(i)
			s := Sample{T: t}
			for si := range s.Sites {
				base := []float64{118, 93}[si] * scale
				if t > 75 {
					base = 0 // the load stopped
				}
				ss := SiteSample{
					Up:          true,
					CommitsPerS: base + 9*math.Sin(t/3+float64(si)),
					Window:      3 + i%4,
				}
				switch {
				case t > 10 && t <= 20: // partition: the peer's backlog grows
					ss.LagIn = uint64(base * (t - 10) * 0.9)
					ss.LagS = t - 10
				case t > 20 && t <= 24: // drain
					ss.LagIn = uint64(base * (24 - t) * 2)
					ss.LagS = (24 - t) / 2
				case t > 60 && t <= 66 && si == 1: // A->B dropped
					ss.LagIn = uint64(base * (t - 60))
					ss.LagS = t - 60
				default:
					ss.LagIn = uint64(i % 3)
					ss.LagS = 0.01
				}
				if t >= 21 && t <= 23 {
					ss.Conflicts = conflicts * (24 - i) / (si + 1)
				}
				if t > 40 && t < 42 {
					ss.Conflicts = 1
				}
				if si == 1 && (t == 21 || t == 56) {
					ss.Rollbacks = 1
				}
				if si == 0 && (t == 22 || t == 23 || t == 58) {
					ss.Reconciled = 4
					ss.ReconPending = 1
				}
				if ss.CommitsPerS < 0 {
					ss.CommitsPerS = 0
				}
				s.Sites[si] = ss
			}
			if t > 45 && t <= 49 { // B killed at 45, back at 49
				s.Sites[1] = SiteSample{}
			}
			if t == 67 || t == 68 { // A killed at 67
				s.Sites[0] = SiteSample{}
			}
			out = append(out, s)
		}
		return out
	}
	sites := func(a, b int, same bool) [2]Site {
		hb := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		if !same {
			hb = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
		}
		return [2]Site{
			{ID: "A", Role: "liege", HTTP: "127.0.0.1:41001", Peer: "127.0.0.1:41002", Starts: 2, Kills: 1, Commits: a,
				StateHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			{ID: "B", Role: "vassal", HTTP: "127.0.0.1:41003", Starts: 3, Kills: 2, Commits: b, StateHash: hb},
		}
	}
	path := Run{
		Merge: "path",
		Sites: sites(8123, 6401, true),
		Totals: Totals{
			Calls: 15210, Acked: 14524, Maybe: 37, Refused: 412, ReadOnly: 237,
			Transactions: 14524, Conflicts: map[string]int{"use": 31, "update": 118},
			Rollbacks: 2, RolledOff: 57, Reprocessed: 41, Corrected: 16,
			MaxLag: 1062, MaxWindow: 6, FaultsInjected: len(faults), ClockRefused: 1,
			ChecksRun: 5, ChecksPassed: 5, Seconds: 91.7,
		},
		Checks: []Check{
			{Name: "oracle 1: same path", Passed: true, Detail: "14,524 records, hash 9f86d081"},
			{Name: "oracle 2: conflicts resolved", Passed: true},
			{Name: "oracle 3: reconciliation complete", Passed: true, Detail: "57 rolled off, 41 reprocessed, 16 corrected"},
			{Name: "invariant: no seat sold twice", Passed: true},
			{Name: "call log: every acked call on the path", Passed: true},
		},
		Passed:   true,
		Faults:   faults,
		Timeline: timeline(1, 6),
		LoadS:    75, HealedS: 73, IdleS: 82.4,
		Dir: "/tmp/liege-inject-1234/path",
	}
	lww := path
	lww.Merge = "lww"
	lww.Sites = sites(8290, 6388, false)
	lww.Totals.Transactions = 14678
	lww.Totals.Rollbacks, lww.Totals.RolledOff, lww.Totals.Reprocessed, lww.Totals.Corrected = 0, 0, 0, 0
	lww.Totals.Conflicts = map[string]int{"use": 0, "update": 0}
	lww.Totals.ChecksPassed = 2
	lww.Checks = []Check{
		{Name: "oracle 1: same path", Passed: false, Detail: "A and B differ from position 3,118"},
		{Name: "oracle 2: conflicts resolved", Passed: false, Detail: "B/2211 overwrote A/2209 on [\"seat\",\"gala\",14]"},
		{Name: "oracle 3: reconciliation complete", Passed: true},
		{Name: "invariant: no seat sold twice", Passed: false, Detail: "3 seats held by two tickets"},
		{Name: "call log: every acked call on the path", Passed: true},
	}
	lww.Passed = false
	lww.Failure = `oracle 1: A and B differ from position 3,118: A has A/2209 ["seat","gala",14], B has B/2211`
	lww.Anomalies = Anomalies{DoubleSold: 3, Vanished: 12, Diverged: true,
		Examples: []string{`seat ["gala",14] held by tickets A/2209 and B/2211`, `ticket A/3001 acknowledged, not in the final state`}}
	lww.Timeline = timeline(1.02, 0)
	lww.LoadS, lww.HealedS, lww.IdleS = 75, 73, 79.1
	lww.Dir = "/tmp/liege-inject-1234/lww"
	return &Report{
		Version:    ReportVersion,
		Started:    time.Date(2025, 11, 21, 14, 3, 7, 0, time.UTC),
		Command:    "liege inject --app ticketing --seed 424242 --duration 75s --rate 250 --contention 0.3 --faults partition,latency,kill,kill-rollback --merge lww",
		App:        "ticketing",
		Seed:       424242,
		DurationS:  75,
		Rate:       250,
		Contention: 0.3,
		Faults:     []string{"bandwidth", "partition", "partition-oneway", "latency", "reset", "slicer", "kill", "kill-rollback", "skew-beyond"},
		Runs:       []Run{path, lww},
		Passed:     true,
	}
}

// A tiny DOM, from encoding/xml: enough to find elements by tag, id and
// class in our output (well-formed XML) and in Chromium's --dump-dom
// (HTML, parsed leniently).

type domNode struct {
	Tag    string
	Attr   map[string]string
	Kids   []*domNode
	Text   string
	Parent *domNode
}

func parseDOM(t *testing.T, data []byte, strict bool) *domNode {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = strict
	if !strict {
		d.AutoClose = xml.HTMLAutoClose
		d.Entity = xml.HTMLEntity
	}
	root := &domNode{Tag: "#root", Attr: map[string]string{}}
	cur := root
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse HTML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &domNode{Tag: strings.ToLower(tok.Name.Local), Attr: map[string]string{}, Parent: cur}
			for _, a := range tok.Attr {
				name := a.Name.Local
				if a.Name.Space != "" {
					name = a.Name.Space + ":" + name
				}
				n.Attr[name] = a.Value
			}
			cur.Kids = append(cur.Kids, n)
			cur = n
		case xml.EndElement:
			if cur.Parent != nil {
				cur = cur.Parent
			}
		case xml.CharData:
			cur.Text += string(tok)
		}
	}
	return root
}

func (n *domNode) hasClass(c string) bool {
	for _, f := range strings.Fields(n.Attr["class"]) {
		if f == c {
			return true
		}
	}
	return false
}

// find returns the elements under n with tag (any if "") and every class.
func (n *domNode) find(tag string, classes ...string) []*domNode {
	var out []*domNode
	var walk func(*domNode)
	walk = func(m *domNode) {
		for _, k := range m.Kids {
			ok := tag == "" || k.Tag == tag
			for _, c := range classes {
				ok = ok && k.hasClass(c)
			}
			if ok {
				out = append(out, k)
			}
			walk(k)
		}
	}
	walk(n)
	return out
}

func (n *domNode) byID(id string) *domNode {
	for _, k := range n.find("") {
		if k.Attr["id"] == id {
			return k
		}
	}
	return nil
}

// text is the text under n.
func (n *domNode) text() string {
	s := n.Text
	for _, k := range n.Kids {
		s += k.text()
	}
	return s
}

func renderHTML(t *testing.T, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	if dir := os.Getenv("INJECT_HTML_DIR"); dir != "" {
		// INJECT_HTML_DIR=/some/dir keeps every page rendered, to look at.
		name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_") + ".html"
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Log(err)
		}
	}
	return buf.Bytes()
}

// checkSelfContained fails if the page loads anything: no script, link,
// img or frame element, no src or href but fragments, no CSS import or
// url() but fragments.
func checkSelfContained(t *testing.T, page []byte, dom *domNode) {
	t.Helper()
	for _, s := range []string{"http://", "https://", "@import", "//cdn", "<script", "<link", "<img", "<iframe", "<object", "<embed"} {
		if bytes.Contains(page, []byte(s)) {
			t.Errorf("page contains %q", s)
		}
	}
	for _, n := range dom.find("") {
		for _, a := range []string{"src", "href", "xlink:href", "srcset", "action", "poster", "data", "background"} {
			if v, ok := n.Attr[a]; ok && !strings.HasPrefix(v, "#") {
				t.Errorf("<%s %s=%q>: external reference", n.Tag, a, v)
			}
		}
	}
	for rest := string(page); ; {
		i := strings.Index(rest, "url(")
		if i < 0 {
			break
		}
		rest = rest[i+4:]
		if !strings.HasPrefix(rest, "#") {
			t.Errorf("url( not to a fragment: %.40q", rest)
		}
	}
}

// checkTimeline checks the chart of one run in a DOM.
func checkTimeline(t *testing.T, dom *domNode, run *Run) {
	t.Helper()
	id := "timeline-" + run.Merge
	svg := dom.byID(id)
	if svg == nil {
		t.Fatalf("no #%s", id)
	}
	if svg.Tag != "svg" || !svg.hasClass("timeline") {
		t.Errorf("#%s is <%s class=%q>, want svg.timeline", id, svg.Tag, svg.Attr["class"])
	}
	faults := svg.find("rect", "fault")
	if len(faults) != len(run.Faults) {
		t.Errorf("#%s: %d rect.fault, want %d (one per fault event)", id, len(faults), len(run.Faults))
	}
	instant := 0
	for _, f := range run.Faults {
		if f.EndS <= f.StartS {
			instant++
		}
	}
	if n := len(svg.find("rect", "fault", "instant")); n != instant {
		t.Errorf("#%s: %d rect.fault.instant, want %d", id, n, instant)
	}
	for i, f := range faults {
		titles := f.find("title")
		if len(titles) != 1 {
			t.Errorf("#%s rect.fault %d: %d titles", id, i, len(titles))
			continue
		}
		if i < len(run.Faults) {
			want := run.Faults[i]
			if tt := titles[0].text(); !strings.Contains(tt, want.Kind) || !strings.Contains(tt, want.Target) || !strings.Contains(tt, want.Detail) {
				t.Errorf("#%s fault %d title %q does not name %s/%s/%s", id, i, tt, want.Kind, want.Target, want.Detail)
			}
		}
	}
	for _, class := range []string{"commits", "lag"} {
		paths := svg.find("path", class)
		if len(paths) != 2 {
			t.Errorf("#%s: %d path.%s, want 2", id, len(paths), class)
			continue
		}
		for si, p := range paths {
			if !p.hasClass(fmt.Sprintf("site-%d", si)) {
				t.Errorf("#%s path.%s %d has class %q", id, class, si, p.Attr["class"])
			}
			if !strings.HasPrefix(p.Attr["d"], "M") {
				t.Errorf("#%s path.%s %d: d=%.40q", id, class, si, p.Attr["d"])
			}
		}
	}
	// Both sites were down for a while: their lines have gaps.
	for si, p := range svg.find("path", "commits") {
		if n := strings.Count(p.Attr["d"], "M"); n < 2 {
			t.Errorf("#%s path.commits site %d has %d segments, want a gap", id, si, n)
		}
	}
	for _, cls := range []string{"site-0", "site-1"} {
		if len(svg.find("rect", "down", cls)) == 0 {
			t.Errorf("#%s: no rect.down.%s", id, cls)
		}
	}
	for _, m := range []string{"conflict", "rollback", "reconcile"} {
		if len(svg.find("circle", "marker", m)) == 0 && (m != "conflict" || sumConflicts(run.Totals.Conflicts) > 0) {
			t.Errorf("#%s: no .marker.%s", id, m)
		}
	}
	for _, ph := range []string{"load", "healed", "idle"} {
		if len(svg.find("line", "phase", ph)) != 1 {
			t.Errorf("#%s: no line.phase.%s", id, ph)
		}
	}
}

// checkNoJunk fails if the page shows a number or value that went wrong.
func checkNoJunk(t *testing.T, page []byte) {
	t.Helper()
	if m := regexp.MustCompile(`NaN|[+-]?\bInf\b|%!|<nil>|ZgotmplZ|e\+\d\d`).Find(page); m != nil {
		t.Errorf("page contains %q", m)
	}
}

func TestWriteHTML(t *testing.T) {
	r := testReport()
	page := renderHTML(t, r)
	dom := parseDOM(t, page, true) // our output is well-formed XML
	checkSelfContained(t, page, dom)
	for i := range r.Runs {
		checkTimeline(t, dom, &r.Runs[i])
	}
	checkNoJunk(t, page)

	v := dom.byID("verdict")
	if v == nil || !v.hasClass("pass") || !strings.Contains(v.text(), "PASS") {
		t.Errorf("#verdict missing or not PASS")
	}
	if c := dom.byID("command"); c == nil || strings.TrimSpace(c.text()) != r.Command {
		t.Errorf("#command does not hold the command line")
	}
	totals := dom.byID("totals")
	if totals == nil {
		t.Fatal("no table#totals")
	}
	if n := len(totals.find("thead")[0].find("th")); n != 3 {
		t.Errorf("table#totals has %d header cells, want 3 (label, path, lww)", n)
	}
	tt := totals.text()
	for _, s := range []string{"15,210", "14,524", "14,678", "1,062 tx", "118", "5 / 5", "2 / 5", "update check", "use check", "rolled off", "clock refusals", "91.7 s"} {
		if !strings.Contains(tt, s) {
			t.Errorf("table#totals lacks %q", s)
		}
	}
	if a := dom.byID("anomalies"); a == nil || !strings.Contains(a.text(), "double sold") {
		t.Errorf("table#anomalies missing")
	} else if bad := a.find("td", "bad"); len(bad) != 4 { // total, double sold, vanished, diverged of lww
		t.Errorf("table#anomalies: %d bad cells, want 4", len(bad))
	}
	if ex := dom.byID("examples-lww"); ex == nil || len(ex.find("li")) != 2 {
		t.Errorf("#examples-lww missing or without its 2 examples")
	}
	checks := dom.byID("checks")
	if checks == nil || dom.byID("checks-path") == nil || dom.byID("checks-lww") == nil {
		t.Fatal("no table#checks with th#checks-path and th#checks-lww")
	}
	if n := len(checks.find("td", "check", "pass", "run-path")); n != 5 {
		t.Errorf("table#checks: %d td.check.pass.run-path, want 5", n)
	}
	if n := len(checks.find("td", "check", "fail", "run-lww")); n != 3 {
		t.Errorf("table#checks: %d td.check.fail.run-lww, want 3", n)
	}
	for _, m := range []string{"path", "lww"} {
		s := dom.byID("sites-" + m)
		if s == nil || len(s.find("th", "site")) != 2 {
			t.Errorf("table#sites-%s: want 2 sites", m)
		}
		f := dom.byID("faults-" + m)
		if f == nil || len(f.find("tbody")[0].find("tr")) != len(r.Runs[0].Faults) {
			t.Errorf("table#faults-%s: want %d rows", m, len(r.Runs[0].Faults))
		}
	}
	if f := dom.byID("failure-lww"); f == nil || !strings.Contains(f.text(), "A/2209") {
		t.Errorf("#failure-lww missing")
	}

	// Every coordinate lies within its chart's view box.
	for _, svg := range dom.find("svg", "timeline") {
		vb := strings.Fields(svg.Attr["viewBox"])
		if len(vb) != 4 {
			t.Fatalf("viewBox %q", svg.Attr["viewBox"])
		}
		w, _ := strconv.ParseFloat(vb[2], 64)
		h, _ := strconv.ParseFloat(vb[3], 64)
		for _, n := range svg.find("") {
			if n.Tag == "pattern" || (n.Parent != nil && n.Parent.Tag == "pattern") {
				continue
			}
			for a, lim := range map[string]float64{"x": w, "x1": w, "x2": w, "cx": w, "y": h, "y1": h, "y2": h, "cy": h} {
				if s, ok := n.Attr[a]; ok {
					v, err := strconv.ParseFloat(s, 64)
					if err != nil || v < -3 || v > lim+3 {
						t.Errorf("%s <%s class=%q> %s=%q outside 0..%v", svg.Attr["id"], n.Tag, n.Attr["class"], a, s, lim)
					}
				}
			}
		}
	}
}

func TestWriteHTMLEdgeCases(t *testing.T) {
	t.Run("empty timeline", func(t *testing.T) {
		r := testReport()
		r.Runs = r.Runs[:1]
		r.Runs[0].Timeline = nil
		page := renderHTML(t, r)
		dom := parseDOM(t, page, true)
		svg := dom.byID("timeline-path")
		if svg == nil {
			t.Fatal("no svg#timeline-path")
		}
		if len(svg.find("text", "no-samples")) != 1 {
			t.Errorf("no text.no-samples")
		}
		if n := len(svg.find("rect", "fault")); n != len(r.Runs[0].Faults) {
			t.Errorf("%d rect.fault, want %d", n, len(r.Runs[0].Faults))
		}
		checkNoJunk(t, page)
	})
	t.Run("nothing at all", func(t *testing.T) {
		r := &Report{Runs: []Run{{Merge: "path"}}}
		page := renderHTML(t, r)
		dom := parseDOM(t, page, true)
		if svg := dom.byID("timeline-path"); svg == nil || len(svg.find("text", "no-samples")) != 1 {
			t.Errorf("want svg#timeline-path with a no-samples note")
		}
		if v := dom.byID("verdict"); v == nil || !v.hasClass("fail") {
			t.Errorf("want #verdict.fail")
		}
		checkNoJunk(t, page)
	})
	t.Run("no runs", func(t *testing.T) {
		page := renderHTML(t, &Report{})
		parseDOM(t, page, true)
	})
	t.Run("all zero", func(t *testing.T) {
		r := testReport()
		r.Runs = r.Runs[:1]
		run := &r.Runs[0]
		run.Faults, run.LoadS, run.HealedS, run.IdleS = nil, 0, 0, 0
		for i := range run.Timeline {
			run.Timeline[i].Sites = [2]SiteSample{{Up: true}, {Up: true}}
		}
		page := renderHTML(t, r)
		dom := parseDOM(t, page, true)
		svg := dom.byID("timeline-path")
		if n := len(svg.find("path", "commits")); n != 2 {
			t.Errorf("%d path.commits, want 2", n)
		}
		if n := len(svg.find("rect", "fault")) + len(svg.find("circle", "marker")) + len(svg.find("line", "phase")); n != 0 {
			t.Errorf("%d faults, markers or phases in an all-zero run", n)
		}
		checkNoJunk(t, page)
	})
	t.Run("one sample, site down, odd values", func(t *testing.T) {
		r := &Report{Runs: []Run{{
			Merge:    "path",
			Faults:   []FaultEvent{{Kind: "mystery", Target: "x", StartS: 3, EndS: 1}},
			Timeline: []Sample{{T: 0, Sites: [2]SiteSample{{Up: true, CommitsPerS: math.NaN()}, {}}}},
			LoadS:    math.Inf(1),
		}}}
		page := renderHTML(t, r)
		dom := parseDOM(t, page, true)
		svg := dom.byID("timeline-path")
		if n := len(svg.find("rect", "fault", "instant")); n != 1 {
			t.Errorf("%d rect.fault.instant, want 1", n)
		}
		checkNoJunk(t, page)
	})
	t.Run("nil", func(t *testing.T) {
		if err := WriteHTML(io.Discard, nil); err == nil {
			t.Error("WriteHTML(nil): no error")
		}
		if err := WriteJSON(io.Discard, nil); err == nil {
			t.Error("WriteJSON(nil): no error")
		}
	})
	t.Run("escaping", func(t *testing.T) {
		r := testReport()
		r.App = `<script>alert(1)</script>`
		r.Runs[0].Faults[0].Detail = `"><script>x</script>`
		page := renderHTML(t, r)
		if bytes.Contains(page, []byte("<script")) {
			t.Error("unescaped <script in the page")
		}
		parseDOM(t, page, true)
	})
}

func TestHTMLReportJSON(t *testing.T) {
	r := testReport()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\n  \"version\": 1,")) {
		t.Errorf("not indented:\n%.200s", buf.String())
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"A->B"`)) {
		t.Errorf("arrows escaped")
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("report.json does not round-trip")
	}
}

// TestReportHTMLInChromium renders the report in headless Chromium: the
// DOM it builds must hold the charts, and the screenshot must show them.
func TestReportHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not starting Chromium")
	}
	script, err := filepath.Abs("../../scripts/ensure-chromium.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	ensure := exec.CommandContext(ctx, "/bin/sh", script)
	ensure.Stderr = &stderr
	out, err := ensure.Output()
	bin := strings.TrimSpace(string(out))
	if err != nil || bin == "" {
		t.Skipf("Chromium could not be found or installed (%v: %s); install Debian's chromium package (apt-get install chromium) or Google Chrome to run this test",
			err, strings.TrimSpace(stderr.String()))
	}
	t.Logf("chromium: %s", bin)

	dir := t.TempDir()
	r := testReport()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	start := time.Now()
	dump := runChromium(t, bin, "--dump-dom", url)
	t.Logf("chromium --dump-dom: %v", time.Since(start).Round(time.Millisecond))
	dom := parseDOM(t, dump, false)
	for i := range r.Runs {
		checkTimeline(t, dom, &r.Runs[i])
	}
	if dom.byID("totals") == nil || dom.byID("verdict") == nil {
		t.Errorf("Chromium's DOM lacks #totals or #verdict")
	}

	shot := filepath.Join(dir, "shot.png")
	start = time.Now()
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", url)
	t.Logf("chromium --screenshot: %v", time.Since(start).Round(time.Millisecond))
	if keep := os.Getenv("INJECT_SCREENSHOT"); keep != "" {
		// INJECT_SCREENSHOT=/path/shot.png keeps the screenshot to look at.
		if data, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(keep, data, 0o644)
			_ = os.WriteFile(strings.TrimSuffix(keep, filepath.Ext(keep))+".html", mustRead(t, page), 0o644)
		}
	}
	checkScreenshot(t, shot)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkScreenshot decodes the PNG and checks the page painted: many
// colours, among them the two site colours of the charts' lines.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot does not decode: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 1000 {
		t.Errorf("screenshot is %v", b)
	}
	colours := map[[3]uint8]bool{}
	var site [2]int // pixels of each site's colour
	want := [2][3]uint8{hexRGB(siteColors[0]), hexRGB(siteColors[1])}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := rgb(img, x, y)
			colours[c] = true
			for i := range want {
				if near(c, want[i], 24) {
					site[i]++
				}
			}
		}
	}
	if len(colours) < 16 {
		t.Errorf("screenshot has %d colours: the page did not paint", len(colours))
	}
	// The legends' swatches hold a few dozen pixels of each; the lines of
	// the first chart hundreds.
	for i, n := range site {
		if n < 200 {
			t.Errorf("screenshot has %d pixels of site %d's colour %s: the chart did not paint", n, i, siteColors[i])
		}
	}
	t.Logf("screenshot %v: %d colours, %d and %d pixels of the site colours", b, len(colours), site[0], site[1])
}

func rgb(img image.Image, x, y int) [3]uint8 {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

func hexRGB(s string) [3]uint8 {
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)}
}

func near(a, b [3]uint8, tol int) bool {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < -tol || d > tol {
			return false
		}
	}
	return true
}

// runChromium runs headless Chromium with flags that keep it off the
// network and away from the user's profile, and returns its stdout. It
// runs in its own process group, killed when it is done or times out, and
// any process still naming its profile directory is killed too.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	profile := t.TempDir()
	flags := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync",
		"--disable-breakpad", "--disable-crash-reporter",
		"--user-data-dir=" + profile,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(flags, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group's leftovers
	}
	killProfileProcesses(t, profile)
	if err != nil {
		tail := stderr.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		t.Fatalf("chromium %v: %v (ctx %v)\n%s", args, err, ctx.Err(), tail)
	}
	return stdout.Bytes()
}

// killProfileProcesses kills, by pid, every live process whose command
// line names profile (Chromium helpers that left the process group, such
// as the crash handler). Linux only: elsewhere there is no /proc to read.
func killProfileProcesses(t *testing.T, profile string) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(profile)) {
			continue
		}
		t.Logf("killing chromium helper %d left behind", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
