package engine

import "github.com/liege-db/liege/replicate"

// catchUpBudget bounds, in ticks (the driver's heartbeat interval, 100 ms
// by default), how long calls wait after a vassal's rollback for the
// liege's stream to catch up (startCatchUp).
const catchUpBudget = 2

// startCatchUp makes the calls a vassal takes after a rollback of the
// protocol (req) wait until it has applied again what the liege had when
// the rollback ended: the liege transactions the rollback took off, the one
// it rolled back for (DESIGN.md section 7: the liege resends them at once),
// and whatever else the liege had said it holds (section 8: the liege
// transaction its rejected one conflicted with may not have come yet).
// had is the liege OSeq applied before the rollback.
//
// Calls run meanwhile would run on a state that lacks those transactions.
// Under contention they buy again what the liege's transactions had
// taken, conflict with the same liege transaction when it comes back, and
// roll the vassal back once more, further each time, as the lag grows
// with every rollback: `liege bench replicate --callers 256 --contention
// 0.05` fell into that in most runs, with seconds of lag. The wait is
// local scheduling, not protocol: a vassal may always take its calls
// later. It ends when the stream has caught up, when the link goes down
// (nothing comes back then), after catchUpBudget ticks, or at Close.
func (in *Instance) startCatchUp(had uint64, req *replicate.Rollback) {
	if in.role != RoleVassal {
		return
	}
	st := in.node.Status()
	to := max(had, st.PeerLast)
	if !req.Incoming.IsZero() { // the liege transaction it rolled back for
		to = max(to, req.Incoming.OSeq)
	}
	if !st.Connected || to <= in.peerWatermark {
		return
	}
	in.catchUpTo, in.catchUpTicks = to, catchUpBudget
}

// catchingUp reports whether calls wait for the liege's stream.
func (in *Instance) catchingUp() bool { return in.catchUpTo != 0 }

// endCatchUp ends a wait, if one is on, for the reason outcome (a label
// of Hooks.CatchUpEnded).
func (in *Instance) endCatchUp(outcome string) {
	if in.catchUpTo == 0 {
		return
	}
	in.catchUpTo, in.catchUpTicks = 0, 0
	if in.cfg.Hooks.CatchUpEnded != nil {
		in.cfg.Hooks.CatchUpEnded(outcome)
	}
}

// catchUpTick spends one tick of the wait's budget.
func (in *Instance) catchUpTick() {
	if in.catchUpTo == 0 {
		return
	}
	if in.catchUpTicks--; in.catchUpTicks <= 0 {
		in.endCatchUp("budget")
	}
}
