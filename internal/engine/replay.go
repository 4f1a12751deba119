package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/liege-db/liege/journal"
)

// replayChunk is the number of records replayParallel decodes at a time,
// and replayChunkBytes the frame bytes at which it ends a chunk sooner.
// A chunk's frames stay in memory until its records are applied, and a
// few dozen chunks are in flight: 512 records of 2 MiB (a value of 1 MiB,
// once in the call's arguments and once in its write) held the whole
// journal of a 1,000-value benchmark in memory at once, 2 GiB of new
// pages, where the store keeps 1 GiB (issue 14).
const (
	replayChunk      = 512
	replayChunkBytes = 1 << 20
)

// replayChunks returns the number of chunks replayParallel splits from..to
// into when none is ended by replayChunkBytes (chunk i, from 0, is then
// from+i*replayChunk and the records after it); otherwise there are more.
func replayChunks(from, to uint64) int {
	if from > to {
		return 0
	}
	return int((to-from)/replayChunk + 1)
}

// readRangeFunc reads the frames from..to in order, as
// wal.ReadRangeBuffered does: into buffers from get, each given to fn as
// done with the last frame read into it, after which it is the caller's.
type readRangeFunc func(from, to uint64, get func() []byte, fn func(pos uint64, frame, done []byte) error) error

// replayBuffers is how many buffers replayParallel keeps for readRange
// to read into again: enough for the chunks in flight (a few hundred
// KiB each) to span the segment being read and those before it.
const replayBuffers = 4

// replayParallel decodes records from..to on workers goroutines and calls
// apply on each, in order, on the calling goroutine. The records' byte
// strings alias the frames readRange read (DecodeFrameBorrow): apply and
// decoded copy what they keep (Record.CopyBytes). The frames are read
// by readRange (wal.ReadRangeBuffered) on a goroutine of their own,
// which hands them to the workers in chunks (replayChunk records, fewer
// when their frames reach replayChunkBytes). A buffer readRange is done
// with goes with the chunk of its last frame; once that chunk is applied
// (the chunks before it were), nothing uses the buffer, and readRange
// reads into it again. decoded, if not nil, is called on the worker
// (numbered from 0) that decoded a chunk (numbered from 0 in position
// order; replayChunks of them unless some were cut short), before apply
// sees its records; a worker's chunks come in order.
// apply must not keep a record (nor its Reads, Ranges or Writes) after it
// returns: once every record of a chunk is applied, the chunk's records
// go back to the workers, which decode the next chunks into them (Record.
// Reset keeps the slices' storage), so that replay allocates no record
// and no slice of reads or writes per record. The frames at positions up
// to checked had their checksums checked already (journal.CheckedLog: the
// file log's check at open), and are decoded without checking them again.
// Only Open uses it, and only when Config.ReplayWorkers asks: the
// goroutines end before it returns, and a simulator (which leaves
// ReplayWorkers zero) never sees them.
func replayParallel(readRange readRangeFunc, workers int, from, to, checked uint64,
	apply func(*journal.Record) error, decoded func(worker, chunk int, recs []journal.Record)) (uint64, error) {
	if from > to {
		return 0, nil
	}
	const chunk = replayChunk
	type job struct {
		from   uint64
		n      int      // the chunk's number
		frames [][]byte // read; recs[i] is decoded from frames[i]
		bytes  int      // of frames
		bufs   [][]byte // readRange's, free once the chunk is applied
		recs   []journal.Record
		err    error
		done   chan struct{}
	}

	jobs := make(chan *job, 2*workers)
	results := make(chan *job, 4*workers)
	// free holds the records of chunks applied, for the workers to
	// decode again into; when it is empty a worker makes new ones, and a
	// chunk applied when it is full leaves its records to the collector.
	free := make(chan []journal.Record, 8*workers)
	// bufs holds readRange's buffers of chunks applied, for it to read
	// into again.
	bufs := make(chan []byte, replayBuffers)
	get := func() []byte {
		select {
		case b := <-bufs:
			return b
		default:
			return nil
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := journal.NewDecoder()
			for jb := range jobs {
				select {
				case jb.recs = <-free:
				default:
				}
				if cap(jb.recs) < len(jb.frames) {
					jb.recs = make([]journal.Record, len(jb.frames))
				}
				jb.recs = jb.recs[:len(jb.frames)]
				for i, f := range jb.frames {
					p := jb.from + uint64(i)
					var err error
					if p <= checked {
						err = d.DecodeCheckedFrameBorrow(f, &jb.recs[i])
					} else {
						err = d.DecodeFrameBorrow(f, &jb.recs[i])
					}
					if err == nil && jb.recs[i].Pos != p {
						err = fmt.Errorf("record claims position %d", jb.recs[i].Pos)
					}
					if err != nil {
						jb.err = fmt.Errorf("replay journal position %d: %w", p, err)
						break
					}
				}
				jb.frames = nil
				if jb.err == nil && decoded != nil {
					decoded(w, jb.n, jb.recs)
				}
				close(jb.done)
			}
		}()
	}
	stop := make(chan struct{})
	errStop := errors.New("replay stopped")
	go func() {
		defer close(results)
		defer close(jobs)
		send := func(jb *job, decode bool) error {
			if decode {
				select {
				case jobs <- jb:
				case <-stop:
					return errStop
				}
			}
			select {
			case results <- jb:
			case <-stop:
				return errStop
			}
			return nil
		}
		var jb *job
		n, next := 0, from
		err := readRange(from, to, get, func(p uint64, f, done []byte) error {
			if p != next {
				return fmt.Errorf("read position %d where %d comes next", p, next)
			}
			next++
			if jb == nil {
				jb = &job{from: p, n: n, frames: make([][]byte, 0, min(uint64(chunk), to-p+1)), done: make(chan struct{})}
				n++
			}
			jb.frames = append(jb.frames, f)
			jb.bytes += len(f)
			if done != nil {
				jb.bufs = append(jb.bufs, done)
			}
			if len(jb.frames) < cap(jb.frames) && jb.bytes < replayChunkBytes {
				return nil
			}
			full := jb
			jb = nil
			return send(full, true)
		})
		if err == errStop {
			return
		}
		if err == nil && next != to+1 {
			err = fmt.Errorf("the journal ended before position %d", to)
		}
		if err != nil {
			// What was read before the error is decoded and applied
			// first; the error comes after it, at the position that
			// failed.
			if jb != nil && send(jb, true) != nil {
				return
			}
			bad := &job{from: next, n: -1, err: fmt.Errorf("replay journal position %d: %w", next, err), done: make(chan struct{})}
			close(bad.done)
			_ = send(bad, false)
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
		} else {
			if jb.recs != nil {
				select {
				case free <- jb.recs:
				default:
				}
			}
			for _, b := range jb.bufs {
				select {
				case bufs <- b:
				default:
				}
			}
		}
		jb.recs, jb.bufs = nil, nil
	}
	wg.Wait()
	return n, err
}
