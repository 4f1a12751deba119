package replicate

import (
	"fmt"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// Seeding (DESIGN.md section 3): a new or emptied instance whose peer no
// longer holds its journal from where the instance must resume (retention
// truncated its front) is given the peer's checkpoint over the link, then
// catches up from the stream.
//
// The exchange, after the handshake:
//
//	sender                                   receiver (empty)
//	Hello wm < our base: cannot stream  ->   SeedOffer wm=base
//	                                    <-   SeedRequest   (if empty, or a vassal)
//	Ready.Seed.Send: the driver takes a
//	checkpoint of its durable state and
//	calls SendSeed                      ->   Seed chunks (Offset, Total, wm, prev)
//	                                         Ready.Seed.Chunks, then .Done: the driver
//	                                         installs the state durably, calls Seeded;
//	                                         the node closes the link and the next
//	                                         handshake resumes the stream after wm.
//
// The sender ships nothing in a session where it offered a seed. A
// vassal that is not empty takes the offer too, rolling back first the own
// transactions the checkpoint lacks (reseed.go, which says why nothing is
// lost). A liege that is not empty refuses the offer and closes the link:
// the operator moves its directory away (or restores a backup).

// DefaultSeedChunk is NodeConfig.SeedChunk's default: the checkpoint bytes
// one Seed frame carries.
const DefaultSeedChunk = 1 << 20

// SeedReady is the seeding part of a Ready.
type SeedReady struct {
	// Send: the peer asked for this instance's checkpoint. Make every
	// record appended durable (and report it: OwnDurable), encode the
	// state then, and hand the bytes to SendSeed.
	Send bool
	// Chunks are bytes of the peer's checkpoint, in order: append them.
	Chunks [][]byte
	// Done: the peer's checkpoint is complete. Install it durably as this
	// instance's state, with Watermark as the watermark of the peer's
	// OSeqs and BasePrev as the newest own OSeq (the peer holds every own
	// transaction up to it), then call Seeded.
	Done *SeedDone
}

// SeedDone is the checkpoint a receiver installs.
type SeedDone struct {
	Watermark, BasePrev uint64
	Bytes               uint64
	// Reseed: the receiver is not empty (reseed.go). Its own transactions
	// after BasePrev were rolled off before this Done; every other record
	// of its journal is in the checkpoint.
	Reseed bool
	// Held is filled in by the driver from the checkpoint before Seeded:
	// the receiver's transactions the sender's journal holds a reprocess or
	// correction of (DESIGN.md section 9). The node stops waiting for them.
	Held []journal.TxID
}

// seedState is the node's part in a seeding, for one session.
type seedState struct {
	empty   bool   // NodeState.Empty: this instance may be seeded
	offered bool   // sender: offered (ship nothing in this session)
	sent    bool   // sender: the checkpoint went out in this session
	want    bool   // receiver: asked for the checkpoint
	got     uint64 // receiver: bytes received
	idle    int    // receiver: ticks since the request or the last chunk
	waited  int    // receiver: ticks since the first request, nothing come
	// reseed: the receiver is a vassal that is not empty (reseed.go);
	// done is its complete checkpoint, held until the rollback of its own
	// transactions the checkpoint lacks is done.
	reseed bool
	done   *SeedDone
}

// AwaitingSeed reports whether this instance, empty, asked for the peer's
// checkpoint and has not installed it yet. It must take no call meanwhile
// (DESIGN.md section 3): the checkpoint says which own OSeqs the peer
// holds, and installing it replaces the state and the journal, so an own
// transaction committed before it would reuse a shipped OSeq, and then be
// lost. (A re-seeded vassal is not empty: its calls go on, reseed.go.)
func (n *Node) AwaitingSeed() bool { return n.seed.want && !n.seed.reseed }

func (n *Node) resetSeed() {
	empty := n.seed.empty
	n.seed = seedState{empty: empty}
}

func (n *Node) seedReady() *SeedReady {
	if n.rd.Seed == nil {
		n.rd.Seed = &SeedReady{}
	}
	return n.rd.Seed
}

// checkSeed is the sender's decision, when the peer says where to resume
// (its Hello, a Resend): if the journal no longer holds the own
// transaction right after wm, the stream cannot resume, and the peer is
// offered the checkpoint.
func (n *Node) checkSeed(wm uint64) {
	if wm >= n.basePrev || n.seed.offered {
		return
	}
	n.seed.offered = true
	n.send(link.Frame{Kind: link.KindSeedOffer, Watermark: n.basePrev})
	n.note("the peer resumes after our OSeq %d, but the journal begins after OSeq %d (retention truncated it): offered it our checkpoint", wm, n.basePrev)
}

// askSeed is the empty receiver's decision at the handshake: the peer holds
// own transactions of this instance (its watermark of our OSeqs, wm, is
// above zero) that this empty journal lacks, and the stream brings only
// the peer's own: ask for the peer's checkpoint, which holds them, before
// the peer offers it (it offers only when it cannot stream).
func (n *Node) askSeed(wm uint64) {
	if !n.seed.empty || wm == 0 || n.seed.want || n.watermark > 0 || len(n.own) > 0 || n.epoch > 0 {
		return
	}
	n.seed.want, n.seed.got, n.seed.idle, n.seed.waited = true, 0, 0, 0
	n.send(link.Frame{Kind: link.KindSeedRequest})
	n.note("this instance is empty and the peer holds its own transactions up to OSeq %d: asked for the peer's checkpoint", wm)
}

// stepSeed takes the seeding frames.
func (n *Node) stepSeed(f *link.Frame) {
	switch f.Kind {
	case link.KindSeedOffer:
		switch {
		case n.seed.want && n.seed.got == 0:
			// Our request may have crossed the peer's handshake and been
			// dropped there (a frame before its link is up is not acted
			// on): the offer says it listens now. A second request is
			// harmless, the peer sends the checkpoint once per session.
			n.send(link.Frame{Kind: link.KindSeedRequest})
			n.note("the peer offers its checkpoint: asked for it again (nothing of it arrived yet)")
		case n.seed.want:
		case !n.seed.empty || n.watermark > 0 || n.lastOwn() > n.peerWM || n.epoch > 0:
			// (An instance opened empty that rolled back since is not
			// empty, though the rollback may have left nothing.)
			// (Own transactions the peer holds, taken back from it at the
			// handshake, are in its checkpoint.)
			if n.reseedOffer() { // reseed.go
				return
			}
			n.refused = fmt.Sprintf("peer %s no longer holds its transactions %d..%d, which this instance has not applied, "+
				"and this instance is not empty, so it cannot be seeded from the peer's checkpoint: stop it, move its directory away, "+
				"and start it on an empty directory (it is then seeded), or restore a recent backup (liege backup)", n.cfg.PeerID, n.watermark+1, f.Watermark)
			n.rd.Disconnect = n.refused
		default:
			n.seed.want, n.seed.got, n.seed.idle, n.seed.waited = true, 0, 0, 0
			n.send(link.Frame{Kind: link.KindSeedRequest})
			n.note("this instance is empty and the peer's journal begins after its OSeq %d: asked for the peer's checkpoint", f.Watermark)
		}
	case link.KindSeedRequest:
		if n.seed.sent {
			return
		}
		// Asked without an offer too (the peer is empty and we hold its
		// own transactions): ship nothing more in this session either.
		n.seed.offered, n.seed.sent = true, true
		n.seedReady().Send = true
	case link.KindSeed:
		if !n.seed.want {
			return
		}
		if f.Offset != n.seed.got {
			n.seed.want = false
			n.rd.Disconnect = fmt.Sprintf("a seed chunk at byte %d, expected %d: the checkpoint is abandoned; it is asked for again", f.Offset, n.seed.got)
			return
		}
		n.seed.idle = 0
		rd := n.seedReady()
		rd.Chunks = append(rd.Chunks, f.Chunk)
		n.seed.got += uint64(len(f.Chunk))
		if n.seed.got == f.Total {
			n.seed.want = false
			d := &SeedDone{Watermark: f.Watermark, BasePrev: f.Prev, Bytes: f.Total}
			if n.seed.reseed {
				n.reseedReceived(d) // reseed.go
			} else {
				rd.Done = d
			}
		}
	}
}

// tickSeed is the receiver's budget for the checkpoint it asked for: a
// request can be lost (or dropped by a peer whose link was not up yet) and
// nothing else would ever ask again, the stream being held meanwhile. With
// nothing of the checkpoint come for ResendTicks, ask again (the peer sends
// it once per session, so a second request is harmless); with a part come
// and then nothing for the silence budget, drop the session, and the next
// handshake asks again from the start. The checkpoint itself can be lost
// whole while other frames pass (the peer sent it, and sends it no more in
// this session): with nothing of it come for the silence budget since the
// first request, drop the session too.
func (n *Node) tickSeed() {
	if !n.seed.want {
		return
	}
	n.seed.idle++
	if n.seed.got == 0 {
		n.seed.waited++
	}
	switch {
	case n.seed.got == 0 && n.seed.waited >= n.silenceTicks():
		n.seed.want = false
		n.rd.Disconnect = fmt.Sprintf("nothing of the peer's checkpoint came for %d ticks since it was asked for: the session is dropped and it is asked for again", n.seed.waited)
	case n.seed.got == 0 && n.seed.idle >= n.cfg.ResendTicks:
		n.seed.idle = 0
		n.send(link.Frame{Kind: link.KindSeedRequest})
		n.note("nothing of the peer's checkpoint came for %d ticks: asked for it again", n.cfg.ResendTicks)
	case n.seed.got > 0 && n.seed.idle >= n.silenceTicks():
		n.seed.want = false
		n.rd.Disconnect = fmt.Sprintf("the peer's checkpoint stopped at byte %d for %d ticks: it is abandoned and asked for again", n.seed.got, n.seed.idle)
	}
}

// SendSeed hands the node the checkpoint the peer asked for (Ready.Seed.Send),
// taken when watermark was this instance's newest own OSeq in the journal
// and basePrev its watermark of the peer's OSeqs. The node sends it in
// NodeConfig.SeedChunk pieces.
func (n *Node) SendSeed(data []byte, watermark, basePrev uint64) {
	n.input("SendSeed")
	if n.link != linkUp || !n.seed.sent {
		return // the session it was for is gone
	}
	total := uint64(len(data))
	for off := 0; off < len(data); off += n.cfg.SeedChunk {
		end := min(off+n.cfg.SeedChunk, len(data))
		n.send(link.Frame{Kind: link.KindSeed, Watermark: watermark, Prev: basePrev, Chunk: data[off:end:end], Offset: uint64(off), Total: total})
	}
	n.note("sent our checkpoint (%d bytes) to the peer: it resumes after our OSeq %d", total, watermark)
}

// Seeded says the checkpoint of Ready.Seed.Done is installed durably: the
// node takes its watermark and OSeq base, and closes the link so that the
// next handshake resumes the stream from there.
func (n *Node) Seeded(d SeedDone) {
	n.input("Seeded")
	n.watermark, n.durable = d.Watermark, d.Watermark
	n.basePrev, n.own, n.prevFloor = d.BasePrev, nil, 0
	n.resetWindow()
	n.dropHeld(d.Held) // reseed.go
	n.seed = seedState{}
	n.rd.Disconnect = fmt.Sprintf("seeded from the peer's checkpoint (watermark %d, own OSeqs up to %d): reconnect to resume the stream", d.Watermark, d.BasePrev)
}

// seedSilence multiplies the silence timeout while a checkpoint is on its
// way: the sender encodes it, and the receiver installs it, without a
// frame in between (a million keys take seconds).
const seedSilence = 30

// silenceTicks is how many ticks without a frame close the link.
func (n *Node) silenceTicks() int {
	if n.seed.want || n.seed.sent {
		return n.cfg.SilenceTicks * seedSilence
	}
	return n.cfg.SilenceTicks
}
