package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/liege-db/liege/detect/detectbench"
	"github.com/liege-db/liege/internal/hostinfo"
	"github.com/urfave/cli/v2"
)

const benchDetectDescription = `Measures conflict detection: detect.Window.Check of one incoming peer
transaction against a window of own transactions the peer has not seen, per
window size. The figure is the whole Check call: the index lookups, Conflict
on every candidate and the hits returned.

Workload (package detect/detectbench, also run by the detect package's
BenchmarkWindowCheck): transactions of --keys keys each, tuple keys
(table, id) over --key-space keys in four tables, each key a range read
(a scan of 1 to 16 ids) with probability --range-fraction, else a point
read (50%), a Set (30%, half of them read first) or an Add (20%). Incoming
transactions have PeerSeen 0 (the whole window unseen, as after a
partition) and clocks spread over the window's. They are drawn in advance
and checked round-robin, so that each Check meets a cold window as in
production. Each incoming transaction is in the caches when its Check
starts, as in production (the replication node builds it from the record
it has just decoded and checks it at once): the measuring loop reads it
during the three Checks before its own. --cold-incoming leaves it in
memory (up to three more levels of misses at the start of each Check; the
figure before this flag existed). hits/txn is the conflicts found per
incoming transaction: with the defaults the window is dense in the key
space (a pessimistic, conflict-heavy case); raise --key-space for sparser
conflicts. --counters N adds to every transaction an Add to one of N
counter keys, as the ATM app's totals: keys most of the window touches.
Each keeps a list of its own, so checking one costs a binary search of it,
not a scan of the window.

Figures per window size: ns/txn is the wall time per Check; cpu ns/txn
the time the measuring thread ran per Check (on a machine shared with
other work the two differ: waiting for a core counts in one only);
B/entry the heap the window holds per own transaction, beyond the
transactions themselves (the replication node keeps those anyway).

Goals, at a window of 100,000 with transactions of 10 keys and no
counters: at most 2µs of
CPU per incoming transaction, and at most 200 bytes per own transaction.
With --check the command exits with status 2 when one is missed.`

func benchDetectCommand() *cli.Command {
	return &cli.Command{
		Name:        "detect",
		Usage:       "measure conflict detection against windows of own transactions",
		Description: benchDetectDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "sizes", Value: "1000,10000,100000", Usage: "comma-separated window sizes (own transactions)"},
			&cli.IntFlag{Name: "keys", Value: detectbench.Default.KeysPerTxn, Usage: "keys per transaction (point keys and ranges)"},
			&cli.Uint64Flag{Name: "key-space", Value: detectbench.Default.KeySpace, Usage: "distinct keys the transactions draw from"},
			&cli.Float64Flag{Name: "range-fraction", Value: detectbench.Default.RangeFraction, Usage: "fraction of the keys touched that are range reads"},
			&cli.Uint64Flag{Name: "seed", Value: detectbench.Default.Seed, Usage: "random seed of the workload"},
			&cli.IntFlag{Name: "counters", Usage: "every transaction also Adds to one of this many counters (as the ATM app's totals); 0: none"},
			&cli.IntFlag{Name: "incoming", Value: 1 << 14, Usage: "distinct incoming transactions, checked round-robin"},
			&cli.DurationFlag{Name: "duration", Value: 2 * time.Second, Usage: "time spent checking per window size"},
			&cli.BoolFlag{Name: "cold-incoming", Usage: "check each incoming transaction from memory, not from the caches as the replication node has it"},
			&cli.BoolFlag{Name: "json", Usage: "print the figures as one JSON object"},
			&cli.BoolFlag{Name: "check", Usage: "exit with status 2 when a goal is missed (needs window 100000 in --sizes and --keys 10)"},
		},
		Action: runBenchDetect,
	}
}

type detectReport struct {
	Machine  hostinfo.Machine     `json:"machine"`
	Workload detectbench.Workload `json:"workload"`
	Rows     []detectRow          `json:"rows"`
	Goal     *goal                `json:"goal,omitempty"`
	MemGoal  *goal                `json:"mem_goal,omitempty"`
}

type detectRow struct {
	Window       int     `json:"window"`
	Checks       int     `json:"checks"`
	NsPerTxn     float64 `json:"ns_per_txn"`
	CPUNsPerTxn  float64 `json:"cpu_ns_per_txn"`
	BytesPerOwn  float64 `json:"bytes_per_entry"`
	HitsPerTxn   float64 `json:"hits_per_txn"`
	AllocsPerTxn float64 `json:"allocs_per_txn"`
	BytesPerTxn  float64 `json:"bytes_per_txn"`
	BuildSeconds float64 `json:"build_seconds"`
}

func runBenchDetect(c *cli.Context) error {
	sizes, err := parseSizes(c.String("sizes"))
	if err != nil {
		return err
	}
	wl := detectbench.Workload{
		KeysPerTxn:    c.Int("keys"),
		KeySpace:      c.Uint64("key-space"),
		RangeFraction: c.Float64("range-fraction"),
		Seed:          c.Uint64("seed"),
		Counters:      c.Int("counters"),
	}
	switch {
	case wl.KeysPerTxn <= 0:
		return errors.New("--keys: want at least 1")
	case wl.KeySpace == 0:
		return errors.New("--key-space: want at least 1")
	case wl.RangeFraction < 0 || wl.RangeFraction > 1:
		return errors.New("--range-fraction: want a fraction between 0 and 1")
	case wl.Counters < 0:
		return errors.New("--counters: want 0 or more")
	case c.Int("incoming") <= 0:
		return errors.New("--incoming: want at least 1")
	}
	rep := detectReport{Machine: hostinfo.Read(), Workload: wl}
	for _, n := range sizes {
		fmt.Fprintf(c.App.ErrWriter, "window %s: building...\n", count(float64(n)))
		row := measureDetect(wl, n, c.Int("incoming"), c.Duration("duration"), c.Bool("cold-incoming"))
		rep.Rows = append(rep.Rows, row)
		fmt.Fprintf(c.App.ErrWriter, "window %s: %.0f ns (%.0f ns of CPU) per incoming transaction, %.0f bytes per own one\n",
			count(float64(n)), row.NsPerTxn, row.CPUNsPerTxn, row.BytesPerOwn)
	}
	for _, r := range rep.Rows {
		if r.Window == 100_000 && wl.KeysPerTxn == 10 && wl.Counters == 0 {
			rep.Goal = &goal{Name: "detect", Want: "<= 2µs of CPU per incoming txn at window 100,000",
				Value: r.CPUNsPerTxn, Measured: r.CPUNsPerTxn > 0, Met: r.CPUNsPerTxn > 0 && r.CPUNsPerTxn <= 2000}
			rep.MemGoal = &goal{Name: "detect_memory", Want: "<= 200 bytes per own txn at window 100,000",
				Value: r.BytesPerOwn, Measured: true, Met: r.BytesPerOwn <= 200}
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.App.Writer, "machine: %s\n", rep.Machine)
		fmt.Fprintf(c.App.Writer, "workload: %d keys per txn, key space %s, range fraction %g, seed %d",
			wl.KeysPerTxn, count(float64(wl.KeySpace)), wl.RangeFraction, wl.Seed)
		if wl.Counters > 0 {
			fmt.Fprintf(c.App.Writer, ", and an Add to one of %d counters", wl.Counters)
		}
		fmt.Fprintln(c.App.Writer)
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "window\tns/txn\tcpu ns/txn\thits/txn\tallocs/txn\tB/txn\tB/entry\tchecks\tbuild\t")
		for _, r := range rep.Rows {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\t%.3f\t%.0f\t%.0f\t%s\t%s\t\n", count(float64(r.Window)), r.NsPerTxn, r.CPUNsPerTxn,
				r.HitsPerTxn, r.AllocsPerTxn, r.BytesPerTxn, r.BytesPerOwn, count(float64(r.Checks)), secs(r.BuildSeconds))
		}
		tw.Flush()
		for _, g := range []*goal{rep.Goal, rep.MemGoal} {
			if g == nil {
				continue
			}
			met := "met"
			if !g.Met {
				met = "MISSED"
			}
			fmt.Fprintf(c.App.Writer, "goal %s: %.0f, %s\n", g.Want, g.Value, met)
		}
	}
	if c.Bool("check") {
		if rep.Goal == nil {
			return cli.Exit("--check: the goals are for a window of 100000 (--sizes) and --keys 10", 1)
		}
		if !rep.Goal.Met || !rep.MemGoal.Met {
			return cli.Exit("", 2)
		}
	}
	return nil
}

// measureDetect builds a window of n own transactions and checks incoming
// ones against it, round-robin, for about d; then measures the window's
// memory.
func measureDetect(wl detectbench.Workload, n, incoming int, d time.Duration, cold bool) detectRow {
	start := time.Now()
	w, in := wl.Window(n, incoming)
	row := detectRow{Window: n, BuildSeconds: time.Since(start).Seconds()}
	r := detectbench.Measure(w, in, d, cold)
	row.Checks = r.Checks
	row.NsPerTxn = float64(r.Wall.Nanoseconds()) / float64(r.Checks)
	row.CPUNsPerTxn = float64(r.CPU.Nanoseconds()) / float64(r.Checks)
	row.HitsPerTxn = float64(r.Hits) / float64(r.Checks)
	row.AllocsPerTxn = float64(r.Allocs) / float64(r.Checks)
	row.BytesPerTxn = float64(r.Bytes) / float64(r.Checks)
	w, in = nil, nil // measured apart below
	runtime.KeepAlive(w)
	runtime.KeepAlive(in)
	row.BytesPerOwn = wl.WindowBytes(n)
	return row
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--sizes: %q is not a positive number (want e.g. 1000,10000,100000)", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("--sizes: give at least one window size, e.g. 1000,10000,100000")
	}
	return out, nil
}
