package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/replicate/link"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Replicator.
type Config struct {
	// DB is the instance, opened with Options.PeerID and Options.Role.
	DB *liege.DB
	// Cluster names the pair; a peer of another cluster is refused.
	Cluster string
	// Listener accepts the peer's connections; Dialer connects to the peer.
	// Give one side a Listener and the other a Dialer (either or both may
	// be set; a newer session replaces an older one).
	Listener link.Listener
	Dialer   link.Dialer
	// MaxClockOffset bounds the difference between the two wall clocks
	// measured in the handshake (default 500ms).
	MaxClockOffset time.Duration
	// Heartbeat is the interval of heartbeats (default 100ms). A session
	// with no frame from the peer for 10 heartbeats is closed.
	Heartbeat time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (default 20ms and 2s); the wait doubles on each failure.
	MinBackoff, MaxBackoff time.Duration
	// Now is the wall clock sent in the handshake (time.Now if nil).
	Now func() time.Time
	// Logger receives the log lines (slog.Default() if nil).
	Logger *slog.Logger
	// Registerer, if set, receives the replication metrics.
	Registerer prometheus.Registerer
}

// Status is what a Replicator knows of the link and the peer.
type Status struct {
	Connected bool
	Peer      string
	PeerRole  string
	PeerEpoch uint64
	// PeerLastOwn is the peer's newest own OSeq, PeerWatermark the highest
	// of our OSeqs it reported applied (both as of its last frame).
	PeerLastOwn, PeerWatermark uint64
	// LagIn is how many peer transactions we have not applied; LagOut how
	// many of ours the peer has not reported applied.
	LagIn, LagOut uint64
	// Discarding is the vassal TxID a liege rejected and awaits the answer
	// for ("" when not discarding).
	Discarding string
	// Reconnects counts sessions after the first; Refused is why the last
	// connection was refused, if it was.
	Reconnects uint64
	Refused    string
	// ReconPending is this instance's count of rolled-off transactions not
	// yet back (vassal).
	ReconPending int
}

// Idle reports whether nothing is in flight: connected, both streams
// caught up, no rejection pending, and no reconciliation pending here.
func (s Status) Idle() bool {
	return s.Connected && s.LagIn == 0 && s.LagOut == 0 && s.Discarding == "" && s.ReconPending == 0
}

// Replicator replicates one instance with its peer.
type Replicator struct {
	cfg     Config
	db      *liege.DB
	log     *slog.Logger
	metrics *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	cur      *session
	sessions uint64
	refused  string
	changed  chan struct{} // closed on every status change

	reconnects atomic.Uint64

	// For the lag in seconds (lag.go).
	lastPeerWM      atomic.Uint64 // the peer's watermark when the last session ended
	lastPeerWMKnown atomic.Bool
	applyDelay      atomic.Int64 // commit-to-apply delay of the last peer transaction applied, ns
	appliedAt       atomic.Int64 // when it was applied, Unix ns
	caughtUpAt      atomic.Int64 // the last time the incoming stream was caught up, or a session began, Unix ns
}

// Start starts replicating cfg.DB. Close stops it.
func Start(cfg Config) (*Replicator, error) {
	if cfg.DB == nil {
		return nil, errors.New("replicate: Config.DB is required")
	}
	if cfg.DB.PeerID() == "" {
		return nil, fmt.Errorf("replicate: %w", liege.ErrNotReplicated)
	}
	if cfg.Cluster == "" {
		return nil, errors.New("replicate: Config.Cluster is required (both instances must name the same cluster)")
	}
	if cfg.Listener == nil && cfg.Dialer == nil {
		return nil, errors.New("replicate: give a Listener, a Dialer, or both")
	}
	if cfg.MaxClockOffset <= 0 {
		cfg.MaxClockOffset = 500 * time.Millisecond
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 100 * time.Millisecond
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 20 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(2*time.Second, cfg.MinBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Replicator{cfg: cfg, db: cfg.DB, changed: make(chan struct{})}
	r.log = cfg.Logger.With("instance", cfg.DB.ID(), "peer", cfg.DB.PeerID())
	r.metrics = newMetrics(cfg.Registerer, r)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if cfg.Listener != nil {
		r.wg.Add(1)
		go r.acceptLoop()
	}
	if cfg.Dialer != nil {
		r.wg.Add(1)
		go r.dialLoop()
	}
	return r, nil
}

// Close ends the session and stops reconnecting. It does not close the
// Listener or the DB.
func (r *Replicator) Close() error {
	r.cancel()
	r.mu.Lock()
	if r.cur != nil {
		r.cur.stop()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

func (r *Replicator) acceptLoop() {
	defer r.wg.Done()
	for {
		c, err := r.cfg.Listener.Accept(r.ctx)
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.log.Warn("replication: accept failed", "error", err)
			if !sleepCtx(r.ctx, r.cfg.MinBackoff) {
				return
			}
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.serve(c)
		}()
	}
}

func (r *Replicator) dialLoop() {
	defer r.wg.Done()
	backoff := r.cfg.MinBackoff
	for r.ctx.Err() == nil {
		if r.connected() {
			// Someone else's session is up (the peer dialed us): wait for
			// it to end before dialing.
			if !r.waitChange() {
				return
			}
			continue
		}
		c, err := r.cfg.Dialer.Dial(r.ctx)
		if err == nil {
			if r.serve(c) {
				backoff = r.cfg.MinBackoff
			}
		} else if r.ctx.Err() == nil {
			r.log.Debug("replication: dial failed", "error", err)
		}
		if !sleepCtx(r.ctx, backoff) {
			return
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// serve runs one session on c, replacing the current one. It reports
// whether the handshake succeeded.
func (r *Replicator) serve(c link.Conn) bool {
	s := newSession(r, c)
	r.mu.Lock()
	old := r.cur
	r.cur = s
	r.mu.Unlock()
	if old != nil {
		old.stop()
		<-old.done
	}
	ok := s.run()
	r.mu.Lock()
	if r.cur == s {
		r.cur = nil
	}
	r.mu.Unlock()
	r.notify()
	return ok
}

func (r *Replicator) connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur != nil && r.cur.up.Load()
}

// notify wakes Changed waiters.
func (r *Replicator) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Changed returns a channel closed at the next status change (a session
// starting or ending, frames applied, a rollback, a reconciliation).
func (r *Replicator) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *Replicator) waitChange() bool {
	select {
	case <-r.Changed():
		return true
	case <-r.ctx.Done():
		return false
	}
}

// Status returns the replication status.
func (r *Replicator) Status() Status {
	st := r.db.Repl()
	out := Status{ReconPending: st.ReconPending, Reconnects: r.reconnects.Load()}
	r.mu.Lock()
	s := r.cur
	out.Refused = r.refused
	r.mu.Unlock()
	if s == nil || !s.up.Load() || s.role != st.Role {
		// (A role changed since the handshake: the session is about to
		// end and a new one agree on the roles.)
		return out
	}
	out.Connected = true
	out.Peer, out.PeerRole = s.peer, s.peerRole
	out.PeerEpoch = s.peerEpoch.Load()
	out.PeerLastOwn, out.PeerWatermark = s.peerLastOwn.Load(), s.peerWM.Load()
	if out.PeerLastOwn > st.PeerWatermark {
		out.LagIn = out.PeerLastOwn - st.PeerWatermark
	}
	if st.LastOwn > out.PeerWatermark {
		out.LagOut = st.LastOwn - out.PeerWatermark
	}
	if d := s.discarding.Load(); d != nil {
		out.Discarding = *d
	}
	return out
}

// WaitIdle waits until Status().Idle() holds, or ctx ends.
func (r *Replicator) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.Heartbeat)
	defer tick.Stop()
	for {
		ch := r.Changed()
		if r.Status().Idle() {
			return nil
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("replication of %s not idle: %+v: %w", r.db.ID(), r.Status(), ctx.Err())
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
