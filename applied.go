package liege

import (
	"runtime"
	"sync/atomic"
)

// appliedPair publishes the Instance's Applied (own, peer) from the
// executor, its one writer, to readers on other goroutines as one
// consistent pair, without an allocation per change (the executor changes
// it at nearly every step): a sequence count, odd while a change is being
// written, which a reader checks before and after reading the pair.
type appliedPair struct {
	seq       atomic.Uint64
	own, peer atomic.Uint64
}

// set publishes (own, peer) if it changed (executor only).
func (p *appliedPair) set(own, peer uint64) {
	if p.own.Load() == own && p.peer.Load() == peer {
		return
	}
	p.seq.Add(1)
	p.own.Store(own)
	p.peer.Store(peer)
	p.seq.Add(1)
}

// load returns the pair last published.
func (p *appliedPair) load() (own, peer uint64) {
	for {
		if s := p.seq.Load(); s&1 == 0 {
			own, peer = p.own.Load(), p.peer.Load()
			if p.seq.Load() == s {
				return own, peer
			}
		}
		runtime.Gosched() // the executor is between its two stores
	}
}
