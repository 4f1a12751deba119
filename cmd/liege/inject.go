package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/sim"
	"github.com/urfave/cli/v2"
)

const injectDescription = `The conflict-injection runner. So far it has one mode, --sim: thousands
of seeded simulations per minute of a liege and a vassal in this process,
over the in-memory link with message-level faults (drop, duplicate,
reorder), partitions, cuts, restarts of either instance from its journal
and clock skew inside the bound, each ending with the oracle of DESIGN.md
section 11 on both instances' directories. It stops at the first seed that
fails, prints the violation and how to rerun that seed, and exits 1.

  liege inject --sim --seeds 5000
  liege inject --sim --from 1234 --seeds 1     # rerun one seed

The real-process runner (child processes, toxiproxy link faults, SIGKILLs,
reports and the last-writer-wins baseline) is not built yet: without
--sim the command says so and exits 2.`

func injectCommand() *cli.Command {
	return &cli.Command{
		Name:        "inject",
		Usage:       "prove convergence under faults: --sim runs thousands of seeded simulations",
		UsageText:   "liege inject --sim [--seeds N] [--from S] [--workers W] [--json]",
		Description: injectDescription,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "sim", Usage: "run the in-process seeded simulation (message-level faults on the in-memory link)"},
			&cli.IntFlag{Name: "seeds", Value: 1000, Usage: "how many seeds to run"},
			&cli.Uint64Flag{Name: "from", Value: 1, Usage: "the first seed"},
			&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0) * 2, Usage: "seeds run at once"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON object"},
		},
		Action: runInject,
	}
}

// simSummary is what liege inject --sim reports.
type simSummary struct {
	Seeds        int      `json:"seeds"`
	Passed       int      `json:"passed"`
	From         uint64   `json:"from"`
	WithRollback int      `json:"with_vassal_rollback"`
	WithFaults   int      `json:"with_message_faults"`
	Restarts     int      `json:"restarts"`
	Partitions   int      `json:"partitions"`
	Acked        int      `json:"acknowledged"`
	Checks       []string `json:"checks_run"`
	Seconds      float64  `json:"seconds"`
	FailedSeed   uint64   `json:"failed_seed,omitempty"`
	Failure      string   `json:"failure,omitempty"`
	FailedItem   int      `json:"failed_item,omitempty"`
}

func runInject(c *cli.Context) error {
	if !c.Bool("sim") {
		return cli.Exit("liege inject: only --sim is built so far (the real-process runner is not); run liege inject --sim", 2)
	}
	n, from, workers := c.Int("seeds"), c.Uint64("from"), c.Int("workers")
	if n < 1 || workers < 1 {
		return fmt.Errorf("--seeds and --workers must be at least 1, not %d and %d", n, workers)
	}
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	t0 := time.Now()
	seeds := make(chan uint64)
	var mu sync.Mutex
	sum := simSummary{Seeds: n, From: from}
	var done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				res, err := sim.Run(ctx, sim.Options{Seed: seed})
				mu.Lock()
				if err != nil {
					if sum.Failure == "" && ctx.Err() == nil {
						sum.FailedSeed, sum.Failure = seed, err.Error()
						if v := oracle.AsViolation(err); v != nil {
							sum.FailedItem = v.Item
						}
						cancel()
					}
				} else {
					sum.Passed++
					sum.Acked += res.Acked
					sum.Restarts += res.Restarts
					sum.Partitions += res.Partitions
					if res.RolledBack {
						sum.WithRollback++
					}
					if res.Faults {
						sum.WithFaults++
					}
					if len(res.ChecksRun) > len(sum.Checks) {
						sum.Checks = res.ChecksRun
					}
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	go func() {
		for range progress.C {
			fmt.Fprintf(os.Stderr, "  %d/%d seeds, %.0f s\n", done.Load(), n, time.Since(t0).Seconds())
		}
	}()
feed:
	for i := 0; i < n; i++ {
		select {
		case seeds <- from + uint64(i):
		case <-ctx.Done():
			break feed
		}
	}
	close(seeds)
	wg.Wait()
	sum.Seconds = time.Since(t0).Seconds()
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		out := c.App.Writer
		fmt.Fprintf(out, "simulated %d of %d seeds (%d..%d) in %.1f s: %d with a vassal rollback, %d with message faults, %d restarts, %d partitions, %d acknowledged transactions\n",
			sum.Passed, n, from, from+uint64(n)-1, sum.Seconds, sum.WithRollback, sum.WithFaults, sum.Restarts, sum.Partitions, sum.Acked)
		if len(sum.Checks) > 0 {
			fmt.Fprintf(out, "checks run on every seed: %v\n", sum.Checks)
		}
		if sum.Failure != "" {
			fmt.Fprintf(out, "FAILED: %s\nrerun it: liege inject --sim --from %d --seeds 1\n", sum.Failure, sum.FailedSeed)
		}
	}
	if sum.Failure != "" {
		return cli.Exit("", 1)
	}
	if c.Context.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}
