package engine

import (
	"fmt"
	"sort"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
)

// Re-seeding a vassal that is not empty (package replicate, reseed.go),
// carried out: the Node rolls back the own transactions the peer's
// checkpoint lacks with an ordinary rollback (lost file, reconciliation
// log) before it hands the checkpoint over; installSeed (seed.go) then
// checks that nothing own is left that the checkpoint lacks, installs it,
// and marks the reconciliation subjects the checkpoint holds as come back.

// peerSubjectsHeld lists the peer's transactions this journal holds a
// reprocess or correction of, for a checkpoint sent to seed the peer
// (checkpoint.Meta.Held), in a stable order.
func (in *Instance) peerSubjectsHeld() []string {
	var ids []journal.TxID
	for s := range in.index.subjects {
		if s.Origin == in.cfg.PeerID {
			ids = append(ids, s)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].OSeq < ids[j].OSeq })
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// reseedCheck refuses to install a re-seed's checkpoint over own
// transactions it lacks: the Node rolled them back first, and no call ran
// since (the last Seed frame waits for every own record to reach the
// Node, and the rollback and the install follow in one drain).
func (in *Instance) reseedCheck(d *replicate.SeedDone) error {
	if in.role != RoleVassal {
		return fmt.Errorf("a re-seed from the peer's checkpoint arrived at the %s: a liege is never re-seeded; it is not installed", in.role)
	}
	if in.rb != nil || len(in.ownPending) > 0 {
		return fmt.Errorf("a re-seed from the peer's checkpoint arrived while a rollback or own records are outstanding: it is not installed")
	}
	es := in.index.byOrigin[in.cfg.ID]
	if n := len(es); n > 0 && es[n-1].pos >= in.w.first && es[n-1].oseq > d.BasePrev {
		return fmt.Errorf("a re-seed from the peer's checkpoint holds own OSeqs up to %d, but own transaction %d at journal position %d is still here: "+
			"installing it would lose that transaction; it is not installed", d.BasePrev, es[n-1].oseq, es[n-1].pos)
	}
	return nil
}

// reseedHeld takes the subjects the peer's checkpoint holds (held, from
// its Meta) into d for the Node, and marks them come back in the
// reconciliation logs, durably: after a restart the journal no longer
// holds the records that stand for them.
func (in *Instance) reseedHeld(d *replicate.SeedDone, held []string) {
	for _, s := range held {
		id, err := journal.ParseTxID(s)
		if err != nil {
			in.log.Warn("the peer's checkpoint names a held subject that is not a TxID", "subject", s, "error", err)
			continue
		}
		d.Held = append(d.Held, id)
		in.resolveRecon(id)
	}
	for _, l := range in.recon {
		if err := l.Save(in.cfg.Dir); err != nil {
			in.log.Error("could not save a reconciliation log after a re-seed; its held subjects are sent again after a restart", "error", err)
		}
	}
}
