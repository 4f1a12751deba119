package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/journal"
)

// Retention in the simulator: in some seeds (world.retain) the real engine
// takes a checkpoint every few records and truncates its journal's front
// with no keep floor, so crashes, rollbacks, promotes and switchovers all
// meet truncated journals. The oracle still reads whole histories: the
// records retention removes are copied to the site's Side, which survives
// crashes as the directory does.

// retainEvery is the checkpoint interval, in records, of a retaining seed.
const retainEvery = 8

func (e *engineInst) retain(cfg *engine.Config, side *Side) {
	e.side = side
	cfg.CheckpointEvery, cfg.JournalKeep = retainEvery, 1
	cfg.Hooks.Truncating = func(from, to uint64) {
		// A crash after an earlier call kept the journal: drop what it
		// archived again.
		a := side.Archive
		for len(a) > 0 && a[len(a)-1].Pos >= from {
			a = a[:len(a)-1]
		}
		for p := from; p < to; p++ {
			r, err := e.in.ReadRecord(p)
			if err != nil {
				panic(fmt.Sprintf("sim: archive journal position %d before retention removes it: %v", p, err))
			}
			if r.Kind.IsTxn() {
				a = append(a, *r)
			}
		}
		side.Archive = a
		e.notes = append(e.notes, fmt.Sprintf("journal front truncated: %d..%d", from, to-1))
	}
}

// checkpoint runs the checkpoint the engine offers once its position is
// durable, as the production driver does (there off its goroutine).
func (e *engineInst) checkpoint() {
	if e.side == nil {
		return
	}
	j := e.in.TakeCheckpoint(false)
	if j == nil {
		return
	}
	if j.Pos > e.in.Durable() {
		// Not durable yet: a crash or a rollback could still take the
		// position, so it is given up (the next one comes retainEvery records on).
		j.Err = errNotDurable
	} else {
		j.Run() // an error is the engine's to log, in CheckpointDone
	}
	e.in.CheckpointDone(j)
}

var errNotDurable = errors.New("sim: the checkpoint's position is not durable yet: given up")

// archived returns the archived records before the journal's first
// position.
func (e *engineInst) archived() []journal.Record {
	if e.side == nil {
		return nil
	}
	first := e.in.FirstPos()
	out := slices.Clone(e.side.Prefix)
	for _, r := range e.side.Archive {
		if r.Pos < first {
			out = append(out, r)
		}
	}
	return out
}
