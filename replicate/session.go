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

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
	"github.com/liege-db/liege/replicate/link"
)

// reconChunk is how many records one reconciliation log frame carries.
const reconChunk = 256

// session is one connection with the peer: the handshake, then a sender
// goroutine (own stream, heartbeats, control frames: the only one that
// sends) and the receiver loop (the peer's frames, acted on through the
// engine).
type session struct {
	r    *Replicator
	db   *liege.DB
	conn link.Conn
	log  *slog.Logger
	id   string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	up     atomic.Bool

	// Set by the handshake, read-only afterwards.
	peer, peerRole string
	role           string

	peerEpoch   atomic.Uint64
	peerLastOwn atomic.Uint64
	peerWM      atomic.Uint64 // the peer's watermark of our OSeqs
	discarding  atomic.Pointer[string]
	lastRecv    atomic.Int64 // unix nanos
	backlogged  atomic.Bool  // the reader waits for the receive loop

	// The sender's queue: control frames, a stream restart, a heartbeat.
	qmu       sync.Mutex
	ctrl      []*link.Frame
	restartAt *uint64
	beat      bool
	wake      chan struct{}

	// The liege's queue of reconciliation log frames.
	reconMu   sync.Mutex
	reconQ    []*link.Frame
	reconWake chan struct{}

	// Receiver-only state.
	discardID    journal.TxID
	commandAt    time.Time
	commandWM    uint64
	resendWM     uint64
	resendAt     time.Time
	progressAt   time.Time
	reconSentAt  time.Time
	reconPending int
	dec          *journal.Decoder
	recBuf       []journal.Record // onTxns' records, reused
	recPtrs      []*journal.Record
	prevBuf      []uint64
}

func newSession(r *Replicator, c link.Conn) *session {
	s := &session{r: r, db: r.db, conn: c, id: r.db.ID(), done: make(chan struct{}), wake: make(chan struct{}, 1),
		reconWake: make(chan struct{}, 1),
		dec:       journal.NewDecoder()}
	s.log = r.log.With("remote", c.RemoteAddr())
	s.ctx, s.cancel = context.WithCancel(r.ctx)
	return s
}

// stop ends the session.
func (s *session) stop() {
	s.cancel()
	s.conn.Close()
}

// run runs the session to its end and reports whether the handshake
// succeeded.
func (s *session) run() bool {
	defer close(s.done)
	defer s.stop()
	peerHello, err := s.handshake()
	if err != nil {
		s.r.mu.Lock()
		s.r.refused = err.Error()
		s.r.mu.Unlock()
		s.r.metrics.refused.Inc()
		if s.ctx.Err() == nil {
			s.log.Warn("replication: refused the peer", "error", err)
		}
		return false
	}
	s.up.Store(true)
	s.r.metrics.linkUp.Set(1)
	defer s.r.metrics.linkUp.Set(0)
	s.r.mu.Lock()
	s.r.sessions++
	if s.r.sessions > 1 {
		s.r.reconnects.Add(1)
		s.r.metrics.reconnects.Inc()
	}
	s.r.refused = ""
	s.r.mu.Unlock()
	s.log.Info("replication: connected", "peer_role", s.peerRole, "peer_epoch", peerHello.Epoch,
		"peer_watermark", peerHello.Watermark, "peer_last_own", peerHello.Prev)
	s.r.notify()

	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := s.reconLoop(); err != nil && s.ctx.Err() == nil {
			s.log.Warn("replication: reconciliation failed; reconnecting", "error", err)
		}
		s.stop()
	}()
	go func() {
		defer wg.Done()
		if err := s.sendLoop(peerHello.Watermark); err != nil && s.ctx.Err() == nil {
			s.log.Warn("replication: send failed; reconnecting", "error", err)
		}
		s.stop()
	}()
	go func() {
		defer wg.Done()
		s.watchdog()
	}()
	s.progressAt = time.Now()
	if s.role == liege.RoleVassal {
		s.queueRecon()
	}
	err = s.recvLoop()
	if s.ctx.Err() == nil {
		if errors.Is(err, io.EOF) {
			s.log.Info("replication: the peer closed the connection")
		} else {
			s.log.Warn("replication: connection lost; reconnecting", "error", err)
		}
	}
	s.stop()
	wg.Wait()
	s.r.lastPeerWM.Store(s.peerWM.Load())
	s.r.lastPeerWMKnown.Store(true)
	s.up.Store(false)
	return true
}

// hello is this instance's Hello.
func (s *session) hello() *link.Frame {
	st := s.db.Repl()
	return &link.Frame{Kind: link.KindHello, Cluster: s.r.cfg.Cluster, From: s.id, Epoch: st.Epoch,
		Version: link.ProtocolVersion, Role: st.Role, Watermark: st.PeerWatermark, Prev: st.LastOwn,
		WallClock: s.r.cfg.Now().UnixNano()}
}

// handshake exchanges Hellos and checks the peer's (DESIGN.md sections 4
// and 5): protocol version, cluster, instance id, roles, clock offset.
func (s *session) handshake() (*link.Frame, error) {
	ctx, cancel := context.WithTimeout(s.ctx, max(10*s.r.cfg.Heartbeat, 5*time.Second))
	defer cancel()
	mine := s.hello()
	s.role = mine.Role
	if err := s.conn.Send(ctx, mine); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	f, err := s.conn.Recv(ctx)
	if err != nil {
		return nil, fmt.Errorf("receive hello: %w", err)
	}
	if err := checkHello(f, mine, s.r.cfg.Cluster, s.db.PeerID(), s.r.cfg.Now(), s.r.cfg.MaxClockOffset); err != nil {
		return nil, err
	}
	s.r.metrics.clockOffset.Set(time.Unix(0, f.WallClock).Sub(s.r.cfg.Now()).Seconds())
	s.peer, s.peerRole = f.From, f.Role
	s.peerEpoch.Store(f.Epoch)
	s.peerLastOwn.Store(f.Prev)
	s.peerWM.Store(f.Watermark)
	s.lastRecv.Store(time.Now().UnixNano())
	s.r.caughtUpAt.Store(s.r.cfg.Now().UnixNano()) // the incoming lag counts from here at most
	return f, nil
}

// checkHello decides whether the peer's Hello f is acceptable to an
// instance whose own Hello is mine and whose peer must be wantPeer, at
// local wall-clock time now. It is pure, for the fuzz test.
func checkHello(f, mine *link.Frame, cluster, wantPeer string, now time.Time, maxOffset time.Duration) error {
	if f.Kind != link.KindHello {
		return fmt.Errorf("the peer's first frame is a %v, not a hello", f.Kind)
	}
	if err := link.CheckCluster(f, cluster); err != nil {
		return err
	}
	switch {
	case f.Version != link.ProtocolVersion:
		return fmt.Errorf("peer %s speaks replication protocol %d, this build speaks %d: run the same release on both", f.From, f.Version, link.ProtocolVersion)
	case f.From != wantPeer:
		return fmt.Errorf("peer calls itself %q, but this instance's peer is %q (--peer-id): check the address", f.From, wantPeer)
	case f.Role == mine.Role:
		return fmt.Errorf("both %s and its peer %s are %s: exactly one must be liege; after a promotion restart the old liege with --role vassal", mine.From, f.From, f.Role)
	case f.Role != link.RoleLiege && f.Role != link.RoleVassal:
		return fmt.Errorf("peer %s announces role %q", f.From, f.Role)
	}
	if err := hlc.CheckOffset(now, time.Unix(0, f.WallClock), maxOffset); err != nil {
		return fmt.Errorf("peer %s: %w", f.From, err)
	}
	return nil
}

// watchdog closes a session whose peer has gone silent.
func (s *session) watchdog() {
	hb := s.r.cfg.Heartbeat
	t := time.NewTicker(hb)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if s.backlogged.Load() {
				continue // we are the slow side: the peer's frames wait for us
			}
			if time.Since(time.Unix(0, s.lastRecv.Load())) > 10*hb {
				s.log.Warn("replication: no frame from the peer for 10 heartbeats; reconnecting", "heartbeat", hb)
				s.stop()
				return
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// queue hands frames to the sender.
func (s *session) queue(fs ...*link.Frame) {
	s.qmu.Lock()
	s.ctrl = append(s.ctrl, fs...)
	s.qmu.Unlock()
	s.poke()
}

// restart asks the sender to resume the stream after the peer's watermark.
func (s *session) restart(after uint64) {
	s.qmu.Lock()
	s.restartAt = &after
	s.qmu.Unlock()
	s.poke()
}

// heartbeatSoon asks the sender for a heartbeat (our watermark moved).
func (s *session) heartbeatSoon() {
	s.qmu.Lock()
	s.beat = true
	s.qmu.Unlock()
	s.poke()
}

func (s *session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// sendLoop streams own transactions after the peer's watermark, with
// control frames and heartbeats in between. It is the only sender.
func (s *session) sendLoop(after uint64) error {
	cur, err := s.db.OwnCursor(s.ctx, after)
	if err != nil {
		return err
	}
	hb := s.r.cfg.Heartbeat
	tick := time.NewTicker(hb)
	defer tick.Stop()
	txn := &link.Frame{Kind: link.KindTxn, Cluster: s.r.cfg.Cluster, From: s.id}
	lastBeat := time.Time{}
	for {
		// Control frames and restarts first.
		s.qmu.Lock()
		ctrl, restartAt, beat := s.ctrl, s.restartAt, s.beat
		s.ctrl, s.restartAt, s.beat = nil, nil, false
		s.qmu.Unlock()
		for _, f := range ctrl {
			f.Cluster, f.From = s.r.cfg.Cluster, s.id
			if f.Epoch == 0 {
				f.Epoch = s.db.Repl().Epoch
			}
			if err := s.conn.Send(s.ctx, f); err != nil {
				return err
			}
		}
		if restartAt != nil {
			if cur, err = s.db.OwnCursor(s.ctx, *restartAt); err != nil {
				return err
			}
		}
		if beat && time.Since(lastBeat) >= hb/20 {
			if err := s.heartbeat(); err != nil {
				return err
			}
			lastBeat = time.Now()
		} else if beat {
			s.qmu.Lock()
			s.beat = true // coalesced into the next one
			s.qmu.Unlock()
		}
		durable := s.db.DurableChanged()
		sent := 0
		for sent < 256 {
			t, ok, err := cur.Next()
			if errors.Is(err, liege.ErrStreamReset) {
				if cur, err = s.db.OwnCursor(s.ctx, s.peerWM.Load()); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			txn.Epoch, txn.Prev, txn.Record = t.Epoch, t.Prev, t.Frame
			if err := s.conn.Send(s.ctx, txn); err != nil {
				return err
			}
			s.r.metrics.sent.Inc()
			sent++
		}
		if sent == 256 {
			continue
		}
		select {
		case <-s.wake:
		case <-durable:
		case <-tick.C:
			if role := s.db.Role(); role != s.role {
				s.log.Info("replication: this instance's role changed; reconnecting to agree on roles anew", "from", s.role, "to", role)
				return nil
			}
			if err := s.heartbeat(); err != nil {
				return err
			}
			lastBeat = time.Now()
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
}

func (s *session) heartbeat() error {
	st := s.db.Repl()
	return s.conn.Send(s.ctx, &link.Frame{Kind: link.KindHeartbeat, Cluster: s.r.cfg.Cluster, From: s.id,
		Epoch: st.Epoch, Watermark: st.PeerWatermark, Prev: st.LastOwn})
}

// recvLoop handles the peer's frames until the connection ends. A reader
// goroutine receives; this loop takes what has arrived in batches, so that
// a run of transaction frames is applied in one turn of the executor.
func (s *session) recvLoop() error {
	frames := make(chan *link.Frame, 1024)
	rerr := make(chan error, 1)
	go func() {
		defer close(frames)
		for {
			f, err := s.conn.Recv(s.ctx)
			if err != nil {
				rerr <- err
				return
			}
			s.lastRecv.Store(time.Now().UnixNano())
			select {
			case frames <- f:
				continue
			default:
			}
			s.backlogged.Store(true)
			select {
			case frames <- f:
			case <-s.ctx.Done():
				rerr <- s.ctx.Err()
				return
			}
			s.backlogged.Store(false)
			s.lastRecv.Store(time.Now().UnixNano())
		}
	}()
	defer func() {
		s.stop()
		for range frames { // let the reader end
		}
	}()
	var batch []*link.Frame
	for {
		f, ok := <-frames
		if !ok {
			return <-rerr
		}
		batch = append(batch[:0], f)
	drain:
		for len(batch) < 512 {
			select {
			case f, ok := <-frames:
				if !ok {
					break drain
				}
				batch = append(batch, f)
			default:
				break drain
			}
		}
		for i := 0; i < len(batch); {
			f := batch[i]
			if err := link.CheckCluster(f, s.r.cfg.Cluster); err != nil {
				s.log.Warn("replication: closing the connection over a frame of another cluster", "error", err)
				return err
			}
			if f.Kind == link.KindTxn {
				j := i + 1
				for j < len(batch) && batch[j].Kind == link.KindTxn {
					j++
				}
				if err := s.onTxns(batch[i:j]); err != nil {
					return err
				}
				i = j
				continue
			}
			if f.Epoch > s.peerEpoch.Load() {
				s.peerEpoch.Store(f.Epoch)
			}
			if err := s.onFrame(f); err != nil {
				return err
			}
			i++
		}
		clear(batch)
	}
}

// onFrame handles one frame other than a transaction.
func (s *session) onFrame(f *link.Frame) error {
	switch f.Kind {
	case link.KindHeartbeat:
		s.peerWM.Store(f.Watermark)
		s.peerLastOwn.Store(f.Prev)
		s.noteCaughtUp(s.r.cfg.Now())
		s.onHeartbeat()
		s.r.notify()
	case link.KindAck:
		s.peerWM.Store(f.Watermark)
	case link.KindResend:
		s.peerWM.Store(f.Watermark)
		s.restart(f.Watermark)
	case link.KindRollbackCommand:
		return s.onCommand(f)
	case link.KindRollbackAnswer:
		s.onAnswer(f)
	case link.KindReconLog:
		if s.role != liege.RoleLiege {
			return fmt.Errorf("the peer sent a reconciliation log, but this instance is the %s", s.role)
		}
		s.reconMu.Lock()
		s.reconQ = append(s.reconQ, f)
		s.reconMu.Unlock()
		select {
		case s.reconWake <- struct{}{}:
		default:
		}
	default:
		return fmt.Errorf("unexpected %v frame after the handshake", f.Kind)
	}
	return nil
}

// onTxns applies a run of transaction frames.
func (s *session) onTxns(fs []*link.Frame) error {
	// The records are decoded into storage reused from batch to batch: the
	// engine keeps nothing of them once ApplyPeerBatch returns.
	if len(s.recBuf) < len(fs) {
		s.recBuf = make([]journal.Record, len(fs))
	}
	recs, prevs := s.recPtrs[:0], s.prevBuf[:0]
	defer func() { s.recPtrs, s.prevBuf = recs[:0], prevs[:0] }()
	for _, f := range fs {
		if f.Epoch > s.peerEpoch.Load() {
			s.peerEpoch.Store(f.Epoch)
		}
		if !s.discardID.IsZero() {
			s.r.metrics.dropped.WithLabelValues("discarding").Inc()
			continue
		}
		if f.Epoch < s.peerEpoch.Load() {
			// Sent before a rollback the peer has since told us of.
			s.r.metrics.dropped.WithLabelValues("stale_epoch").Inc()
			continue
		}
		rec := &s.recBuf[len(recs)]
		rec.Reset()
		if err := s.dec.DecodeFrame(f.Record, rec); err != nil {
			s.log.Warn("replication: closing the connection over a transaction frame whose record does not decode", "error", err)
			return fmt.Errorf("txn frame: %w", err)
		}
		recs, prevs = append(recs, rec), append(prevs, f.Prev)
	}
	if len(recs) == 0 {
		return nil
	}
	results, err := s.db.ApplyPeerBatch(s.ctx, recs, prevs)
	for i, res := range results {
		s.onVerdict(recs[i], res)
	}
	if err != nil {
		var off *hlc.OffsetError
		if errors.As(err, &off) {
			s.log.Warn("replication: refused a transaction whose clock is beyond the bound; closing the connection", "error", err)
		}
		return err
	}
	if n := len(results); n < len(recs) && results[n-1].Verdict == liege.PeerRejected {
		s.r.metrics.dropped.WithLabelValues("discarding").Add(float64(len(recs) - n))
	}
	return nil
}

// onVerdict acts on what the engine did with one peer transaction.
func (s *session) onVerdict(rec *journal.Record, res liege.PeerResult) {
	switch res.Verdict {
	case liege.PeerApplied:
		s.progressAt = time.Now()
		s.noteApplied(rec)
		s.heartbeatSoon()
		s.r.notify()
	case liege.PeerDuplicate:
		s.r.metrics.dropped.WithLabelValues("duplicate").Inc()
	case liege.PeerGap:
		s.r.metrics.dropped.WithLabelValues("gap").Inc()
		s.askResend(res.Watermark)
	case liege.PeerRejected:
		s.discardID = rec.TxID()
		id := s.discardID.String()
		s.discarding.Store(&id)
		s.commandAt, s.commandWM = time.Now(), res.Watermark
		s.r.metrics.rejections.Inc()
		s.log.Warn("replication: rejected a vassal transaction; commanding the vassal to roll it back and discarding its transactions until it answers",
			"txid", id, "watermark", res.Watermark, "own", res.Conflicts[0].Own.String(), "check", res.Conflicts[0].Check.String(),
			"key", tuple.Format(res.Conflicts[0].Key))
		s.queue(&link.Frame{Kind: link.KindRollbackCommand, Subject: id, Watermark: res.Watermark})
		s.r.notify()
	case liege.PeerRolledBack:
		s.log.Warn("replication: rolled back on a conflict with the liege; resuming its stream after the new watermark",
			"liege_txid", rec.TxID().String(), "from", res.Rollback.From, "to", res.Rollback.To, "records", res.Rollback.Records,
			"epoch", res.Epoch, "watermark", res.Watermark)
		s.queue(&link.Frame{Kind: link.KindRollbackAnswer, Epoch: res.Epoch, Watermark: res.Watermark})
		s.queueLogs(res.Recon)
		s.r.notify()
	}
}

// askResend asks the peer to resume after wm, at most once per two
// heartbeats for the same watermark (a stale stream gives many gaps).
func (s *session) askResend(wm uint64) {
	if wm == s.resendWM && time.Since(s.resendAt) < 2*s.r.cfg.Heartbeat {
		return
	}
	s.resendWM, s.resendAt = wm, time.Now()
	s.queue(&link.Frame{Kind: link.KindResend, Watermark: wm})
}

// onHeartbeat repairs what lost frames leave stuck: a stream that stopped
// short, a command or a reconciliation log that never arrived.
func (s *session) onHeartbeat() {
	hb := s.r.cfg.Heartbeat
	st := s.db.Repl()
	if !s.discardID.IsZero() {
		if time.Since(s.commandAt) > 5*hb {
			s.commandAt = time.Now()
			s.queue(&link.Frame{Kind: link.KindRollbackCommand, Subject: s.discardID.String(), Watermark: s.commandWM})
		}
		return
	}
	if s.peerLastOwn.Load() > st.PeerWatermark && time.Since(s.progressAt) > 2*hb {
		s.askResend(st.PeerWatermark)
	}
	if s.role == liege.RoleVassal && st.ReconPending > 0 {
		if st.ReconPending != s.reconPending {
			s.reconPending, s.reconSentAt = st.ReconPending, time.Now()
		} else if time.Since(s.reconSentAt) > 20*hb {
			s.queueRecon()
		}
	}
}

// onCommand is the vassal's side of a liege's rejection (section 8).
func (s *session) onCommand(f *link.Frame) error {
	if s.role != liege.RoleVassal {
		return fmt.Errorf("the peer sent a rollback command, but this instance is the %s", s.role)
	}
	subject, err := journal.ParseTxID(f.Subject)
	if err != nil {
		return err
	}
	res, log, pr, err := s.db.RollbackFor(s.ctx, subject, fmt.Sprintf("rejected by the liege %s", s.peer))
	if err != nil {
		return err
	}
	if res != nil {
		s.log.Warn("replication: rolled back a transaction the liege rejected", "txid", f.Subject,
			"from", res.From, "to", res.To, "records", res.Records, "epoch", res.Epoch, "watermark", pr.Watermark)
	}
	s.peerWM.Store(f.Watermark)
	s.queue(&link.Frame{Kind: link.KindRollbackAnswer, Subject: f.Subject, Epoch: pr.Epoch, Watermark: pr.Watermark})
	s.restart(f.Watermark)
	s.queueLogs(log)
	s.r.notify()
	return nil
}

// onAnswer is the liege's side of a vassal's rollback (section 8): only the
// answer naming the rejected TxID ends the discarding.
func (s *session) onAnswer(f *link.Frame) {
	if !s.discardID.IsZero() {
		if f.Subject != s.discardID.String() {
			return // an answer to another command, or a notice: keep discarding
		}
		s.log.Info("replication: the vassal answered; resuming", "txid", f.Subject, "vassal_epoch", f.Epoch, "vassal_watermark", f.Watermark)
		s.discardID = journal.TxID{}
		s.discarding.Store(nil)
	}
	s.peerWM.Store(f.Watermark)
	s.restart(f.Watermark)
	s.r.notify()
}

// queueRecon queues every pending reconciliation log of the vassal (after
// a handshake, or when the liege seems not to have them).
func (s *session) queueRecon() {
	logs, err := s.db.PendingRecon(s.ctx)
	if err != nil {
		return
	}
	s.queueLogs(logs...)
}

// queueLogs queues the pending records of reconciliation logs.
func (s *session) queueLogs(logs ...*reconcile.Log) {
	enc := journal.NewEncoder()
	var frames []*link.Frame
	n := 0
	for _, l := range logs {
		if l == nil {
			continue
		}
		for i := 0; i < len(l.Entries); i += reconChunk {
			f := &link.Frame{Kind: link.KindReconLog}
			for _, e := range l.Entries[i:min(i+reconChunk, len(l.Entries))] {
				if e.Done {
					continue
				}
				b, err := enc.Frame(&e.Record)
				if err != nil {
					s.log.Error("replication: cannot encode a reconciliation record", "txid", e.Record.TxID().String(), "error", err)
					continue
				}
				f.Records = append(f.Records, append([]byte(nil), b...))
				n++
			}
			if len(f.Records) > 0 {
				frames = append(frames, f)
			}
		}
	}
	if len(frames) == 0 {
		return
	}
	s.reconSentAt = time.Now()
	s.log.Info("replication: sending reconciliation logs", "logs", len(logs), "records", n)
	s.queue(frames...)
}

// reconLoop is the liege's reconciliation (section 9), off the receiver
// loop so that the streams keep flowing while a long log is re-executed.
func (s *session) reconLoop() error {
	dec := journal.NewDecoder()
	for {
		select {
		case <-s.reconWake:
		case <-s.ctx.Done():
			return nil
		}
		for {
			s.reconMu.Lock()
			if len(s.reconQ) == 0 {
				s.reconMu.Unlock()
				break
			}
			f := s.reconQ[0]
			s.reconQ = s.reconQ[1:]
			s.reconMu.Unlock()
			if err := s.onReconLog(dec, f); err != nil {
				return err
			}
		}
	}
}

func (s *session) onReconLog(dec *journal.Decoder, f *link.Frame) error {
	recs := make([]journal.Record, len(f.Records))
	for i, b := range f.Records {
		r := &recs[i]
		if err := dec.DecodeFrame(b, r); err != nil {
			s.log.Warn("replication: closing the connection over a reconciliation record that does not decode", "index", i, "error", err)
			return fmt.Errorf("reconciliation log record %d: %w", i, err)
		}
		if r.Origin != s.peer || !r.Kind.IsOwn() {
			return fmt.Errorf("reconciliation log record %d is %v of kind %v: a vassal reconciles only its own transactions", i, r.TxID(), r.Kind)
		}
	}
	outs, err := s.db.ReconcileAll(s.ctx, recs)
	if err != nil {
		if s.ctx.Err() != nil || errors.Is(err, liege.ErrClosed) {
			return err
		}
		// A procedure that cannot be reconciled here stays pending at the
		// vassal; it is retried when the log is resent.
		s.log.Error("replication: could not reconcile a vassal transaction; it stays pending", "error", err)
	}
	for _, out := range outs {
		switch out.Action {
		case liege.ReconcileReprocessed:
			s.r.metrics.reconciled.WithLabelValues("reprocessed").Inc()
			s.log.Info("reconciled: re-executed with the same result", "subject", out.Subject.String(), "as", out.Result.TxID.String())
		case liege.ReconcileCorrected:
			s.r.metrics.reconciled.WithLabelValues("corrected").Inc()
			s.log.Warn("reconciled: re-execution differed; correction committed", "subject", out.Subject.String(), "as", out.Result.TxID.String())
		case liege.ReconcileSkipped:
			s.r.metrics.reconciled.WithLabelValues("skipped").Inc()
		}
	}
	s.r.notify()
	return nil
}
