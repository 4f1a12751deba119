package engine

import (
	"fmt"
	"sync"

	"github.com/liege-db/liege/journal"
)

// replayChunk is the number of records replayParallel decodes at a time.
const replayChunk = 512

// replayChunks returns the number of chunks replayParallel splits from..to
// into; chunk i (from 0) is from+i*replayChunk and the records after it.
func replayChunks(from, to uint64) int {
	if from > to {
		return 0
	}
	return int((to-from)/replayChunk + 1)
}

// replayParallel decodes records from..to on workers goroutines and calls
// apply on each, in order, on the calling goroutine. decoded, if not nil,
// is called on the worker (numbered from 0) that decoded a chunk (numbered
// as replayChunks says), before apply sees its records; a worker's chunks
// come in order. Only Open uses it, and only when Config.ReplayWorkers
// asks: the goroutines end before it returns, and a simulator (which
// leaves ReplayWorkers zero) never sees them.
func replayParallel(read func(uint64) ([]byte, error), workers int, from, to uint64, apply func(*journal.Record) error,
	decoded func(worker, chunk int, recs []journal.Record)) (uint64, error) {
	if from > to {
		return 0, nil
	}
	const chunk = replayChunk
	type job struct {
		from, to uint64
		n        int // the chunk's number
		recs     []journal.Record
		err      error
		done     chan struct{}
	}

	jobs := make(chan *job, 2*workers)
	results := make(chan *job, 4*workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := journal.NewDecoder()
			for jb := range jobs {
				for p := jb.from; p <= jb.to && jb.err == nil; p++ {
					f, err := read(p)
					if err == nil {
						err = d.DecodeFrame(f, &jb.recs[p-jb.from])
					}
					if err == nil && jb.recs[p-jb.from].Pos != p {
						err = fmt.Errorf("record claims position %d", jb.recs[p-jb.from].Pos)
					}
					if err != nil {
						jb.err = fmt.Errorf("replay journal position %d: %w", p, err)
					}
				}
				if jb.err == nil && decoded != nil {
					decoded(w, jb.n, jb.recs)
				}
				close(jb.done)
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		defer close(results)
		defer close(jobs)
		for p, n := from, 0; p <= to; p, n = p+chunk, n+1 {
			jb := &job{from: p, to: min(p+chunk-1, to), n: n, done: make(chan struct{})}
			jb.recs = make([]journal.Record, jb.to-jb.from+1)
			select {
			case jobs <- jb:
			case <-stop:
				return
			}
			select {
			case results <- jb:
			case <-stop:
				return
			}
		}
	}()
	var n uint64
	var err error
	for jb := range results {
		<-jb.done
		if err == nil {
			err = jb.err
		}
		for i := range jb.recs {
			if err != nil {
				break
			}
			err = apply(&jb.recs[i])
			n++
		}
		if err != nil {
			select {
			case <-stop:
			default:
				close(stop)
			}
		}
	}
	wg.Wait()
	return n, err
}
