package engine

import (
	"bytes"
	"fmt"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/rollback"
)

// Seeding carried out (package replicate, seed.go): the sender encodes its
// durable state as a checkpoint and hands it to the Node; the receiver
// collects the bytes, installs them as its own checkpoint and state, then
// tells the Node.

// seeder is the Instance's seeding state.
type seeder struct {
	send    bool                // the Node asked for our checkpoint
	in      seedFile            // the peer's checkpoint so far (seedfile.go)
	install *replicate.SeedDone // complete: install after the Ready
	done    *replicate.SeedDone // installed, for TakeSeeded
}

// TakeSeeded returns, once, the seed this instance installed since it was
// opened (a simulator adjusts its oracle's view of the history with it).
func (in *Instance) TakeSeeded() (replicate.SeedDone, bool) {
	d := in.seed.done
	in.seed.done = nil
	if d == nil {
		return replicate.SeedDone{}, false
	}
	return *d, true
}

// empty reports whether the instance holds nothing but its open and role
// records: it may be seeded from the peer.
func (in *Instance) empty() bool {
	return in.Recovery.Checkpoint == "" && in.highOSeq == 0 && in.peerWatermark == 0 && in.epoch == 0 &&
		in.st.Len() == 0 && len(in.recon) == 0 && in.lostTx.empty() && !in.ret.seeded && in.ret.basePrev == 0
}

// takeSeed carries out a Ready's seeding part (inputs to the Node wait for
// seedAfterReady).
func (in *Instance) takeSeed(s *replicate.SeedReady) {
	if s.Send {
		in.seed.send = true
	}
	for _, c := range s.Chunks {
		in.seed.in.write(in.cfg.Dir, c)
	}
	if s.Done != nil {
		d := *s.Done
		in.seed.install = &d
	}
}

// seedAfterReady does what takeSeed deferred, once the Ready is advanced:
// it reports whether it gave the Node an input.
func (in *Instance) seedAfterReady() bool {
	switch {
	case in.fatal != nil || in.node == nil:
		return false
	case in.seed.send:
		in.seed.send = false
		if err := in.sendSeed(); err != nil {
			in.fail(err)
		}
		return true
	case in.seed.install != nil:
		d := *in.seed.install
		in.seed.install = nil
		err := in.installSeed(&d)
		in.seed.in.drop()
		if err != nil {
			in.fail(err)
			return false
		}
		in.seed.done = &d
		in.node.Seeded(d)
		in.seeded() // losttail.go: calls are taken again
		return true
	}
	return false
}

// sendSeed encodes the durable state as a checkpoint for the peer.
func (in *Instance) sendSeed() error {
	if err := in.flush(); err != nil {
		return err
	}
	in.reportDurable() // the Node's newest own OSeq must be the state's
	wm := in.node.Status().LastOwn
	meta := checkpoint.Meta{Instance: in.cfg.ID, Pos: in.lastPos, Epoch: in.epoch, HighOSeq: wm,
		HLC: uint64(in.clock.Last()), PeerWatermark: in.peerWatermark, Held: in.peerSubjectsHeld()}
	var b bytes.Buffer
	if err := checkpoint.Encode(&b, meta, in.st.Snapshot()); err != nil {
		return fmt.Errorf("encode the checkpoint the peer asked for: %w", err)
	}
	in.log.Warn("seeding the peer with our checkpoint", "bytes", b.Len(), "keys", in.st.Len(), "watermark", wm, "peer_base", in.peerWatermark)
	in.node.SendSeed(b.Bytes(), wm, in.peerWatermark)
	return nil
}

// installSeed makes the peer's checkpoint this instance's state, durably:
// a checkpoint of it at the journal's last position, then the front file
// that says which own OSeqs the peer holds. A crash between the two leaves
// the checkpoint: the next handshake's take-back keeps the OSeqs apart.
func (in *Instance) installSeed(d *replicate.SeedDone) error {
	meta, st, err := in.seed.in.decode(in.cfg.PeerID)
	if err != nil {
		return fmt.Errorf("the peer's checkpoint: %w", err)
	}
	if meta.Instance != in.cfg.PeerID {
		return fmt.Errorf("the peer's checkpoint is of instance %q, not the peer %q", meta.Instance, in.cfg.PeerID)
	}
	if d.Reseed {
		if err := in.reseedCheck(d); err != nil { // reseed.go
			return err
		}
	} else if in.peerWatermark != 0 || in.epoch != 0 || in.ret.seeded {
		// (Own transactions may be here: the handshake's take-back of
		// those the peer holds, which its checkpoint holds too.)
		return fmt.Errorf("a checkpoint from the peer arrived, but this instance is no longer empty: it is not installed")
	}
	// The journal begins afresh at a checkpoint marker: what came before
	// (the open and role records, own records taken back) is in the
	// checkpoint or the front file.
	if err := in.appendMeta(&journal.Record{Kind: journal.KindCheckpoint, Checkpoint: in.lastPos + 1}); err != nil {
		return err
	}
	if err := in.flush(); err != nil {
		return err
	}
	clock := max(in.clock.Last(), hlc.Timestamp(meta.HLC))
	mine := checkpoint.Meta{Instance: in.cfg.ID, Pos: in.lastPos, Epoch: in.epoch, HighOSeq: max(in.highOSeq, d.BasePrev),
		HLC: uint64(clock), PeerWatermark: d.Watermark}
	path, err := checkpoint.Write(in.cfg.Dir, mine, st.Snapshot())
	if err != nil {
		return fmt.Errorf("save the peer's checkpoint: %w", err)
	}
	f := &front{Instance: in.cfg.ID, First: in.lastPos, BasePrev: d.BasePrev, Role: in.role, Reign: in.reign, Seeded: true}
	fw := &rollback.FrontWatermark{PeerWatermark: d.Watermark} // every peer record up to it is in the checkpoint
	f.setFrontWatermark(fw)
	if err := writeFront(in.cfg.Dir, f); err != nil {
		return err
	}
	if err := in.flushIdem(in.durable); err != nil { // keys of own records taken back
		return err
	}
	// The truncation below removes the records before the checkpoint:
	// the TxID index must hold them first, as retention requires of any
	// truncation (a re-seeded vassal's own transactions the liege held).
	if err := in.flushTxnStatus(); err != nil {
		return err
	}
	if err := in.w.log.TruncateFront(in.lastPos); err != nil {
		return fmt.Errorf("truncate the journal before the seeded checkpoint at position %d: %w", in.lastPos, err)
	}
	in.w.first = in.lastPos
	in.ownPending = nil
	in.st = st
	in.clock.Restore(clock)
	in.highOSeq = max(in.highOSeq, d.BasePrev)
	in.peerWatermark, in.peerDur = d.Watermark, d.Watermark
	in.peerSync, in.peerSynced = peerMark{}, peerMark{}
	in.ret.basePrev, in.ret.seeded, in.ret.front = d.BasePrev, true, fw
	in.Recovery.Checkpoint, in.Recovery.CheckpointPos = path, in.lastPos
	in.sinceCkpt = 0
	in.reseedHeld(d, meta.Held) // reseed.go
	in.log.Warn("seeded from the peer's checkpoint", "checkpoint", path, "bytes", d.Bytes, "keys", st.Len(),
		"peer_watermark", d.Watermark, "own_oseqs_up_to", d.BasePrev)
	return nil
}
