package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/replicate"
	"github.com/urfave/cli/v2"
)

// simReport is what liege inject --sim --json prints.
type simReport struct {
	Seeds             uint64      `json:"seeds"`
	From              uint64      `json:"from"`
	StepsPerSeed      int         `json:"steps_per_seed"`
	Break             string      `json:"break,omitempty"`
	Engine            string      `json:"engine"`
	App               string      `json:"app,omitempty"`
	Passed            uint64      `json:"passed"`
	Failed            uint64      `json:"failed"`
	Steps             int64       `json:"steps"`
	SeedsWithRollback uint64      `json:"seeds_with_rollback"`
	TraceHash         string      `json:"trace_hash"`
	FirstFailure      *simFailure `json:"first_failure"`
	// Seconds and StepsPerSecond depend on the machine; everything above
	// depends only on the arguments.
	Seconds        float64 `json:"seconds"`
	StepsPerSecond float64 `json:"steps_per_second"`
}

type simFailure struct {
	Seed      uint64 `json:"seed"`
	Item      string `json:"item"`
	Violation string `json:"violation"`
	Command   string `json:"command"`
}

func runInjectSim(c *cli.Context) error {
	brk := replicate.Break(c.String("break"))
	if brk != "" && !slices.Contains(replicate.Breaks, brk) {
		return cli.Exit(fmt.Sprintf("liege inject: --break %q: want one of %s", brk, breakNames()), 2)
	}
	if c.Bool("model") && c.Bool("engine") {
		return cli.Exit("liege inject: --sim takes --model (the simulator's model engine) or --engine (the real one, the default), not both", 2)
	}
	app := ""
	if c.IsSet("app") {
		app = c.String("app")
		if c.Bool("model") {
			return cli.Exit("liege inject: --sim --app runs the application on the real engine: drop --model", 2)
		}
	}
	steps := c.Int("steps")
	if steps < 1 {
		return cli.Exit(fmt.Sprintf("liege inject: --steps must be at least 1, not %d", steps), 2)
	}
	if c.Bool("trace") || c.IsSet("seed") {
		if !c.IsSet("seed") {
			return cli.Exit("liege inject: --trace needs --seed S (one seed)", 2)
		}
		return runSimSeed(c, c.Uint64("seed"), steps, brk, app)
	}
	n, workers := c.Int("seeds"), c.Int("workers")
	if n < 1 || workers < 1 {
		return cli.Exit(fmt.Sprintf("liege inject: --seeds and --workers must be at least 1, not %d and %d", n, workers), 2)
	}
	from := c.Uint64("from")
	t0 := time.Now()
	last := t0
	progress := func(done uint64, _ *sim.Result) {
		if c.Bool("json") || c.Bool("quiet") || time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(c.App.ErrWriter, "  %d/%d seeds, %.0f s\n", done, n, time.Since(t0).Seconds())
	}
	s := sim.RunMany(sim.ManyOptions{From: from, Seeds: uint64(n), Steps: steps, Break: brk, Workers: workers,
		Model: c.Bool("model"), App: app, Progress: progress, StopAtFailure: brk != ""})
	secs := time.Since(t0).Seconds()
	engineName := "internal/engine"
	if c.Bool("model") {
		engineName = "model"
	}
	rep := simReport{Seeds: s.Seeds, From: from, StepsPerSeed: steps, Break: string(brk), Engine: engineName, App: app, Passed: s.Passed, Failed: s.Failed,
		Steps: s.Steps, SeedsWithRollback: s.SeedsWithRollback, TraceHash: hex.EncodeToString(s.TraceHash[:]),
		Seconds: secs, StepsPerSecond: float64(s.Steps) / secs}
	if f := s.First; f != nil {
		rep.FirstFailure = &simFailure{Seed: f.Seed, Item: f.Failure.Item, Violation: f.Failure.Msg, Command: sim.Rerun(f, steps, brk)}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.App.Writer, "simulated %d seeds (%d..%d) of %d steps in %.1f s: %d passed, %d failed, %d with a rollback, %d steps (%.0f a second), trace %s\n",
			s.Seeds, from, from+s.Seeds-1, steps, secs, s.Passed, s.Failed, s.SeedsWithRollback, s.Steps, rep.StepsPerSecond, rep.TraceHash[:16])
	}
	if f := rep.FirstFailure; f != nil {
		return cli.Exit(fmt.Sprintf("liege inject: seed %d failed: %s violated: %s\nrerun it: %s", f.Seed, f.Item, f.Violation, f.Command), 1)
	}
	return nil
}

// runSimSeed runs one seed, printing its trace with --trace.
func runSimSeed(c *cli.Context, seed uint64, steps int, brk replicate.Break, app string) error {
	o := sim.Options{Seed: seed, Steps: steps, Break: brk, Model: c.Bool("model"), App: app}
	if c.Bool("trace") {
		o.Trace = c.App.Writer
	}
	r := sim.Run(o)
	fmt.Fprintf(c.App.Writer, "seed %d: %d steps, %d acknowledged, %d crashes, %d promotes, %d switchovers, trace %s\n",
		seed, r.Steps, r.Acked, r.Crashes, r.Promotes, r.Switchovers, hex.EncodeToString(r.TraceHash[:8]))
	if f := r.Failure; f != nil {
		return cli.Exit(fmt.Sprintf("liege inject: seed %d failed: %s violated: %s\nrerun it: %s", seed, f.Item, f.Msg, sim.Rerun(&r, steps, brk)), 1)
	}
	return nil
}

func breakNames() string {
	names := make([]string, len(replicate.Breaks))
	for i, b := range replicate.Breaks {
		names[i] = string(b)
	}
	return strings.Join(names, ", ")
}
