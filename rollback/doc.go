// Package rollback rolls an instance back to just before a journal position,
// crash-safely (DESIGN.md section 7, step 2):
//
//  1. The intent (target position, head position, new epoch, lost file
//     name) is made durable in the instance directory.
//  2. Every record from the target to the head is saved, as journal frames,
//     to a lost transaction file with a self-describing header (instance,
//     epoch, reason, range), written to a temporary name, fsynced and
//     renamed.
//  3. Online, the state is undone with the records' before-images, newest
//     first. (At start-up there is no state yet: recovery replays the
//     journal that is left, which gives the same state.)
//  4. Checkpoints above the target are removed, the journal is truncated
//     after target-1, and a KindEpoch record with the new epoch is
//     journaled and fsynced.
//  5. The intent is removed.
//
// A crash at any step leaves the intent; Resume, run at start-up before the
// state is loaded, finishes the rollback with the same result. A rollback
// whose epoch record is in the journal is finished and never repeated.
//
// The steps are one machine: Phase names what is done (PhaseIntent,
// PhaseLost, PhaseUndone, PhaseTruncated, PhaseEpoch, PhaseDone) and
// Phase.Next the step out of it. Run and Resume walk it with one driver.
// Decide, a pure function of what is on disk (Disk: the intent, the
// journal's last position, whether the target holds the epoch record,
// whether the lost transaction file reads back), says where an interrupted
// rollback stands and what comes next; Resume (through Observe) and the
// read-only recovery of internal/inspect both ask it, so they cannot
// disagree.
package rollback
