package inject

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"
)

// sampleEvery is the timeline's resolution.
const sampleEvery = 250 * time.Millisecond

// sampler reads both sites' /status and /metrics every sampleEvery into the
// timeline, and keeps the running totals the metrics give.
type sampler struct {
	r       *runner
	samples []Sample
	totals  Totals
	prev    [2]counters
	have    [2]bool
	prevT   time.Time
}

// counters are the metrics the timeline differentiates.
type counters struct {
	commits, rollbacks, reconciled float64
	conflicts                      map[string]float64
}

func newSampler(r *runner) *sampler {
	return &sampler{r: r, totals: Totals{Conflicts: map[string]int{}}}
}

func (s *sampler) loop(ctx context.Context) {
	s.prevT = time.Now()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if w := s.r.cfg.Progress; w != nil {
				s.r.progMu.Lock()
				s.r.prog.Done(w)
				s.r.progMu.Unlock()
			}
			return
		case <-tick.C:
		}
		s.sample(ctx)
	}
}

func (s *sampler) sample(ctx context.Context) {
	now := time.Now()
	dt := now.Sub(s.prevT).Seconds()
	s.prevT = now
	smp := Sample{T: s.r.since()}
	for i, in := range s.r.sites {
		ss := &smp.Sites[i]
		st, err := in.status(ctx)
		if err != nil {
			continue
		}
		body, err := in.get(ctx, "/metrics")
		if err != nil {
			continue
		}
		cur := parseCounters(body)
		ss.Up = true
		ss.Window = st.Window
		ss.LagS = float64(st.Lag.MS) / 1000
		if st.Link != nil {
			ss.LagIn = st.Link.LagIn
			ss.ReconPending = st.Link.ReconPending
		}
		s.totals.MaxLag = max(s.totals.MaxLag, ss.LagIn)
		s.totals.MaxWindow = max(s.totals.MaxWindow, ss.Window)
		if s.have[i] {
			p := &s.prev[i]
			ss.CommitsPerS = delta(p.commits, cur.commits) / dt
			ss.Rollbacks = int(delta(p.rollbacks, cur.rollbacks))
			ss.Reconciled = int(delta(p.reconciled, cur.reconciled))
			for check, v := range cur.conflicts {
				d := int(delta(p.conflicts[check], v))
				ss.Conflicts += d
				s.totals.Conflicts[check] += d
			}
		} else {
			// The first sample of a process: what it counted since it
			// started (a restart resets its metrics).
			for check, v := range cur.conflicts {
				ss.Conflicts += int(v)
				s.totals.Conflicts[check] += int(v)
			}
		}
		s.prev[i], s.have[i] = cur, true
	}
	for i := range smp.Sites {
		if !smp.Sites[i].Up {
			s.have[i] = false
		}
	}
	s.samples = append(s.samples, smp)
	if w := s.r.cfg.Progress; w != nil {
		faults := s.r.activeFaults()
		s.r.progMu.Lock()
		s.r.prog.Update(w, time.Since(s.r.t0), s.r.cfg.Duration, smp,
			int(s.r.calls.calls.Load()), int(s.r.calls.acked.Load()), faults)
		s.r.progMu.Unlock()
	}
}

// delta is how much a counter grew; a counter that went down belongs to a
// restarted process and grew by its whole value.
func delta(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// parseCounters reads the counters the timeline needs from a Prometheus
// text exposition.
func parseCounters(body []byte) counters {
	c := counters{conflicts: map[string]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if b := strings.IndexByte(name, '{'); b >= 0 {
			name, labels = name[:b], name[b:]
		}
		switch name {
		case "liege_commits_total":
			c.commits += v
		case "liege_rollbacks_total":
			c.rollbacks += v
		case "liege_reconciled_total":
			c.reconciled += v
		case "liege_conflicts_total":
			c.conflicts[label(labels, "check")] += v
		}
	}
	return c
}

// label returns the value of label name in a {a="x",b="y"} label set.
func label(labels, name string) string {
	i := strings.Index(labels, name+`="`)
	if i < 0 {
		return ""
	}
	rest := labels[i+len(name)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}
