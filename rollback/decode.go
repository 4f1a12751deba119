package rollback

import (
	"errors"
	"fmt"
	"sync"

	"github.com/liege-db/liege/journal"
)

// decodeChunk is how many records the decoding goroutine hands over at a
// time, and decodeChunkBytes the frame bytes at which it hands them over
// sooner: a chunk's frames (or records) stay in memory until fn has seen
// them and a dozen chunks are in flight, so 256 records of a large value
// each would hold gigabytes (as replay's chunks did, issue 14).
const (
	decodeChunk      = 256
	decodeChunkBytes = 1 << 20
)

// backwardReader is a Journal that reads a run of its frames newest first
// itself: *journal.Journal and the engine's over the file log read each
// segment file of the run once, into one buffer (journal.BackwardReader),
// where Read one position at a time loads every segment into tidwall/wal's
// cache. A frame is valid only until fn returns.
type backwardReader interface {
	ReadBackward(from, to uint64, fn func(pos uint64, frame []byte) error) error
}

// framesBackward calls fn on the frames of j at positions head down to
// target (none if head < target). A frame is valid only until fn returns
// and must not be modified. It stops at fn's first error and returns it as
// it is; a read error names the positions.
func framesBackward(j Journal, head, target uint64, fn func(p uint64, frame []byte) error) error {
	if head < target {
		return nil
	}
	if br, ok := j.(backwardReader); ok {
		var fnErr error
		err := br.ReadBackward(target, head, func(p uint64, f []byte) error {
			fnErr = fn(p, f)
			return fnErr
		})
		if err != nil && fnErr == nil {
			err = fmt.Errorf("rollback: read positions %d..%d: %w", target, head, err)
		}
		return err
	}
	for p := head; p >= target && p <= head; p-- {
		f, err := j.Read(p)
		if err != nil {
			return fmt.Errorf("rollback: read position %d: %w", p, err)
		}
		if err := fn(p, f); err != nil {
			return err
		}
	}
	return nil
}

// errStopped ends a read whose consumer has gone.
var errStopped = errors.New("rollback: reading stopped")

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
		return framesBackward(env.Journal, head, target, func(p uint64, f []byte) error {
			if err := d.DecodeFrame(f, &r); err != nil {
				return fmt.Errorf("rollback: read position %d: %w", p, err)
			}
			return fn(p, &r)
		})
	}

	type chunk struct {
		hi    uint64 // position of recs[0]; recs[i] is at hi-i
		recs  []journal.Record
		bytes int // of the frames decoded into recs
		err   error
	}
	chunks := make(chan *chunk, 4)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(chunks)
		send := func(c *chunk) bool {
			select {
			case chunks <- c:
				return true
			case <-stop:
				return false
			}
		}
		d := journal.NewDecoder()
		var c *chunk
		err := framesBackward(env.Journal, head, target, func(p uint64, f []byte) error {
			if c == nil {
				c = &chunk{hi: p, recs: make([]journal.Record, 0, min(decodeChunk, p-target+1))}
			}
			c.recs = append(c.recs, journal.Record{})
			if err := d.DecodeFrame(f, &c.recs[len(c.recs)-1]); err != nil {
				c.recs = c.recs[:len(c.recs)-1]
				return fmt.Errorf("rollback: read position %d: %w", p, err)
			}
			if c.bytes += len(f); len(c.recs) == cap(c.recs) || c.bytes >= decodeChunkBytes {
				if !send(c) {
					return errStopped
				}
				c = nil
			}
			return nil
		})
		if err != nil && err != errStopped {
			if c == nil {
				c = &chunk{}
			}
			c.err = err
			send(c)
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

// undoWorkers is how many goroutines decode and reduce the records of a
// rollback with Env.DecodeAhead (backwardLoad).
const undoWorkers = 2

// backwardChunks returns the number of chunks backwardLoad splits
// target..head into when none is ended by decodeChunkBytes; otherwise
// there are more.
func backwardChunks(head, target uint64) int {
	if head < target {
		return 0
	}
	return int((head-target)/decodeChunk + 1)
}

// backwardLoad is backward with a goroutine that reads the frames, newest
// first, in chunks of decodeChunk (or fewer, of decodeChunkBytes) numbered
// from 0 at the head down, and
// undoWorkers goroutines that decode them and each hand a chunk they
// decoded, newest record first, to reduce (with their number, from 0, and
// the chunk's) before fn sees its records on the calling goroutine, from
// the head down. A worker's chunks come in order. The goroutines end
// before it returns; they only read the journal: fn and reduce must not
// touch it. After an error reduce may have seen chunks fn has not. The
// reading goroutine copies a chunk's frames into the chunk's own buffer
// and the records' byte strings alias it (DecodeFrameBorrow): reduce and
// fn copy what they keep. Neither keeps a record (nor its Reads, Ranges or
// Writes): once fn has seen a chunk, its buffer and records are read and
// decoded into again for a later chunk (Record.Reset keeps the slices'
// storage), so that a rollback allocates no record, no slice of reads or
// writes and no frame memory per record.
func backwardLoad(env Env, head, target uint64, reduce func(worker, chunk int, recs []journal.Record), fn func(p uint64, r *journal.Record) error) error {
	if head < target {
		return nil
	}
	type job struct {
		hi     uint64 // position of frames[0] and recs[0]; [i] is at hi-i
		n      int    // the chunk's number
		data   []byte // the frames, back to back
		ends   []int  // where each frame ends in data
		frames [][]byte
		recs   []journal.Record
		err    error
		done   chan struct{}
	}
	jobs := make(chan *job, 2*undoWorkers)
	results := make(chan *job, 4*undoWorkers)
	stop := make(chan struct{})
	// free holds the jobs fn has seen; when it is empty a chunk gets a new
	// one.
	free := make(chan *job, 8*undoWorkers)
	var wg sync.WaitGroup
	for w := range undoWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := journal.NewDecoder()
			for jb := range jobs {
				for i, f := range jb.frames {
					// The journal never changes a frame it returned:
					// the records may alias them.
					if err := d.DecodeFrameBorrow(f, &jb.recs[i]); err != nil {
						jb.err = fmt.Errorf("rollback: read position %d: %w", jb.hi-uint64(i), err)
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
		send := func(jb *job) bool {
			start := 0
			for _, end := range jb.ends {
				jb.frames = append(jb.frames, jb.data[start:end:end])
				start = end
			}
			jb.recs = jb.recs[:len(jb.frames)]
			for _, ch := range []chan *job{jobs, results} {
				select {
				case ch <- jb:
				case <-stop:
					return false
				}
			}
			return true
		}
		var jb *job
		n := 0
		newJob := func(hi uint64, k int) *job {
			var j *job
			select {
			case j = <-free:
				j.data, j.ends, j.frames, j.err = j.data[:0], j.ends[:0], j.frames[:0], nil
			default:
				j = &job{}
			}
			if cap(j.recs) < k {
				j.recs = make([]journal.Record, k)
			}
			if cap(j.frames) < k {
				j.ends, j.frames = make([]int, 0, k), make([][]byte, 0, k)
			}
			j.hi, j.n, j.done = hi, n, make(chan struct{})
			n++
			return j
		}
		k := 0 // records in jb's chunk
		err := framesBackward(env.Journal, head, target, func(p uint64, f []byte) error {
			if jb == nil {
				k = int(min(decodeChunk, p-target+1))
				jb = newJob(p, k)
			}
			jb.data = append(jb.data, f...)
			jb.ends = append(jb.ends, len(jb.data))
			if len(jb.ends) == k || len(jb.data) >= decodeChunkBytes {
				if !send(jb) {
					return errStopped
				}
				jb = nil
			}
			return nil
		})
		if err != nil && err != errStopped {
			if jb == nil {
				jb = newJob(0, 0)
			}
			jb.err = err
			send(jb)
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
			clear(jb.frames)
			select {
			case free <- jb:
			default:
			}
		}
	}
	wg.Wait()
	return err
}
