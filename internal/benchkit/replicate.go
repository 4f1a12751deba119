package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
	"github.com/prometheus/client_golang/prometheus"
)

// ReplicateConfig is a run of RunReplicate.
type ReplicateConfig struct {
	Dir      string
	Callers  int           // per instance
	Duration time.Duration // of the load, measured
	// Warmup is load before Duration that is not measured: the heaps, the
	// journal's buffers and the state grow from empty during the first
	// few hundred milliseconds, and their lag would otherwise be a good
	// part of a short run's p99. Negative: none.
	Warmup time.Duration
	// Rate, if > 0, caps the calls per second of both instances together.
	Rate int
	// Contention is the fraction of calls that buy a seat from a small
	// shared pool both instances sell, so that some conflict.
	Contention float64
	ValueSize  int
	Progress   io.Writer
	// Log, if set, receives both instances' log lines.
	Log *slog.Logger
	// AtLoadEnd, if set, is called once the load has ended and its CPU
	// time is taken, before the catch-up and while both instances are
	// open (a heap profile of what the load left live).
	AtLoadEnd func()
}

// Direction is what one direction of the link carried.
type Direction struct {
	From, To  string
	Committed int     // acknowledged at From
	TxnPerSec float64 // acknowledged at From per second
	// Lag is from a transaction's acknowledgement at From to its apply at
	// To (sampled every millisecond).
	LagP50ms, LagP99ms, LagMaxms float64
	Sampled                      int
	// Fsyncs is how many journal fsyncs From ran, RecordsPerFsync how
	// many records (its own and the peer's) each made durable on average,
	// FsyncMeanMs how long the write and fsync of one took, RoundMeanMs
	// how long from the start of its write until From's executor took
	// its outcome (the fsync, then the wait for the executor).
	Fsyncs          int
	RecordsPerFsync float64
	FsyncMeanMs     float64
	RoundMeanMs     float64
	// Over the measured load only: FsyncBusy is the share of its wall
	// time From was writing and fsyncing its journal (near 1: the disk
	// bounds the rate), RoundBusy the share it had a batch's round in
	// flight (near 1 with FsyncBusy well below: the executor, the CPU,
	// bounds it); FramesPerSend how many frames From handed the link at
	// once (one write each); FramesPerRun how many of From's frames To's
	// reader handed its executor at once.
	FsyncBusy     float64
	RoundBusy     float64
	FramesPerSend float64
	FramesPerRun  float64
	// Reconnects is how often From's link to To was set up again during
	// the load, Dropped how many of From's frames To dropped (any reason:
	// a gap, a duplicate, a stale epoch...): a lag spike with either is
	// the link's, without them the executors'. DroppedBy splits Dropped
	// by reason (the labels of liege_stream_dropped_total: held while a
	// rollback ran, gap, duplicate, discarding...).
	Reconnects float64
	Dropped    float64
	DroppedBy  map[string]float64 `json:",omitempty"`
}

// ReplicateResult is what RunReplicate measured.
type ReplicateResult struct {
	Seconds        float64
	TotalTxnPerSec float64
	Directions     [2]Direction
	Conflicts      float64 // detected on both sides
	Rollbacks      float64
	// CallWaits are the times a vassal held its calls after a rollback
	// until it had applied again what the liege had, and
	// CallWaitsBudget those that ended because the budget ran out first.
	CallWaits, CallWaitsBudget float64
	CatchUpSeconds             float64 // after the load, until both were idle
	Converged                  bool
	CallerErrors               int
	ConflictRefusal            int // calls refused because their seat was taken
	// CPUSeconds is the CPU time (user and system) the whole process used
	// during the load, and CPUPerTxnMicros that per transaction committed
	// (both instances' work on it: its commit, its apply at the peer, the
	// link); zero where the platform does not report it.
	CPUSeconds      float64
	CPUPerTxnMicros float64
	// FaultsPerTxn is the process's minor page faults (first touches of
	// memory) during the load per transaction committed.
	FaultsPerTxn float64
	// SwitchesPerTxn is the process's context switches (voluntary and
	// not: its threads' sleeps and wake-ups) during the load per
	// transaction committed.
	SwitchesPerTxn float64
	// Runtime is what the Go runtime did during the load: the collector's
	// cycles and share of the CPU, and how long goroutines waited to run.
	Runtime RuntimeFigures
}

// RunReplicate runs a liege and a vassal in this process over loopback TCP,
// both committing ticket calls, and measures throughput per direction,
// replication lag and conflicts.
func RunReplicate(ctx context.Context, cfg ReplicateConfig) (ReplicateResult, error) {
	var res ReplicateResult
	if cfg.Callers <= 0 {
		cfg.Callers = 64
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = time.Second
	}
	cfg.Warmup = max(0, cfg.Warmup)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Log != nil {
		quiet = cfg.Log
	}
	regs := [2]*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	ids := [2]string{"A", "B"}
	var dbs [2]*liege.DB
	var reps [2]*replicate.Replicator
	defer func() {
		for i := range reps {
			if reps[i] != nil {
				reps[i].Close()
			}
		}
		for i := range dbs {
			if dbs[i] != nil {
				dbs[i].Close()
			}
		}
	}()
	for i, role := range []string{liege.RoleLiege, liege.RoleVassal} {
		db, err := liege.Open(liege.Options{Dir: filepath.Join(cfg.Dir, ids[i]), ID: ids[i], PeerID: ids[1-i], Role: role,
			CheckpointEvery: -1, Logger: quiet, Registerer: regs[i]})
		if err != nil {
			return res, err
		}
		dbs[i] = db
		if err := RegisterTicket(db, cfg.ValueSize); err != nil {
			return res, err
		}
	}
	l, err := link.ListenTCP("127.0.0.1:0", link.Config{Plaintext: true, Logger: quiet})
	if err != nil {
		return res, err
	}
	defer l.Close()
	d, err := link.DialTCP(l.Addr(), link.Config{Plaintext: true, Logger: quiet})
	if err != nil {
		return res, err
	}
	if reps[0], err = replicate.Start(replicate.Config{Host: dbs[0], Cluster: "bench", Listener: l, Logger: quiet, Registerer: regs[0]}); err != nil {
		return res, err
	}
	if reps[1], err = replicate.Start(replicate.Config{Host: dbs[1], Cluster: "bench", Dialer: d, Logger: quiet, Registerer: regs[1]}); err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = errors.Join(reps[0].WaitIdle(wctx), reps[1].WaitIdle(wctx))
	cancel()
	if err != nil {
		return res, fmt.Errorf("the link did not come up: %w", err)
	}

	// acked[i] holds when instance i acknowledged each of its OSeqs.
	acked := [2]*ackTimes{newAckTimes(time.Now()), newAckTimes(time.Now())}
	var committed [2]atomic.Int64
	var errs, taken atomic.Int64
	lctx, stop := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
	defer stop()
	var seq atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	start := begin.Add(cfg.Warmup) // of the measured load
	useAtStart := make(chan usage, 1)
	var metricsAtStart [2]map[string]float64
	warm := time.AfterFunc(cfg.Warmup, func() {
		u, ok := processUsage()
		if !ok {
			u.cpu = -1
		}
		u.rt = runtimeUsage()
		for i := range regs {
			metricsAtStart[i], _ = gatherAll(regs[i]) // nil on an error: the figures from it are left 0
		}
		useAtStart <- u
	})
	defer warm.Stop()
	var pace *pacer
	if cfg.Rate > 0 {
		pace = newPacer(begin, cfg.Rate)
	}
	for i := range dbs {
		for c := 0; c < cfg.Callers; c++ {
			wg.Add(1)
			go func(i, c int) {
				defer wg.Done()
				rng := uint64(c*2+i)*0x9e3779b97f4a7c15 + 1
				for lctx.Err() == nil {
					if pace != nil && !pace.wait(lctx) {
						return
					}
					n := seq.Add(1)
					rng ^= rng << 13
					rng ^= rng >> 7
					rng ^= rng << 17
					args := TicketFor(n)
					if cfg.Contention > 0 && float64(rng%10000)/10000 < cfg.Contention {
						args.Seat = -int64(rng % 64) // the shared pool
					}
					r, err := dbs[i].Call(context.Background(), ProcName, args)
					if err != nil {
						if errors.Is(err, ErrSeatTaken) {
							taken.Add(1)
						} else {
							errs.Add(1)
						}
						continue
					}
					if now := time.Now(); !now.Before(start) {
						acked[i].store(r.TxID.OSeq, now)
						committed[i].Add(1)
					}
				}
			}(i, c)
		}
	}
	// Sample each side's watermark of the other every millisecond.
	var lags [2][]time.Duration
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		var seen [2]uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-lctx.Done():
				return
			}
			now := time.Now()
			for i := range dbs {
				wm := dbs[1-i].ReplStatus().Watermark // the peer's watermark of i's OSeqs
				for o := seen[i] + 1; o <= wm; o++ {
					if at, ok := acked[i].take(o); ok {
						lags[i] = append(lags[i], max(0, now.Sub(at)))
					}
				}
				seen[i] = max(seen[i], wm)
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	use1, _ := processUsage()
	rt1 := runtimeUsage()
	var metricsAtEnd [2]map[string]float64
	for i := range regs {
		metricsAtEnd[i], _ = gatherAll(regs[i])
	}
	if cfg.AtLoadEnd != nil {
		cfg.AtLoadEnd()
	}
	if elapsed <= 0 {
		return res, fmt.Errorf("the load ended during its warm-up of %v: %w", cfg.Warmup, ctx.Err())
	}
	use0 := <-useAtStart // sent when the warm-up ended, before the load did
	// during is how much counter name of instance i grew over the load.
	during := func(i int, name string) float64 {
		if metricsAtStart[i] == nil || metricsAtEnd[i] == nil {
			return 0
		}
		return metricsAtEnd[i][name] - metricsAtStart[i][name]
	}
	cpuOK := use0.cpu >= 0
	<-sampleDone
	t0 := time.Now()
	wctx, cancel = context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		if err := errors.Join(reps[0].WaitIdle(wctx), reps[1].WaitIdle(wctx)); err != nil {
			return res, fmt.Errorf("replication did not catch up after the load: %w", err)
		}
		if reps[0].Status().Idle() && reps[1].Status().Idle() {
			break
		}
	}
	res.CatchUpSeconds = time.Since(t0).Seconds()
	res.Seconds = elapsed.Seconds()
	for i := range dbs {
		n := committed[i].Load()
		dir := Direction{From: ids[i], To: ids[1-i], Committed: int(n), TxnPerSec: float64(n) / elapsed.Seconds(), Sampled: len(lags[i])}
		if l := lags[i]; len(l) > 0 {
			slices.Sort(l)
			ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
			dir.LagP50ms, dir.LagP99ms, dir.LagMaxms = ms(l[len(l)/2]), ms(l[len(l)*99/100]), ms(l[len(l)-1])
		}
		m, err := gatherAll(regs[i])
		if err != nil {
			return res, err
		}
		dir.Fsyncs = int(m["liege_fsyncs_total"])
		if dir.Fsyncs > 0 {
			dir.FsyncMeanMs = m["liege_fsync_seconds_total"] / float64(dir.Fsyncs) * 1e3
			dir.RoundMeanMs = m["liege_fsync_round_seconds_total"] / float64(dir.Fsyncs) * 1e3
		}
		if n := m["liege_group_commit_batch_size_count"]; n > 0 {
			dir.RecordsPerFsync = m["liege_group_commit_batch_size_sum"] / n
		}
		dir.FsyncBusy = during(i, "liege_fsync_seconds_total") / elapsed.Seconds()
		dir.RoundBusy = during(i, "liege_fsync_round_seconds_total") / elapsed.Seconds()
		dir.Reconnects = during(i, "liege_link_reconnects_total")
		for k := range metricsAtEnd[1-i] {
			if reason, ok := strings.CutPrefix(k, `liege_stream_dropped_total{reason="`); ok {
				if d := during(1-i, k); d > 0 {
					dir.Dropped += d
					if dir.DroppedBy == nil {
						dir.DroppedBy = map[string]float64{}
					}
					dir.DroppedBy[strings.TrimSuffix(reason, `"}`)] = d
				}
			}
		}
		if n := during(i, "liege_link_sends_total"); n > 0 {
			dir.FramesPerSend = during(i, "liege_link_sent_frames_total") / n
		}
		if n := during(1-i, "liege_link_received_runs_total"); n > 0 {
			dir.FramesPerRun = during(1-i, "liege_link_received_frames_total") / n
		}
		res.Directions[i] = dir
		res.TotalTxnPerSec += dir.TxnPerSec
		res.Conflicts += m["liege_conflicts_total"]
		res.Rollbacks += m["liege_rollbacks_total"]
		res.CallWaits += m["liege_rollback_call_waits_total"]
		res.CallWaitsBudget += m[`liege_rollback_call_waits_total{outcome="budget"}`]
	}
	res.CallerErrors, res.ConflictRefusal = int(errs.Load()), int(taken.Load())
	if n := committed[0].Load() + committed[1].Load(); cpuOK && n > 0 {
		// The catch-up after the load is not in it: at saturation it is
		// a small part, and it is reported apart.
		res.CPUSeconds = (use1.cpu - use0.cpu).Seconds()
		res.CPUPerTxnMicros = res.CPUSeconds / float64(n) * 1e6
		res.FaultsPerTxn = float64(use1.faults-use0.faults) / float64(n)
		res.SwitchesPerTxn = float64(use1.switches-use0.switches) / float64(n)
	}
	res.Runtime = runtimeFigures(use0.rt, rt1)
	ha, err1 := dbs[0].Hash(ctx)
	hb, err2 := dbs[1].Hash(ctx)
	if err := errors.Join(err1, err2); err != nil {
		return res, err
	}
	res.Converged = ha == hb
	return res, nil
}

// gatherAll sums every metric family's counters and gauges by name, and
// a histogram's samples as NAME_sum and NAME_count.
func gatherAll(reg *prometheus.Registry) (map[string]float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				out[mf.GetName()] += m.Counter.GetValue()
				for _, l := range m.GetLabel() { // each label alone too
					out[mf.GetName()+"{"+l.GetName()+"=\""+l.GetValue()+"\"}"] += m.Counter.GetValue()
				}
			case m.Gauge != nil:
				out[mf.GetName()] += m.Gauge.GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_sum"] += m.Histogram.GetSampleSum()
				out[mf.GetName()+"_count"] += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out, nil
}
