// Package replicate runs the replication protocol of DESIGN.md sections 5
// to 10 between two instances over a link (package replicate/link).
//
// A Replicator holds at most one session with the peer at a time. A session
// begins with both sides sending a Hello (protocol version, cluster,
// instance id, role, epoch, watermark, newest own OSeq, wall clock) and
// checking the other's; then each side streams its own durable
// transactions after the peer's watermark, each with Prev for contiguity,
// and heartbeats carrying its watermark. Every decision (apply, drop, ask
// for a resend, reject, roll back, reconcile, adopt a reign) is the Node's
// (below); the instance carries out its Ready (internal/engine, ready.go).
//
// The Replicator is a thin driver around a Host (the root package's DB):
// a dial loop with backoff and an accept loop, and per session a reader
// goroutine that hands the frames to Host.Deliver (a run of them received
// together at once) and a writer goroutine that sends what Host.Outbox
// holds (and closes the link when the Node asks); one ticker calls
// Host.Tick every heartbeat interval, the Node's clock. Among what the Node does on the link:
//
//   - a liege that rejects a vassal transaction sends a rollback command
//     naming it and discards every vassal transaction until the answer
//     naming that TxID (section 8);
//   - a vassal that rolled back, on its own detection or on command, sends
//     an answer (or, for its own detection, a notice naming no TxID) with
//     its new epoch and watermark, resumes its stream after the liege's
//     watermark, and sends its reconciliation logs, again after every
//     reconnect and every NodeConfig.ReconResendTicks while the link is up
//     (a frame lost without a disconnect), until each TxID has come back
//     (sections 7 and 9);
//   - the liege reconciles each log record it does not hold, so a resent
//     log changes nothing.
//
// Frames of an older epoch of the peer than one already seen are dropped:
// they were sent before a rollback that may have removed them.
//
// # The protocol core: Node
//
// Node is the same protocol as a pure state machine, one per instance, in
// the style of etcd-io/raft's RawNode: no goroutine, no clock, no I/O, no
// engine. It owns every decision of DESIGN.md sections 5 to 10; a driver
// (the session over a link, the simulator, the scenario scripts in
// testdata/node) feeds it inputs and carries out its Ready. Time is ticks.
//
// Own transactions not yet durable. The node holds them from OwnCommitted
// on, but what it tells the peer counts only durable ones, since a crash
// may lose the others: a Hello's and a heartbeat's newest own OSeq, the
// stable watermark (the PeerSeen of the first durable own transaction the
// peer has not applied, else the durable watermark), the take-back's
// comparison, and the operator's rollback floor. A crash that loses one
// after it took part in a check is safe: a vassal's rollback makes it
// durable before it begins; a liege's rejection of a vassal transaction
// because of it was needless, not wrong (the vassal rolls the transaction
// back and the liege reconciles it, or, if the command was lost with the
// link, it is checked again when resent).
//
// Inputs:
//
//	NewNode(cfg, state)      the state recovered from the journal (role, reign,
//	                         epoch, watermark, own records, pending recon records)
//	Connected()              a link came up: the node sends its Hello
//	Handshake(hello, offset) the peer's Hello and the measured clock offset
//	Step(frame)              any other frame from the peer (link.Frame; the node
//	                         decodes and checks the record itself, so it is
//	                         decoded once and hands the driver the record)
//	Disconnected()           the link went down
//	Tick()                   one tick of the driver's clock
//	OwnCommitted(rec)        an own transaction is committed (journaled, not yet
//	                         durable): it joins the window at once, so a peer
//	                         transaction is checked against it without waiting
//	                         for the fsync; it is not shipped yet
//	OwnDurable(rec)          an own transaction is durable: it may be shipped
//	                         (durable before shipped); one OwnCommitted did not
//	                         report joins the window now
//	PeerApplied(oseq)        the peer records handed out are durable up to oseq
//	RollbackDone(result)     the rollback asked for is done: new epoch, new
//	                         watermark, the records rolled off
//	Reconciled(subject)      the liege finished reconciling subject
//	Compacted(pos)           the journal's front was truncated below pos
//	Promote(force)           operator: this vassal becomes liege in reign r+1
//	Switchover()             operator: the liege hands over once drained
//
// Outputs: HasReady/Ready, then Advance; Status for /status.
//
//	Ready.Role       a role and reign to journal (adopted, promoted, switchover)
//	Ready.TakeBack   the peer holds own OSeqs this journal lacks: never reuse them
//	Ready.Verdicts   the decision on each incoming peer transaction
//	Ready.Apply      peer records to apply, in OSeq order
//	Ready.Rollback   (vassal) roll back to just before a position, then RollbackDone
//	Ready.Reconcile  (liege) reconciliation records to run, then Reconciled
//	Ready.Messages   frames to send, in order (a Txn message names the own
//	                 record to attach; a Hello wants the wall clock)
//	Ready.Quiesce    stop or resume taking own transactions (switchover)
//	Ready.Disconnect close the link, with the reason
//	Ready.Notes      lines for the operator's log
//
// The contract. A driver runs one loop that alone touches the node:
//
//  1. Give the node one input. Then, while HasReady, take Ready.
//  2. Persist first: journal Ready.Role durably before anything else of this
//     Ready. (An instance that adopted a reign must never be seen in the
//     older one again.)
//  3. Act on Ready.TakeBack before taking new calls.
//  4. Apply Ready.Apply in order (OSeq order), journaling each; call
//     PeerApplied once they are durable.
//  5. Start Ready.Rollback: make everything appended durable first (the
//     rollback may take off own transactions reported by OwnCommitted only:
//     their clients are acknowledged, and their records are read back for
//     the undo and the lost transaction file, like any rolled-off own
//     transaction's); then durably record the intent. The node applies no
//     peer record and ships no own transaction until RollbackDone, which
//     comes once the rollback and its reconciliation log are durable
//     (possibly after several more Readys). Own transactions it leaves in
//     the journal are then reported by OwnDurable as usual.
//  6. Run Ready.Reconcile (re-execute; reprocess or correct) and call
//     Reconciled for each; the committed record comes back as OwnCommitted,
//     then OwnDurable.
//  7. Send Ready.Messages in order, after steps 2 and 4 (a heartbeat carries
//     the watermark they reached). Own records are shipped only once
//     reported by OwnDurable: durable before shipped.
//  8. Close the link if Ready.Disconnect says so, then call Disconnected.
//  9. Advance. No input may come between Ready and Advance (the node
//     panics): Config.Holds is then always answered after the last Ready was
//     carried out. The Ready's Verdicts, Apply and Messages slices are the
//     node's again (it clears them and fills the next Ready in them): copy
//     out their elements before Advance, never keep the slices.
//
// What the node decides, by DESIGN.md section: the handshake (protocol
// version, cluster, peer id, roles, reign, clock offset: section 4);
// watermarks, Prev contiguity and the resend request, stale epochs, the
// window of own transactions (package detect), committed ones whether
// durable or not, and its pruning by the peer's stable watermark alone,
// reset at every reign change (section 5);
// the conflict check (section 6); the vassal's rollback point, the earliest
// conflicting own transaction in the window (section 7); the liege's
// rejection and discarding until the answer naming the rejected TxID
// (section 8); which reconciliation records to run or skip, and resending
// the vassal's pending ones after each handshake until they come back
// (section 9) and every ReconResendTicks; reigns, promote, switchover and duplicate subjects (section
// 10); never reusing a shipped OSeq (section 3); and seeding an empty
// instance, or re-seeding a vassal whose watermark fell below the liege's
// journal front, from the peer's checkpoint (section 3; seed.go and
// reseed.go: re-seeding, not retaining more, closes the gap between
// retention and a promote, and reseed.go argues why nothing acknowledged
// is lost). It never emits a rollback as liege (it panics if it would).
package replicate
