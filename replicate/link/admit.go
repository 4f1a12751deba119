package link

import "net"

// Waiting is the set of connections waiting for their handshake (or for
// Accept) on a listening side, bounded so that unauthenticated sockets
// cannot starve a peer that is trying to connect. It is a plain value with
// no goroutine, clock or socket: the listener and the replicate driver
// hold one under their own lock.
//
// The policy: each source (an IP address) holds at most PerSource places;
// a new connection from a source already at its share takes the place of
// that source's oldest. Otherwise, when all Max places are taken, the
// oldest connection of the source holding the most places leaves. A new
// connection is never refused: a hostile source renewing silent sockets
// only ever evicts its own or the oldest, and a real peer's connection,
// which completes its handshake in milliseconds, gets in.
type Waiting[T any] struct {
	// Max is the number of places; PerSource the share of one source
	// (Max/2, at least 1, if 0).
	Max, PerSource int

	next    uint64
	waiters []waiter[T] // oldest first
}

type waiter[T any] struct {
	id  uint64
	src string
	v   T
}

// Admit adds v, from source src, and returns its id (for Remove) and the
// values that must leave to make room: the caller closes them.
func (w *Waiting[T]) Admit(src string, v T) (id uint64, evicted []T) {
	share := w.PerSource
	if share <= 0 {
		share = max(1, w.Max/2)
	}
	counts := map[string]int{}
	for _, x := range w.waiters {
		counts[x.src]++
	}
	for len(w.waiters) > 0 && (counts[src] >= share || len(w.waiters) >= w.Max) {
		// This source gives up its oldest if it is at its share; else (all
		// places taken) the oldest of the sources holding the most does.
		atShare, most := counts[src] >= share, 0
		for _, n := range counts {
			most = max(most, n)
		}
		for i, x := range w.waiters {
			if (atShare && x.src == src) || (!atShare && counts[x.src] == most) {
				evicted = append(evicted, x.v)
				w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
				counts[x.src]--
				break
			}
		}
	}
	w.next++
	w.waiters = append(w.waiters, waiter[T]{id: w.next, src: src, v: v})
	return w.next, evicted
}

// Remove takes id out (its handshake ended); an id already evicted is
// ignored.
func (w *Waiting[T]) Remove(id uint64) {
	for i, x := range w.waiters {
		if x.id == id {
			w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
			return
		}
	}
}

// Len returns the number of connections waiting.
func (w *Waiting[T]) Len() int { return len(w.waiters) }

// Source returns the source of a remote address for Waiting: its IP
// address, or the whole address if it has no port.
func Source(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
