package engine_test

import (
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/replicate/link"
)

// A vassal with a pipelined fsync (Config.Syncer) must tell its Node how
// far the peer records are durable as each fsync returns, including the
// records applied while it was in flight once their own fsync returns,
// with no other input to wake it: that report is what its heartbeats carry
// to the liege (the liege prunes its window by it).

// move delivers from's outbox to to.
func move(t *testing.T, from, to *node) {
	t.Helper()
	frames, disc := from.in.Outbox()
	if disc != "" {
		t.Fatalf("%s closes the link: %s", from.cfg.ID, disc)
	}
	for _, f := range frames {
		if err := to.in.Deliver(f); err != nil {
			t.Fatalf("%s refused a %v frame: %v", to.cfg.ID, f.Kind, err)
		}
	}
}

// stepHeld steps n (whose fsyncs s holds) until it has no work, finishing
// every fsync it starts.
func stepHeld(t *testing.T, n *node, s *heldSyncer) {
	t.Helper()
	for i := 0; n.in.HasWork() || s.sync != nil; i++ {
		if i == 100 {
			t.Fatalf("%s still has work after 100 steps", n.cfg.ID)
		}
		if s.sync != nil && !n.in.HasWork() {
			s.finish(n.in)
			continue
		}
		n.in.Step()
	}
}

// heartbeatWM ticks n and returns the watermark its heartbeat carries.
func heartbeatWM(t *testing.T, n *node) uint64 {
	t.Helper()
	n.in.Tick()
	frames, _ := n.in.Outbox()
	for _, f := range frames {
		if f.Kind == link.KindHeartbeat {
			return f.Watermark
		}
	}
	t.Fatalf("%s sent no heartbeat on a tick", n.cfg.ID)
	return 0
}

func TestSyncerVassalReportsPeerRecordsDurable(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	s := &heldSyncer{t: t}
	b.cfg.Syncer = s
	b.open()
	t.Cleanup(func() { a.in.Close(); b.in.Close() })

	a.in.LinkUp()
	b.in.LinkUp()
	for range 4 { // the handshake
		for a.in.Step() {
		}
		stepHeld(t, b, s)
		move(t, a, b)
		move(t, b, a)
	}
	if !a.in.Status().Node.Connected || !b.in.Status().Node.Connected {
		t.Fatal("the pair did not connect")
	}

	// x reaches the vassal and is applied; its fsync starts and is held.
	x := a.call(sim.Op{Op: "set", K: "x", V: "1"}).Result.TxID
	move(t, a, b)
	for b.in.HasWork() {
		b.in.Step()
	}
	if s.sync == nil {
		t.Fatal("the vassal started no fsync for the applied peer record")
	}
	// y reaches the vassal and is applied while x's fsync is in flight.
	y := a.call(sim.Op{Op: "set", K: "y", V: "1"}).Result.TxID
	move(t, a, b)
	for b.in.HasWork() {
		b.in.Step()
	}
	if st := b.in.Status(); st.PeerWatermark != y.OSeq {
		t.Fatalf("vassal applied peer OSeqs up to %d, want %d", st.PeerWatermark, y.OSeq)
	}

	// x's fsync returns: x is durable, y is not yet.
	s.finish(b.in)
	if got := b.in.Status().Node.Stable; got != x.OSeq {
		t.Fatalf("after the fsync of %v returned (while %v waits in the buffer) the vassal's Node has peer records durable up to %d, want %d",
			x, y, got, x.OSeq)
	}
	if !b.in.HasWork() {
		t.Fatalf("the vassal has no work with %v applied and not durable: a driver would sleep on it", y)
	}
	// y's fsync starts; it returns after the last apply, and nothing else
	// happens: its SyncDone alone must bring the report.
	for b.in.HasWork() {
		b.in.Step()
	}
	if s.sync == nil {
		t.Fatal("the vassal started no fsync for the buffered peer record")
	}
	s.finish(b.in)
	if got := b.in.Status().Node.Stable; got != y.OSeq {
		t.Fatalf("after the last fsync returned the vassal's Node has peer records durable up to %d, want %d", got, y.OSeq)
	}
	if b.in.HasWork() || s.sync != nil {
		t.Fatalf("the vassal still has work (%v) or an fsync in flight (%v) with everything durable", b.in.HasWork(), s.sync != nil)
	}
	if wm := heartbeatWM(t, b); wm != y.OSeq {
		t.Fatalf("the vassal's heartbeat carries watermark %d, want %d", wm, y.OSeq)
	}
}
