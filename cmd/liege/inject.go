package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/liege-db/liege/internal/inject"
	"github.com/urfave/cli/v2"
)

const injectDescription = `The conflict-injection runner: it proves, under real faults, that a liege
and a vassal converge to one consistent path.

It starts a liege and a vassal as child processes (liege serve), routes
their peer link through an in-process toxiproxy, drives clients at both
sites through the HTTP API for --duration at --rate calls per second in
all, a --contention share of them on data both sites use, and records every
call. Faults run on a schedule drawn from --seed. Then it stops the load,
heals everything, waits until both sites are idle (streams drained,
reconciliation done), stops them, exports both journals with journalctl
inspect/state --json and checks: every item of DESIGN.md section 11, the
application's invariant at both sites, every answered call accounted for,
and no business anomaly. It exits 0 only if every check passed.

Faults (--faults, comma-separated, or all, or none):
  partition       both directions of the link blocked for a while
  oneway          one direction only
  latency         latency with jitter
  bandwidth       a bandwidth limit
  reset           connections reset by peer
  slicer          the byte stream sliced into tiny writes
  kill            SIGKILL of either instance, restarted from its journal
  kill-rollback   the vassal SIGKILLed inside a rollback (failpoint)
  kill-reconcile  the liege SIGKILLed inside a reconciliation (failpoint)
  skew            the vassal's clock skewed within --max-clock-offset
  skew-beyond     once, its clock beyond the bound: the link must be refused
                  (reported as refused, not as a failure)
Message-level faults (drop, duplicate, reorder) need the in-memory link:
--sim runs thousands of seeded simulations per minute with them.

--merge lww adds a second run of the same workload and faults in which the
instances merge each other's writes last-writer-wins by HLC (no read checks,
no rollback), and reports what that costs beside the path-consistent run:
seats sold twice, unflagged overdrafts, money created or destroyed, effects
that vanished.

--route compare runs the same workload and faults twice, with the app's
collision-prone procedures committed locally (never) and then routed auto
(a vassal forwards them to the liege while their measured conflict rate is
high, DESIGN.md section 13), and reports side by side the conflicts,
rollbacks, records rolled off, corrections per 1,000 acknowledged calls and
the latency of local and forwarded calls at each site.

Written to --out: report.html (a timeline of both sites with the faults
shaded), report.json (every figure), and per run the instance directories,
their logs, the call log and the journal exports.

  liege inject --app ticketing --duration 30s --faults all --out /tmp/inj
  liege inject --app atm --contention 0.3 --merge lww --out /tmp/inj-atm
  liege inject --app ticketing --contention 0.6 --faults all --route compare
  liege inject --sim --seeds 5000 --workers 2 --json
  liege inject --sim --seed 1234 --trace       # rerun one seed, with its trace
  liege inject --sim --seeds 2000 --break prev # a planted bug must fail

--sim runs the deterministic simulator (internal/sim): one goroutine per
seed runs both instances, the network (delay, drop, duplicate, reorder,
partitions, cuts), their clocks, their in-memory journals (crashed between
any two steps, restarted from what was synced) and clients with many calls
in flight, plus switchovers and promotes; then it heals, runs until idle
within a step budget and checks the oracle of DESIGN.md section 11. The
seed decides everything: the same arguments print the same trace_hash on
any machine, any --workers and any GOMAXPROCS. --break runs a protocol with
a known bug planted (literal: the post's two checks alone; prev: Prev
ignored; discard: discarding ended by any answer; subject: a duplicate
subject accepted; pending: own transactions not yet durable left out of the
window): the run must fail, naming a seed and the oracle item.`

func injectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inject",
		Usage: "prove convergence under faults: two real instances, toxiproxy, SIGKILLs, a checker and a report (or --sim)",
		UsageText: "liege inject [--app ticketing|atm|kv] [--duration D] [--rate N] [--contention C] [--seed S] [--faults LIST] [--merge path|lww] [--out DIR]\n" +
			"   liege inject --sim [--seeds N] [--from S] [--steps M] [--workers W] [--break MODE] [--json]\n" +
			"   liege inject --sim --seed S [--steps M] [--break MODE] --trace",
		Description: injectDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "app", Value: "ticketing", Usage: "the application to drive: ticketing, atm or kv"},
			&cli.DurationFlag{Name: "duration", Value: 30 * time.Second, Usage: "how long the load runs"},
			&cli.IntFlag{Name: "rate", Value: 200, Usage: "calls per second, over both sites"},
			&cli.Float64Flag{Name: "contention", Value: 0.2, Usage: "the share of calls on data both sites use (0 to 1)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "the seed of the workload and of the fault schedule"},
			&cli.StringFlag{Name: "faults", Value: "all", Usage: "the faults to inject: a comma-separated list, all, or none (see above)"},
			&cli.StringFlag{Name: "merge", Value: "path", Usage: "path, or lww to add the last-writer-wins baseline run beside it"},
			&cli.StringFlag{Name: "route", Value: "auto", Usage: "how the instances route the app's collision-prone procedures (DESIGN.md section 13), `ROUTE` never (commit locally), auto (forward to the liege while the measured conflict rate is high), liege (always forward), " +
				"or compare: the same seed and faults run twice, never then auto, side by side in the report"},
			&cli.StringFlag{Name: "out", Usage: "the output `DIR` (default: liege-inject-<app>-<seed> in the current directory)"},
			&cli.DurationFlag{Name: "max-clock-offset", Value: 500 * time.Millisecond, Usage: "the instances' --max-clock-offset"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress display"},
			&cli.BoolFlag{Name: "sim", Usage: "run the deterministic simulator instead (see above)"},
			&cli.IntFlag{Name: "seeds", Value: 1000, Usage: "--sim: how many seeds to run"},
			&cli.Uint64Flag{Name: "from", Value: 1, Usage: "--sim: the first seed"},
			&cli.IntFlag{Name: "steps", Value: 300, Usage: "--sim: random events per seed before healing"},
			&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "--sim: seeds run at once (the results do not depend on it)"},
			&cli.StringFlag{Name: "break", Usage: "--sim: plant a known protocol bug: literal, prev, discard, subject or pending (the run must fail)"},
			&cli.BoolFlag{Name: "trace", Usage: "--sim with --seed: print the seed's trace"},
			&cli.BoolFlag{Name: "model", Usage: "--sim: run the simulator's small model engine instead of the real one (internal/engine): faster, the protocol's Node alone under test"},
			&cli.BoolFlag{Name: "engine", Usage: "--sim: run the real engine (internal/engine), as --sim does without --model; kept for old command lines"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON object"},
		},
		Action: runInject,
	}
}

// runInjectProcesses runs the real-process runner.
func runInjectProcesses(c *cli.Context) error {
	faults, err := inject.ParseFaults(c.String("faults"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	var lww bool
	switch m := c.String("merge"); m {
	case "path":
	case "lww":
		lww = true
	default:
		return cli.Exit(fmt.Sprintf("--merge must be path or lww, not %q", m), 2)
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the liege binary to start the instances with: %w", err)
	}
	out := c.String("out")
	if out == "" {
		out = fmt.Sprintf("liege-inject-%s-%d", c.String("app"), c.Uint64("seed"))
	}
	cfg := inject.Config{App: c.String("app"), Duration: c.Duration("duration"), Rate: c.Int("rate"),
		Contention: c.Float64("contention"), Seed: c.Uint64("seed"), Faults: faults, Out: out, LWW: lww, Route: c.String("route"),
		Binary: bin, MaxClockOffset: c.Duration("max-clock-offset"), Command: injectCommandLine(c, out)}
	if !c.Bool("quiet") && !c.Bool("json") {
		cfg.Progress = c.App.ErrWriter
	}
	// Ctrl-C or SIGTERM ends the run and takes the instances down with it
	// (they run in process groups of their own, out of the terminal's
	// reach).
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := inject.Execute(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && c.Context.Err() == nil {
			return cli.Exit("liege inject: interrupted; the instances were stopped, their directories are in "+out, 130)
		}
		if rep == nil {
			return cli.Exit("liege inject: "+err.Error(), 2)
		}
		return err
	}
	if c.Bool("json") {
		if err := inject.WriteJSON(c.App.Writer, rep); err != nil {
			return err
		}
	} else {
		inject.WriteSummary(c.App.Writer, rep)
		abs, _ := filepath.Abs(out)
		fmt.Fprintf(c.App.Writer, "report: %s\n", filepath.Join(abs, "report.html"))
	}
	if !rep.Passed {
		return cli.Exit("", 1)
	}
	return nil
}

// injectCommandLine is the command that reproduces the run.
func injectCommandLine(c *cli.Context, out string) string {
	return fmt.Sprintf("liege inject --app %s --duration %v --rate %d --contention %g --seed %d --faults %s --merge %s --route %s --max-clock-offset %v --out %s",
		c.String("app"), c.Duration("duration"), c.Int("rate"), c.Float64("contention"), c.Uint64("seed"),
		c.String("faults"), c.String("merge"), c.String("route"), c.Duration("max-clock-offset"), out)
}

func runInject(c *cli.Context) error {
	if c.Bool("sim") {
		return runInjectSim(c)
	}
	return runInjectProcesses(c)
}
