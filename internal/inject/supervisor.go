package inject

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// supervisor keeps both instances running: it restarts one that dies (a
// kill of the schedule, a failpoint's crash) from its journal, with the
// clock skew and failpoints the schedule wants now.
type supervisor struct {
	r    *runner
	quit chan struct{}
	wg   sync.WaitGroup

	mu   sync.Mutex
	plan [2]plan
	err  error
}

// plan is how a site should run.
type plan struct {
	skew       time.Duration
	failpoints string
	downUntil  time.Time
}

func newSupervisor(r *runner) *supervisor {
	s := &supervisor{r: r, quit: make(chan struct{})}
	for i := range s.plan {
		s.plan[i] = plan{skew: r.skewOf(i), failpoints: r.sched.armed[i]}
	}
	return s
}

func (s *supervisor) start(ctx context.Context) {
	for i := range s.r.sites {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.watch(ctx, i) }()
	}
}

// stop ends supervision; the instances keep running.
func (s *supervisor) stop() {
	close(s.quit)
	s.wg.Wait()
}

func (s *supervisor) watch(ctx context.Context, i int) {
	in := s.r.sites[i]
	for {
		done := in.running()
		if done == nil {
			s.mu.Lock()
			p := s.plan[i]
			s.mu.Unlock()
			if d := time.Until(p.downUntil); d > 0 {
				select {
				case <-s.quit:
					return
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			err := in.start(ctx, p.failpoints, p.skew)
			if errors.Is(err, errDiedStarting) {
				s.crashed(i)
				continue
			}
			if err != nil {
				s.mu.Lock()
				if s.err == nil {
					s.err = fmt.Errorf("restart %s: %w", in.id, err)
				}
				s.mu.Unlock()
				s.r.notef("could not restart %s: %v", in.id, err)
				return
			}
			continue
		}
		select {
		case <-s.quit:
			return
		case <-ctx.Done():
			return
		case <-done:
		}
		s.crashed(i)
	}
}

// crashed records why site i's process ended, if a fault or a crash ended
// it (a kill the supervisor asked for is counted by kill), and disarms its
// failpoints: a failpoint fires once.
func (s *supervisor) crashed(i int) {
	in := s.r.sites[i]
	unexpected, sigkill := in.crashed()
	if !unexpected {
		return
	}
	in.mu.Lock()
	armed := in.armed
	if sigkill {
		in.kills++
	}
	in.mu.Unlock()
	kind, detail := FaultKill, fmt.Sprintf("exited by itself: %v", in.exitError())
	switch {
	case sigkill && strings.Contains(armed, "rollback"):
		kind, detail = FaultKillRollback, "SIGKILL inside a rollback (failpoint "+armed+"), restarted from its journal"
	case sigkill && strings.Contains(armed, "reconcile"):
		kind, detail = FaultKillReconcile, "SIGKILL inside a reconciliation (failpoint "+armed+"), restarted from its journal"
	case !sigkill:
		s.r.crash(fmt.Sprintf("%s exited by itself (%v); its log is %s", in.id, in.exitError(), in.logPath))
	}
	s.r.faultOn("", FaultEvent{Kind: kind, Target: in.id, Detail: detail})
	s.r.notef("%s: %s", in.id, detail)
	s.mu.Lock()
	s.plan[i].failpoints = "" // a failpoint fires once
	s.mu.Unlock()
}

// kill SIGKILLs site i, which stays down for down.
func (s *supervisor) kill(i int, down time.Duration) error {
	s.mu.Lock()
	s.plan[i].downUntil = time.Now().Add(down)
	s.mu.Unlock()
	return s.r.sites[i].kill()
}

// restartWith restarts site i with clock skew skew: SIGTERM, then the
// supervisor starts it again; it returns once the new process answers.
func (s *supervisor) restartWith(ctx context.Context, i int, skew time.Duration) error {
	s.mu.Lock()
	s.plan[i].skew = skew
	s.plan[i].downUntil = time.Time{}
	s.mu.Unlock()
	if err := s.r.sites[i].stop(20 * time.Second); err != nil {
		return err
	}
	return s.waitUp(ctx, i)
}

// waitUp waits until site i runs and answers.
func (s *supervisor) waitUp(ctx context.Context, i int) error {
	in := s.r.sites[i]
	deadline := time.Now().Add(60 * time.Second)
	for {
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if in.running() != nil {
			if _, err := in.status(ctx); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not back up after 60s; its log is %s", in.id, in.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// healAll puts both sites back on their normal clock and waits until both
// run and answer.
func (s *supervisor) healAll(ctx context.Context) error {
	for i := range s.r.sites {
		s.mu.Lock()
		wrong := s.plan[i].skew != s.r.skewOf(i)
		s.mu.Unlock()
		if wrong {
			if err := s.restartWith(ctx, i, s.r.skewOf(i)); err != nil {
				return err
			}
		}
		if err := s.waitUp(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// inject carries out the schedule until ctx ends (the end of the load).
func (r *runner) inject(ctx context.Context, sup *supervisor) error {
	start := time.Now()
	for _, a := range r.sched.actions {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(start.Add(a.at))):
		}
		if ctx.Err() != nil {
			return nil // the load ended while the previous action ran
		}
		if err := r.apply(ctx, sup, a); err != nil {
			return err
		}
	}
	return nil
}

// apply carries out one action of the schedule.
func (r *runner) apply(ctx context.Context, sup *supervisor, a action) error {
	switch a.kind {
	case FaultKill:
		in := r.sites[a.site]
		if in.running() == nil {
			return nil // already down (another kill); nothing to kill
		}
		r.faultOn("", FaultEvent{Kind: FaultKill, Target: in.id, Detail: a.detail})
		r.notef("SIGKILL %s (down for %v)", in.id, a.down)
		return sup.kill(a.site, a.down)
	}
	// A link fault.
	target := "link"
	if len(a.streams) == 1 {
		target = map[string]string{"upstream": "B→A", "downstream": "A→B"}[a.streams[0]]
	}
	if !a.on {
		off := true
		for _, st := range a.streams {
			off = r.proxy.remove(a.id+"-"+st) && off
		}
		if !off {
			r.notef("%s on %s is still coming off after %v (toxiproxy waits for a backed-up connection)", a.kind, target, removeWait)
		}
		r.faultOff(a.id)
		return nil
	}
	for _, st := range a.streams {
		if err := r.proxy.add(a.id+"-"+st, a.toxic, st, a.attrs); err != nil {
			return err
		}
	}
	r.faultOn(a.id, FaultEvent{Kind: a.kind, Target: target, Detail: a.detail})
	if a.kind != FaultReset {
		r.notef("%s on %s: %s", a.kind, target, a.detail)
	}
	return nil
}

// clockBeyond restarts the vassal with its clock beyond the bound, waits
// for the link to be refused, and restarts it on its normal clock.
func (r *runner) clockBeyond(ctx context.Context, sup *supervisor) error {
	in := r.sites[1]
	detail := fmt.Sprintf("restarted with its clock %v behind (bound %v)", -r.sched.beyond, r.cfg.MaxClockOffset)
	r.faultOn("skew-beyond", FaultEvent{Kind: FaultSkewBeyond, Target: in.id, Detail: detail})
	r.notef("%s %s", in.id, detail)
	if err := sup.restartWith(ctx, 1, r.sched.beyond); err != nil {
		return err
	}
	r.awaitRefusal(ctx)
	r.faultOff("skew-beyond")
	r.notef("%s back on its normal clock", in.id)
	return sup.restartWith(ctx, 1, r.skewOf(1))
}

// awaitRefusal waits up to 15 s for either instance to report the link
// refused for the clock, and records what happened.
func (r *runner) awaitRefusal(ctx context.Context) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, in := range r.sites {
			st, err := in.status(ctx)
			if err != nil || st.Link == nil || st.Link.Refused == "" {
				continue
			}
			if strings.Contains(st.Link.Refused, "clock") {
				r.mu.Lock()
				r.refusals = append(r.refusals, fmt.Sprintf("%s refused the link: %s", in.id, st.Link.Refused))
				r.mu.Unlock()
				r.notef("refused, as it must be: %s says %s", in.id, st.Link.Refused)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.mu.Lock()
	r.notRefused = true
	r.mu.Unlock()
	r.notef("the link was NOT refused within 15s of a clock beyond the bound")
}
