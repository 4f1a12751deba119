package replicate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liege-db/liege/replicate/link"
	"github.com/prometheus/client_golang/prometheus"
)

// Host is the instance a Replicator drives: its Node and engine, behind the
// instance's one executor goroutine (the root package's DB implements it).
// The Replicator is a thin driver: link I/O goroutines and a ticker, no
// decision of its own. Every method is safe from any goroutine; each hands
// its input to the executor and returns once the Node has taken it.
type Host interface {
	// ID and PeerID name the instance and its peer.
	ID() string
	PeerID() string
	// Attach gives the Node the cluster's name and the driver's tick
	// settings before the first link (it rebuilds the Node if they
	// changed).
	Attach(cluster string, heartbeatTicks NodeConfig) error
	// LinkUp says a link came up: the Node's Hello goes to the outbox.
	LinkUp()
	// LinkDown says the link went down.
	LinkDown()
	// Deliver hands in frames from the peer, in the order they arrived:
	// one, or a run the link had received together (see readLoop). The
	// Host owns fs once called. An error closes the link.
	Deliver(fs []*link.Frame) error
	// Tick advances the Node's clock by one heartbeat interval.
	Tick()
	// Outbox takes the frames to send, in order, and, if the Node wants
	// the link closed, why.
	Outbox() (frames []*link.Frame, disconnect string)
	// OutboxReady is signalled (non-blocking, capacity 1) when the outbox
	// has something.
	OutboxReady() <-chan struct{}
	// ReplStatus is the Node's status.
	ReplStatus() NodeStatus
}

// Config configures a Replicator.
type Config struct {
	// Host is the instance, opened with a peer id and a role.
	Host Host
	// Cluster names the pair; a peer of another cluster is refused.
	Cluster string
	// Listener accepts the peer's connections; Dialer connects to the peer.
	// Give one side a Listener and the other a Dialer (either or both may
	// be set; a newer session replaces an older one).
	Listener link.Listener
	Dialer   link.Dialer
	// Heartbeat is the interval of heartbeats, the Node's tick (default
	// 100ms). With no frame from the peer for 10 heartbeats the link is
	// closed.
	Heartbeat time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (default 20ms and 2s); the wait doubles on each failure.
	MinBackoff, MaxBackoff time.Duration
	// HandshakeTimeout bounds the wait for the peer's Hello on a new
	// connection (DefaultHandshakeTimeout if 0). An accepted connection
	// replaces the live session only once its Hello arrived and names the
	// peer (see admit.go).
	HandshakeTimeout time.Duration
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
	// yet back (vassal); Reconciling the liege's records being reconciled.
	ReconPending, Reconciling int
	// RollingBack: a rollback is outstanding here.
	RollingBack bool
	// Node is the protocol's whole status.
	Node NodeStatus
}

// Idle reports whether nothing is in flight: connected, both streams
// caught up, no rejection, rollback or reconciliation pending.
func (s Status) Idle() bool { return s.Node.Idle() }

// Replicator replicates one instance with its peer.
type Replicator struct {
	cfg     Config
	host    Host
	log     *slog.Logger
	metrics *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	cur      *session
	sessions uint64
	changed  chan struct{} // closed on every status change
	watched  bool          // Changed handed out changed since it was made

	reconnects atomic.Uint64

	// Accepted connections waiting for the peer's Hello (admit.go).
	pendMu  sync.Mutex
	pending link.Waiting[context.CancelFunc] // guarded by pendMu
}

// Start starts replicating cfg.Host. Close stops it.
func Start(cfg Config) (*Replicator, error) {
	if cfg.Host == nil {
		return nil, errors.New("replicate: Config.Host is required")
	}
	if cfg.Host.PeerID() == "" {
		return nil, errors.New("replicate: the instance is not replicated (open it with a peer id)")
	}
	if cfg.Cluster == "" {
		return nil, errors.New("replicate: Config.Cluster is required (both instances must name the same cluster)")
	}
	if cfg.Listener == nil && cfg.Dialer == nil {
		return nil, errors.New("replicate: give a Listener, a Dialer, or both")
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	// One tick is one heartbeat; the Node's defaults count in heartbeats.
	if err := cfg.Host.Attach(cfg.Cluster, NodeConfig{HeartbeatTicks: 1}); err != nil {
		return nil, err
	}
	r := &Replicator{cfg: cfg, host: cfg.Host, changed: make(chan struct{}),
		pending: link.Waiting[context.CancelFunc]{Max: maxPending}}
	r.log = cfg.Logger.With("instance", cfg.Host.ID(), "peer", cfg.Host.PeerID())
	r.metrics = newMetrics(cfg.Registerer, r)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.ticker()
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
// Listener or the Host.
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

// ticker is the Node's clock: one Tick per heartbeat interval, link or no
// link (a vassal counts the liege's silence for a promote).
func (r *Replicator) ticker() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	var moved uint64
	for {
		select {
		case <-t.C:
			if r.transferring(&moved) {
				// A large frame is crossing the link and its bytes are
				// moving: the peer is alive though no whole frame arrived
				// (progress.go).
				continue
			}
			r.host.Tick()
			r.notify()
		case <-r.ctx.Done():
			return
		}
	}
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
			r.admit(c)
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
			if r.serve(c, nil) {
				backoff = r.cfg.MinBackoff
			}
		} else if r.ctx.Err() == nil {
			r.logDialError(err)
		}
		if !sleepCtx(r.ctx, backoff) {
			return
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// serve runs one session on c, replacing the current one; first, if not
// nil, is the peer's Hello, already received. It reports whether the
// handshake succeeded.
func (r *Replicator) serve(c link.Conn, first *link.Frame) bool {
	s := &session{r: r, conn: c, first: first, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(r.ctx)
	s.log = r.log.With("remote", c.RemoteAddr())
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
	s := r.cur
	r.mu.Unlock()
	return s != nil && r.host.ReplStatus().Connected
}

// notify wakes Changed waiters. The reader calls it for every frame: a
// channel nobody holds is kept, not closed and made again.
func (r *Replicator) notify() {
	r.mu.Lock()
	if r.watched {
		close(r.changed)
		r.changed, r.watched = make(chan struct{}), false
	}
	r.mu.Unlock()
}

// Changed returns a channel closed at the next status change (a session
// starting or ending, frames received, a tick).
func (r *Replicator) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.watched = true
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
	ns := r.host.ReplStatus()
	out := Status{Connected: ns.Connected, Reconnects: r.reconnects.Load(), Refused: ns.Refused,
		ReconPending: ns.ReconPending, Reconciling: ns.Reconciling, RollingBack: ns.RollingBack, Node: ns}
	if ns.Connected {
		out.Peer, out.PeerRole, out.PeerEpoch = ns.Peer, ns.PeerRole, ns.PeerEpoch
		out.PeerLastOwn, out.PeerWatermark = ns.PeerLast, ns.PeerWM
		out.LagIn, out.LagOut = ns.LagIn, ns.LagOut
		if !ns.Discarding.IsZero() {
			out.Discarding = ns.Discarding.String()
		}
	}
	return out
}

// WaitIdle waits until Status().Idle() holds, or ctx ends.
func (r *Replicator) WaitIdle(ctx context.Context) error {
	for {
		ch := r.Changed()
		if r.Status().Idle() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("replication of %s not idle: %+v: %w", r.host.ID(), r.Status().Node, ctx.Err())
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

// session is one connection with the peer: a reader goroutine hands the
// peer's frames to the Host, a writer goroutine sends what the Host's
// outbox holds. Neither decides anything.
type session struct {
	r      *Replicator
	conn   link.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// first is the peer's Hello when admit received it already.
	first *link.Frame
}

func (s *session) stop() {
	s.cancel()
	s.conn.Close()
}

// run runs the session to its end and reports whether the handshake
// succeeded.
func (s *session) run() bool {
	defer close(s.done)
	r := s.r
	r.host.LinkUp()
	var up atomic.Bool
	// A peer that does not complete the handshake in time is dropped.
	var timedOut atomic.Bool
	deadline := time.AfterFunc(r.cfg.HandshakeTimeout, func() {
		if !up.Load() {
			timedOut.Store(true)
			s.stop()
		}
	})
	defer deadline.Stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer s.stop()
		if err := s.writeLoop(); err != nil && s.ctx.Err() == nil {
			s.log.Warn("replication: closing the link", "reason", err)
		}
	}()
	err := s.readLoop(&up)
	s.stop()
	wg.Wait()
	r.host.LinkDown()
	if s.r.ctx.Err() == nil {
		switch {
		case !up.Load() && timedOut.Load():
			s.log.Warn("replication: the peer did not complete the handshake in time; closing", "timeout", r.cfg.HandshakeTimeout)
		case !up.Load():
			if st := r.host.ReplStatus(); st.Refused != "" {
				r.metrics.refused.Inc()
				s.log.Warn("replication: refused the peer", "error", st.Refused)
			} else {
				if reason, ok := certProblem(err); ok {
					s.log.Warn("replication: handshake failed", "error", err, "reason", reason)
				} else {
					s.log.Warn("replication: handshake failed", "error", err)
				}
			}
		case errors.Is(err, io.EOF):
			s.log.Info("replication: the peer closed the connection")
		default:
			s.log.Warn("replication: connection lost; reconnecting", "error", err)
		}
	}
	return up.Load()
}

// maxRun bounds the frames readLoop hands to the Host at once.
const maxRun = 256

// readLoop hands every frame to the Host until the link fails. A frame
// comes with the frames received with it, already in the link's buffer
// (link.BufferedRecv), up to maxRun: a stream's frames arrive many to a
// read, and the Host then takes them in one hand-off to its executor
// rather than one each (a channel send, and a turn of the executor's
// loop, per frame).
func (s *session) readLoop(up *atomic.Bool) error {
	r := s.r
	br, _ := s.conn.(link.BufferedRecv)
	run := 1 // the last run's length: the next one's capacity
	for {
		f, err := s.first, error(nil)
		if f != nil {
			s.first = nil
		} else if f, err = s.conn.Recv(s.ctx); err != nil {
			return err
		}
		fs := make([]*link.Frame, 1, run)
		fs[0] = f
		for br != nil && len(fs) < maxRun && br.Buffered() {
			if f, err = s.conn.Recv(s.ctx); err != nil {
				break // the frames before it go in first
			}
			fs = append(fs, f)
		}
		run = len(fs)
		for _, f := range fs {
			if f.Kind == link.KindHello {
				r.metrics.clockOffset.Set(time.Duration(f.WallClock - time.Now().UnixNano()).Seconds())
			}
		}
		r.metrics.runs.Inc()
		r.metrics.framesIn.Add(float64(len(fs)))
		if derr := r.host.Deliver(fs); derr != nil {
			return derr
		}
		if err != nil {
			return err
		}
		if !up.Load() && r.host.ReplStatus().Connected {
			up.Store(true)
			r.mu.Lock()
			r.sessions++
			if r.sessions > 1 {
				r.reconnects.Add(1)
				r.metrics.reconnects.Inc()
			}
			r.mu.Unlock()
			st := r.host.ReplStatus()
			s.log.Info("replication: connected", "role", st.Role, "reign", st.Reign, "peer_role", st.PeerRole,
				"peer_epoch", st.PeerEpoch, "peer_watermark", st.PeerWM, "peer_last_own", st.PeerLast)
		}
		r.notify()
	}
}

// writeLoop sends the Host's outbox until the link fails or the Node asks
// for it to be closed.
// send writes frames: with as few system calls as the link allows when it
// batches (link.BatchSender), else one Send each.
func (s *session) send(frames []*link.Frame) error {
	if bs, ok := s.conn.(link.BatchSender); ok && len(frames) > 1 {
		if err := bs.SendBatch(s.ctx, frames); err != nil {
			return err
		}
	} else {
		for _, f := range frames {
			if err := s.conn.Send(s.ctx, f); err != nil {
				return err
			}
		}
	}
	txns := 0
	for _, f := range frames {
		if f.Kind == link.KindTxn {
			txns++
		}
	}
	if len(frames) > 0 {
		m := s.r.metrics
		m.sent.Add(float64(txns))
		m.framesOut.Add(float64(len(frames)))
		m.sends.Inc()
	}
	return nil
}

func (s *session) writeLoop() error {
	h := s.r.host
	for {
		frames, disc := h.Outbox()
		if err := s.send(frames); err != nil {
			return err
		}
		if disc != "" {
			return errors.New(disc)
		}
		select {
		case <-h.OutboxReady():
		case <-s.ctx.Done():
			return nil
		}
	}
}
