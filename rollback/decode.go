package rollback

import (
	"fmt"
	"sync"

	"github.com/liege-db/liege/journal"
)

// decodeChunk is how many records the decoding goroutine hands over at a
// time.
const decodeChunk = 256

// backward calls fn on the records at positions from head down to target,
// in that order, on the calling goroutine. With Env.DecodeAhead a second
// goroutine reads and decodes the next records while fn undoes the last
// ones (it ends before backward returns, and only reads the journal: fn must
// not touch it); without, each record is decoded just before its fn. The
// *journal.Record is fn's only until fn returns.
func backward(env Env, head, target uint64, fn func(p uint64, r *journal.Record) error) error {
	if head < target {
		return nil
	}
	if !env.DecodeAhead || head-target < decodeChunk {
		d := journal.NewDecoder()
		var r journal.Record
		for p := head; p >= target; p-- {
			f, err := env.Journal.Read(p)
			if err == nil {
				err = d.DecodeFrame(f, &r)
			}
			if err != nil {
				return fmt.Errorf("rollback: read position %d: %w", p, err)
			}
			if err := fn(p, &r); err != nil {
				return err
			}
			if p == 0 {
				break
			}
		}
		return nil
	}

	type chunk struct {
		hi   uint64 // position of recs[0]; recs[i] is at hi-i
		recs []journal.Record
		err  error
	}
	chunks := make(chan *chunk, 4)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(chunks)
		d := journal.NewDecoder()
		for hi := head; ; hi -= decodeChunk {
			lo := target
			if hi-target >= decodeChunk {
				lo = hi - decodeChunk + 1
			}
			c := &chunk{hi: hi, recs: make([]journal.Record, hi-lo+1)}
			for i := range c.recs {
				p := hi - uint64(i)
				f, err := env.Journal.Read(p)
				if err == nil {
					err = d.DecodeFrame(f, &c.recs[i])
				}
				if err != nil {
					c.err = fmt.Errorf("rollback: read position %d: %w", p, err)
					c.recs = c.recs[:i]
					break
				}
			}
			select {
			case chunks <- c:
			case <-stop:
				return
			}
			if c.err != nil || lo == target {
				return
			}
		}
	}()
	var err error
	for c := range chunks {
		for i := range c.recs {
			if err = fn(c.hi-uint64(i), &c.recs[i]); err != nil {
				break
			}
		}
		if err == nil {
			err = c.err
		}
		if err != nil {
			break
		}
	}
	close(stop)
	<-done
	return err
}

// undoWorkers is how many goroutines read, decode and reduce the records
// of a rollback with Env.DecodeAhead (backwardLoad).
const undoWorkers = 2

// backwardChunks returns the number of chunks backwardLoad splits
// target..head into.
func backwardChunks(head, target uint64) int {
	if head < target {
		return 0
	}
	return int((head-target)/decodeChunk + 1)
}

// backwardLoad is backward with undoWorkers goroutines, which read and
// decode the records in chunks of decodeChunk numbered from 0 at the head
// down, and each hand a chunk they decoded, newest record first, to reduce
// (with their number, from 0, and the chunk's) before fn sees its records
// on the calling goroutine, from the head down. A worker's chunks come in
// order. The goroutines end before it returns; they only read the
// journal: fn and reduce must not touch it. After an error reduce may have
// seen chunks fn has not. The records' byte strings alias the frames the
// journal's Read returned (DecodeFrameBorrow): reduce and fn copy what
// they keep. Neither keeps a record (nor its Reads, Ranges or Writes): once
// fn has seen a chunk's records they are decoded into again for a later
// chunk (Record.Reset keeps the slices' storage), so that a rollback
// allocates no record and no slice of reads or writes per record.
func backwardLoad(env Env, head, target uint64, reduce func(worker, chunk int, recs []journal.Record), fn func(p uint64, r *journal.Record) error) error {
	if head < target {
		return nil
	}
	type job struct {
		hi   uint64 // position of recs[0]; recs[i] is at hi-i
		n    int    // the chunk's number
		recs []journal.Record
		err  error
		done chan struct{}
	}
	jobs := make(chan *job, 2*undoWorkers)
	results := make(chan *job, 4*undoWorkers)
	stop := make(chan struct{})
	// free holds the records of chunks fn has seen; when it is empty a
	// chunk gets new ones.
	free := make(chan []journal.Record, 8*undoWorkers)
	var wg sync.WaitGroup
	for w := range undoWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := journal.NewDecoder()
			for jb := range jobs {
				for i := range jb.recs {
					p := jb.hi - uint64(i)
					f, err := env.Journal.Read(p)
					if err == nil {
						// The journal never changes a frame Read
						// returned: the records may alias them.
						err = d.DecodeFrameBorrow(f, &jb.recs[i])
					}
					if err != nil {
						jb.err = fmt.Errorf("rollback: read position %d: %w", p, err)
						jb.recs = jb.recs[:i]
						break
					}
				}
				if jb.err == nil {
					reduce(w, jb.n, jb.recs)
				}
				close(jb.done)
			}
		}()
	}
	go func() {
		defer close(results)
		defer close(jobs)
		for n := range backwardChunks(head, target) {
			hi := head - uint64(n)*decodeChunk
			lo := target
			if hi-target >= decodeChunk {
				lo = hi - decodeChunk + 1
			}
			var recs []journal.Record
			select {
			case recs = <-free:
			default:
			}
			if k := int(hi - lo + 1); cap(recs) < k {
				recs = make([]journal.Record, k)
			} else {
				recs = recs[:k]
			}
			jb := &job{hi: hi, n: n, recs: recs, done: make(chan struct{})}
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
	var err error
	for jb := range results {
		<-jb.done
		for i := range jb.recs {
			if err != nil {
				break
			}
			err = fn(jb.hi-uint64(i), &jb.recs[i])
		}
		if err == nil {
			err = jb.err
		}
		if err != nil {
			select {
			case <-stop:
			default:
				close(stop)
			}
		} else {
			select {
			case free <- jb.recs:
			default:
			}
		}
		jb.recs = nil
	}
	wg.Wait()
	return err
}
