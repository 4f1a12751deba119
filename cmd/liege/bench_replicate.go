package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
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
set up again during the load and how many frames each receiver dropped (a
lag spike with either is the link's, without them the executors'). Also
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
the load (both instances' work on it).

--rate caps both instances together at N calls/s, spaced evenly (measure
lag at a load the link keeps up with, e.g. half the unthrottled rate;
give enough --callers that the rate is reached); --contention
makes a fraction of the calls buy seats from a small pool both sell, so
that they conflict.

Goals (issue 14): both instances together >= 80,000 txn/s with replication
keeping up; lag p99 <= 250 ms at that saturating rate and <= 50 ms at half
of it (--rate).`

func benchReplicateCommand() *cli.Command {
	return &cli.Command{
		Name:        "replicate",
		Usage:       "measure two replicating instances: throughput each way, lag, conflicts",
		Description: benchReplicateDescription,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "callers", Value: 64, Usage: "callers per instance"},
			&cli.DurationFlag{Name: "duration", Value: 5 * time.Second, Usage: "how long to measure the load"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, Usage: "load before --duration that is not measured; 0 for none"},
			&cli.IntFlag{Name: "rate", Usage: "cap both instances together at `N` calls per second", DefaultText: "0, as fast as they go"},
			&cli.Float64Flag{Name: "contention", Usage: "fraction (0..1) of calls buying seats from a pool both instances sell"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes of each of the two values a call writes"},
			&cli.StringFlag{Name: "dir", Usage: "directory for the two instances (default: a new temporary directory)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the instance directories"},
			&cli.BoolFlag{Name: "json", Usage: "print the figures as one JSON object"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to `FILE`"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile to `FILE` at the end of the load, both instances still open (-sample_index=inuse_space: what the load left live; alloc_space: what it allocated)"},
			&cli.StringFlag{Name: "trace", Usage: "write an execution trace of the run to `FILE` (what each goroutine waits on: go tool trace -pprof=sync|sched|syscall FILE)"},
			&cli.StringFlag{Name: "log-level", Usage: "log both instances to stderr from `LEVEL` on (debug, info, warn, error); default: no log"},
		},
		Action: func(c *cli.Context) error {
			dir, cleanup, err := benchDir(c.String("dir"), c.Bool("keep"))
			if err != nil {
				return err
			}
			defer cleanup()
			fmt.Fprintf(os.Stderr, "bench replicate: %d callers per instance for %v in %s ...\n", c.Int("callers"), c.Duration("duration"), dir)
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
			var heapErr error
			var atLoadEnd func()
			if path := c.String("memprofile"); path != "" {
				atLoadEnd = func() { heapErr = writeHeapProfile(path) }
			}
			res, err := benchkit.RunReplicate(c.Context, benchkit.ReplicateConfig{Dir: dir, Callers: c.Int("callers"), Log: log,
				Duration: c.Duration("duration"), Warmup: warmup(c.Duration("warmup")), Rate: c.Int("rate"), Contention: c.Float64("contention"), ValueSize: c.Int("value-size"),
				AtLoadEnd: atLoadEnd})
			if err != nil {
				return err
			}
			if heapErr != nil {
				return heapErr
			}
			machine := hostinfo.Read()
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Machine hostinfo.Machine
					benchkit.ReplicateResult
				}{machine, res})
			}
			fmt.Fprintf(c.App.Writer, "machine: %s\n", machine)
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "DIRECTION\tCOMMITTED\tTXN/S\tLAG P50\tLAG P99\tLAG MAX\tFSYNCS AT FROM\tRECORDS/FSYNC\tFSYNC MEAN\tFSYNC BUSY\tROUND MEAN\tROUND BUSY\tFRAMES/SEND\tFRAMES/RUN")
			for _, d := range res.Directions {
				fmt.Fprintf(w, "%s -> %s\t%d\t%.0f\t%.1f ms\t%.1f ms\t%.1f ms\t%d\t%.1f\t%.2f ms\t%.0f%%\t%.2f ms\t%.0f%%\t%.1f\t%.1f\n", d.From, d.To, d.Committed, d.TxnPerSec, d.LagP50ms, d.LagP99ms, d.LagMaxms,
					d.Fsyncs, d.RecordsPerFsync, d.FsyncMeanMs, 100*d.FsyncBusy, d.RoundMeanMs, 100*d.RoundBusy, d.FramesPerSend, d.FramesPerRun)
			}
			w.Flush()
			fmt.Fprintf(c.App.Writer, "both: %.0f txn/s over %.1f s; conflicts detected %.0f, rollbacks %.0f (calls held after %.0f, %.0f of them until the budget ran out), seats refused as taken %d; caught up %.2f s after the load; converged: %v\n",
				res.TotalTxnPerSec, res.Seconds, res.Conflicts, res.Rollbacks, res.CallWaits, res.CallWaitsBudget, res.ConflictRefusal, res.CatchUpSeconds, res.Converged)
			fmt.Fprintf(c.App.Writer, "link during the load: reconnects %.0f / %.0f, frames dropped by the receiver %.0f / %.0f (%s -> %s / %s -> %s)\n",
				res.Directions[0].Reconnects, res.Directions[1].Reconnects, res.Directions[0].Dropped, res.Directions[1].Dropped,
				res.Directions[0].From, res.Directions[0].To, res.Directions[1].From, res.Directions[1].To)
			if res.CPUSeconds > 0 {
				fmt.Fprintf(c.App.Writer, "CPU: %.2f s over the load's %.1f s (%.2f cores), %.1f µs, %.2f page faults and %.2f context switches per transaction, both instances' work on it\n",
					res.CPUSeconds, res.Seconds, res.CPUSeconds/res.Seconds, res.CPUPerTxnMicros, res.FaultsPerTxn, res.SwitchesPerTxn)
			}
			if !res.Converged {
				return cli.Exit("the two instances ended with different states", 2)
			}
			return nil
		},
	}
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
