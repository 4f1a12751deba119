package replicate

import (
	"context"
	"time"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/journal"
)

// The replication lag in seconds, each way (liege_replication_lag_seconds
// {direction}). Each instance measures both with its own clock:
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

// lagIn computes the incoming lag from the values a session records; it is
// pure, for the tests.
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
func (r *Replicator) lagInSeconds() float64 {
	st := r.Status()
	if !st.Connected {
		return 0
	}
	return lagIn(st.LagIn > 0, time.Duration(r.applyDelay.Load()), time.Unix(0, r.appliedAt.Load()),
		time.Unix(0, r.caughtUpAt.Load()), r.cfg.Now()).Seconds()
}

// lagOutSeconds is the metric's value now. Until the first handshake since
// start the peer's watermark is unknown and the lag reads 0.
func (r *Replicator) lagOutSeconds() float64 {
	wm, known := r.peerWatermark()
	if !known || r.db.Repl().LastOwn <= wm {
		return 0
	}
	ctx, cancel := context.WithTimeout(r.ctx, time.Second)
	defer cancel()
	at, found, err := r.db.OwnCommitTimeAfter(ctx, wm)
	if err != nil {
		if r.ctx.Err() == nil {
			r.log.Debug("replication lag: could not find the oldest transaction the peer has not applied", "after", wm, "error", err)
		}
		return 0
	}
	return lagOut(at, found, r.cfg.Now()).Seconds()
}

// peerWatermark returns the highest own OSeq the peer reported applied:
// the current session's, or the last session's while none is up.
func (r *Replicator) peerWatermark() (uint64, bool) {
	r.mu.Lock()
	s := r.cur
	r.mu.Unlock()
	if s != nil && s.up.Load() {
		return s.peerWM.Load(), true
	}
	return r.lastPeerWM.Load(), r.lastPeerWMKnown.Load()
}

// noteApplied records a peer transaction applied here, for the incoming lag.
func (s *session) noteApplied(rec *journal.Record) {
	now := s.r.cfg.Now()
	s.r.applyDelay.Store(int64(now.Sub(hlc.Timestamp(rec.HLC).Physical())))
	s.r.appliedAt.Store(now.UnixNano())
	s.noteCaughtUp(now)
}

// noteCaughtUp records now as the last moment the incoming stream was
// caught up, if it is.
func (s *session) noteCaughtUp(now time.Time) {
	if s.db.Repl().PeerWatermark >= s.peerLastOwn.Load() {
		s.r.caughtUpAt.Store(now.UnixNano())
	}
}
