package inject

// This file holds the terminal side of the report: the summary table
// printed at the end of a run, the one-line progress display printed during
// it, and the number formatting the HTML report shares.

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/liege-db/liege/internal/tty"
)

// summaryWidth is the width the summary's free text is wrapped to.
const summaryWidth = 78

// WriteSummary writes the terminal summary of r: a table with one column
// per run (path, then lww), the first violation of every run that has one,
// and a final PASS or FAIL line. It fits in 80 columns.
func WriteSummary(w io.Writer, r *Report) {
	if r == nil {
		fmt.Fprintln(w, "FAIL: no report")
		return
	}
	fmt.Fprintln(w)
	for _, l := range wrapWords(summaryHeadline(r), summaryWidth, "  ") {
		fmt.Fprintln(w, l)
	}
	faults := "faults: none"
	if len(r.Faults) > 0 {
		faults = "faults: " + strings.Join(r.Faults, ", ")
	}
	for _, l := range wrapWords(faults, summaryWidth, "        ") {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)

	if len(r.Runs) > 0 {
		rows := summaryRows(r.Runs)
		labelW := 0
		for _, row := range rows {
			labelW = max(labelW, utf8.RuneCountInString(row.label))
		}
		// AlignRight right-aligns the numbers under their run's name. The
		// labels are padded to one width beforehand so that they stay
		// left-aligned, and the gap between columns is part of each value
		// cell, so that the first column is not indented.
		const gap = "   "
		tw := tabwriter.NewWriter(w, 0, 0, 0, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\t", padRight("", labelW))
		for _, run := range r.Runs {
			fmt.Fprintf(tw, "%s\t", gap+runName(run))
		}
		fmt.Fprintln(tw)
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t", padRight(row.label, labelW))
			for _, v := range row.vals {
				fmt.Fprintf(tw, "%s\t", gap+v)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}

	for _, run := range r.Runs {
		if run.Passed {
			continue
		}
		var head string
		switch {
		case run.Failure != "" && run.Merge == "lww":
			head = "lww baseline (expected to fail): " + run.Failure
		case run.Failure != "":
			head = "FAILED " + runName(run) + ": " + run.Failure
		case run.Merge == "lww":
			head = "lww baseline (expected to fail): " + failedChecks(run)
		default:
			head = "FAILED " + runName(run) + ": " + failedChecks(run)
		}
		for _, l := range wrapWords(head, summaryWidth, "    ") {
			fmt.Fprintln(w, l)
		}
	}
	fmt.Fprintln(w, verdictLine(r))
}

// summaryHeadline is the first line above the table: what was run (the
// faults follow on a line of their own).
func summaryHeadline(r *Report) string {
	var b strings.Builder
	b.WriteString("liege inject")
	if r.App != "" {
		b.WriteString(" " + r.App)
	}
	fmt.Fprintf(&b, ": seed %d, %s", r.Seed, fmtSeconds(r.DurationS))
	if r.Rate > 0 {
		fmt.Fprintf(&b, " at %s tx/s", fmtInt(int64(r.Rate)))
	}
	fmt.Fprintf(&b, ", contention %s", fmtFloat(r.Contention, 2))
	return b.String()
}

// verdictLine is the summary's last line.
func verdictLine(r *Report) string {
	if len(r.Runs) == 0 {
		if r.Passed {
			return "PASS"
		}
		return "FAIL: no run"
	}
	main := r.Runs[0]
	t := main.Totals
	checks := fmt.Sprintf("%d/%d checks passed", t.ChecksPassed, t.ChecksRun)
	anoms := "no anomalies"
	if n := main.Anomalies.Total(); n > 0 {
		anoms = plural(n, "anomaly", "anomalies")
	}
	var s string
	if r.Passed {
		s = fmt.Sprintf("PASS: %s run, %s, %s", runName(main), checks, anoms)
	} else {
		s = fmt.Sprintf("FAIL: %s run, %s, %s", runName(main), checks, anoms)
	}
	for _, run := range r.Runs[1:] {
		s += fmt.Sprintf("; %s %d/%d, %s", runName(run),
			run.Totals.ChecksPassed, run.Totals.ChecksRun,
			plural(run.Anomalies.Total(), "anomaly", "anomalies"))
	}
	return s
}

// failedChecks names the checks of run that failed.
func failedChecks(run Run) string {
	var names []string
	for _, c := range run.Checks {
		if !c.Passed {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return "failed"
	}
	return "failed " + strings.Join(names, "; ")
}

// summaryRow is one row of the terminal table: a label and one value per
// run.
type summaryRow struct {
	label string
	vals  []string
}

// summaryRows are the rows of the terminal table.
func summaryRows(runs []Run) []summaryRow {
	var rows []summaryRow
	add := func(label string, f func(r *Run) string) {
		row := summaryRow{label: label}
		for i := range runs {
			row.vals = append(row.vals, f(&runs[i]))
		}
		rows = append(rows, row)
	}
	num := func(f func(t *Totals) int) func(r *Run) string {
		return func(r *Run) string { return fmtInt(int64(f(&r.Totals))) }
	}
	add("transactions", num(func(t *Totals) int { return t.Transactions }))
	add("calls", num(func(t *Totals) int { return t.Calls }))
	add("  acked", num(func(t *Totals) int { return t.Acked }))
	add("  maybe", num(func(t *Totals) int { return t.Maybe }))
	add("  refused", num(func(t *Totals) int { return t.Refused }))
	add("  read-only", num(func(t *Totals) int { return t.ReadOnly }))
	add("conflicts", func(r *Run) string { return fmtInt(int64(sumConflicts(r.Totals.Conflicts))) })
	for _, k := range conflictKeys(runs) {
		add("  "+k, func(r *Run) string { return fmtInt(int64(r.Totals.Conflicts[k])) })
	}
	add("rollbacks", num(func(t *Totals) int { return t.Rollbacks }))
	add("  records rolled off", num(func(t *Totals) int { return t.RolledOff }))
	add("    own transactions", num(func(t *Totals) int { return t.RolledOffOwn }))
	add("reprocessed", num(func(t *Totals) int { return t.Reprocessed }))
	add("corrected", num(func(t *Totals) int { return t.Corrected }))
	add("  per 1,000 acked", func(r *Run) string { return fmt.Sprintf("%.2f", r.Totals.CorrectionsPer1000) })
	for s, site := range []string{"liege", "vassal"} {
		add(site+" latency local p50/p99", func(r *Run) string { return fmtLatency(r.Latency[s].Local) })
		add(site+" latency forwarded p50/p99", func(r *Run) string { return fmtLatency(r.Latency[s].Forwarded) })
	}
	add("max lag (tx)", func(r *Run) string { return fmtUint(r.Totals.MaxLag) })
	add("max window", num(func(t *Totals) int { return t.MaxWindow }))
	add("faults injected", num(func(t *Totals) int { return t.FaultsInjected }))
	add("  clock refusals", num(func(t *Totals) int { return t.ClockRefused }))
	add("checks passed", func(r *Run) string {
		return fmt.Sprintf("%d/%d", r.Totals.ChecksPassed, r.Totals.ChecksRun)
	})
	add("anomalies", func(r *Run) string { return fmtInt(int64(r.Anomalies.Total())) })
	// The kinds of anomaly, only those some run has.
	kinds := []struct {
		label string
		val   func(a *Anomalies) string
		some  func(a *Anomalies) bool
	}{
		{"  double sold", func(a *Anomalies) string { return fmtInt(int64(a.DoubleSold)) }, func(a *Anomalies) bool { return a.DoubleSold != 0 }},
		{"  unflagged negative", func(a *Anomalies) string { return fmtInt(int64(a.UnflaggedNegative)) }, func(a *Anomalies) bool { return a.UnflaggedNegative != 0 }},
		{"  money drift", func(a *Anomalies) string { return fmtSigned(a.MoneyDrift) }, func(a *Anomalies) bool { return a.MoneyDrift != 0 }},
		{"  money wrong", func(a *Anomalies) string { return fmtInt(int64(a.MoneyWrong)) }, func(a *Anomalies) bool { return a.MoneyWrong != 0 }},
		{"  vanished", func(a *Anomalies) string { return fmtInt(int64(a.Vanished)) }, func(a *Anomalies) bool { return a.Vanished != 0 }},
		{"  diverged", func(a *Anomalies) string { return yesNo(a.Diverged) }, func(a *Anomalies) bool { return a.Diverged }},
	}
	for _, k := range kinds {
		some := false
		for i := range runs {
			some = some || k.some(&runs[i].Anomalies)
		}
		if some {
			add(k.label, func(r *Run) string { return k.val(&r.Anomalies) })
		}
	}
	add("wall time", func(r *Run) string { return fmtSeconds(r.Totals.Seconds) })
	return rows
}

// conflictKeys are the checks named in the runs' conflict counts: "use"
// and "update" first, then any other in alphabetical order.
func conflictKeys(runs []Run) []string {
	seen := map[string]bool{}
	for _, r := range runs {
		for k := range r.Totals.Conflicts {
			seen[k] = true
		}
	}
	var keys []string
	for _, k := range []string{"use", "update"} {
		if seen[k] {
			keys = append(keys, k)
			delete(seen, k)
		}
	}
	var rest []string
	for k := range seen {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

func sumConflicts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// runName is how a run is called in a column header.
func runName(run Run) string {
	name := run.Merge
	if name == "" {
		name = "run"
	}
	if run.Route != "" {
		name += ", route " + run.Route
	}
	return name
}

// Progress is the one-line progress display of a run. The zero value is
// ready to use; Sites optionally names the two sites (the liege first).
// Its methods may be called from several goroutines.
type Progress struct {
	// Sites are the labels of the two sites; "liege" and "vassal" if empty.
	Sites [2]string

	mu      sync.Mutex
	tty     int // 0: ask the writer; 1: a terminal; 2: not a terminal
	drawn   bool
	printed bool
	last    time.Duration
	width   int
}

// progressEvery is how often Progress prints a line when its writer is not
// a terminal.
const progressEvery = 2 * time.Second

// Update shows the run's progress: elapsed of total, commits per second of
// each site, their lag (LagIn, liege/vassal), the calls made and
// acknowledged, and the faults active now. On a terminal it redraws one
// line (with "\r", cut to 79 columns); otherwise it prints a plain line at
// most once every two seconds of elapsed time (and at once if elapsed went
// back, as when a second run starts).
func (p *Progress) Update(w io.Writer, elapsed, total time.Duration, s Sample, calls, acked int, faults []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.line(elapsed, total, s, calls, acked, faults)
	if p.terminal(w) {
		line = truncateRunes(line, 79)
		// Pad over what the previous line left, rather than rely on an
		// escape sequence.
		n := utf8.RuneCountInString(line)
		pad := ""
		if p.width > n {
			pad = strings.Repeat(" ", p.width-n)
		}
		p.width = n
		fmt.Fprint(w, "\r"+line+pad)
		p.drawn = true
		return
	}
	if p.printed && elapsed >= p.last && elapsed-p.last < progressEvery {
		return
	}
	p.printed = true
	p.last = elapsed
	fmt.Fprintln(w, line)
}

// Done ends the progress display: on a terminal it moves past the line
// Update redrew.
func (p *Progress) Done(w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn && p.terminal(w) {
		fmt.Fprintln(w)
	}
	p.drawn = false
	p.width = 0
	p.printed = false
}

// terminal tells whether w is a terminal.
func (p *Progress) terminal(w io.Writer) bool {
	switch p.tty {
	case 1:
		return true
	case 2:
		return false
	}
	return tty.IsTerminal(w)
}

// line is the progress line, e.g.
//
//	[ 12s/60s] liege 120/s vassal down  lag 3/0  calls 1,234 acked 1,200  faults: partition
func (p *Progress) line(elapsed, total time.Duration, s Sample, calls, acked int, faults []string) string {
	var b strings.Builder
	tot := int(total.Round(time.Second) / time.Second)
	el := int(elapsed.Round(time.Second) / time.Second)
	fmt.Fprintf(&b, "[%*ds/%ds]", len(strconv.Itoa(tot)), el, tot)
	for i, ss := range s.Sites {
		name := p.Sites[i]
		if name == "" {
			name = [2]string{"liege", "vassal"}[i]
		}
		if !ss.Up {
			fmt.Fprintf(&b, " %s down", name)
			continue
		}
		fmt.Fprintf(&b, " %s %s/s", name, fmtFloat(ss.CommitsPerS, 0))
	}
	lag := func(ss SiteSample) string {
		if !ss.Up {
			return "-"
		}
		return fmtUint(ss.LagIn)
	}
	fmt.Fprintf(&b, "  lag %s/%s", lag(s.Sites[0]), lag(s.Sites[1]))
	fmt.Fprintf(&b, "  calls %s acked %s", fmtInt(int64(calls)), fmtInt(int64(acked)))
	if len(faults) > 0 {
		b.WriteString("  faults: " + strings.Join(faults, ","))
	}
	return b.String()
}

// truncateRunes cuts s to at most n runes, ending it with "…" if cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// padRight pads s with spaces to n runes.
func padRight(s string, n int) string {
	if c := utf8.RuneCountInString(s); c < n {
		return s + strings.Repeat(" ", n-c)
	}
	return s
}

// wrapWords wraps s at spaces to lines of at most width runes (longer
// words stay whole), indenting every line but the first.
func wrapWords(s string, width int, indent string) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = word
			if len(lines) > 0 {
				cur = indent + word
			}
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) > width:
			lines = append(lines, cur)
			cur = indent + word
		default:
			cur += " " + word
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// fmtInt formats n with thousands separators: 1234567 -> "1,234,567".
func fmtInt(n int64) string {
	if n < 0 {
		if n == math.MinInt64 {
			return strconv.FormatInt(n, 10)
		}
		return "-" + fmtUint(uint64(-n))
	}
	return fmtUint(uint64(n))
}

// fmtUint formats n with thousands separators.
func fmtUint(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// fmtSigned formats n with a sign unless it is zero: "+1,200", "-300", "0".
func fmtSigned(n int64) string {
	if n > 0 {
		return "+" + fmtInt(n)
	}
	return fmtInt(n)
}

// fmtFloat formats v with at most prec decimals, without trailing zeros,
// and with thousands separators in the integer part.
func fmtFloat(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if n, err := strconv.ParseUint(intPart, 10, 64); err == nil {
		intPart = fmtUint(n)
	}
	if hasFrac {
		intPart += "." + frac
	}
	if neg {
		return "-" + intPart
	}
	return intPart
}

// fmtSeconds formats a duration in seconds: "0.4 s", "42.5 s", "2m 05s",
// "1h 02m".
func fmtSeconds(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return "–"
	}
	switch {
	case s < 0:
		return "-" + fmtSeconds(-s)
	case s < 100:
		return fmtFloat(s, 1) + " s"
	case s < 3600:
		t := int(math.Round(s))
		return fmt.Sprintf("%dm %02ds", t/60, t%60)
	default:
		t := int(math.Round(s / 60))
		return fmt.Sprintf("%dh %02dm", t/60, t%60)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// plural is "1 anomaly", "3 anomalies".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmtInt(int64(n)) + " " + many
}
