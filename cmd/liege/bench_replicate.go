package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/liege-db/liege/internal/benchkit"
	"github.com/liege-db/liege/internal/hostinfo"
	"github.com/urfave/cli/v2"
)

const benchReplicateDescription = `Runs a liege and a vassal in this process over loopback TCP, both committing
ticket calls (--callers goroutines each) for --warmup, not measured (the
heaps, journal buffers and state grow from empty then), and then for
--duration, and prints per direction: transactions acknowledged per
second, and the replication lag from a transaction's acknowledgement at
its origin to its apply at the peer (p50, p99, max; sampled every
millisecond). Then the conflicts detected, the rollbacks (and after how
many of them the vassal held its calls until it had applied again what the
liege had, and how many of those holds ended by their budget of two
heartbeats instead), how long the link took to catch up after the load, and
whether both ended with the same state hash; then how often each link was
set up again during the load and how many frames each receiver dropped,
and why (a lag spike with either is the link's, without them the
executors'; thousands dropped as held, gap and duplicate are rewinds of a
backlog around rollbacks, each shipping it again). Also
per instance the journal fsyncs it ran, the records each made durable and
how long the write and fsync of a batch took (FSYNC MEAN) and how long
from its start until the executor took its outcome (ROUND MEAN: the fsync,
then the wait for the executor to be done with what it was doing), and
over the load the share of the time it was writing and fsyncing (FSYNC
BUSY: near 100% the disk bounds the rate) and the share it had a round in
flight (ROUND BUSY: near 100% with FSYNC BUSY well below it, the executor,
so the CPU, bounds it), the frames it handed the link per send (one write)
and the frames of its stream the peer's reader handed the peer's executor
per hand-off (FRAMES/RUN); and the process's CPU time, page faults and
context switches (its threads' sleeps and wake-ups) per transaction during
the load (both instances' work on it), and what the Go runtime did: garbage
collection cycles and their share of the CPU (assists apart: goroutines
made to mark as they allocate), and how long goroutines waited to run once
runnable. A lag spike with a busy collector and long waits to run is the
CPU's: each executor is one goroutine among the callers, the link's and the
collector's, and waits its turn.

--rate caps both instances together at N calls/s, spaced evenly (measure
lag at a load the link keeps up with, e.g. half the unthrottled rate;
give enough --callers that the rate is reached); --contention
makes a fraction of the calls buy seats from a small pool both sell, so
that they conflict.

--callers takes a list (e.g. 256,768): each count runs in turn, and a
SATURATION line names the best, the saturating rate. How many callers it
takes depends on the machine: each call waits for its fsync round, so too
few leave the CPU idle between rounds (on 2 cores, 256 per instance left a
quarter of it idle; 768 saturated it). The runs share the process: a later
one grows into memory an earlier one touched (its page faults per
transaction say so), as a long-running server does.

Goals (issue 14): both instances together >= 80,000 txn/s at the
saturating rate with replication keeping up; lag p99 (the worse direction)
<= 250 ms there and <= 50 ms at half of it. --check measures them: each
--callers count (default ` + defaultCheckCallers + `) at full rate, then the best one's
callers capped at half its rate, and exits with status 2 when one is
missed.`

func benchReplicateCommand() *cli.Command {
	return &cli.Command{
		Name:        "replicate",
		Usage:       "measure two replicating instances: throughput each way, lag, conflicts",
		Description: benchReplicateDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "callers", Value: "64", Usage: "callers per instance; a comma-separated list (e.g. 256,768) runs each and prints the best: the saturating rate"},
			&cli.DurationFlag{Name: "duration", Value: 5 * time.Second, Usage: "how long to measure the load"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, Usage: "load before --duration that is not measured; 0 for none"},
			&cli.IntFlag{Name: "rate", Usage: "cap both instances together at `N` calls per second", DefaultText: "0, as fast as they go"},
			&cli.Float64Flag{Name: "contention", Usage: "fraction (0..1) of calls buying seats from a pool both instances sell"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes of each of the two values a call writes"},
			&cli.StringFlag{Name: "dir", Usage: "directory for the two instances (default: a new temporary directory)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the instance directories"},
			&cli.BoolFlag{Name: "json", Usage: "print the figures as one JSON object"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to `FILE`"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile to `FILE` at the end of the load (of the last run), both instances still open (-sample_index=inuse_space: what the load left live; alloc_space: what it allocated)"},
			&cli.StringFlag{Name: "trace", Usage: "write an execution trace of the run to `FILE` (what each goroutine waits on: go tool trace -pprof=sync|sched|syscall FILE)"},
			&cli.BoolFlag{Name: "check", Usage: "measure the goals: each --callers count (" + defaultCheckCallers + " unless given) at full rate, then the best one's callers at half its rate; exit with status 2 when a goal is missed"},
			&cli.StringFlag{Name: "log-level", Usage: "log both instances to stderr from `LEVEL` on (debug, info, warn, error); default: no log"},
		},
		Action: runBenchReplicate,
	}
}

// replicateRun is one run of the load: its caller count, its rate cap (0:
// none) and what it measured.
type replicateRun struct {
	Callers int                      `json:"callers"`
	Rate    int                      `json:"rate,omitempty"`
	Result  benchkit.ReplicateResult `json:"result"`
}

// Goals of issue 14 for two replicating instances.
const (
	goalReplicateTxnPerSec = 80_000
	goalLagSaturatedMs     = 250
	goalLagHalfMs          = 50
)

// defaultCheckCallers are the caller counts --check tries when --callers
// is not given: the rate saturates between them on 2 cores (256 leaves
// the CPU a quarter idle, waiting on the callers' round trips).
const defaultCheckCallers = "256,768"

func runBenchReplicate(c *cli.Context) error {
	spec := c.String("callers")
	if c.Bool("check") && !c.IsSet("callers") {
		spec = defaultCheckCallers
	}
	callers, err := parseCallers(spec)
	if err != nil {
		return err
	}
	if c.Bool("check") && c.IsSet("rate") {
		return errors.New("--check measures at full rate and then at half the best one's rate itself: leave out --rate")
	}
	dir, cleanup, err := benchDir(c.String("dir"), c.Bool("keep"))
	if err != nil {
		return err
	}
	defer cleanup()
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if path := c.String("trace"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	var log *slog.Logger
	if lv := c.String("log-level"); lv != "" {
		if log, err = newLogger(os.Stderr, "text", lv); err != nil {
			return err
		}
	}
	machine := hostinfo.Read()
	jsonOut := c.Bool("json")
	if !jsonOut {
		fmt.Fprintf(c.App.Writer, "machine: %s\n", machine)
	}
	var heapErr error
	run := func(n, rate int) (replicateRun, error) {
		sub := dir
		if len(callers) > 1 || c.Bool("check") {
			sub = filepath.Join(dir, fmt.Sprintf("callers-%d", n))
			if rate > 0 {
				sub += fmt.Sprintf("-rate-%d", rate)
			}
		}
		fmt.Fprintf(os.Stderr, "bench replicate: %d callers per instance for %v%s in %s ...\n", n, c.Duration("duration"), rateNote(rate), sub)
		var atLoadEnd func()
		if path := c.String("memprofile"); path != "" {
			atLoadEnd = func() { heapErr = writeHeapProfile(path) }
		}
		res, err := benchkit.RunReplicate(c.Context, benchkit.ReplicateConfig{Dir: sub, Callers: n, Log: log,
			Duration: c.Duration("duration"), Warmup: warmup(c.Duration("warmup")), Rate: rate, Contention: c.Float64("contention"),
			ValueSize: c.Int("value-size"), AtLoadEnd: atLoadEnd})
		if err != nil {
			return replicateRun{}, err
		}
		if heapErr != nil {
			return replicateRun{}, heapErr
		}
		r := replicateRun{Callers: n, Rate: rate, Result: res}
		if !jsonOut {
			printReplicateRun(c.App.Writer, &r, len(callers) > 1 || c.Bool("check"))
		}
		if !res.Converged {
			return r, cli.Exit(fmt.Sprintf("with %d callers the two instances ended with different states", n), 2)
		}
		return r, nil
	}

	var runs []replicateRun
	for _, n := range callers {
		r, err := run(n, c.Int("rate"))
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	if len(runs) == 1 && !c.Bool("check") {
		if jsonOut {
			enc := json.NewEncoder(c.App.Writer)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				Machine hostinfo.Machine
				benchkit.ReplicateResult
			}{machine, runs[0].Result})
		}
		return nil
	}
	rep := replicateReport{Machine: machine, Runs: runs}
	best := &runs[0]
	for i := range runs {
		if runs[i].Result.TotalTxnPerSec > best.Result.TotalTxnPerSec {
			best = &runs[i]
		}
	}
	rep.Best = best
	if c.Bool("check") {
		half, err := run(best.Callers, int(best.Result.TotalTxnPerSec/2))
		if err != nil {
			return err
		}
		rep.Half = &half
		rep.Goals = replicateGoals(best, rep.Half)
	}
	if jsonOut {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReplicateSummary(c.App.Writer, &rep)
	}
	for _, g := range rep.Goals {
		if !g.Met {
			return cli.Exit("", 2)
		}
	}
	return nil
}

// replicateReport is the JSON of several caller counts, or of --check.
type replicateReport struct {
	Machine hostinfo.Machine `json:"machine"`
	Runs    []replicateRun   `json:"runs"`
	// Best is the run of the most transactions per second: the saturating
	// rate. Half is the run capped at half of it, with as many callers.
	Best  *replicateRun `json:"best"`
	Half  *replicateRun `json:"half,omitempty"`
	Goals []goal        `json:"goals,omitempty"`
}

// replicateGoals evaluates issue 14's goals: the saturating rate of both
// instances together, the lag p99 (the worse direction) there and at half
// that rate.
func replicateGoals(best, half *replicateRun) []goal {
	worst := func(r *replicateRun) float64 {
		return max(r.Result.Directions[0].LagP99ms, r.Result.Directions[1].LagP99ms)
	}
	return []goal{
		{Name: "replicate txn/s together, saturated", Want: fmt.Sprintf(">= %d", goalReplicateTxnPerSec),
			Value: best.Result.TotalTxnPerSec, Measured: true, Met: best.Result.TotalTxnPerSec >= goalReplicateTxnPerSec},
		{Name: "lag p99 ms at saturation", Want: fmt.Sprintf("<= %d", goalLagSaturatedMs),
			Value: worst(best), Measured: true, Met: worst(best) <= goalLagSaturatedMs},
		{Name: "lag p99 ms at half the saturating rate", Want: fmt.Sprintf("<= %d", goalLagHalfMs),
			Value: worst(half), Measured: true, Met: worst(half) <= goalLagHalfMs},
	}
}

func rateNote(rate int) string {
	if rate <= 0 {
		return ""
	}
	return fmt.Sprintf(" capped at %d calls/s together", rate)
}

// printReplicateRun prints one run's figures; with titled, a line naming
// its caller count (and rate) first.
func printReplicateRun(out io.Writer, r *replicateRun, titled bool) {
	res := &r.Result
	if titled {
		fmt.Fprintf(out, "\n%d CALLERS PER INSTANCE%s\n", r.Callers, strings.ToUpper(rateNote(r.Rate)))
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "DIRECTION\tCOMMITTED\tTXN/S\tLAG P50\tLAG P99\tLAG MAX\tFSYNCS AT FROM\tRECORDS/FSYNC\tFSYNC MEAN\tFSYNC BUSY\tROUND MEAN\tROUND BUSY\tFRAMES/SEND\tFRAMES/RUN")
	for _, d := range res.Directions {
		fmt.Fprintf(w, "%s -> %s\t%d\t%.0f\t%.1f ms\t%.1f ms\t%.1f ms\t%d\t%.1f\t%.2f ms\t%.0f%%\t%.2f ms\t%.0f%%\t%.1f\t%.1f\n", d.From, d.To, d.Committed, d.TxnPerSec, d.LagP50ms, d.LagP99ms, d.LagMaxms,
			d.Fsyncs, d.RecordsPerFsync, d.FsyncMeanMs, 100*d.FsyncBusy, d.RoundMeanMs, 100*d.RoundBusy, d.FramesPerSend, d.FramesPerRun)
	}
	w.Flush()
	fmt.Fprintf(out, "both: %.0f txn/s over %.1f s; conflicts detected %.0f, rollbacks %.0f (calls held after %.0f, %.0f of them until the budget ran out), seats refused as taken %d; caught up %.2f s after the load; converged: %v\n",
		res.TotalTxnPerSec, res.Seconds, res.Conflicts, res.Rollbacks, res.CallWaits, res.CallWaitsBudget, res.ConflictRefusal, res.CatchUpSeconds, res.Converged)
	fmt.Fprintf(out, "link during the load: reconnects %.0f / %.0f, frames dropped by the receiver %.0f / %.0f (%s -> %s / %s -> %s)\n",
		res.Directions[0].Reconnects, res.Directions[1].Reconnects, res.Directions[0].Dropped, res.Directions[1].Dropped,
		res.Directions[0].From, res.Directions[0].To, res.Directions[1].From, res.Directions[1].To)
	for _, d := range res.Directions {
		if len(d.DroppedBy) > 0 {
			fmt.Fprintf(out, "  dropped by %s of %s's frames: %s\n", d.To, d.From, droppedReasons(d.DroppedBy))
		}
	}
	if res.CPUSeconds > 0 {
		fmt.Fprintf(out, "CPU: %.2f s over the load's %.1f s (%.2f cores), %.1f µs, %.2f page faults and %.2f context switches per transaction, both instances' work on it\n",
			res.CPUSeconds, res.Seconds, res.CPUSeconds/res.Seconds, res.CPUPerTxnMicros, res.FaultsPerTxn, res.SwitchesPerTxn)
	}
	if rt := res.Runtime; rt.SchedMaxms > 0 {
		fmt.Fprintf(out, "Go runtime during the load: %d GC cycles taking %.0f%% of the CPU (%.0f%% in assists by running goroutines); goroutines waited to run p50 %s, p99 %s, max %s\n",
			rt.GCCycles, 100*rt.GCShare, 100*rt.AssistShare, msString(rt.SchedP50ms), msString(rt.SchedP99ms), msString(rt.SchedMaxms))
	}
}

// msString shows a duration in milliseconds to about three figures.
func msString(ms float64) string {
	switch {
	case ms >= 10:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f µs", ms*1000)
}

// printReplicateSummary prints the best of several caller counts and, with
// --check, the goals.
func printReplicateSummary(out io.Writer, rep *replicateReport) {
	fmt.Fprintln(out)
	fmt.Fprint(out, "SATURATION")
	for _, r := range rep.Runs {
		fmt.Fprintf(out, "  %d callers: %.0f txn/s", r.Callers, r.Result.TotalTxnPerSec)
	}
	b := rep.Best
	fmt.Fprintf(out, "\n  best: %.0f txn/s together with %d callers per instance, lag p99 %.1f / %.1f ms\n",
		b.Result.TotalTxnPerSec, b.Callers, b.Result.Directions[0].LagP99ms, b.Result.Directions[1].LagP99ms)
	if h := rep.Half; h != nil {
		fmt.Fprintf(out, "  at half of it (%d calls/s): %.0f txn/s, lag p99 %.1f / %.1f ms\n",
			h.Rate, h.Result.TotalTxnPerSec, h.Result.Directions[0].LagP99ms, h.Result.Directions[1].LagP99ms)
	}
	if len(rep.Goals) == 0 {
		return
	}
	fmt.Fprintln(out, "\nGOALS")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, g := range rep.Goals {
		met := "met"
		if !g.Met {
			met = "MISSED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.1f\t%s\n", g.Name, g.Want, g.Value, met)
	}
	tw.Flush()
}

// warmup maps --warmup 0 (none) to RunReplicate's "none", a negative
// duration (its 0 means the default).
func warmup(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// writeHeapProfile writes the heap profile as of a garbage collection run
// now to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// droppedReasons lists the reasons frames were dropped for, the most
// frequent first: "held 401576 (while rolling back), duplicate 161448".
func droppedReasons(by map[string]float64) string {
	reasons := slices.SortedFunc(maps.Keys(by), func(a, b string) int {
		if c := cmp.Compare(by[b], by[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, r := range reasons {
		p := fmt.Sprintf("%s %.0f", r, by[r])
		if m := droppedMeaning[r]; m != "" {
			p += " (" + m + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// droppedMeaning says what each reason of liege_stream_dropped_total
// means in a benchmark's terms.
var droppedMeaning = map[string]string{
	"held":        "arrived while the receiver rolled back",
	"gap":         "not next after what it holds: sent before a rewind",
	"duplicate":   "held already: the sender rewound behind it",
	"discarding":  "the liege discards until the vassal answers its rollback command",
	"stale_epoch": "of an epoch before the sender's rollback",
	"older_reign": "of a reign before the receiver's",
}
