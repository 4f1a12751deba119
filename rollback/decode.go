package rollback

import (
	"fmt"

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
