package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/liege-db/liege/internal/benchkit"
	"github.com/liege-db/liege/internal/hostinfo"
	"github.com/urfave/cli/v2"
)

const benchDescription = `Measures the engine with the ticket-like transaction: procedure "ticket" reads
one absent key ("seat", event, seat) and sets it and ("owner", customer, seat)
to values of --value-size bytes; every call's seat is new. Checkpoints are
off while measuring.

'liege bench commit' prints, in one run:

  COMMIT, per caller count (goroutines each issuing a call and waiting for it):
    engine txn/s      calls completed per second, each durable (fsynced)
                      when db.Call returns
    p50, p99          latency of one call, from Call to its durable return
    txn/fsync         records made durable per journal fsync (group commit)
    raw entries/s     raw github.com/tidwall/wal appends of entries the size
                      of the engine's average journal frame, batched the
                      same way: each caller submits one entry and waits;
                      one writer writes everything pending with WriteBatch,
                      fsyncs once, wakes the waiters. The ceiling for the
                      engine on this disk.
    raw p50, p99      latency of one raw append, submit to fsync
    engine/raw        engine txn/s over raw entries/s
    cost              CPU time (user + system, all goroutines), heap
                      allocations and minor page faults (first touches of
                      memory) of the process per txn (per raw entry): the
                      figures to compare on a shared machine, where the
                      rates move with the neighbours' load. Where a page
                      fault is dear (a VM backing memory on first touch),
                      a growing heap's faults are much of the CPU time
  COLD      before the COMMIT rows, an untimed pass of the most callers'
            calls in an instance of its own, so that the measured
            instances grow into memory the process has already touched,
            as a long-running server's does; its own figures, a fresh
            process's, are printed as cold. --cold skips it: then the
            first COMMIT row is the fresh process's
  REPLAY    records/s recovery replays a journal with no checkpoint
            (--replay-records ticket records; Recovery.Replayed over
            Recovery.ReplayDuration, which includes opening and scanning
            the journal)
  ROLLBACK  records/s RollbackTo undoes, saves to a lost transaction file
            and truncates (--rollback-records records rolled off)
  MEMORY    heap in use (after GC) of a state of --memory-keys ticket keys
            with their values, per key and as a ratio to the raw key and
            value bytes

Goals:
  commit    >= 150,000 txn/s with 256 callers, and >= 50% of raw wal
  replay    >= 1,000,000 records/s
  rollback  >= 500,000 records/s
  memory    heap <= 2 x raw bytes + 64 B per key

Progress goes to stderr, figures to stdout (one JSON object with --json).`

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure the engine against its goals: commit, replicate, detect, http",
		Description: "liege bench commit: durable commits, replay, rollback and memory (below).\n" +
			"liege bench replicate: two replicating instances, throughput each way, lag, conflicts (see its --help).\n" +
			"liege bench detect: conflict detection against windows of 1k to 100k own transactions (see its --help).\n" +
			"liege bench http: kv set over HTTP against the engine in process (see its --help).\n\n" + benchDescription,
		Subcommands: []*cli.Command{benchCommitCommand(), benchReplicateCommand(), benchDetectCommand(), benchHTTPCommand()},
	}
}

func benchCommitCommand() *cli.Command {
	return &cli.Command{
		Name:        "commit",
		Usage:       "run every measurement once and print the figures and goals",
		Description: benchDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "callers", Value: "1,16,256", Usage: "comma-separated caller counts to measure commit with"},
			&cli.IntFlag{Name: "txns", Value: 200_000, Usage: "calls per caller count (capped at 20,000 per caller: 20,000 for 1 caller)"},
			&cli.StringFlag{Name: "dir", Usage: "directory for the instances and wal files (default: a new temporary directory)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the files written instead of removing them"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes of each of the two values a call writes"},
			&cli.IntFlag{Name: "replay-records", Value: 1_000_000, Usage: "records in the journal replayed (0 skips replay)"},
			&cli.IntFlag{Name: "rollback-records", Value: 500_000, Usage: "records rolled off (0 skips rollback)"},
			&cli.IntFlag{Name: "memory-keys", Value: 1_000_000, Usage: "keys in the state whose memory is measured (0 skips it)"},
			&cli.BoolFlag{Name: "no-raw", Usage: "skip the raw tidwall/wal comparison"},
			&cli.BoolFlag{Name: "cold", Usage: "measure commit in a fresh process: skip the untimed first pass that warms the process's memory (see COLD above)"},
			&cli.DurationFlag{Name: "stall-timeout", Value: time.Minute, Usage: "fail (with a goroutine dump) when no call completes for this long"},
			&cli.BoolFlag{Name: "json", Usage: "print the figures as one JSON object"},
			&cli.BoolFlag{Name: "check", Usage: "exit with status 2 when a goal is missed"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the engine commit measurement to `FILE` (FILE.cN for each of several caller counts N), of the replay to FILE.replay and of the rollback to FILE.rollback (their builds left out)"},
		},
		Action: runBenchCommit,
	}
}

// benchReport is everything `liege bench commit` measured.
type benchReport struct {
	Machine   hostinfo.Machine `json:"machine"`
	ValueSize int              `json:"value_size"`
	Commit    []commitRow      `json:"commit"`
	// Cold is the untimed first pass (see runBenchCommit), nil with --cold.
	Cold     *coldFigure   `json:"cold,omitempty"`
	Replay   *replayFigure `json:"replay,omitempty"`
	Rollback *rollbackFig  `json:"rollback,omitempty"`
	Memory   *memoryFigure `json:"memory,omitempty"`
	Goals    []goal        `json:"goals"`
	Dir      string        `json:"dir,omitempty"` // when kept
	Started  time.Time     `json:"started"`
	Took     float64       `json:"took_seconds"`
}

type commitRow struct {
	Callers int          `json:"callers"`
	Engine  engineFigure `json:"engine"`
	Raw     *rawFigure   `json:"raw,omitempty"`
	// Ratio is engine txn/s over raw entries/s.
	Ratio float64 `json:"engine_over_raw,omitempty"`
}

type engineFigure struct {
	Txns         int     `json:"txns"`
	Seconds      float64 `json:"seconds"`
	TxnPerSec    float64 `json:"txn_per_sec"`
	P50us        float64 `json:"p50_us"`
	P99us        float64 `json:"p99_us"`
	P999us       float64 `json:"p999_us"`
	MaxUs        float64 `json:"max_us"`
	Fsyncs       uint64  `json:"fsyncs"`
	TxnPerFsync  float64 `json:"txn_per_fsync"`
	FsyncSeconds float64 `json:"fsync_seconds"`
	FrameBytes   int     `json:"frame_bytes"`
	costFigure
}

// costFigure is what a measurement cost the process per operation (call or
// entry): the figures to compare on a loaded machine.
type costFigure struct {
	CPUus      float64 `json:"cpu_us_per_op"`
	Allocs     float64 `json:"allocs_per_op"`
	AllocBytes float64 `json:"alloc_bytes_per_op"`
	Faults     float64 `json:"faults_per_op"`
}

func costOf(c benchkit.Cost) costFigure {
	return costFigure{CPUus: us(c.CPU), Allocs: c.Allocs, AllocBytes: c.AllocBytes, Faults: c.Faults}
}

func (c costFigure) String() string {
	return fmt.Sprintf("%.2f µs CPU, %.1f allocs (%.0f B), %.2f page faults", c.CPUus, c.Allocs, c.AllocBytes, c.Faults)
}

type rawFigure struct {
	Entries       int     `json:"entries"`
	EntryBytes    int     `json:"entry_bytes"`
	Seconds       float64 `json:"seconds"`
	EntriesPerSec float64 `json:"entries_per_sec"`
	P50us         float64 `json:"p50_us"`
	P99us         float64 `json:"p99_us"`
	P999us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`
	Fsyncs        uint64  `json:"fsyncs"`
	PerFsync      float64 `json:"entries_per_fsync"`
	costFigure
}

// coldFigure is the first pass of commit, in a fresh process: what the
// measured runs after it would be if the process's heap had not been
// touched before (see runBenchCommit).
type coldFigure struct {
	Callers   int     `json:"callers"`
	Txns      int     `json:"txns"`
	TxnPerSec float64 `json:"txn_per_sec"`
	costFigure
}

type replayFigure struct {
	Records        int     `json:"records"`
	Replayed       uint64  `json:"replayed"`
	JournalBytes   int64   `json:"journal_bytes"`
	ReplaySeconds  float64 `json:"replay_seconds"`
	OpenSeconds    float64 `json:"open_seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	BuildSeconds   float64 `json:"build_seconds"`
	BuildTxnPerSec float64 `json:"build_txn_per_sec"`
}

type rollbackFig struct {
	Records       int     `json:"records"`
	Seconds       float64 `json:"seconds"`
	EngineSeconds float64 `json:"engine_seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	LostFileBytes int64   `json:"lost_file_bytes"`
}

type memoryFigure struct {
	Keys           int     `json:"keys"`
	RawBytes       int64   `json:"raw_bytes"`
	HeapInuse      int64   `json:"heap_inuse_bytes"`
	HeapAlloc      int64   `json:"heap_alloc_bytes"`
	BytesPerKey    float64 `json:"bytes_per_key"`
	RawPerKey      float64 `json:"raw_bytes_per_key"`
	OverheadPerKey float64 `json:"overhead_bytes_per_key"`
	Ratio          float64 `json:"heap_over_raw"`
	BudgetPerKey   float64 `json:"budget_bytes_per_key"`
}

type goal struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Value    float64 `json:"value"`
	Measured bool    `json:"measured"`
	Met      bool    `json:"met"`
}

func runBenchCommit(c *cli.Context) error {
	callers, err := parseCallers(c.String("callers"))
	if err != nil {
		return err
	}
	txns, valueSize := c.Int("txns"), c.Int("value-size")
	if txns <= 0 || valueSize <= 0 {
		return errors.New("--txns and --value-size must be positive")
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()

	root, cleanup, err := benchDir(c.String("dir"), c.Bool("keep"))
	if err != nil {
		return err
	}
	defer cleanup()

	progress := c.App.ErrWriter
	w := benchkit.Workload{ValueSize: valueSize, StallTimeout: c.Duration("stall-timeout"), Log: progress, EngineLog: progress}
	rep := &benchReport{Machine: hostinfo.Read(), ValueSize: valueSize, Started: time.Now()}
	phases := 0
	if !c.Bool("cold") {
		phases++
	}
	for range callers {
		phases++
		if !c.Bool("no-raw") {
			phases++
		}
	}
	for _, n := range []string{"replay-records", "rollback-records", "memory-keys"} {
		if c.Int(n) > 0 {
			phases++
		}
	}
	phase := 0
	begin := func(format string, args ...any) time.Time {
		phase++
		fmt.Fprintf(progress, "liege bench: [%d/%d] %s\n", phase, phases, fmt.Sprintf(format, args...))
		return time.Now()
	}
	end := func(t0 time.Time, format string, args ...any) {
		fmt.Fprintf(progress, "liege bench: [%d/%d] done in %s: %s\n", phase, phases, time.Since(t0).Round(time.Millisecond), fmt.Sprintf(format, args...))
	}
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
	done := func(dir string) {
		if !c.Bool("keep") {
			os.RemoveAll(dir)
		}
	}

	if !c.Bool("cold") {
		// A first pass of the most callers' calls, untimed, in an instance
		// of its own: the measured instances then grow into memory the
		// process has touched, as a long-running server's does. Where a
		// first touch of a page is dear (a VM that backs memory on first
		// touch: ~12 µs a 4 KiB page where these goals were set), a fresh
		// process pays it for all the heap it grows, on the commit path's
		// serial loop too, and measures its start-up rather than its
		// steady state. The pass's own figures are reported as cold.
		n := slices.Max(callers)
		total := min(txns, 20_000*n)
		dir, err := sub("engine-cold")
		if err != nil {
			return err
		}
		t0 := begin("warm the process: engine commit, %s, %d txns, untimed (--cold skips it)", plural(n, "caller"), total)
		er, err := w.RunEngine(ctx, dir, n, total)
		if err != nil {
			return fmt.Errorf("first (cold) pass of engine commit with %d callers: %w", n, err)
		}
		done(dir)
		end(t0, "cold: %s txn/s; per txn %s", count(er.TxnPerSec), costOf(er.Cost))
		rep.Cold = &coldFigure{Callers: n, Txns: total, TxnPerSec: er.TxnPerSec, costFigure: costOf(er.Cost)}
	}
	for _, n := range callers {
		total := min(txns, 20_000*n)
		dir, err := sub(fmt.Sprintf("engine-c%d", n))
		if err != nil {
			return err
		}
		t0 := begin("engine commit: %s, %d txns", plural(n, "caller"), total)
		prof := c.String("cpuprofile")
		if prof != "" && len(callers) > 1 {
			prof = fmt.Sprintf("%s.c%d", prof, n)
		}
		stopProfile, err := startProfiles(prof, "")
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		er, err := w.RunEngine(ctx, dir, n, total)
		if perr := stopProfile(); perr != nil && err == nil {
			return fmt.Errorf("--cpuprofile: %w", perr)
		}
		if err != nil {
			return fmt.Errorf("engine commit with %d callers: %w", n, err)
		}
		done(dir)
		end(t0, "%s txn/s, p50 %s, p99 %s, %.1f txn/fsync, %d-byte frames; per txn %s",
			count(er.TxnPerSec), dur(er.Latency.P50), dur(er.Latency.P99), er.AvgBatch, er.FrameBytes, costOf(er.Cost))
		row := commitRow{Callers: n, Engine: engineFigure{
			Txns: er.Txns, Seconds: er.Elapsed.Seconds(), TxnPerSec: er.TxnPerSec,
			P50us: us(er.Latency.P50), P99us: us(er.Latency.P99), P999us: us(er.Latency.P999), MaxUs: us(er.Latency.Max),
			Fsyncs: er.Fsyncs, TxnPerFsync: er.AvgBatch, FsyncSeconds: er.FsyncTime.Seconds(), FrameBytes: er.FrameBytes,
			costFigure: costOf(er.Cost),
		}}
		if !c.Bool("no-raw") {
			dir, err := sub(fmt.Sprintf("raw-c%d", n))
			if err != nil {
				return err
			}
			t0 := begin("raw tidwall/wal: %s, %d entries of %d bytes", plural(n, "caller"), total, er.FrameBytes)
			rr, err := w.RunRawWAL(dir, n, total, er.FrameBytes)
			if err != nil {
				return fmt.Errorf("raw wal with %d callers: %w", n, err)
			}
			done(dir)
			end(t0, "%s entries/s, p50 %s, p99 %s, %.1f entries/fsync; per entry %s",
				count(rr.PerSec), dur(rr.Latency.P50), dur(rr.Latency.P99), rr.AvgBatch, costOf(rr.Cost))
			row.Raw = &rawFigure{
				Entries: rr.Entries, EntryBytes: rr.EntrySize, Seconds: rr.Elapsed.Seconds(), EntriesPerSec: rr.PerSec,
				P50us: us(rr.Latency.P50), P99us: us(rr.Latency.P99), P999us: us(rr.Latency.P999), MaxUs: us(rr.Latency.Max),
				Fsyncs: rr.Fsyncs, PerFsync: rr.AvgBatch, costFigure: costOf(rr.Cost),
			}
			if rr.PerSec > 0 {
				row.Ratio = er.TxnPerSec / rr.PerSec
			}
		}
		rep.Commit = append(rep.Commit, row)
	}

	if n := c.Int("replay-records"); n > 0 {
		dir, err := sub("replay")
		if err != nil {
			return err
		}
		t0 := begin("replay: build a journal of %d records, reopen", n)
		stop, err := profileSection(&w, c.String("cpuprofile"), "replay")
		if err != nil {
			return err
		}
		r, err := w.RunReplay(dir, n)
		if perr := stop(); perr != nil && err == nil {
			err = perr
		}
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		done(dir)
		end(t0, "%s records/s (%d records, %s journal, replay %s, built at %s txn/s)",
			count(r.RecPerSec), r.Replayed, mib(r.JournalBytes), dur(r.ReplayDuration), count(float64(n)/r.BuildDuration.Seconds()))
		rep.Replay = &replayFigure{Records: n, Replayed: r.Replayed, JournalBytes: r.JournalBytes,
			ReplaySeconds: r.ReplayDuration.Seconds(), OpenSeconds: r.OpenDuration.Seconds(), RecordsPerSec: r.RecPerSec,
			BuildSeconds: r.BuildDuration.Seconds(), BuildTxnPerSec: float64(n) / r.BuildDuration.Seconds()}
	}

	if n := c.Int("rollback-records"); n > 0 {
		dir, err := sub("rollback")
		if err != nil {
			return err
		}
		t0 := begin("rollback: build %d records, roll them off", n)
		stop, err := profileSection(&w, c.String("cpuprofile"), "rollback")
		if err != nil {
			return err
		}
		r, err := w.RunRollback(dir, n)
		if perr := stop(); perr != nil && err == nil {
			err = perr
		}
		if err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		done(dir)
		end(t0, "%s records/s (%d records in %s)", count(r.RecPerSec), r.Records, dur(r.Duration))
		rep.Rollback = &rollbackFig{Records: r.Records, Seconds: r.Duration.Seconds(), EngineSeconds: r.EngineDuration.Seconds(),
			RecordsPerSec: r.RecPerSec, LostFileBytes: r.LostFileBytes}
	}

	if n := c.Int("memory-keys"); n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := begin("state memory: %d keys, %d-byte values", n, valueSize)
		m := benchkit.StateMemory(n, valueSize)
		end(t0, "%.1f B/key, %.2fx raw", m.BytesPerKey, m.Ratio)
		rep.Memory = &memoryFigure{Keys: m.Keys, RawBytes: m.RawBytes, HeapInuse: m.HeapInuse, HeapAlloc: m.HeapAlloc,
			BytesPerKey: m.BytesPerKey, RawPerKey: float64(m.RawBytes) / float64(m.Keys), OverheadPerKey: m.OverheadPerKey,
			Ratio: m.Ratio, BudgetPerKey: float64(m.Budget) / float64(m.Keys)}
	}

	rep.Goals = goals(rep)
	rep.Took = time.Since(rep.Started).Seconds()
	if c.Bool("keep") {
		rep.Dir = root
		fmt.Fprintf(progress, "liege bench: files kept in %s\n", root)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(c.App.Writer, rep)
	}
	if c.Bool("check") {
		for _, g := range rep.Goals {
			if g.Measured && !g.Met {
				return cli.Exit("liege bench: a goal was missed", 2)
			}
		}
	}
	return nil
}

// parseCallers parses "1,16,256".
func parseCallers(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--callers: %q is not a positive number (want e.g. 1,16,256)", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("--callers: give at least one caller count, e.g. 1,16,256")
	}
	return out, nil
}

// benchDir returns the directory to work in and a func that removes what
// must not be kept.
func benchDir(dir string, keep bool) (string, func(), error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "liege-bench-")
		if err != nil {
			return "", nil, err
		}
		return d, func() {
			if !keep {
				os.RemoveAll(d)
			}
		}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	return dir, func() {}, nil // the phases remove their own subdirectories
}

// goals evaluates the goals against what was measured.
func goals(rep *benchReport) []goal {
	var out []goal
	var at256 *commitRow
	for i := range rep.Commit {
		if rep.Commit[i].Callers == benchkit.GoalCommitCallers {
			at256 = &rep.Commit[i]
		}
	}
	g := goal{Name: "commit txn/s, 256 callers", Want: ">= " + count(benchkit.GoalCommitTxnPerSec)}
	if at256 != nil {
		g.Measured, g.Value = true, at256.Engine.TxnPerSec
		g.Met = g.Value >= benchkit.GoalCommitTxnPerSec
	}
	out = append(out, g)
	g = goal{Name: "commit engine/raw, 256 callers", Want: fmt.Sprintf(">= %.0f%%", 100*benchkit.GoalCommitRawRatio)}
	if at256 != nil && at256.Raw != nil {
		g.Measured, g.Value = true, at256.Ratio
		g.Met = g.Value >= benchkit.GoalCommitRawRatio
	}
	out = append(out, g)
	g = goal{Name: "replay records/s", Want: ">= " + count(benchkit.GoalReplayRecPerSec)}
	if rep.Replay != nil {
		g.Measured, g.Value = true, rep.Replay.RecordsPerSec
		g.Met = g.Value >= benchkit.GoalReplayRecPerSec
	}
	out = append(out, g)
	g = goal{Name: "rollback records/s", Want: ">= " + count(benchkit.GoalRollbackRecPerSec)}
	if rep.Rollback != nil {
		g.Measured, g.Value = true, rep.Rollback.RecordsPerSec
		g.Met = g.Value >= benchkit.GoalRollbackRecPerSec
	}
	out = append(out, g)
	g = goal{Name: "state memory B/key", Want: fmt.Sprintf("<= %gx raw + %d B/key", benchkit.GoalMemoryRawFactor, benchkit.GoalMemoryPerKey)}
	if rep.Memory != nil {
		g.Measured, g.Value = true, rep.Memory.BytesPerKey
		g.Met = rep.Memory.BytesPerKey <= rep.Memory.BudgetPerKey
		g.Want += fmt.Sprintf(" (%.0f B/key)", rep.Memory.BudgetPerKey)
	}
	out = append(out, g)
	return out
}

func printReport(out io.Writer, rep *benchReport) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	frame := 0
	if len(rep.Commit) > 0 {
		frame = rep.Commit[len(rep.Commit)-1].Engine.FrameBytes
	}
	fmt.Fprintf(out, "MACHINE %s\n", rep.Machine)
	fmt.Fprintf(out, "COMMIT  ticket txn: 1 absent read + 2 sets of %d-byte values, %d-byte journal frames\n", rep.ValueSize, frame)
	fmt.Fprintln(tw, "callers\ttxns\tengine txn/s\tp50\tp99\ttxn/fsync\traw entries/s\traw p50\traw p99\tentries/fsync\tengine/raw\t")
	for _, r := range rep.Commit {
		raw := "-\t-\t-\t-\t-\t"
		if r.Raw != nil {
			raw = fmt.Sprintf("%s\t%s\t%s\t%.1f\t%.0f%%\t", count(r.Raw.EntriesPerSec), durUs(r.Raw.P50us), durUs(r.Raw.P99us), r.Raw.PerFsync, 100*r.Ratio)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%.1f\t%s\n", r.Callers, r.Engine.Txns, count(r.Engine.TxnPerSec),
			durUs(r.Engine.P50us), durUs(r.Engine.P99us), r.Engine.TxnPerFsync, raw)
	}
	tw.Flush()
	for _, r := range rep.Commit {
		fmt.Fprintf(out, "  cost with %d callers: %s per txn", r.Callers, r.Engine.costFigure)
		if r.Raw != nil {
			fmt.Fprintf(out, "; raw %s per entry", r.Raw.costFigure)
		}
		fmt.Fprintln(out)
	}
	if r := rep.Cold; r != nil {
		fmt.Fprintf(out, "  cold (the untimed first pass, fresh process), %d callers: %s txn/s; %s per txn\n", r.Callers, count(r.TxnPerSec), r.costFigure)
	}
	fmt.Fprintln(out)
	if r := rep.Replay; r != nil {
		fmt.Fprintf(out, "REPLAY    %s records/s: %d records (%s journal, no checkpoint) replayed in %s; Open took %s\n",
			count(r.RecordsPerSec), r.Replayed, mib(r.JournalBytes), secs(r.ReplaySeconds), secs(r.OpenSeconds))
	}
	if r := rep.Rollback; r != nil {
		fmt.Fprintf(out, "ROLLBACK  %s records/s: %d records rolled off in %s (%s lost transaction file)\n",
			count(r.RecordsPerSec), r.Records, secs(r.Seconds), mib(r.LostFileBytes))
	}
	if m := rep.Memory; m != nil {
		fmt.Fprintf(out, "MEMORY    %.1f B/key: %d keys, heap in use %s for %s of keys and values (%.1f B/key raw): %.2fx raw, %.1f B/key overhead\n",
			m.BytesPerKey, m.Keys, mib(m.HeapInuse), mib(m.RawBytes), m.RawPerKey, m.Ratio, m.OverheadPerKey)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "GOALS")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, g := range rep.Goals {
		val, verdict := "-", "not measured"
		if g.Measured {
			verdict = "MISSED"
			if g.Met {
				verdict = "met"
			}
			switch {
			case strings.Contains(g.Name, "engine/raw"):
				val = fmt.Sprintf("%.0f%%", 100*g.Value)
			case strings.Contains(g.Name, "B/key"):
				val = fmt.Sprintf("%.1f", g.Value)
			default:
				val = count(g.Value)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", g.Name, g.Want, val, verdict)
	}
	tw.Flush()
}

// count formats n with thousands separators.
func count(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural formats a count of things: "1 row", "2 rows", "0 rows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func dur(d time.Duration) string { return durUs(us(d)) }

// durUs formats microseconds compactly: 93µs, 3.05ms, 1.20s.
func durUs(u float64) string {
	switch {
	case u < 1000:
		return fmt.Sprintf("%.0fµs", u)
	case u < 1e6:
		return fmt.Sprintf("%.2fms", u/1e3)
	default:
		return fmt.Sprintf("%.2fs", u/1e6)
	}
}

func secs(s float64) string { return durUs(s * 1e6) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// profileSection makes w's measured section (Workload.Start and Stop) write
// a CPU profile to path.name, when path is not empty. The func it returns
// ends the profile if the section did not (an error before Stop) and
// reports an error of starting or writing it; w's hooks are cleared.
func profileSection(w *benchkit.Workload, path, name string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	var stop func() error
	var perr error
	w.Start = func() {
		stop, perr = startProfiles(path+"."+name, "")
	}
	w.Stop = func() {
		if stop != nil {
			perr = errors.Join(perr, stop())
		}
	}
	return func() error {
		w.Start, w.Stop = nil, nil
		if stop != nil {
			perr = errors.Join(perr, stop()) // stop is idempotent
		}
		if perr != nil {
			return fmt.Errorf("--cpuprofile: %w", perr)
		}
		return nil
	}, nil
}
