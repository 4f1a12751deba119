package benchkit

import (
	"context"
	"sync/atomic"
	"time"
)

// pacer spaces calls evenly at a rate: call n (counting from 0) is due
// at start + n/rate, whichever caller takes it. Due times are absolute, so
// a caller that wakes late does not lower the rate: the calls that fell
// behind go at once. (A time.Ticker cannot do this: it drops the ticks
// nobody was waiting for, and above a few thousand per second on a busy
// machine it delivers far fewer than asked.)
type pacer struct {
	start time.Time
	rate  int64
	next  atomic.Int64
}

func newPacer(start time.Time, perSecond int) *pacer {
	return &pacer{start: start, rate: int64(perSecond)}
}

// due is when call n may start.
func (p *pacer) due(n int64) time.Time {
	return p.start.Add(time.Duration(n * int64(time.Second) / p.rate))
}

// wait claims the next call and waits until it is due. It reports false
// if ctx ends first, or would end by then.
func (p *pacer) wait(ctx context.Context) bool {
	due := p.due(p.next.Add(1) - 1)
	if dl, ok := ctx.Deadline(); ok && !due.Before(dl) {
		return false
	}
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
