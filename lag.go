package liege

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/replicate"
)

// The replication lag in seconds, each way (liege_replication_lag_seconds
// {direction}). Each instance measures both with its own clock
// (Options.Now):
//
//   - out: the age of the oldest own transaction the peer has not reported
//     applied, found in the journal from the peer's last watermark. It goes
//     on growing while the link is down, as the peer falls behind.
//   - in: 0 while the peer's newest own transaction (as of its last frame)
//     is applied here. Behind it, the larger of the commit-to-apply delay
//     of the last peer transaction applied (network, queueing, the clock
//     offset) and the time since the stream last made progress: the last
//     apply, or the last moment it was caught up or the session began, so
//     that an idle peer's first transaction does not count its idle time.
//     0 while the link is down: the peer's out direction says how far
//     behind this side is then.
//
// The executor records what the Node's status and the engine's hooks say
// (lagState); a scrape computes the values with the pure lagIn and lagOut.

// lagState is what the executor records for the lag, read by scrapes.
type lagState struct {
	applyDelay  atomic.Int64 // commit-to-apply delay of the last peer transaction applied, ns
	appliedAt   atomic.Int64 // when it was applied, Unix ns
	caughtUpAt  atomic.Int64 // the last time the incoming stream was caught up, or a session began, Unix ns
	connected   bool         // executor only: connected at the last publish
	peerWM      atomic.Uint64
	peerWMKnown atomic.Bool // a handshake since Open told the peer's watermark
}

// applied records a peer transaction with timestamp ts applied at now
// (executor).
func (l *lagState) applied(ts uint64, now time.Time) {
	l.applyDelay.Store(int64(now.Sub(hlc.Timestamp(ts).Physical())))
	l.appliedAt.Store(now.UnixNano())
}

// observe records the Node's status after a step (executor): a session
// beginning, or the incoming stream caught up, is progress; while
// connected, the peer's watermark of our transactions is kept for while the
// link is down.
func (l *lagState) observe(ns replicate.NodeStatus, now func() time.Time) {
	if ns.Connected {
		if !l.connected || ns.LagIn == 0 {
			l.caughtUpAt.Store(now().UnixNano())
		}
		l.peerWM.Store(ns.PeerWM)
		l.peerWMKnown.Store(true)
	}
	l.connected = ns.Connected
}

// lagIn computes the incoming lag from the values the executor records;
// it is pure, for the tests.
func lagIn(behind bool, applyDelay time.Duration, appliedAt, caughtUpAt, now time.Time) time.Duration {
	if !behind {
		return 0
	}
	since := appliedAt
	if caughtUpAt.After(since) {
		since = caughtUpAt
	}
	return max(applyDelay, now.Sub(since), 0)
}

// lagOut computes the outgoing lag: the age at now of the oldest own
// transaction the peer has not applied, committed at oldest (found false
// when there is none).
func lagOut(oldest time.Time, found bool, now time.Time) time.Duration {
	if !found {
		return 0
	}
	return max(now.Sub(oldest), 0)
}

// lagInSeconds is the metric's value now.
func (db *DB) lagInSeconds() float64 {
	st := db.ReplStatus()
	if !st.Connected {
		return 0
	}
	l := &db.lag
	return lagIn(st.LagIn > 0, time.Duration(l.applyDelay.Load()), time.Unix(0, l.appliedAt.Load()),
		time.Unix(0, l.caughtUpAt.Load()), db.opts.Now()).Seconds()
}

// lagOutSeconds is the metric's value now. Until the first handshake since
// Open the peer's watermark is unknown and the lag reads 0.
func (db *DB) lagOutSeconds() float64 {
	wm := db.lag.peerWM.Load()
	if !db.lag.peerWMKnown.Load() || db.ReplStatus().LastOwn <= wm {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	at, found, err := db.OwnCommitTimeAfter(ctx, wm)
	if err != nil {
		db.log.Debug("replication lag: could not find the oldest transaction the peer has not applied", "after", wm, "error", err)
		return 0
	}
	return lagOut(at, found, db.opts.Now()).Seconds()
}

// OwnCommitTimeAfter returns the commit time (its HLC's physical time) of
// the oldest durable own transaction with an OSeq above after, and false if
// the journal holds none. With the peer's watermark as after, that is the
// oldest transaction the peer has not reported applied: the outgoing
// replication lag is its age. Own transactions older than the index's
// window (DESIGN.md's idempotency window after a restart) are not found;
// the oldest indexed one stands for them.
func (db *DB) OwnCommitTimeAfter(ctx context.Context, after uint64) (time.Time, bool, error) {
	var at time.Time
	var found bool
	var rerr error
	if err := db.control(ctx, func() { at, found, rerr = db.in.OwnCommitTimeAfter(after) }); err != nil {
		return time.Time{}, false, err
	}
	return at, found, rerr
}
