package sim

import (
	"fmt"
	"os"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// Seeding in the simulator: in some retaining seeds (wipeSeed), after the
// first third of the run, B's directory is lost (journal, side files) at
// the first moment that loses nothing acknowledged: every own transaction
// of B applied by A, nothing rolled back or reconciling, nothing queued
// (calls in flight are lost, unacknowledged, as in a crash).
// B restarts empty and is seeded from A's checkpoint. The oracle then
// reads B's history as the seed stands for it: A's records at the seed
// (those in the checkpoint's state), as B would hold them, then B's own
// journal.

type wipeState struct {
	done    bool // B was wiped (once a seed)
	waiting bool // B is wiped and not yet seeded (or caught up)
}

// wipeHolds reports whether site i, emptied, must wait for its seed before
// it takes calls or a promote: an empty instance must first learn from its
// peer which OSeqs it used (DESIGN.md section 3, never reuse a shipped
// OSeq), and a promoted empty vassal would lose the liege's path.
func (w *world) wipeHolds(i int) bool {
	if !w.wipe.waiting || i != B {
		return false
	}
	if s := w.sites[B]; s.inst != nil && s.inst.Status().Idle() {
		w.wipe.waiting = false // caught up from the stream: nothing to seed
	}
	return w.wipe.waiting
}

// wipeSeed: seeds divisible by 6, which retain (not drawn, as w.retain).
func (w *world) wipeSeed() bool { return w.retain && w.o.Seed%6 == 0 }

// maybeWipe wipes B when it may.
func (w *world) maybeWipe() {
	if !w.wipeSeed() || w.wipe.done || w.healing || w.steps < w.o.Steps/3 || w.failure != nil {
		return
	}
	a, b := w.sites[A], w.sites[B]
	if a.inst == nil || b.inst == nil || b.inst.Busy() || a.inst.Busy() { // A busy: what it applied may not be durable yet
		return
	}
	sa, sb := a.inst.Status(), b.inst.Status()
	if sb.RollingBack || sb.ReconPending > 0 || sb.Reconciling > 0 || sa.ReconPending > 0 || sa.Reconciling > 0 ||
		sa.Watermark != sb.LastOwn || !sa.Discarding.IsZero() || sa.RollingBack {
		return
	}
	// The Node hears of an own record once the engine reports it durable,
	// which can come after its call was answered: an acknowledged own
	// transaction of B beyond A's watermark is not safe to lose either.
	for _, id := range w.acked {
		if id.Origin == b.id && id.OSeq > sa.Watermark {
			return
		}
	}
	w.wipe.done, w.wipe.waiting = true, true
	b.inst, b.inflight = nil, 0
	b.log, b.side = journal.NewMemLog(), &Side{}
	if err := os.RemoveAll(b.dir); err == nil {
		err = os.Mkdir(b.dir, 0o755)
		if err != nil {
			w.fail("engine", fmt.Sprintf("wipe B: %v", err))
		}
	}
	b.upAt = w.now + 10*ms
	w.tracef("B wiped: its directory is lost (A has applied every own transaction of B, up to OSeq %d)", sb.LastOwn)
	w.cut("B wiped")
}

// seeded is what an engine that installed a seed tells the simulator.
type seeded interface {
	TakeSeeded() (replicate.SeedDone, bool)
}

// afterSeed records, when site i just installed its peer's checkpoint, the
// history it stands for.
func (w *world) afterSeed(i int) {
	s, peer := w.sites[i], w.sites[1-i]
	x, ok := s.inst.(seeded)
	if !ok {
		return
	}
	d, ok := x.TakeSeeded()
	if !ok {
		return
	}
	if peer.inst == nil {
		w.fail("engine", fmt.Sprintf("%s was seeded while %s is down", s.id, peer.id))
		return
	}
	ex, err := peer.inst.Export()
	if err != nil {
		w.fail("engine", fmt.Sprintf("export %s for %s's seed: %v", peer.id, s.id, err))
		return
	}
	s.side.Prefix = SeedPrefix(ex.Records, s.id, peer.id, d.Watermark)
	s.side.Archive = nil // a re-seeded site's older history is in the prefix
	w.wipe.waiting = false
	w.tracef("%s seeded from %s's checkpoint: watermark %d, own OSeqs up to %d, %d transactions in it",
		s.id, peer.id, d.Watermark, d.BasePrev, len(s.side.Prefix))
}

// SeedPrefix returns the history a seed from peer stands for, as instance
// self holds it: every transaction record of the peer's (in order) but the
// peer's own after watermark (committed after the checkpoint was taken),
// with the peer's own as peer records here and self's own, which the peer
// held as peer records, as own records again.
func SeedPrefix(peerRecs []journal.Record, self, peer string, watermark uint64) []journal.Record {
	var out []journal.Record
	for _, r := range peerRecs {
		if !r.Kind.IsTxn() {
			continue
		}
		switch {
		case r.Origin == peer && r.OSeq > watermark:
			continue
		case r.Origin == peer:
			r.Kind, r.OriginKind = journal.KindPeer, r.Kind
		case r.Origin == self && r.Kind == journal.KindPeer:
			r.Kind, r.OriginKind = r.OriginKind, 0
		}
		r.Pos = 0
		out = append(out, r)
	}
	return out
}

// TakeSeeded implements seeded for the real engine.
func (e *engineInst) TakeSeeded() (replicate.SeedDone, bool) { return e.in.TakeSeeded() }
