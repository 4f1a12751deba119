package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/internal/benchkit"
	"github.com/liege-db/liege/internal/hostinfo"
	"github.com/urfave/cli/v2"
)

const benchHTTPDescription = `Measures procedure calls over HTTP against the engine in process, in one run:

  HTTP    an instance serving app kv through liege serve's HTTP handler on a
          loopback port, and --clients goroutines in this process calling
          set with a new key and a --value-size value through the Go client
          (package client: it keeps a session token and sends it as
          min_token with every call after the first); every call is durable
          when answered. Per --modes:
            single  one client per goroutine, one POST /v1/call/{proc} per
                    call: JSON over HTTP/1.1 as docs/http-api.md shows it
            batch   the goroutines share one client made WithBatching, as
                    those of one application process would: the calls made
                    at the same time share POST /v1/calls requests
          Printed per mode and client count: calls/s, p50 and p99 of one
          call, CPU per call, and the ratio to ENGINE.
  ENGINE  the in-process figure of 'liege bench commit' with 256 callers
          (the ticket transaction: one absent read, two sets), measured in
          the same run with the same code, before and after the HTTP rows:
          the ratios use the mean of the two, so that a change of the
          machine's load during the run weighs on both sides.

Each measurement starts after a garbage collection, and the instance
directories are removed only at the end, so that no measurement pays for
an earlier one. CPU/call (cpu_us_per_call) is the CPU time of the whole
process, server, client and engine together, per call (per transaction for
ENGINE): on a shared machine it moves far less than calls/s.

Goal: with 256 clients, HTTP calls/s >= 0.5 x the ENGINE txn/s: ratio_256 in
--json, the best of the modes measured (ratio_256_mode names it). Progress
goes to stderr, figures to stdout.`

func benchHTTPCommand() *cli.Command {
	return &cli.Command{
		Name:        "http",
		Usage:       "measure kv set over HTTP (loopback) against the engine in process",
		Description: benchHTTPDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "clients", Value: "1,16,256", Usage: "comma-separated client counts to measure HTTP with"},
			&cli.StringFlag{Name: "modes", Value: "single,batch", Usage: "comma-separated ways the clients send their calls: single, batch (see above)"},
			&cli.IntFlag{Name: "calls", Value: 100_000, Usage: "HTTP calls per client count (capped at 10,000 per client: 10,000 for 1 client)"},
			&cli.IntFlag{Name: "engine-txns", Value: 200_000, Usage: "calls of the in-process ENGINE measurement with 256 callers (0 skips it)"},
			&cli.IntFlag{Name: "batch-calls", Value: client.DefaultBatchCalls, Usage: "batch mode: the most calls per POST /v1/calls request (client.WithBatching's maxCalls)"},
			&cli.IntFlag{Name: "batch-requests", Value: client.DefaultBatchRequests, Usage: "batch mode: the most POST /v1/calls requests in flight (client.WithBatching's maxRequests)"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes of each value a call writes"},
			&cli.StringFlag{Name: "dir", Usage: "directory for the instances (default: a new temporary directory)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the instance directories"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the HTTP measurements to `FILE`"},
			&cli.StringFlag{Name: "memprofile", Usage: "write an allocation profile of the HTTP measurements to `FILE`"},
			&cli.DurationFlag{Name: "stall-timeout", Value: time.Minute, Usage: "fail (with a goroutine dump) when no call completes for this long"},
			&cli.BoolFlag{Name: "json", Usage: "print the figures as one JSON object"},
			&cli.BoolFlag{Name: "check", Usage: "exit with status 2 when the goal is missed"},
		},
		Action: runBenchHTTP,
	}
}

// httpReport is what `liege bench http` measured.
type httpReport struct {
	Machine   hostinfo.Machine `json:"machine"`
	ValueSize int              `json:"value_size"`
	HTTP      []httpRow        `json:"http"`
	// Engine is the in-process ticket figure with 256 callers, nil when
	// skipped.
	Engine *httpEngine `json:"engine"`
	// Ratio256 is HTTP calls/s with 256 clients over Engine's txn/s; nil
	// when either was not measured.
	Ratio256 *float64 `json:"ratio_256"`
	// Ratio256Mode is the mode Ratio256 was measured with.
	Ratio256Mode string    `json:"ratio_256_mode,omitempty"`
	Goal         float64   `json:"goal_ratio_256"`
	Met          bool      `json:"met"`
	Started      time.Time `json:"started"`
	Took         float64   `json:"took_seconds"`
	Dir          string    `json:"dir,omitempty"`
}

type httpRow struct {
	Mode        string  `json:"mode"`
	Clients     int     `json:"clients"`
	Calls       int     `json:"calls"`
	Seconds     float64 `json:"seconds"`
	CallsPerSec float64 `json:"calls_per_sec"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	MaxUs       float64 `json:"max_us"`
	// CPUus is the CPU time of the whole process (server, client and
	// engine) per call, in microseconds; 0 where it is not read.
	CPUus float64 `json:"cpu_us_per_call"`
	// Requests is the HTTP requests served, ServerUs their mean time in
	// the server's handler; Fsyncs the journal's group commits.
	Requests int     `json:"requests"`
	ServerUs float64 `json:"server_us_per_request"`
	Fsyncs   int     `json:"fsyncs"`
	// Ratio is CallsPerSec over the engine's txn/s, 0 when not measured.
	Ratio float64 `json:"ratio,omitempty"`
}

// httpEngine is the in-process figure: measured before and after the HTTP
// rows, so that a machine whose load changes during the run moves both
// sides of the ratio; TxnPerSec is the mean of the two.
type httpEngine struct {
	Callers   int     `json:"callers"`
	Txns      int     `json:"txns"`
	TxnPerSec float64 `json:"txn_per_sec"`
	Before    float64 `json:"txn_per_sec_before"`
	After     float64 `json:"txn_per_sec_after"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	// CPU per transaction of the process, before and after, in
	// microseconds.
	CPUusBefore float64 `json:"cpu_us_per_txn_before"`
	CPUusAfter  float64 `json:"cpu_us_per_txn_after"`
}

func runBenchHTTP(c *cli.Context) error {
	clients, err := parseCallers(c.String("clients"))
	if err != nil {
		return errors.New(strings.Replace(err.Error(), "--callers", "--clients", 1))
	}
	var modes []string
	for _, m := range strings.Split(c.String("modes"), ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !slices.Contains(benchkit.HTTPModes, m) {
			return fmt.Errorf("--modes: unknown mode %q: want %s", m, strings.Join(benchkit.HTTPModes, ", "))
		}
		modes = append(modes, m)
	}
	if len(modes) == 0 {
		return fmt.Errorf("--modes: give at least one of %s", strings.Join(benchkit.HTTPModes, ", "))
	}
	calls, valueSize, engineTxns := c.Int("calls"), c.Int("value-size"), c.Int("engine-txns")
	if calls <= 0 || valueSize <= 0 || engineTxns < 0 {
		return errors.New("--calls and --value-size must be positive, --engine-txns 0 or more")
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	root, cleanup, err := benchDir(c.String("dir"), c.Bool("keep"))
	if err != nil {
		return err
	}
	defer cleanup()
	progress := c.App.ErrWriter
	// Each measurement starts from a collected heap (nothing an earlier
	// one left weighs on it) and counts the CPU time of the whole process
	// from start to stop.
	var cpu0, cpu time.Duration
	w := benchkit.Workload{ValueSize: valueSize, StallTimeout: c.Duration("stall-timeout"), Log: progress, EngineLog: progress,
		Start: func() {
			runtime.GC()
			cpu0 = benchkit.ProcessCPU()
		},
		Stop: func() { cpu = benchkit.ProcessCPU() - cpu0 },
	}
	perOp := func(n int) float64 {
		if n <= 0 {
			return 0
		}
		return us(cpu) / float64(n)
	}
	rep := &httpReport{Machine: hostinfo.Read(), ValueSize: valueSize, Goal: benchkit.GoalHTTPRatio, Started: time.Now()}
	sub := func(name string) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		d := filepath.Join(root, name)
		if _, err := os.Stat(d); err == nil {
			return "", fmt.Errorf("%s exists: remove it or pick another --dir", d)
		}
		return d, nil
	}
	// The directories are removed at the end, not between measurements:
	// deleting a file system's worth of journal (with discard, say) slows
	// the fsyncs of the measurement that follows.
	var dirs []string
	done := func(dir string) { dirs = append(dirs, dir) }
	defer func() {
		if !c.Bool("keep") {
			for _, d := range dirs {
				os.RemoveAll(d)
			}
		}
	}()

	engine := func(when string) (benchkit.EngineResult, float64, error) {
		dir, err := sub("engine-c256-" + when)
		if err != nil {
			return benchkit.EngineResult{}, 0, err
		}
		n := benchkit.GoalCommitCallers
		fmt.Fprintf(progress, "liege bench http: engine in process, %s the HTTP rows: %d callers, %d ticket txns\n", when, n, engineTxns)
		er, err := w.RunEngine(ctx, dir, n, engineTxns)
		if err != nil {
			return er, 0, fmt.Errorf("engine commit with %d callers: %w", n, err)
		}
		done(dir)
		cpuUs := perOp(er.Txns)
		fmt.Fprintf(progress, "liege bench http: engine: %s txn/s, p50 %s, p99 %s, CPU %.1fµs/txn\n",
			count(er.TxnPerSec), dur(er.Latency.P50), dur(er.Latency.P99), cpuUs)
		return er, cpuUs, nil
	}
	var before benchkit.EngineResult
	var cpuBefore float64
	if engineTxns > 0 {
		if before, cpuBefore, err = engine("before"); err != nil {
			return err
		}
	}

	stopProfile, err := startProfiles(c.String("cpuprofile"), c.String("memprofile"))
	if err != nil {
		return err
	}
	for _, mode := range modes {
		for _, n := range clients {
			total := min(calls, 10_000*n)
			dir, err := sub(fmt.Sprintf("http-%s-c%d", mode, n))
			if err != nil {
				return errors.Join(err, stopProfile())
			}
			fmt.Fprintf(progress, "liege bench http: kv set over HTTP, %s: %s, %d calls\n", mode, plural(n, "client"), total)
			hr, err := w.RunHTTPWith(ctx, dir, benchkit.HTTPOptions{Mode: mode, Clients: n, Total: total,
				BatchCalls: c.Int("batch-calls"), BatchRequests: c.Int("batch-requests")})
			if err != nil {
				return errors.Join(fmt.Errorf("http %s with %d clients: %w", mode, n, err), stopProfile())
			}
			done(dir)
			row := httpRow{Mode: mode, Clients: n, Calls: hr.Calls, Seconds: hr.Elapsed.Seconds(), CallsPerSec: hr.CallsPerSec,
				P50us: us(hr.Latency.P50), P99us: us(hr.Latency.P99), MaxUs: us(hr.Latency.Max), CPUus: perOp(hr.Calls),
				Requests: hr.Requests, ServerUs: us(hr.ServerTime), Fsyncs: hr.Fsyncs}
			fmt.Fprintf(progress, "liege bench http: %s calls/s, p50 %s, p99 %s, CPU %.1fµs/call; %d requests of %.1f calls, %s each in the server; %d fsyncs of %.1f calls\n",
				count(hr.CallsPerSec), dur(hr.Latency.P50), dur(hr.Latency.P99), row.CPUus,
				hr.Requests, float64(hr.Calls)/float64(max(hr.Requests, 1)), dur(hr.ServerTime), hr.Fsyncs, float64(hr.Calls)/float64(max(hr.Fsyncs, 1)))
			rep.HTTP = append(rep.HTTP, row)
		}
	}
	if err := stopProfile(); err != nil {
		return err
	}
	if engineTxns > 0 {
		after, cpuAfter, err := engine("after")
		if err != nil {
			return err
		}
		mean := (before.TxnPerSec + after.TxnPerSec) / 2
		rep.Engine = &httpEngine{Callers: before.Callers, Txns: before.Txns, TxnPerSec: mean,
			Before: before.TxnPerSec, After: after.TxnPerSec, P50us: us(before.Latency.P50), P99us: us(before.Latency.P99),
			CPUusBefore: cpuBefore, CPUusAfter: cpuAfter}
		for i := range rep.HTTP {
			row := &rep.HTTP[i]
			if mean <= 0 {
				break
			}
			row.Ratio = row.CallsPerSec / mean
			if row.Clients == benchkit.GoalCommitCallers && (rep.Ratio256 == nil || row.Ratio > *rep.Ratio256) {
				r := row.Ratio
				rep.Ratio256, rep.Ratio256Mode = &r, row.Mode
				rep.Met = r >= benchkit.GoalHTTPRatio
			}
		}
	}
	rep.Took = time.Since(rep.Started).Seconds()
	if c.Bool("keep") {
		rep.Dir = root
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printHTTPReport(c.App.Writer, rep)
	}
	if c.Bool("check") && !rep.Met {
		return cli.Exit("liege bench http: the goal was missed (or not measured: it needs 256 in --clients and --engine-txns > 0)", 2)
	}
	return nil
}

func printHTTPReport(out io.Writer, rep *httpReport) {
	fmt.Fprintf(out, "MACHINE  %s\n", rep.Machine)
	fmt.Fprintf(out, "HTTP  kv set of a %d-byte value, JSON over HTTP/1.1 on loopback, durable when answered\n", rep.ValueSize)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tclients\tcalls\tcalls/s\tp50\tp99\tCPU/call\tvs engine\t")
	for _, r := range rep.HTTP {
		ratio := "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Mode, r.Clients, r.Calls, count(r.CallsPerSec),
			durUs(r.P50us), durUs(r.P99us), durUs(r.CPUus), ratio)
	}
	tw.Flush()
	if e := rep.Engine; e != nil {
		fmt.Fprintf(out, "ENGINE  ticket txn in process, %d callers: %s txn/s (mean of %s before and %s after the HTTP rows); CPU/txn %s and %s\n",
			e.Callers, count(e.TxnPerSec), count(e.Before), count(e.After), durUs(e.CPUusBefore), durUs(e.CPUusAfter))
	}
	verdict := "not measured (needs 256 in --clients and --engine-txns > 0)"
	if rep.Ratio256 != nil {
		verdict = fmt.Sprintf("%.2f (%s): missed", *rep.Ratio256, rep.Ratio256Mode)
		if rep.Met {
			verdict = fmt.Sprintf("%.2f (%s): met", *rep.Ratio256, rep.Ratio256Mode)
		}
	}
	fmt.Fprintf(out, "GOAL  HTTP/engine with 256 clients >= %.1f: %s\n", rep.Goal, verdict)
}

// startProfiles starts a CPU profile to cpuPath and, for memPath, records
// every allocation; the func it returns stops both and writes them.
func startProfiles(cpuPath, memPath string) (func() error, error) {
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		cpu = f
	}
	oldRate := runtime.MemProfileRate
	if memPath != "" {
		runtime.MemProfileRate = 64 << 10
	}
	stopped := false
	return func() error {
		if stopped {
			return nil
		}
		stopped = true
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if memPath != "" {
			f, err := os.Create(memPath)
			if err != nil {
				return errors.Join(append(errs, err)...)
			}
			errs = append(errs, pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
			runtime.MemProfileRate = oldRate
		}
		return errors.Join(errs...)
	}, nil
}
