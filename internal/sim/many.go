package sim

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/liege-db/liege/replicate"
)

// ManyOptions configure a run of consecutive seeds.
type ManyOptions struct {
	// From is the first seed, Seeds how many.
	From, Seeds uint64
	Steps       int
	Break       replicate.Break
	Open        Opener
	Model       bool // the model engine instead of the real one (Options.Model)
	App         string
	// Workers run seeds in parallel (1 if 0); the summary does not depend
	// on it.
	Workers int
	// Progress, if set, is called in seed order after each seed.
	Progress func(done uint64, r *Result)
	// StopAtFailure stops starting new seeds once one failed (the seeds
	// before it still all run, so the first failure is the same for any
	// Workers).
	StopAtFailure bool
}

// Summary is the outcome of a run of seeds, in seed order.
type Summary struct {
	Seeds, Passed, Failed uint64
	Steps                 int64
	SeedsWithRollback     uint64
	// TraceHash is the SHA-256 over every seed's trace hash, in seed order.
	TraceHash [32]byte
	// First is the first failing seed's result (nil if none failed).
	First *Result
}

// RunMany runs seeds From.. From+Seeds-1, on Workers goroutines, and
// combines their results in seed order.
func RunMany(o ManyOptions) Summary {
	workers := max(o.Workers, 1)
	n := o.Seeds
	results := make([]*Result, n)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	var mu sync.Mutex
	next, stop := uint64(0), false
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				if i >= n || stop {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				r := Run(Options{Seed: o.From + i, Steps: o.Steps, Break: o.Break, Open: o.Open, Model: o.Model, App: o.App})
				results[i] = &r
				if r.Failure != nil && o.StopAtFailure {
					mu.Lock()
					stop = true
					mu.Unlock()
				}
				close(done[i])
			}
		}()
	}
	var s Summary
	h := sha256.New()
	for i := range n {
		// Seeds are started in order, so every seed before a failure has
		// started, and the loop stops at the first failure.
		<-done[i]
		r := results[i]
		s.Seeds++
		s.Steps += int64(r.Steps)
		h.Write(r.TraceHash[:])
		if r.Rollbacks > 0 {
			s.SeedsWithRollback++
		}
		if r.Failure != nil {
			s.Failed++
			if s.First == nil {
				s.First = r
			}
		} else {
			s.Passed++
		}
		if o.Progress != nil {
			o.Progress(s.Seeds, r)
		}
		if s.First != nil && o.StopAtFailure {
			break
		}
	}
	mu.Lock()
	stop = true
	mu.Unlock()
	wg.Wait()
	copy(s.TraceHash[:], h.Sum(nil))
	return s
}

// Rerun is the command line that runs seed r again with its trace.
func Rerun(r *Result, steps int, brk replicate.Break) string {
	cmd := fmt.Sprintf("liege inject --sim --seed %d --steps %d --trace", r.Seed, steps)
	if r.Model {
		cmd += " --model"
	}
	if r.App != "" {
		cmd += " --app " + r.App
	}
	if brk != "" {
		cmd += " --break " + string(brk)
	}
	return cmd
}
