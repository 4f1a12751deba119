package engine

import (
	"errors"
	"fmt"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// ErrLostAcked: start-up found acknowledged journal records damaged or
// missing (DESIGN.md section 3). Nothing was changed; the error says what to
// do.
var ErrLostAcked = errors.New("the journal lost acknowledged records")

// AckedTailGuard is the guard of journal.OpenFileLogGuarded for the instance
// directory dir. A torn tail is cut at start-up only if it was never
// acknowledged; a checkpoint at or above its position proves it was (the
// state the checkpoint holds includes it), so the guard refuses, before any
// file is changed.
func AckedTailGuard(dir string) func(*journal.TailDamage) error {
	return func(t *journal.TailDamage) error {
		files, err := checkpoint.List(dir)
		if err != nil {
			return fmt.Errorf("list the checkpoints of %s to check the torn journal tail at position %d (nothing was changed): %w", dir, t.Pos, err)
		}
		if n := len(files); n > 0 && files[n-1].Pos >= t.Pos {
			return fmt.Errorf("%w: %v, but checkpoint %s holds the state up to position %d, so that record was durable and acknowledged; "+
				"nothing was changed. Restore the journal from a backup, or, to accept the loss, move every checkpoint at or above position %d out of %s and open again "+
				"(a replicated instance then learns from its peer which of its own transactions were lost)",
				ErrLostAcked, t, files[n-1].Path, files[n-1].Pos, t.Pos, checkpoint.Dir)
		}
		return nil
	}
}

// ErrAwaitingPeer is a call's error while a replicated instance does not
// yet know which own OSeqs are free (DESIGN.md section 3, never reuse a
// shipped OSeq): it cut a torn journal tail at start-up and has not yet
// heard its peer's handshake (the cut records may have been own
// transactions the peer already holds; retry once the link is up), or it
// is empty and waits for the checkpoint it asked its peer for (the peer
// holds own transactions of it; retry once it is seeded). The error says
// which.
var ErrAwaitingPeer = errors.New("the instance waits for its peer before it takes calls")

// awaitPeerAfterCut is set at start-up when a torn tail was cut on a
// replicated instance: calls are refused until the first handshake.
func (in *Instance) awaitPeerAfterCut(rep *journal.TailDamage) {
	if in.cfg.PeerID == "" {
		return
	}
	in.awaitPeer = fmt.Sprintf("start-up cut a torn journal tail at position %d, which may have held own transactions the peer %s already holds; "+
		"until its handshake says which own OSeqs it holds, none is assigned (DESIGN.md section 3); retry once the link to %s is up", rep.Pos, in.cfg.PeerID, in.cfg.PeerID)
	in.log.Warn("calls wait for the peer's handshake: a torn tail was cut, and the peer may hold own transactions it held", "position", rep.Pos, "peer", in.cfg.PeerID)
}

// awaitPeerAsked is set at start-up by Config.AwaitPeer: calls are refused
// until the first handshake (and then until seeded, if the Node asks for
// the peer's checkpoint).
func (in *Instance) awaitPeerAsked() {
	if !in.cfg.AwaitPeer || in.cfg.PeerID == "" || in.awaitPeer != "" {
		return
	}
	in.awaitPeer = fmt.Sprintf("it was started to wait for its peer %s (--await-peer: a site being rebuilt): until the peer's handshake says which own OSeqs it holds, "+
		"none is assigned (DESIGN.md section 3); retry once the link to %s is up", in.cfg.PeerID, in.cfg.PeerID)
	in.log.Warn("calls wait for the peer's handshake (--await-peer)", "peer", in.cfg.PeerID)
}

// awaitErr is the error of a call refused while awaitPeer holds.
func (in *Instance) awaitErr() error {
	return fmt.Errorf("%w: %s", ErrAwaitingPeer, in.awaitPeer)
}

// handshakeDone ends the wait of awaitPeerAfterCut, and a seed's wait that
// outlived its session: the Node has taken the peer's watermark (and a
// TakeBack, if any, was carried out). An empty instance whose peer holds
// own transactions of it asks for the peer's checkpoint instead, and waits
// for it (seedWait).
func (in *Instance) handshakeDone() {
	if in.awaitPeer == "" || !in.node.Status().Connected || in.node.AwaitingSeed() {
		return
	}
	in.awaitPeer, in.awaitingSeed = "", false
	in.log.Info("the peer's handshake is done: calls are taken again", "own_oseqs_after", in.highOSeq)
}

// seedWait makes calls wait once the Node waits for the checkpoint it asked
// the peer for as an empty instance (a site rebuilt on an empty directory):
// the peer holds own transactions of this instance, and only its
// checkpoint says up to which OSeq (DESIGN.md section 3); installing it
// replaces the state and the journal, so an own transaction committed
// before would be lost too. The wait outlives a link lost meanwhile; it
// ends once the checkpoint is installed (seeded), or at a handshake after
// which the Node asks for none (handshakeDone).
func (in *Instance) seedWait() {
	if in.awaitingSeed || !in.node.AwaitingSeed() {
		return
	}
	in.awaitingSeed = true
	in.awaitPeer = fmt.Sprintf("this instance is empty and its peer %s holds own transactions of it (a rebuilt site): "+
		"it takes no call until it is seeded from the peer's checkpoint, which says which own OSeqs are free (DESIGN.md section 3); "+
		"retry once its log says \"seeded from the peer's checkpoint\"", in.cfg.PeerID)
	in.log.Warn("calls wait until this empty instance is seeded from its peer's checkpoint: the peer holds own transactions of it", "peer", in.cfg.PeerID)
}

// seeded ends seedWait: the peer's checkpoint is installed.
func (in *Instance) seeded() {
	if !in.awaitingSeed {
		return
	}
	in.awaitPeer, in.awaitingSeed = "", false
	in.log.Info("seeded: calls are taken again", "own_oseqs_after", in.highOSeq)
}

// takeBack carries out Ready.TakeBack: the peer holds own OSeqs in (After,
// UpTo] this journal lacks (acknowledged records were lost here). They are
// never assigned again: highOSeq moves past them, durably (a role record
// restating the role carries the new HighOSeq, as every meta record does),
// and the log says loudly which transactions were lost.
func (in *Instance) takeBack(tb *replicate.TakeBack) {
	if tb.UpTo <= in.highOSeq {
		return
	}
	from := max(tb.After, in.highOSeq) + 1
	in.highOSeq = tb.UpTo
	in.log.Error("acknowledged own transactions were lost from this journal (a crash or a disk that lied about an fsync), but the peer holds them: "+
		"their OSeqs are never assigned again; their effects are in the peer's state but not in this one: compare the two and repair by hand",
		"lost_from", journal.TxID{Origin: in.cfg.ID, OSeq: from}.String(), "lost_to", journal.TxID{Origin: in.cfg.ID, OSeq: tb.UpTo}.String(),
		"count", tb.UpTo-from+1, "peer", in.cfg.PeerID)
	if in.role != "" {
		if err := in.journalRole(in.role, in.reign); err != nil {
			in.fail(err)
		}
	}
}

// promotedWhileAwaiting ends the wait of awaitPeerAfterCut (or seedWait)
// when the operator promotes this instance: its liege is gone, so no
// handshake (or checkpoint) will say which own OSeqs it held. The instance
// continues after its own journal (DESIGN.md section 3, "where the peer
// lacks them too"); should the old liege return holding a cut own
// transaction, its handshake shows it and the log says so.
func (in *Instance) promotedWhileAwaiting() {
	if in.awaitPeer == "" {
		return
	}
	in.log.Error("promoted while waiting for the peer (see why_it_waited): calls are taken again, and an own transaction the gone liege holds may get its OSeq again",
		"own_oseqs_after", in.highOSeq, "why_it_waited", in.awaitPeer)
	in.awaitPeer, in.awaitingSeed = "", false
}
