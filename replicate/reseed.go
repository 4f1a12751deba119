package replicate

import (
	"fmt"
	"sort"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// Re-seeding a vassal that is not empty (DESIGN.md sections 3 and 10).
//
// Retention truncates an instance's own transactions once the peer has
// applied them and its stable watermark says no rollback there can take
// them off again. That holds within a reign, and not across one: after a
// promote the old liege, now vassal, rolls back to its first own
// transaction the new liege lacks, and with it every record after that
// point, among them the new liege's transactions it had applied, which the
// new liege may have truncated since (its peer's stable watermark of the
// old reign allowed it). The vassal must then resume the stream below the
// liege's journal front. The liege offers its checkpoint (seed.go); an
// empty instance takes it as it is, and a vassal that is not empty takes
// it too:
//
//	liege                                   vassal (not empty)
//	Hello wm < our base: SeedOffer     ->   asks for it (ships nothing, acts
//	                                   <-   on no rollback command from now on)
//	Seed chunks (wm W, base P)         ->   own transactions after OSeq P: rolled
//	                                        back as any rollback is (lost file,
//	                                        reconciliation log sent to the liege),
//	                                        then Ready.Seed.Done{Reseed}: installed
//	                                        as the state; Seeded; reconnect
//
// Why nothing is lost. The checkpoint is the liege's whole state when its
// newest own OSeq was W and its watermark of ours P. What the vassal held
// falls in three parts:
//
//   - its own transactions with OSeq <= P: the liege applied them (P is its
//     watermark of a Prev-contiguous stream), and a liege never rolls
//     back, so they are in the checkpoint;
//   - the liege's transactions it had applied: a rollback at the liege
//     (when it was vassal) starts at an own transaction this instance never
//     applied (DESIGN.md section 5), so every liege transaction this journal
//     holds is one the liege still holds, with OSeq <= W, in the checkpoint;
//   - its own transactions with OSeq > P: the liege lacks them. They are
//     rolled off first, exactly as a rollback of this vassal does, into a
//     lost transaction file and a reconciliation log the liege reconciles
//     (its reprocess or correction comes after W, on the stream). The
//     vassal ships nothing from its request on, so the liege applies none
//     of them before or after it takes the checkpoint: the request follows
//     every Txn frame of the session on the ordered link, and the liege
//     takes the checkpoint when the request arrives.
//
// Its reconciliation subjects still pending (from earlier rollbacks) whose
// reprocess or correction the liege's journal holds are in the checkpoint
// too: the sender lists them with it (SeedDone.Held) and the vassal stops
// waiting for them; the others it sends again, as after every handshake.
//
// Why the other design, retaining more, was not taken: to never need a
// truncated record, an instance would have to keep every own transaction a
// future rollback of the peer in any later reign could take off again,
// which depends on the peer's rollbacks and promotes yet to come (a forced
// promote, a crash that loses an unsynced tail, a switchover after a
// rollback): the only bound that holds in every case is the whole journal,
// which is what retention is for removing. Re-seeding needs no such
// knowledge: it only asks that the liege's checkpoint is the liege's path,
// which a liege that never rolls back guarantees.
//
// A liege is never re-seeded: its watermark of the vassal's OSeqs never
// drops in its reign (it never rolls back), and it is at least the stable
// watermark it sent as vassal in the reign before, below which alone the
// vassal truncated. Only a liege journal that lost acknowledged records
// (a disk that lied) can fall behind the vassal's front; it is refused, and
// the operator restores it or promotes the vassal.

// reseedOffer decides on the peer's seed offer at an instance that is not
// empty: a vassal takes the checkpoint. It reports whether it acted.
func (n *Node) reseedOffer() bool {
	if n.role != RoleVassal {
		return false
	}
	if n.rollback != nil {
		// The rollback's result must reach the liege first (its notice
		// and reconciliation log); the next session's offer is taken.
		n.rd.Disconnect = "the peer offers its checkpoint, but a rollback is under way here: reconnect to take it once the rollback is done"
		return true
	}
	n.seed.want, n.seed.got, n.seed.reseed = true, 0, true
	n.send(link.Frame{Kind: link.KindSeedRequest})
	n.note("the peer's journal no longer holds its transactions after our watermark %d: asked for its checkpoint to be re-seeded from (own transactions after the peer's watermark of ours are rolled back and reconciled first)", n.watermark)
	return true
}

// reseedReceived takes the complete checkpoint of a re-seed: the own
// transactions it lacks (OSeq above d.BasePrev) are rolled back first;
// Ready.Seed.Done follows RollbackDone (reseedRolledBack).
func (n *Node) reseedReceived(d *SeedDone) {
	d.Reseed = true
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].oseq() > d.BasePrev })
	if i == len(n.own) {
		n.seedReady().Done = d
		return
	}
	n.seed.done = d
	o := &n.own[i]
	id := o.id(n.cfg.ID)
	n.startRollback(&Rollback{Before: o.pos, Own: id,
		Reason: fmt.Sprintf("re-seed from the peer's checkpoint, which holds our OSeqs up to %d: own transactions from %v on are not in it", d.BasePrev, id)})
}

// reseedRolledBack hands the driver the checkpoint whose rollback is done.
func (n *Node) reseedRolledBack() {
	if d := n.seed.done; d != nil && n.rollback == nil {
		n.seed.done = nil
		n.seedReady().Done = d
	}
}

// dropHeld stops waiting for the pending subjects a seed's checkpoint
// holds a reprocess or correction of.
func (n *Node) dropHeld(held []journal.TxID) {
	for _, s := range held {
		if _, ok := n.pending[s]; ok {
			delete(n.pending, s)
			n.note("reconciliation: %v is held in the peer's checkpoint", s)
		}
	}
}
