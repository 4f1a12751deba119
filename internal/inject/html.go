package inject

// This file renders the report as report.json and report.html. The HTML
// page is self-contained: inline CSS, inline SVG charts, no script and no
// external asset, so it can be mailed, attached to an issue or opened from
// a CI artifact without a network.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// WriteJSON writes r as indented JSON (report.json).
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("inject: no report")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Failures and details name keys and arrows ("A->B"): keep them
	// readable.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteHTML renders r as a self-contained HTML page (report.html): the
// run's parameters and verdict, the runs' figures side by side, their
// checks, anomalies and sites, and a timeline chart per run.
//
// Elements a test or a script may look for: #verdict (class pass or
// fail), #command, #failure-<merge>, table#totals, table#anomalies and
// table#checks (one column per run; th#checks-<merge> heads a run's column
// of td.check.pass / td.check.fail / td.check.none, also classed
// run-<merge>), #examples-<merge>, table#sites-<merge> (th.site per site),
// table#faults-<merge>, and per run svg#timeline-<merge>.timeline holding
// rect.fault (one per fault event, also classed with its kind, and instant
// when it has no duration), path.commits and path.lag (one per site, class
// site-0 / site-1), rect.down (a site down), circle.marker.conflict /
// .marker.rollback / .marker.reconcile, line.phase.load / .phase.healed /
// .phase.idle, rect.hover (a sample's figures as its title) and
// text.no-samples when the run has no sample. <merge> is the run's Merge
// ("path", "lww").
func WriteHTML(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("inject: no report")
	}
	page := buildPage(r)
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("inject: render report.html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// The colours of the page. Site colours are a blue/orange pair that stays
// distinct for the colour-blind; fault kinds have their own palette.
var (
	siteColors   = [2]string{"#2563eb", "#ea580c"}
	markerColors = map[string]string{
		"conflict":  "#b45309",
		"rollback":  "#dc2626",
		"reconcile": "#7c3aed",
	}
	faultColors = map[string]string{
		"partition":        "#dc2626",
		"partition-oneway": "#f472b6",
		"latency":          "#eab308",
		"bandwidth":        "#a16207",
		"reset":            "#8b5cf6",
		"slicer":           "#0891b2",
		"kill":             "#111827",
		"kill-rollback":    "#9f1239",
		"kill-reconcile":   "#4338ca",
		"skew":             "#65a30d",
		"skew-beyond":      "#15803d",
	}
	// faultOrder is the order of the fault lanes.
	faultOrder = []string{
		"partition", "partition-oneway", "latency", "bandwidth", "reset",
		"slicer", "kill", "kill-rollback", "kill-reconcile", "skew", "skew-beyond",
	}
	otherFaultColors = []string{"#64748b", "#0f766e", "#b45309", "#be185d", "#1e40af"}
)

// faultColor is the colour of a fault kind; an unknown kind gets a stable
// colour from its name.
func faultColor(kind string) string {
	if c, ok := faultColors[kind]; ok {
		return c
	}
	h := 0
	for _, c := range kind {
		h = h*31 + int(c)
	}
	if h < 0 {
		h = -h
	}
	return otherFaultColors[h%len(otherFaultColors)]
}

// The page's view model: everything the template prints, formatted.

type htmlPage struct {
	Title        string
	App          string
	Seed         string
	Subtitle     string
	Verdict      string
	VerdictClass string
	VerdictNotes []string
	Facts        []htmlFact
	Faults       []htmlChip
	Command      string
	Runs         []*htmlRun
	Cols         int
	Totals       []htmlRow
	Anomalies    []htmlRow
	Checks       []htmlCheckRow
	AnyExamples  bool
	HasBaseline  bool
}

// htmlCheckRow is one check across the runs.
type htmlCheckRow struct {
	Name  string
	Cells []htmlCheckCell
}

type htmlCheckCell struct {
	Class, Icon, Detail string
}

type htmlFact struct{ K, V string }

type htmlChip struct{ Name, Color string }

type htmlRow struct {
	Group string // a group header row when set
	Label string
	Note  string // the label's tooltip
	Sub   bool   // indented under the row above
	Cells []htmlCell
}

type htmlCell struct{ Text, Class, Title string }

type htmlRun struct {
	ID           string
	Merge        string
	Desc         string
	Verdict      string
	VerdictClass string
	Baseline     bool
	Failure      string
	Checks       []Check
	ChecksLabel  string
	Examples     []string
	Sites        []htmlSite
	Dir          string
	Chart        *svgChart
	Legend       []htmlLegend
	FaultRows    []htmlFaultRow
	FaultsOpen   bool
}

type htmlSite struct {
	ID, Role, HTTP, Peer, Starts, Kills, Commits, Hash, HashFull, Color string
	HashClass                                                           string
}

type htmlLegend struct {
	Kind  string // line, dash, circle, rect, hatch
	Color string
	Label string
	Title string
}

type htmlFaultRow struct {
	N, Kind, Color, Target, Start, End, Dur, Detail string
}

// buildPage turns a report into the page's view model.
func buildPage(r *Report) *htmlPage {
	p := &htmlPage{
		App:     r.App,
		Seed:    strconv.FormatUint(r.Seed, 10),
		Command: r.Command,
		Cols:    len(r.Runs) + 1,
	}
	if p.App == "" {
		p.App = "(no app)"
	}
	if r.Passed {
		p.Verdict, p.VerdictClass = "PASS", "pass"
	} else {
		p.Verdict, p.VerdictClass = "FAIL", "fail"
	}
	p.Title = fmt.Sprintf("%s · liege inject %s seed %s", p.Verdict, p.App, p.Seed)
	if len(r.Runs) == 0 {
		p.VerdictNotes = []string{"no run"}
	}
	for _, m := range r.Runs {
		p.VerdictNotes = append(p.VerdictNotes, fmt.Sprintf("%s · %d/%d checks · %s",
			runName(m), m.Totals.ChecksPassed, m.Totals.ChecksRun,
			plural(m.Anomalies.Total(), "anomaly", "anomalies")))
	}
	var sub []string
	if !r.Started.IsZero() {
		sub = append(sub, "started "+r.Started.Format("2006-01-02 15:04:05 MST"))
	}
	sub = append(sub, plural(len(r.Runs), "run", "runs"))
	if r.Version != 0 {
		sub = append(sub, fmt.Sprintf("report v%d", r.Version))
	}
	p.Subtitle = strings.Join(sub, " · ")

	rate := "unlimited"
	if r.Rate > 0 {
		rate = fmtInt(int64(r.Rate)) + " tx/s"
	}
	p.Facts = []htmlFact{
		{"App", p.App},
		{"Seed", p.Seed},
		{"Duration", fmtSeconds(r.DurationS)},
		{"Rate", rate},
		{"Contention", fmtFloat(r.Contention, 3)},
	}
	for _, f := range r.Faults {
		p.Faults = append(p.Faults, htmlChip{f, faultColor(f)})
	}

	ids := map[string]int{}
	for i := range r.Runs {
		run := &r.Runs[i]
		hr := buildRun(run)
		if n := ids[hr.ID]; n > 0 {
			hr.ID = fmt.Sprintf("%s-%d", hr.ID, n+1)
			hr.Chart.ID = "timeline-" + hr.ID
			hr.Chart.setPatternIDs()
		}
		ids[hr.ID]++
		p.Runs = append(p.Runs, hr)
		if len(hr.Examples) > 0 {
			p.AnyExamples = true
		}
		if hr.Baseline {
			p.HasBaseline = true
		}
	}
	p.Totals = totalsRows(r.Runs)
	p.Anomalies = anomalyRows(r.Runs)
	p.Checks = checkRows(r.Runs, p.Runs)
	return p
}

// htmlID makes s usable in an id: lower case letters, digits and dashes.
func htmlID(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "run"
	}
	return b.String()
}

// runDesc says what a merge mode is.
func runDesc(merge string) string {
	switch merge {
	case "path":
		return "path-consistent"
	case "lww":
		return "last-writer-wins baseline"
	case "":
		return "run"
	}
	return merge
}

// siteLabel names a site: "A (liege)".
func siteLabel(s Site, i int) string {
	id := s.ID
	if id == "" {
		id = fmt.Sprintf("site %d", i+1)
	}
	if s.Role == "" {
		return id
	}
	return id + " (" + s.Role + ")"
}

func buildRun(run *Run) *htmlRun {
	hr := &htmlRun{
		ID:       htmlID(run.Merge),
		Merge:    runName(*run),
		Desc:     runDesc(run.Merge),
		Baseline: run.Merge == "lww",
		Failure:  run.Failure,
		Checks:   run.Checks,
		Examples: run.Anomalies.Examples,
		Dir:      run.Dir,
	}
	switch {
	case run.Passed:
		hr.Verdict, hr.VerdictClass = "PASS", "pass"
	case hr.Baseline:
		hr.Verdict, hr.VerdictClass = "FAIL", "fail expected"
	default:
		hr.Verdict, hr.VerdictClass = "FAIL", "fail"
	}
	passed := 0
	for _, c := range run.Checks {
		if c.Passed {
			passed++
		}
	}
	hr.ChecksLabel = fmt.Sprintf("%d/%d passed", passed, len(run.Checks))
	for i, s := range run.Sites {
		id := s.ID
		if id == "" {
			id = fmt.Sprintf("site %d", i+1)
		}
		hs := htmlSite{
			ID: id, Role: s.Role, HTTP: s.HTTP, Peer: s.Peer,
			Starts: fmtInt(int64(s.Starts)), Kills: fmtInt(int64(s.Kills)),
			Commits: fmtInt(int64(s.Commits)), HashFull: s.StateHash,
			Hash: s.StateHash, Color: siteColors[i],
		}
		if len(hs.Hash) > 16 {
			hs.Hash = hs.Hash[:16] + "…"
		}
		hr.Sites = append(hr.Sites, hs)
	}
	if len(hr.Sites) == 2 && hr.Sites[0].HashFull != "" {
		cls := "same"
		if hr.Sites[0].HashFull != hr.Sites[1].HashFull {
			cls = "differ"
		}
		hr.Sites[0].HashClass, hr.Sites[1].HashClass = cls, cls
	}
	hr.Chart = buildChart(run, "timeline-"+hr.ID)

	for i, s := range run.Sites {
		hr.Legend = append(hr.Legend, htmlLegend{Kind: "line", Color: siteColors[i],
			Label: siteLabel(s, i), Title: "commits/s (upper panel) and lag in (lower panel)"})
	}
	for _, k := range []struct{ class, label string }{
		{"conflict", "conflicts"}, {"rollback", "rollbacks"}, {"reconcile", "reconciled"},
	} {
		hr.Legend = append(hr.Legend, htmlLegend{Kind: "circle", Color: markerColors[k.class],
			Label: k.label, Title: "area grows with the count in the interval"})
	}
	hr.Legend = append(hr.Legend, htmlLegend{Kind: "hatch", Color: "#64748b", Label: "site down"})
	hr.Legend = append(hr.Legend, htmlLegend{Kind: "dash", Color: "#334155", Label: "load stopped / healed / idle"})
	for _, k := range hr.Chart.kinds {
		hr.Legend = append(hr.Legend, htmlLegend{Kind: "rect", Color: faultColor(k), Label: k})
	}

	for i, f := range run.Faults {
		row := htmlFaultRow{
			N: strconv.Itoa(i + 1), Kind: f.Kind, Color: faultColor(f.Kind),
			Target: f.Target, Start: strconv.FormatFloat(finite(f.StartS), 'f', 1, 64), Detail: f.Detail,
		}
		if f.EndS > f.StartS {
			row.End = strconv.FormatFloat(finite(f.EndS), 'f', 1, 64)
			row.Dur = fmtSeconds(f.EndS - f.StartS)
		} else {
			row.End = "–"
			row.Dur = "instant"
		}
		hr.FaultRows = append(hr.FaultRows, row)
	}
	hr.FaultsOpen = len(hr.FaultRows) <= 24
	return hr
}

// checkRows are the rows of the checks table: each check by name, in the
// order of first appearance, with one cell per run.
func checkRows(runs []Run, hruns []*htmlRun) []htmlCheckRow {
	var rows []htmlCheckRow
	index := map[string]int{}
	for ri, run := range runs {
		for _, c := range run.Checks {
			i, ok := index[c.Name]
			if !ok {
				i = len(rows)
				index[c.Name] = i
				row := htmlCheckRow{Name: c.Name}
				for j := range runs {
					row.Cells = append(row.Cells, htmlCheckCell{Class: "check none run-" + hruns[j].ID, Icon: "–"})
				}
				rows = append(rows, row)
			}
			cell := htmlCheckCell{Class: "check pass run-" + hruns[ri].ID, Icon: "✓", Detail: c.Detail}
			if !c.Passed {
				cell.Class, cell.Icon = "check fail run-"+hruns[ri].ID, "✗"
			}
			rows[i].Cells[ri] = cell
		}
	}
	return rows
}

// totalsRows are the rows of the runs table: every field of Totals.
func totalsRows(runs []Run) []htmlRow {
	var rows []htmlRow
	group := func(name string) { rows = append(rows, htmlRow{Group: name}) }
	add := func(label, note string, sub bool, f func(r *Run) htmlCell) {
		row := htmlRow{Label: label, Note: note, Sub: sub}
		for i := range runs {
			row.Cells = append(row.Cells, f(&runs[i]))
		}
		rows = append(rows, row)
	}
	n := func(f func(t *Totals) int) func(r *Run) htmlCell {
		return func(r *Run) htmlCell { return htmlCell{Text: fmtInt(int64(f(&r.Totals)))} }
	}
	group("Calls")
	add("calls", "every call the clients made", false, n(func(t *Totals) int { return t.Calls }))
	add("acked", "answered with a commit", true, n(func(t *Totals) int { return t.Acked }))
	add("maybe", "no answer: lost to a kill, a reset or a timeout", true, n(func(t *Totals) int { return t.Maybe }))
	add("refused", "answered with an error, nothing committed", true, n(func(t *Totals) int { return t.Refused }))
	add("read-only", "answered without a txid", true, n(func(t *Totals) int { return t.ReadOnly }))
	add("transactions", "records on the final path (both sites agree)", false, n(func(t *Totals) int { return t.Transactions }))

	group("Conflicts and repair")
	add("conflicts", "conflicts detected, from the instances' conflict logs", false, func(r *Run) htmlCell {
		return htmlCell{Text: fmtInt(int64(sumConflicts(r.Totals.Conflicts)))}
	})
	for _, k := range conflictKeys(runs) {
		add(k+" check", "conflicts found by the "+k+" check", true, func(r *Run) htmlCell {
			return htmlCell{Text: fmtInt(int64(r.Totals.Conflicts[k]))}
		})
	}
	add("rollbacks", "rollbacks of the vassal", false, n(func(t *Totals) int { return t.Rollbacks }))
	add("rolled off", "records the rollbacks rolled off", true, n(func(t *Totals) int { return t.RolledOff }))
	add("reprocessed", "the liege's reconciliation records: reprocessed", false, n(func(t *Totals) int { return t.Reprocessed }))
	add("corrected", "the liege's reconciliation records: corrected", false, n(func(t *Totals) int { return t.Corrected }))
	add("per 1,000 acked", "corrections per 1,000 acknowledged calls", true, func(r *Run) htmlCell {
		return htmlCell{Text: fmt.Sprintf("%.2f", r.Totals.CorrectionsPer1000)}
	})

	group("Latency (p50 / p99, calls)")
	for s, site := range []string{"liege", "vassal"} {
		add(site+" local", "acknowledged calls committed at the "+site, false, func(r *Run) htmlCell { return htmlCell{Text: fmtLatency(r.Latency[s].Local)} })
		add(site+" forwarded", "acknowledged calls the "+site+" forwarded to the liege (DESIGN.md section 13)", false, func(r *Run) htmlCell {
			return htmlCell{Text: fmtLatency(r.Latency[s].Forwarded)}
		})
	}

	group("Replication")
	add("max lag", "highest replication lag seen, either direction", false, func(r *Run) htmlCell {
		return htmlCell{Text: fmtUint(r.Totals.MaxLag) + " tx"}
	})
	add("max window", "largest detection window", false, n(func(t *Totals) int { return t.MaxWindow }))

	group("Faults and checks")
	add("faults injected", "fault events", false, n(func(t *Totals) int { return t.FaultsInjected }))
	add("clock refusals", "handshakes refused for a clock beyond the bound (expected)", true, n(func(t *Totals) int { return t.ClockRefused }))
	add("checks passed", "checks run on the stopped instances", false, func(r *Run) htmlCell {
		c := htmlCell{Text: fmt.Sprintf("%d / %d", r.Totals.ChecksPassed, r.Totals.ChecksRun)}
		switch {
		case r.Totals.ChecksPassed < r.Totals.ChecksRun && r.Merge == "lww":
			c.Class = "warn"
		case r.Totals.ChecksPassed < r.Totals.ChecksRun:
			c.Class = "bad"
		case r.Totals.ChecksRun > 0:
			c.Class = "good"
		}
		return c
	})
	add("wall time", "the run's wall time", false, func(r *Run) htmlCell {
		return htmlCell{Text: fmtSeconds(r.Totals.Seconds)}
	})
	return rows
}

// anomalyRows are the rows of the anomalies table: every field of
// Anomalies but the examples.
func anomalyRows(runs []Run) []htmlRow {
	var rows []htmlRow
	add := func(label, note string, f func(a *Anomalies) (string, bool)) {
		row := htmlRow{Label: label, Note: note}
		for i := range runs {
			text, bad := f(&runs[i].Anomalies)
			c := htmlCell{Text: text}
			if bad {
				c.Class = "bad"
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	count := func(f func(a *Anomalies) int) func(a *Anomalies) (string, bool) {
		return func(a *Anomalies) (string, bool) { v := f(a); return fmtInt(int64(v)), v != 0 }
	}
	add("total", "the number of anomalies (money drift and divergence count once)", count(func(a *Anomalies) int { return a.Total() }))
	add("double sold", "seats held by two tickets, no queue item naming the seat", count(func(a *Anomalies) int { return a.DoubleSold }))
	add("unflagged negative", "negative balances without an overdraft flag", count(func(a *Anomalies) int { return a.UnflaggedNegative }))
	add("money drift", "money created (+) or destroyed (−) beyond the acknowledged calls", func(a *Anomalies) (string, bool) {
		return fmtSigned(a.MoneyDrift), a.MoneyDrift != 0
	})
	add("money wrong", "accounts whose balance is not what the acknowledged calls give", count(func(a *Anomalies) int { return a.MoneyWrong }))
	add("vanished", "acknowledged transactions whose effect is not in the final state", count(func(a *Anomalies) int { return a.Vanished }))
	add("diverged", "the two sites' final states differ", func(a *Anomalies) (string, bool) {
		return yesNo(a.Diverged), a.Diverged
	})
	return rows
}

// The timeline chart. Every coordinate is computed here, in the SVG's
// viewBox units; the template only prints.

type svgChart struct {
	ID       string
	Label    string
	W, H     float64
	Patterns []svgPattern
	Panels   []svgRect
	Grid     []svgLine
	Texts    []svgText
	Bands    []svgRect
	Downs    []svgRect
	Commits  []svgPath
	Lags     []svgPath
	Dots     []svgCircle
	Hovers   []svgRect
	Faults   []svgRect
	Markers  []svgCircle
	Phases   []svgLine
	Axes     []svgLine
	Empty    *svgText

	kinds []string // the fault kinds of the lanes, in order
}

type svgPattern struct{ ID, Color string }

type svgRect struct {
	Class      string
	X, Y, W, H float64
	Fill       string
	Opacity    float64
	Title      string
}

type svgLine struct {
	Class          string
	X1, Y1, X2, Y2 float64
	Stroke         string
	Dash           string
	Title          string
}

type svgText struct {
	Class  string
	X, Y   float64
	Anchor string
	Rotate bool
	Text   string
	Title  string
}

type svgPath struct {
	Class, D, Stroke, Title string
}

type svgCircle struct {
	Class     string
	CX, CY, R float64
	Fill      string
	Title     string
}

func (c *svgChart) setPatternIDs() {
	for i := range c.Patterns {
		c.Patterns[i].ID = fmt.Sprintf("%s-down-%d", c.ID, i)
	}
	for i := range c.Downs {
		// Downs name their pattern by site index in their class.
		for s := range c.Patterns {
			if strings.Contains(c.Downs[i].Class, fmt.Sprintf("site-%d", s)) {
				c.Downs[i].Fill = "url(#" + c.Patterns[s].ID + ")"
			}
		}
	}
}

// Layout of the chart, in viewBox units.
const (
	chartW      = 1200.0
	chartLeft   = 128.0 // lane labels and y tick labels
	chartRight  = 18.0
	laneRowH    = 14.0
	laneGap     = 3.0
	commitsH    = 210.0
	eventRowH   = 17.0
	lagH        = 110.0
	sectionGap  = 12.0
	phaseLabelH = 15.0
)

// finite replaces NaN and infinities by zero.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// niceStep is a round step (1, 2 or 5 times a power of ten) that cuts span
// into about n intervals.
func niceStep(span float64, n int) float64 {
	if !(span > 0) || math.IsInf(span, 0) || n < 1 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		return mag
	case f <= 2:
		return 2 * mag
	case f <= 5:
		return 5 * mag
	default:
		return 10 * mag
	}
}

// fmtTick formats an axis tick at v for a step.
func fmtTick(v, step float64) string {
	if step >= 1 || step <= 0 {
		if math.Abs(v) >= 10000 && math.Mod(v, 1000) == 0 {
			return fmtFloat(v/1000, 0) + "k"
		}
		return fmtFloat(v, 0)
	}
	dec := int(math.Ceil(-math.Log10(step) - 1e-9))
	return fmtFloat(v, dec)
}

// fmtSecondsTick formats a tick of the time axis.
func fmtSecondsTick(v, step float64) string {
	return fmtTick(v, step) + "s"
}

// buildChart lays out the timeline of a run.
func buildChart(run *Run, id string) *svgChart {
	c := &svgChart{ID: id, W: chartW, Label: "timeline of the " + runDesc(run.Merge) + " run"}
	samples := append([]Sample(nil), run.Timeline...)
	sort.SliceStable(samples, func(i, j int) bool { return finite(samples[i].T) < finite(samples[j].T) })

	// The time domain: every sample, fault and phase.
	tmax := 0.0
	for _, s := range samples {
		tmax = math.Max(tmax, finite(s.T))
	}
	for _, f := range run.Faults {
		tmax = math.Max(tmax, math.Max(finite(f.StartS), finite(f.EndS)))
	}
	for _, v := range []float64{run.LoadS, run.HealedS, run.IdleS} {
		tmax = math.Max(tmax, finite(v))
	}
	if tmax <= 0 {
		tmax = 1
	}
	x0, x1 := chartLeft, chartW-chartRight
	xOf := func(t float64) float64 {
		t = math.Min(math.Max(finite(t), 0), tmax)
		return x0 + t/tmax*(x1-x0)
	}

	// Vertical layout.
	y := 6.0
	phaseTop := y
	phases := []struct {
		class, label string
		t            float64
	}{
		{"load", "load stopped", run.LoadS},
		{"healed", "healed", run.HealedS},
		{"idle", "idle", run.IdleS},
	}
	sort.SliceStable(phases, func(i, j int) bool { return finite(phases[i].t) < finite(phases[j].t) })
	// Phase labels take one or two rows, so that close ones do not overlap.
	type placed struct{ x0, x1 float64 }
	var rowsUsed [3][]placed
	phaseRows := 0
	type phaseLabel struct {
		row  int
		x    float64
		anch string
		text string
		cls  string
		t    float64
	}
	var plabels []phaseLabel
	for _, ph := range phases {
		if !(finite(ph.t) > 0) {
			continue
		}
		px := xOf(ph.t)
		text := ph.label + " " + fmtFloat(ph.t, 1) + "s"
		w := float64(len(text))*7 + 4
		lx, anch, lo, hi := px+4, "start", px, px+w
		if hi > x1 {
			lx, anch, lo, hi = px-4, "end", px-w, px
		}
		row := len(rowsUsed) - 1
		for r := range rowsUsed {
			ok := true
			for _, u := range rowsUsed[r] {
				if lo < u.x1+8 && hi > u.x0-8 {
					ok = false
				}
			}
			if ok {
				row = r
				break
			}
		}
		rowsUsed[row] = append(rowsUsed[row], placed{lo, hi})
		phaseRows = max(phaseRows, row+1)
		plabels = append(plabels, phaseLabel{row, lx, anch, text, ph.class, ph.t})
	}
	y += float64(phaseRows)*phaseLabelH + 4

	// Fault lanes: one row per kind.
	kindRow := map[string]int{}
	for _, k := range faultOrder {
		for _, f := range run.Faults {
			if f.Kind == k {
				kindRow[k] = len(c.kinds)
				c.kinds = append(c.kinds, k)
				break
			}
		}
	}
	for _, f := range run.Faults {
		if _, ok := kindRow[f.Kind]; !ok {
			kindRow[f.Kind] = len(c.kinds)
			c.kinds = append(c.kinds, f.Kind)
		}
	}
	laneTop := y
	if len(c.kinds) > 0 {
		y += float64(len(c.kinds))*(laneRowH+laneGap) + sectionGap
	}
	commitsTop := y
	y += commitsH + sectionGap
	eventsTop := y
	y += 3*eventRowH + sectionGap
	lagTop := y
	y += lagH
	plotBottom := y
	c.H = y + 42

	// Panels and their frames.
	for _, p := range []struct{ top, h float64 }{{commitsTop, commitsH}, {eventsTop, 3 * eventRowH}, {lagTop, lagH}} {
		c.Panels = append(c.Panels, svgRect{Class: "panel", X: x0, Y: p.top, W: x1 - x0, H: p.h, Fill: "#ffffff"})
	}

	// The time axis: ticks and vertical grid across all panels.
	xstep := niceStep(tmax, 10)
	for t := 0.0; t <= tmax+xstep*1e-6; t += xstep {
		px := xOf(t)
		c.Grid = append(c.Grid, svgLine{Class: "grid", X1: px, Y1: laneTop, X2: px, Y2: plotBottom, Stroke: "#e2e8f0"})
		c.Axes = append(c.Axes, svgLine{Class: "tick", X1: px, Y1: plotBottom, X2: px, Y2: plotBottom + 5, Stroke: "#64748b"})
		c.Texts = append(c.Texts, svgText{Class: "tick-label", X: px, Y: plotBottom + 17, Anchor: "middle", Text: fmtSecondsTick(t, xstep)})
	}
	c.Axes = append(c.Axes, svgLine{Class: "axis", X1: x0, Y1: plotBottom, X2: x1, Y2: plotBottom, Stroke: "#64748b"})
	c.Texts = append(c.Texts, svgText{Class: "x-title", X: (x0 + x1) / 2, Y: plotBottom + 35, Anchor: "middle", Text: "seconds since the start of the run"})

	// Fault lanes, and faint bands behind the data panels.
	for i, k := range c.kinds {
		ry := laneTop + float64(i)*(laneRowH+laneGap)
		c.Panels = append(c.Panels, svgRect{Class: "lane", X: x0, Y: ry, W: x1 - x0, H: laneRowH, Fill: "#f8fafc"})
		c.Texts = append(c.Texts, svgText{Class: "lane-label", X: x0 - 8, Y: ry + laneRowH - 3.5, Anchor: "end", Text: k})
	}
	for _, f := range run.Faults {
		row := kindRow[f.Kind]
		ry := laneTop + float64(row)*(laneRowH+laneGap)
		start, end := finite(f.StartS), finite(f.EndS)
		col := faultColor(f.Kind)
		title := faultTitle(f)
		if end > start {
			fx, fw := xOf(start), math.Max(xOf(end)-xOf(start), 1.5)
			c.Faults = append(c.Faults, svgRect{Class: "fault " + htmlID(f.Kind), X: fx, Y: ry, W: fw, H: laneRowH, Fill: col, Opacity: 0.85, Title: title})
			c.Bands = append(c.Bands,
				svgRect{Class: "fault-band", X: fx, Y: commitsTop, W: fw, H: commitsH, Fill: col, Opacity: 0.07},
				svgRect{Class: "fault-band", X: fx, Y: lagTop, W: fw, H: lagH, Fill: col, Opacity: 0.07})
		} else {
			fx := xOf(start)
			c.Faults = append(c.Faults, svgRect{Class: "fault instant " + htmlID(f.Kind), X: fx - 1.25, Y: ry - 1, W: 2.5, H: laneRowH + 2, Fill: col, Opacity: 1, Title: title})
			c.Bands = append(c.Bands,
				svgRect{Class: "fault-band instant", X: fx - 0.5, Y: commitsTop, W: 1, H: commitsH, Fill: col, Opacity: 0.35},
				svgRect{Class: "fault-band instant", X: fx - 0.5, Y: lagTop, W: 1, H: lagH, Fill: col, Opacity: 0.35})
		}
	}

	// Phase markers span everything.
	for _, pl := range plabels {
		px := xOf(pl.t)
		c.Phases = append(c.Phases, svgLine{Class: "phase " + pl.cls, X1: px, Y1: phaseTop + float64(pl.row)*phaseLabelH + 2, X2: px, Y2: plotBottom,
			Stroke: "#334155", Dash: "5 3", Title: pl.text})
		c.Texts = append(c.Texts, svgText{Class: "phase-label", X: pl.x, Y: phaseTop + float64(pl.row)*phaseLabelH + 10, Anchor: pl.anch, Text: pl.text})
	}

	// Panel titles.
	c.Texts = append(c.Texts,
		svgText{Class: "axis-title", X: 16, Y: commitsTop + commitsH/2, Anchor: "middle", Rotate: true, Text: "commits/s"},
		svgText{Class: "axis-title", X: 16, Y: lagTop + lagH/2, Anchor: "middle", Rotate: true, Text: "lag in (tx)"})

	if len(samples) == 0 {
		c.Empty = &svgText{Class: "no-samples", X: (x0 + x1) / 2, Y: commitsTop + commitsH/2, Anchor: "middle",
			Text: "no samples: the run recorded no timeline"}
		c.yAxis(commitsTop, commitsH, 1, false)
		c.yAxis(lagTop, lagH, 4, true)
		c.eventLanes(nil, eventsTop, xOf)
		return c
	}

	// Value domains.
	maxCommits, maxLag := 0.0, 0.0
	for _, s := range samples {
		for _, ss := range s.Sites {
			if ss.Up {
				maxCommits = math.Max(maxCommits, finite(ss.CommitsPerS))
				maxLag = math.Max(maxLag, float64(ss.LagIn))
			}
		}
	}
	cTop := c.yAxis(commitsTop, commitsH, maxCommits, false)
	lTop := c.yAxis(lagTop, lagH, maxLag, true)
	yC := func(v float64) float64 {
		v = math.Min(math.Max(finite(v), 0), cTop)
		return commitsTop + commitsH - v/cTop*commitsH
	}
	yL := func(v float64) float64 {
		v = math.Min(math.Max(finite(v), 0), lTop)
		return lagTop + lagH - v/lTop*lagH
	}

	for si := 0; si < 2; si++ {
		label := siteLabel(run.Sites[si], si)
		col := siteColors[si]
		cls := fmt.Sprintf("site-%d", si)
		cd, cDots := seriesPath(samples, si, xOf, func(ss SiteSample) float64 { return yC(ss.CommitsPerS) })
		ld, lDots := seriesPath(samples, si, xOf, func(ss SiteSample) float64 { return yL(float64(ss.LagIn)) })
		c.Commits = append(c.Commits, svgPath{Class: "commits " + cls, D: cd, Stroke: col, Title: label + ": commits/s"})
		c.Lags = append(c.Lags, svgPath{Class: "lag " + cls, D: ld, Stroke: col, Title: label + ": lag in (transactions of the peer not yet applied)"})
		for _, p := range cDots {
			c.Dots = append(c.Dots, svgCircle{Class: "point " + cls, CX: p[0], CY: p[1], R: 2, Fill: col})
		}
		for _, p := range lDots {
			c.Dots = append(c.Dots, svgCircle{Class: "point " + cls, CX: p[0], CY: p[1], R: 2, Fill: col})
		}

		// Down intervals: from the last sample up to the next one up.
		pat := fmt.Sprintf("%s-down-%d", c.ID, si)
		c.Patterns = append(c.Patterns, svgPattern{ID: pat, Color: col})
		for i := 0; i < len(samples); {
			if samples[i].Sites[si].Up {
				i++
				continue
			}
			j := i
			for j < len(samples) && !samples[j].Sites[si].Up {
				j++
			}
			from := samples[i].T
			if i > 0 {
				from = samples[i-1].T
			}
			to := samples[len(samples)-1].T
			if j < len(samples) {
				to = samples[j].T
			}
			fx, tx := xOf(from), xOf(to)
			title := fmt.Sprintf("%s down: no answer from %s s to %s s", label, fmtFloat(finite(from), 1), fmtFloat(finite(to), 1))
			for _, p := range []struct{ top, h float64 }{{commitsTop, commitsH}, {lagTop, lagH}} {
				c.Downs = append(c.Downs, svgRect{Class: "down " + cls, X: fx, Y: p.top, W: math.Max(tx-fx, 2), H: p.h,
					Fill: "url(#" + pat + ")", Title: title})
			}
			name := run.Sites[si].ID
			if name == "" {
				name = fmt.Sprintf("site %d", si+1)
			}
			c.Texts = append(c.Texts, svgText{Class: "down-label", X: math.Min(math.Max((fx+tx)/2, x0+30), x1-30), Y: commitsTop + 12 + float64(si)*12, Anchor: "middle",
				Text: name + " down", Title: title})
			i = j
		}
	}

	c.eventLanes(samples, eventsTop, xOf)

	// Hover columns: one per sample over the data panels, with every
	// figure of the sample as its tooltip.
	for i, s := range samples {
		lo, hi := x0, x1
		if i > 0 {
			lo = (xOf(samples[i-1].T) + xOf(s.T)) / 2
		}
		if i < len(samples)-1 {
			hi = (xOf(s.T) + xOf(samples[i+1].T)) / 2
		}
		if hi-lo < 0.5 {
			continue
		}
		title := sampleTitle(run, s)
		c.Hovers = append(c.Hovers,
			svgRect{Class: "hover", X: lo, Y: commitsTop, W: hi - lo, H: commitsH, Title: title},
			svgRect{Class: "hover", X: lo, Y: lagTop, W: hi - lo, H: lagH, Title: title})
	}
	return c
}

// yAxis draws the ticks and grid of a panel for values up to maxV, and
// returns the top of its scale. integer keeps the steps whole.
func (c *svgChart) yAxis(top, h, maxV float64, integer bool) float64 {
	if integer {
		maxV = math.Max(maxV, 4)
	} else if !(maxV > 0) {
		maxV = 1
	}
	step := niceStep(maxV, 4)
	if integer {
		step = math.Max(step, 1)
	}
	scale := math.Ceil(maxV/step-1e-9) * step
	if scale <= 0 {
		scale = step
	}
	x0, x1 := chartLeft, chartW-chartRight
	for v := 0.0; v <= scale+step*1e-6; v += step {
		py := top + h - v/scale*h
		if v > 0 {
			c.Grid = append(c.Grid, svgLine{Class: "grid", X1: x0, Y1: py, X2: x1, Y2: py, Stroke: "#e2e8f0"})
		}
		c.Texts = append(c.Texts, svgText{Class: "tick-label", X: x0 - 6, Y: py + 4, Anchor: "end", Text: fmtTick(v, step)})
	}
	return scale
}

// eventLanes draws the conflict, rollback and reconciliation markers: a
// circle at each sample with a count, its area proportional to the count.
func (c *svgChart) eventLanes(samples []Sample, top float64, xOf func(float64) float64) {
	kinds := []struct {
		class, label, noun string
		count              func(ss SiteSample) int
	}{
		{"conflict", "conflicts", "conflicts", func(ss SiteSample) int { return ss.Conflicts }},
		{"rollback", "rollbacks", "rollbacks", func(ss SiteSample) int { return ss.Rollbacks }},
		{"reconcile", "reconciled", "reconciled", func(ss SiteSample) int { return ss.Reconciled }},
	}
	x0, x1 := chartLeft, chartW-chartRight
	for k, kind := range kinds {
		cy := top + float64(k)*eventRowH + eventRowH/2
		total, maxN := 0, 0
		for _, s := range samples {
			n := kind.count(s.Sites[0]) + kind.count(s.Sites[1])
			total += n
			maxN = max(maxN, n)
		}
		if k > 0 {
			c.Grid = append(c.Grid, svgLine{Class: "lane-sep", X1: x0, Y1: top + float64(k)*eventRowH, X2: x1, Y2: top + float64(k)*eventRowH, Stroke: "#eef2f7"})
		}
		c.Texts = append(c.Texts, svgText{Class: "lane-label", X: x0 - 8, Y: cy + 4, Anchor: "end",
			Text: kind.label + " (" + fmtInt(int64(total)) + ")"})
		for _, s := range samples {
			a, b := kind.count(s.Sites[0]), kind.count(s.Sites[1])
			n := a + b
			if n <= 0 {
				continue
			}
			r := 2.2 + 5.3*math.Sqrt(float64(n)/float64(maxN))
			title := fmt.Sprintf("%s s: %s %s (%s %s, %s %s)", fmtFloat(finite(s.T), 1), fmtInt(int64(n)), kind.noun,
				"liege", fmtInt(int64(a)), "vassal", fmtInt(int64(b)))
			c.Markers = append(c.Markers, svgCircle{Class: "marker " + kind.class, CX: xOf(s.T), CY: cy, R: r,
				Fill: markerColors[kind.class], Title: title})
		}
	}
}

// seriesPath is the SVG path of one site's series, broken where the site
// is down, and the isolated points (a sample up between two down) that a
// path would not show.
func seriesPath(samples []Sample, si int, xOf func(float64) float64, yOf func(SiteSample) float64) (string, [][2]float64) {
	var b strings.Builder
	var dots [][2]float64
	run := 0
	var first [2]float64
	flush := func() {
		if run == 1 {
			dots = append(dots, first)
		}
		run = 0
	}
	for _, s := range samples {
		ss := s.Sites[si]
		if !ss.Up {
			flush()
			continue
		}
		px, py := xOf(s.T), yOf(ss)
		if run == 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "M%s,%s", svgNum(px), svgNum(py))
			first = [2]float64{px, py}
		} else {
			fmt.Fprintf(&b, " L%s,%s", svgNum(px), svgNum(py))
		}
		run++
	}
	flush()
	return b.String(), dots
}

// faultTitle is the tooltip of a fault.
func faultTitle(f FaultEvent) string {
	var b strings.Builder
	b.WriteString(f.Kind)
	if f.Target != "" {
		b.WriteString(" · " + f.Target)
	}
	if f.EndS > f.StartS {
		fmt.Fprintf(&b, " · %s–%s s (%s)", fmtFloat(f.StartS, 1), fmtFloat(f.EndS, 1), fmtSeconds(f.EndS-f.StartS))
	} else {
		fmt.Fprintf(&b, " · at %s s", fmtFloat(f.StartS, 1))
	}
	if f.Detail != "" {
		b.WriteString(" · " + f.Detail)
	}
	return b.String()
}

// sampleTitle is the tooltip of a sample: both sites' figures.
func sampleTitle(run *Run, s Sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t = %s s", fmtFloat(finite(s.T), 1))
	for i, ss := range s.Sites {
		b.WriteString("\n" + siteLabel(run.Sites[i], i) + ": ")
		if !ss.Up {
			b.WriteString("down")
			continue
		}
		fmt.Fprintf(&b, "%s commits/s, lag %s tx (%s s), window %s",
			fmtFloat(ss.CommitsPerS, 1), fmtUint(ss.LagIn), fmtFloat(ss.LagS, 2), fmtInt(int64(ss.Window)))
		var ev []string
		if ss.Conflicts > 0 {
			ev = append(ev, plural(ss.Conflicts, "conflict", "conflicts"))
		}
		if ss.Rollbacks > 0 {
			ev = append(ev, plural(ss.Rollbacks, "rollback", "rollbacks"))
		}
		if ss.Reconciled > 0 {
			ev = append(ev, fmtInt(int64(ss.Reconciled))+" reconciled")
		}
		if ss.ReconPending > 0 {
			ev = append(ev, fmtInt(int64(ss.ReconPending))+" recon pending")
		}
		if len(ev) > 0 {
			b.WriteString(", " + strings.Join(ev, ", "))
		}
	}
	return b.String()
}

// svgNum formats a coordinate with at most one decimal.
func svgNum(v float64) string {
	v = math.Round(finite(v)*10) / 10
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"n": svgNum,
	"rot": func(t svgText) string {
		return fmt.Sprintf("rotate(-90 %s %s)", svgNum(t.X), svgNum(t.Y))
	},
}).Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
:root {
  --ink: #0f172a; --ink2: #334155; --mute: #64748b; --line: #e2e8f0; --bg: #f1f5f9;
  --card: #ffffff; --good: #15803d; --good-bg: #dcfce7; --bad: #b91c1c; --bad-bg: #fee2e2;
  --warn: #a16207; --warn-bg: #fef3c7;
  --sans: "Inter", "Segoe UI", "Helvetica Neue", "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
  --mono: "JetBrains Mono", "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; color: var(--ink); font: 14px/1.45 var(--sans); }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 26px; margin: 2px 0 2px; letter-spacing: -0.01em; }
h1 .seed { font-weight: 400; color: var(--mute); font-size: 20px; }
h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 0 0 10px; display: flex; align-items: baseline; gap: 10px; }
section { margin-top: 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; box-shadow: 0 1px 2px rgba(15,23,42,.04); }
.top { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; }
.top .head { flex: 1; min-width: 0; }
.kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 11px; color: var(--mute); font-weight: 600; }
.sub { color: var(--mute); font-size: 13px; }
.verdict { width: 300px; flex: none; border-radius: 10px; padding: 14px 20px 16px; border: 2px solid; }
.verdict.pass { background: var(--good-bg); color: var(--good); border-color: #86efac; }
.verdict.fail { background: var(--bad-bg); color: var(--bad); border-color: #fca5a5; }
.verdict .kicker { color: inherit; opacity: .8; }
.verdict-word { font-size: 46px; font-weight: 800; letter-spacing: .06em; line-height: 1.05; margin: 2px 0 6px; }
.verdict-note { font-size: 13px; color: var(--ink2); font-variant-numeric: tabular-nums; }
.facts { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 10px 20px; margin: 14px 0 0; }
.facts dt { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); font-weight: 600; }
.facts dd { margin: 0; font-size: 16px; font-weight: 600; font-variant-numeric: tabular-nums; }
.facts .wide { grid-column: 1 / -1; }
.chip { display: inline-flex; align-items: center; gap: 5px; border: 1px solid var(--line); border-radius: 999px; padding: 1px 9px 1px 7px; margin: 2px 6px 2px 0; font-size: 13px; font-weight: 500; background: #f8fafc; }
.cmd { margin-top: 14px; }
.cmd .label { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); font-weight: 600; margin-bottom: 3px; }
pre { margin: 0; font: 12.5px/1.5 var(--mono); white-space: pre-wrap; overflow-wrap: anywhere; }
#command { background: #0f172a; color: #e2e8f0; border-radius: 8px; padding: 10px 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { text-align: left; border-bottom: 2px solid var(--line); }
th.num, td.num { text-align: right; }
table.cmp thead th { text-align: right; }
table.cmp tbody th { text-align: left; font-weight: 500; color: var(--ink2); width: 44%; }
table.cmp td { text-align: right; font-family: var(--mono); font-size: 13px; }
table.cmp tr.sub th { padding-left: 26px; color: var(--mute); font-weight: 400; }
table.cmp tr.group th { background: #f8fafc; color: var(--mute); font-size: 11px; text-transform: uppercase; letter-spacing: .06em; font-weight: 700; padding-top: 8px; }
td.bad { color: var(--bad); font-weight: 700; }
td.good { color: var(--good); font-weight: 600; }
td.warn { color: var(--warn); font-weight: 600; }
.run-name { font-size: 15px; font-weight: 700; font-family: var(--mono); }
.run-desc { font-size: 12px; color: var(--mute); font-weight: 400; }
.badge { display: inline-block; font-size: 11px; font-weight: 800; letter-spacing: .06em; border-radius: 4px; padding: 1px 7px; margin-top: 3px; }
.badge.pass { background: var(--good-bg); color: var(--good); }
.badge.fail { background: var(--bad-bg); color: var(--bad); }
.badge.fail.expected { background: var(--warn-bg); color: var(--warn); }
.grid { display: grid; gap: 16px; }
.grid.cols-2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.grid.cols-3 { grid-template-columns: repeat(3, minmax(0, 1fr)); }
.failure { border: 1px solid #fecaca; border-left: 5px solid var(--bad); background: #fff7f7; padding: 10px 14px; border-radius: 8px; margin-top: 16px; }
.failure.expected { border-color: #fde68a; }
.failure.expected { border-left-color: #f59e0b; background: #fffbeb; }
.failure .what { font-weight: 700; font-size: 13px; margin-bottom: 3px; }
.stack { display: flex; flex-direction: column; gap: 16px; }
table.checks tbody th { font-weight: 600; color: var(--ink); }
table.checks thead th { text-align: left; }
table.checks td.check { text-align: left; }
td.check .icon { display: inline-block; width: 20px; height: 20px; border-radius: 50%; text-align: center; font: 800 13px/20px var(--sans); }
td.check.pass .icon { background: var(--good-bg); color: var(--good); }
td.check.fail .icon { background: var(--bad-bg); color: var(--bad); }
td.check.none .icon { color: var(--mute); }
td.check .detail { color: var(--ink2); font-size: 11.5px; font-family: var(--mono); white-space: pre-wrap; word-break: break-word; margin-top: 2px; }
.note { color: var(--mute); font-size: 12.5px; margin: 8px 0 0; }
.count { font-weight: 500; color: var(--mute); font-size: 13px; }
.top-note { margin: -6px 0 10px; }
.examples-h { font-weight: 700; font-size: 13px; }
div.examples { margin-top: 12px; }
ul.examples { margin: 2px 0 0; padding-left: 18px; font: 12.5px/1.5 var(--mono); color: var(--ink2); }
table.sites { font-size: 13px; }
table.sites thead th { font-size: 14px; }
table.sites .role { color: var(--mute); font-weight: 400; font-size: 12.5px; }
table.sites tbody th { text-align: left; font-weight: 500; color: var(--ink2); width: 34%; }
table.sites td { text-align: left; }
td.mono { font-family: var(--mono); font-size: 12px; }
td.hash.same { color: var(--good); }
td.hash.differ { color: var(--bad); font-weight: 700; }
.swatch { display: inline-block; vertical-align: middle; }
.dir { margin: 8px 0 0; font: 12px var(--mono); color: var(--mute); word-break: break-all; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12.5px; color: var(--ink2); margin: 0 0 8px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
svg.timeline { display: block; width: 100%; height: auto; }
svg.timeline text { font-family: var(--sans); font-size: 11px; fill: #475569; }
svg.timeline text.lane-label { fill: #334155; font-size: 11px; }
svg.timeline text.axis-title { font-size: 11px; font-weight: 700; fill: #334155; text-transform: uppercase; letter-spacing: .05em; }
svg.timeline text.x-title { font-size: 12px; fill: #334155; }
svg.timeline text.phase-label { fill: #1e293b; font-weight: 600; }
svg.timeline text.down-label { font-weight: 700; fill: #475569; }
svg.timeline text.no-samples { font-size: 15px; fill: #64748b; font-style: italic; }
svg.timeline .hover { fill: transparent; }
svg.timeline .hover:hover { fill: rgba(15, 23, 42, .06); }
svg.timeline rect.fault:hover, svg.timeline circle.marker:hover { stroke: #0f172a; stroke-width: 1.5; }
table.faults td { font-size: 12.5px; }
table.faults td.num { font-family: var(--mono); }
table.faults td.kind { white-space: nowrap; }
details summary { cursor: pointer; color: var(--ink2); font-weight: 600; margin-top: 12px; }
details table { margin-top: 6px; }
footer { color: var(--mute); font-size: 12px; margin-top: 28px; text-align: center; }
@media (max-width: 900px) { .grid.cols-2, .grid.cols-3 { grid-template-columns: 1fr; } .facts { grid-template-columns: repeat(2, 1fr); } .top { flex-direction: column; } .verdict { width: auto; align-self: stretch; } }
@media print { html { background: #fff; } .card { box-shadow: none; } }
</style>
</head>
<body>
<main>
<header class="top">
  <div class="card head">
    <div class="kicker">liege inject · conflict-injection report</div>
    <h1>{{.App}} <span class="seed">seed {{.Seed}}</span></h1>
    <div class="sub">{{.Subtitle}}</div>
    <dl class="facts">
      {{range .Facts}}<div><dt>{{.K}}</dt><dd>{{.V}}</dd></div>
      {{end}}<div class="wide"><dt>Faults</dt><dd id="fault-kinds">{{range .Faults}}<span class="chip"><svg class="swatch" width="10" height="10" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4.5" fill="{{.Color}}"/></svg>{{.Name}}</span>{{else}}<span class="note">none</span>{{end}}</dd></div>
    </dl>
    <div class="cmd"><div class="label">Reproduce</div><pre id="command">{{if .Command}}{{.Command}}{{else}}(not recorded){{end}}</pre></div>
  </div>
  <div id="verdict" class="verdict {{.VerdictClass}}">
    <div class="kicker">verdict</div>
    <div class="verdict-word">{{.Verdict}}</div>
    {{range .VerdictNotes}}<div class="verdict-note">{{.}}</div>{{end}}
  </div>
</header>
{{if .Runs}}
{{range .Runs}}{{if .Failure}}<div class="failure{{if .Baseline}} expected{{end}}" id="failure-{{.ID}}"><div class="what">{{.Merge}}: first violation{{if .Baseline}} <span class="count">(the baseline is expected to fail)</span>{{end}}</div><pre>{{.Failure}}</pre></div>
{{end}}{{end}}
<div class="grid cols-2 tables">
<section id="runs" class="card">
  <h2>Runs</h2>
  <table id="totals" class="cmp">
    <thead><tr><th></th>{{range .Runs}}<th class="run-h" id="run-{{.ID}}"><div class="run-name">{{.Merge}}</div><div class="run-desc">{{.Desc}}</div><span class="badge {{.VerdictClass}}">{{.Verdict}}{{if .Baseline}}{{if ne .Verdict "PASS"}} · expected{{end}}{{end}}</span></th>{{end}}</tr></thead>
    <tbody>
    {{range .Totals}}{{template "row" .}}{{end}}
    </tbody>
  </table>
</section>
<div class="stack">
<section id="anomalies-section" class="card">
  <h2>Anomalies <span class="count">business errors a user would see in the final state</span></h2>
  <table id="anomalies" class="cmp">
    <thead><tr><th></th>{{range .Runs}}<th><div class="run-name">{{.Merge}}</div><div class="run-desc">{{.Desc}}</div></th>{{end}}</tr></thead>
    <tbody>
    {{range .Anomalies}}{{template "row" .}}{{end}}
    </tbody>
  </table>
  {{if .AnyExamples}}{{range .Runs}}{{if .Examples}}<div id="examples-{{.ID}}" class="examples"><div class="examples-h">Examples · <span class="run-name">{{.Merge}}</span></div><ul class="examples">{{range .Examples}}<li>{{.}}</li>{{end}}</ul></div>
  {{end}}{{end}}{{end}}
</section>
<section id="checks-section" class="card">
  <h2>Checks <span class="count">run on the stopped instances{{if .HasBaseline}}; informative for the lww baseline{{end}}</span></h2>
  <table id="checks" class="cmp checks">
    <thead><tr><th></th>{{range .Runs}}<th id="checks-{{.ID}}"><div class="run-name">{{.Merge}}</div><div class="run-desc">{{.ChecksLabel}}</div></th>{{end}}</tr></thead>
    <tbody>
    {{range .Checks}}<tr><th>{{.Name}}</th>{{range .Cells}}<td class="{{.Class}}"><span class="icon">{{.Icon}}</span>{{if .Detail}}<div class="detail">{{.Detail}}</div>{{end}}</td>{{end}}</tr>
    {{else}}<tr><td colspan="99" class="note">no check ran</td></tr>
    {{end}}</tbody>
  </table>
</section>
</div>
</div>

{{range .Runs}}
<section class="card run-timeline" id="timeline-section-{{.ID}}">
  <h2>Timeline · <span class="run-name">{{.Merge}}</span> <span class="count">{{.Desc}} · hover a column for the sample's figures, a fault for its detail</span></h2>
  <div class="legend">{{range .Legend}}<span{{if .Title}} title="{{.Title}}"{{end}}>{{template "swatch" .}}{{.Label}}</span>{{end}}</div>
  {{template "chart" .Chart}}
  {{if .FaultRows}}<details{{if .FaultsOpen}} open=""{{end}}>
    <summary>{{len .FaultRows}} fault events</summary>
    <table class="faults" id="faults-{{.ID}}">
      <thead><tr><th class="num">#</th><th>Kind</th><th>Target</th><th class="num">Start (s)</th><th class="num">End (s)</th><th class="num">Duration</th><th>Detail</th></tr></thead>
      <tbody>
      {{range .FaultRows}}<tr><td class="num">{{.N}}</td><td class="kind"><svg class="swatch" width="10" height="10" viewBox="0 0 10 10"><rect width="10" height="10" rx="2" fill="{{.Color}}"/></svg> {{.Kind}}</td><td class="mono">{{.Target}}</td><td class="num">{{.Start}}</td><td class="num">{{.End}}</td><td class="num">{{.Dur}}</td><td>{{.Detail}}</td></tr>
      {{end}}</tbody>
    </table>
  </details>{{else}}<p class="note">No fault was injected in this run.</p>{{end}}
</section>
{{end}}

<section id="sites">
  <div class="grid cols-{{len .Runs}}">
  {{range .Runs}}<div class="card">
    <h3>Sites · <span class="run-name">{{.Merge}}</span></h3>
    <table class="sites" id="sites-{{.ID}}">
      <thead><tr><th></th>{{range .Sites}}<th class="site"><svg class="swatch" width="16" height="10" viewBox="0 0 16 10"><rect x="0" y="3" width="16" height="4" rx="2" fill="{{.Color}}"/></svg> {{.ID}} <span class="role">{{.Role}}</span></th>{{end}}</tr></thead>
      <tbody>
      <tr><th>HTTP</th>{{range .Sites}}<td class="mono">{{.HTTP}}</td>{{end}}</tr>
      <tr><th>peer link</th>{{range .Sites}}<td class="mono">{{if .Peer}}{{.Peer}}{{else}}–{{end}}</td>{{end}}</tr>
      <tr><th>processes started</th>{{range .Sites}}<td class="num">{{.Starts}}</td>{{end}}</tr>
      <tr><th>SIGKILLs</th>{{range .Sites}}<td class="num">{{.Kills}}</td>{{end}}</tr>
      <tr><th>commits on the final path</th>{{range .Sites}}<td class="num">{{.Commits}}</td>{{end}}</tr>
      <tr><th>state hash</th>{{range .Sites}}<td class="mono hash {{.HashClass}}" title="{{.HashFull}}">{{.Hash}}</td>{{end}}</tr>
      </tbody>
    </table>
    {{if .Dir}}<p class="dir">{{.Dir}}</p>{{end}}
  </div>
  {{end}}</div>
</section>
{{else}}
<section class="card"><p class="note">The report holds no run.</p></section>
{{end}}
<footer>liege inject · report.json holds every figure of this page</footer>
</main>
</body>
</html>
{{define "row"}}{{if .Group}}<tr class="group"><th colspan="99">{{.Group}}</th></tr>
{{else}}<tr{{if .Sub}} class="sub"{{end}}><th title="{{.Note}}">{{.Label}}</th>{{range .Cells}}<td{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}{{end}}
{{define "swatch"}}{{if eq .Kind "line"}}<svg class="swatch" width="22" height="10" viewBox="0 0 22 10"><line x1="1" y1="5" x2="21" y2="5" stroke="{{.Color}}" stroke-width="2.5" stroke-linecap="round"/></svg>{{else if eq .Kind "circle"}}<svg class="swatch" width="12" height="12" viewBox="0 0 12 12"><circle cx="6" cy="6" r="5" fill="{{.Color}}" fill-opacity="0.8"/></svg>{{else if eq .Kind "dash"}}<svg class="swatch" width="22" height="10" viewBox="0 0 22 10"><line x1="1" y1="5" x2="21" y2="5" stroke="{{.Color}}" stroke-width="1.5" stroke-dasharray="5 3"/></svg>{{else if eq .Kind "hatch"}}<svg class="swatch" width="16" height="12" viewBox="0 0 16 12"><rect width="16" height="12" fill="#f1f5f9" stroke="#94a3b8"/><path d="M0,12 L12,0 M4,12 L16,0 M-4,8 L4,0" stroke="{{.Color}}" stroke-width="1.5"/></svg>{{else}}<svg class="swatch" width="16" height="10" viewBox="0 0 16 10"><rect width="16" height="10" rx="2" fill="{{.Color}}" fill-opacity="0.85"/></svg>{{end}}{{end}}
{{define "chart"}}<svg id="{{.ID}}" class="timeline" viewBox="0 0 {{n .W}} {{n .H}}" role="img" aria-label="{{.Label}}">
<defs>{{range .Patterns}}<pattern id="{{.ID}}" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="7" height="7" fill="{{.Color}}" fill-opacity="0.05"/><line x1="0" y1="0" x2="0" y2="7" stroke="{{.Color}}" stroke-width="2.2" stroke-opacity="0.3"/></pattern>{{end}}</defs>
<g class="panels">{{range .Panels}}<rect class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" width="{{n .W}}" height="{{n .H}}" fill="{{.Fill}}" stroke="#cbd5e1" stroke-width="0.8"/>{{end}}</g>
<g class="bands">{{range .Bands}}<rect class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" width="{{n .W}}" height="{{n .H}}" fill="{{.Fill}}" fill-opacity="{{.Opacity}}"/>{{end}}</g>
<g class="grid">{{range .Grid}}<line class="{{.Class}}" x1="{{n .X1}}" y1="{{n .Y1}}" x2="{{n .X2}}" y2="{{n .Y2}}" stroke="{{.Stroke}}" stroke-width="0.8"/>{{end}}</g>
<g class="downs">{{range .Downs}}<rect class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" width="{{n .W}}" height="{{n .H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>{{end}}</g>
<g class="series">{{range .Lags}}<path class="{{.Class}}" d="{{.D}}" fill="none" stroke="{{.Stroke}}" stroke-width="1.6" stroke-linejoin="round" stroke-linecap="round"><title>{{.Title}}</title></path>{{end}}{{range .Commits}}<path class="{{.Class}}" d="{{.D}}" fill="none" stroke="{{.Stroke}}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"><title>{{.Title}}</title></path>{{end}}{{range .Dots}}<circle class="{{.Class}}" cx="{{n .CX}}" cy="{{n .CY}}" r="{{n .R}}" fill="{{.Fill}}"/>{{end}}</g>
<g class="axes">{{range .Axes}}<line class="{{.Class}}" x1="{{n .X1}}" y1="{{n .Y1}}" x2="{{n .X2}}" y2="{{n .Y2}}" stroke="{{.Stroke}}" stroke-width="1"/>{{end}}</g>
<g class="hovers">{{range .Hovers}}<rect class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" width="{{n .W}}" height="{{n .H}}" fill="transparent"><title>{{.Title}}</title></rect>{{end}}</g>
<g class="phases">{{range .Phases}}<line class="{{.Class}}" x1="{{n .X1}}" y1="{{n .Y1}}" x2="{{n .X2}}" y2="{{n .Y2}}" stroke="{{.Stroke}}" stroke-width="1.2" stroke-dasharray="{{.Dash}}"><title>{{.Title}}</title></line>{{end}}</g>
<g class="faults">{{range .Faults}}<rect class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" width="{{n .W}}" height="{{n .H}}" rx="2" fill="{{.Fill}}" fill-opacity="{{.Opacity}}"><title>{{.Title}}</title></rect>{{end}}</g>
<g class="markers">{{range .Markers}}<circle class="{{.Class}}" cx="{{n .CX}}" cy="{{n .CY}}" r="{{n .R}}" fill="{{.Fill}}" fill-opacity="0.8" stroke="#ffffff" stroke-width="0.8"><title>{{.Title}}</title></circle>{{end}}</g>
<g class="labels">{{range .Texts}}<text class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" text-anchor="{{.Anchor}}"{{if .Rotate}} transform="{{rot .}}"{{end}}>{{if .Title}}<title>{{.Title}}</title>{{end}}{{.Text}}</text>{{end}}</g>
{{with .Empty}}<text class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" text-anchor="{{.Anchor}}">{{.Text}}</text>{{end}}
</svg>{{end}}
`
