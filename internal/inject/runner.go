package inject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Config is one `liege inject` invocation.
type Config struct {
	// App is the application: ticketing, atm or kv.
	App string
	// Duration is how long the load runs; Rate the calls per second over
	// both sites; Contention the share of calls that touch data both sites
	// use (0 to 1).
	Duration   time.Duration
	Rate       int
	Contention float64
	Seed       uint64
	// Faults are the faults to inject (see AllFaults).
	Faults []string
	// Out is the directory the runs, exports and reports go to.
	Out string
	// LWW adds the last-writer-wins baseline run beside the path run.
	LWW bool
	// Route is how the instances route collision-prone calls (route.go):
	// never, auto, liege, or compare (a run with never, then one with
	// auto, same seed and faults). Empty means auto.
	Route string
	// Binary is the liege executable to run as `liege serve`.
	Binary string
	// MaxClockOffset is the instances' --max-clock-offset.
	MaxClockOffset time.Duration
	// Command is the command line, for the report.
	Command string
	// Progress receives the progress display and the run's notes (nil:
	// none).
	Progress io.Writer
}

func (c *Config) validate() error {
	switch {
	case c.Duration < time.Second:
		return fmt.Errorf("--duration must be at least 1s, not %v", c.Duration)
	case c.Rate < 2:
		return fmt.Errorf("--rate must be at least 2 calls per second, not %d", c.Rate)
	case c.Contention < 0 || c.Contention > 1:
		return fmt.Errorf("--contention must be between 0 and 1, not %v", c.Contention)
	case c.Out == "":
		return errors.New("--out is required: the directory for the instances, the call log, the exports and the reports")
	case c.Binary == "":
		return errors.New("no liege binary to run as `liege serve`")
	case c.MaxClockOffset <= 0:
		return fmt.Errorf("--max-clock-offset must be positive, not %v", c.MaxClockOffset)
	}
	if _, err := runRoutes(c.Route); err != nil {
		return err
	}
	_, err := newWorkload(c.App)
	return err
}

// Execute runs the path-consistent run and, with LWW, the baseline after it,
// and writes report.json and report.html into Out. The error is for a run
// that could not be carried out (a binary that does not start, a full
// disk); a check that fails is in the report (Report.Passed false).
func Execute(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	rep := &Report{Version: ReportVersion, Started: time.Now().UTC(), Command: cfg.Command, App: cfg.App,
		Seed: cfg.Seed, DurationS: cfg.Duration.Seconds(), Rate: cfg.Rate, Contention: cfg.Contention,
		Faults: append([]string{}, cfg.Faults...)}
	for _, p := range runPlan(cfg) {
		r := &runner{cfg: cfg, merge: p.merge, route: p.route, name: p.name}
		run, err := r.run(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s run: %w", p.name, err)
		}
		rep.Runs = append(rep.Runs, *run)
	}
	rep.Passed = true
	for _, run := range rep.Runs {
		if run.Merge != "lww" {
			rep.Passed = rep.Passed && run.Passed
		}
	}
	if err := writeReports(cfg.Out, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// writeReports writes report.json and report.html.
func writeReports(dir string, rep *Report) error {
	for name, write := range map[string]func(io.Writer, *Report) error{"report.json": WriteJSON, "report.html": WriteHTML} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		werr := write(f, rep)
		if err := f.Close(); werr == nil {
			werr = err
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", name, werr)
		}
	}
	return nil
}

// runner is one run.
type runner struct {
	cfg   Config
	merge string
	route string // never, auto or liege
	name  string // the run's directory under Out
	dir   string
	t0    time.Time

	sites [2]*instance
	proxy *linkProxy
	sched *schedule
	calls *callLog

	mu     sync.Mutex
	events []FaultEvent
	open   map[string]int // fault id -> index in events, while on
	notes  []string
	// refusals are the clock refusals seen (skew-beyond); notRefused is
	// set when a clock beyond the bound was not refused.
	refusals   []string
	notRefused bool
	// crashes are exits no fault caused.
	crashes []string

	// progMu serializes the progress display and the notes printed over
	// it.
	progMu sync.Mutex
	prog   Progress
}

// crash records an exit no fault caused: a bug.
func (r *runner) crash(msg string) {
	r.mu.Lock()
	r.crashes = append(r.crashes, msg)
	r.mu.Unlock()
}

// since is seconds since the run started.
func (r *runner) since() float64 { return time.Since(r.t0).Seconds() }

func (r *runner) notef(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.notes = append(r.notes, msg)
	r.mu.Unlock()
	if w := r.cfg.Progress; w != nil {
		r.progMu.Lock()
		if r.prog.terminal(w) {
			fmt.Fprint(w, "\r\033[K")
		}
		fmt.Fprintf(w, "[%s %5.1fs] %s\n", r.name, r.since(), msg)
		r.progMu.Unlock()
	}
}

// faultOn records the start of fault id; faultOff its end.
func (r *runner) faultOn(id string, ev FaultEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev.StartS, ev.EndS = r.since(), r.since()
	r.events = append(r.events, ev)
	if id != "" {
		r.open[id] = len(r.events) - 1
	}
}

func (r *runner) faultOff(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, ok := r.open[id]; ok {
		r.events[i].EndS = r.since()
		delete(r.open, id)
	}
}

// activeFaults names the faults on now, for the progress line.
func (r *runner) activeFaults() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, i := range r.open {
		out = append(out, r.events[i].Kind)
	}
	return out
}

func (r *runner) run(ctx context.Context) (*Run, error) {
	r.dir = filepath.Join(r.cfg.Out, r.name)
	if err := os.RemoveAll(r.dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	r.open = map[string]int{}
	r.sched = newSchedule(r.cfg.Seed, r.cfg.Faults, r.cfg.Duration, r.cfg.MaxClockOffset)
	w, _ := newWorkload(r.cfg.App)
	var err error
	if r.calls, err = newCallLog(filepath.Join(r.dir, "calls.jsonl")); err != nil {
		return nil, err
	}
	if err := r.setUp(); err != nil {
		return nil, err
	}
	defer r.tearDown()
	r.t0 = time.Now()
	run := &Run{Merge: r.merge, Route: r.route, Dir: r.dir}
	for i, in := range r.sites {
		if err := in.start(ctx, r.sched.armed[i], r.skewOf(i)); err != nil {
			return nil, err
		}
	}
	if r.sched.skew != 0 {
		r.faultOn("skew", FaultEvent{Kind: FaultSkew, Target: r.sites[1].id,
			Detail: fmt.Sprintf("clock %+v for the whole run (bound %v)", r.sched.skew, r.cfg.MaxClockOffset)})
	}
	for i, spec := range r.sched.armed {
		if spec != "" {
			r.notef("%s armed with failpoint %s", r.sites[i].id, spec)
		}
	}
	// Supervisors restart an instance that dies.
	sup := newSupervisor(r)
	sup.start(ctx)
	stopSup := sync.OnceFunc(sup.stop)
	defer stopSup()

	if err := r.waitIdle(ctx, 60*time.Second); err != nil {
		return nil, fmt.Errorf("the pair did not connect before the load: %w", err)
	}
	callers := [2]*caller{}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i, in := range r.sites {
		callers[i] = &caller{site: i, in: in, log: r.calls, client: client}
	}
	for _, c := range w.setup() {
		if _, ok := callers[0].do(ctx, c); !ok {
			return nil, fmt.Errorf("set-up call %s at %s failed; see %s", c.proc, r.sites[0].id, filepath.Join(r.dir, "calls.jsonl"))
		}
	}
	if err := r.waitIdle(ctx, 60*time.Second); err != nil {
		return nil, fmt.Errorf("the pair did not go idle after set-up: %w", err)
	}

	// Load, faults and sampling.
	smp := newSampler(r)
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() { smp.loop(sampleCtx); close(sampled) }()
	loadCtx, stopLoad := context.WithTimeout(ctx, r.cfg.Duration)
	faultsDone := make(chan error, 1)
	go func() { faultsDone <- r.inject(loadCtx, sup) }()
	skipped := load(loadCtx, w, callers, r.cfg.Rate, r.cfg.Contention, r.cfg.Seed)
	stopLoad()
	run.LoadS = r.since()
	ferr := <-faultsDone
	if skipped > 0 {
		r.notef("%d calls skipped: every client worker of a site was busy (the instances ran behind --rate)", skipped)
	}
	// Heal: every toxic off, every instance up with its normal clock and no
	// failpoint armed.
	if err := r.proxy.heal(30 * time.Second); err != nil && ferr == nil {
		ferr = err
	}
	r.closeOpenFaults()
	if r.sched.beyond != 0 && ferr == nil {
		ferr = r.clockBeyond(ctx, sup)
	}
	if err := sup.healAll(ctx); err != nil && ferr == nil {
		ferr = err
	}
	run.HealedS = r.since()
	idleErr := r.waitIdle(ctx, 120*time.Second)
	run.IdleS = r.since()
	stopSampling()
	<-sampled
	stopSup()
	if ferr != nil {
		return nil, ferr
	}
	// Stop both; export and check.
	var stopErrs []string
	for _, in := range r.sites {
		if err := in.stop(30 * time.Second); err != nil {
			stopErrs = append(stopErrs, err.Error())
		}
	}
	if err := r.calls.close(); err != nil {
		return nil, err
	}
	run.Faults = r.events
	run.Timeline = smp.samples
	run.Totals = smp.totals
	run.Totals.Seconds = r.since()
	if run.Totals.Conflicts, err = r.conflicts(); err != nil {
		return nil, err
	}
	for i, in := range r.sites {
		run.Sites[i] = Site{ID: in.id, Role: in.role, HTTP: in.http, Starts: in.starts, Kills: in.kills}
	}
	run.Sites[1].Peer = r.proxy.Addr()
	if err := r.check(run, idleErr, stopErrs); err != nil {
		return nil, err
	}
	return run, nil
}

// skewOf is site i's normal clock skew.
func (r *runner) skewOf(i int) time.Duration {
	if i == 1 {
		return r.sched.skew
	}
	return 0
}

// setUp allocates ports, starts the proxy and describes both instances.
func (r *runner) setUp() error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	liegePeer := fmt.Sprintf("127.0.0.1:%d", ports[2])
	if r.proxy, err = newLinkProxy(liegePeer); err != nil {
		return err
	}
	common := []string{"--app", r.cfg.App, "--cluster", "inject", "--plaintext-peer", "--merge", r.merge,
		"--max-clock-offset", r.cfg.MaxClockOffset.String(), "--shutdown-timeout", "20s", "--log-level", "info"}
	routes, err := routeArgs(r.cfg.App, r.route)
	if err != nil {
		return err
	}
	common = append(common, routes...)
	ids := [2]string{"A", "B"}
	for i, role := range []string{"liege", "vassal"} {
		in := &instance{id: ids[i], role: role, dir: filepath.Join(r.dir, ids[i]),
			http: fmt.Sprintf("127.0.0.1:%d", ports[i]), bin: r.cfg.Binary,
			logPath: filepath.Join(r.dir, ids[i]+".log"),
			client:  &http.Client{Timeout: 2 * time.Second}}
		in.args = append([]string{"--dir", in.dir, "--id", in.id, "--http", in.http, "--role", role, "--peer-id", ids[1-i]}, common...)
		if i == 0 {
			in.args = append(in.args, "--listen-peer", liegePeer)
		} else {
			in.args = append(in.args, "--peer", r.proxy.Addr())
		}
		r.sites[i] = in
	}
	return nil
}

// tearDown kills whatever still runs and stops the proxy.
func (r *runner) tearDown() {
	for _, in := range r.sites {
		if in != nil && in.running() != nil {
			_ = in.kill()
		}
	}
	if r.proxy != nil {
		r.proxy.close()
	}
}

// closeOpenFaults ends every fault still on (the heal).
func (r *runner) closeOpenFaults() {
	r.mu.Lock()
	ids := make([]string, 0, len(r.open))
	for id := range r.open {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.faultOff(id)
	}
}

// waitIdle waits until both instances answer and report an idle link
// (connected, both streams caught up, no rejection or reconciliation
// pending) twice in a row.
func (r *runner) waitIdle(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	streak := 0
	var last [2]*statusAnswer
	for {
		ok := true
		for i, in := range r.sites {
			st, err := in.status(ctx)
			last[i] = st
			if err != nil || st.Link == nil || !st.Link.Idle {
				ok = false
			}
		}
		if ok {
			if streak++; streak >= 2 {
				return nil
			}
		} else {
			streak = 0
		}
		if time.Now().After(deadline) {
			var parts []string
			for i, st := range last {
				switch {
				case st == nil:
					parts = append(parts, r.sites[i].id+": no answer")
				case st.Link == nil:
					parts = append(parts, r.sites[i].id+": no link")
				default:
					parts = append(parts, fmt.Sprintf("%s: connected=%v lag_in=%d lag_out=%d recon_pending=%d discarding=%q refused=%q oseq=%d peer_watermark=%d",
						r.sites[i].id, st.Link.Connected, st.Link.LagIn, st.Link.LagOut, st.Link.ReconPending, st.Link.Discarding, st.Link.Refused, st.OSeq, st.PeerWatermark))
				}
			}
			return fmt.Errorf("not idle after %v (%s)", timeout, strings.Join(parts, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
