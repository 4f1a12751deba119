package replicate

import (
	"fmt"
	"time"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// This file holds the values that go into a Node and come out of it; see
// node.go for the Node and doc.go for the contract.

// DefaultMaxUnsent is the engine's NodeConfig.MaxUnsent: 16 ships of
// MaxShip's default, a few milliseconds of a saturated stream.
const DefaultMaxUnsent = 4096

// NodeConfig configures a Node. Durations are counted in ticks (Node.Tick):
// the driver decides how long a tick is.
type NodeConfig struct {
	// ID is this instance's id, PeerID the peer's, Cluster the pair's name.
	ID, PeerID, Cluster string
	// MaxClockOffset bounds the wall-clock offset the driver measures at
	// the handshake (DESIGN.md section 4). Zero means 500ms.
	MaxClockOffset time.Duration
	// HeartbeatTicks is the interval of heartbeats (default 1).
	HeartbeatTicks int
	// SilenceTicks: with no frame from the peer for this many ticks the
	// node asks the driver to close the link (default 10 heartbeats).
	SilenceTicks int
	// ResendTicks is how long a rollback command, a resend request or a
	// stuck stream waits before it is repeated (default 5 heartbeats).
	ResendTicks int
	// ReconResendTicks is how long a vassal waits for its pending
	// reconciliation records to come back before it sends them again
	// (default 20 heartbeats). They are sent after every handshake too.
	ReconResendTicks int
	// PromoteQuietTicks: Promote refuses, unless forced, while the link is
	// up or a frame came from the liege within this many ticks (default 3
	// heartbeats).
	PromoteQuietTicks int
	// MaxShip bounds the own transactions one Ready ships (default 256);
	// the rest follow in the next Ready.
	MaxShip int
	// MaxUnsent bounds the Txn frames shipped and not yet written to the
	// link by the driver (Node.Written; 0: no bound, for a driver that
	// does not say what it wrote; the engine sets DefaultMaxUnsent).
	// Without it a liege's stream, shipped again from the vassal's
	// watermark at every rewind (an answer, a notice, a resend request) as
	// fast as its executor went, queued whole backlogs in memory, one
	// after another: in 1 run in 10 of `liege bench replicate --contention
	// 0.05` the vassal then dropped 500,000 to a million frames in 4 s
	// (gaps, duplicates, held while it rolled back) and the pair fell to a
	// third of its rate.
	MaxUnsent int
	// SeedChunk is how many checkpoint bytes one Seed frame carries
	// (default DefaultSeedChunk; at most FrameBudget).
	SeedChunk int
	// FrameBudget bounds the payload bytes of a frame that carries several
	// pieces: the records of a reconciliation log frame (one record larger
	// than it travels alone) and a Seed frame's chunk. The driver sets it
	// below the link's frame limit, which a frame over it would break
	// (default DefaultSeedChunk).
	FrameBudget int
	// NoCheck turns the conflict check off: every contiguous peer
	// transaction is applied (the last-writer-wins baseline, not the
	// protocol; never in production).
	NoCheck bool
	// Holds reports whether this instance's journal holds subject, as a
	// transaction or as the subject of a reprocess or correction (DESIGN.md
	// sections 9 and 10). The driver answers from its index: no I/O, no
	// blocking. It is asked only between Advance and the next Ready, so the
	// answer covers everything the node told the driver to do.
	Holds func(subject journal.TxID) bool
	// ForwardTicks is how long a vassal waits for a forwarded call's answer
	// and for applying its TxID before it answers the call as timed out
	// (default 15 heartbeats: an HTTP client that waits longer than that
	// for a call is rare).
	ForwardTicks int
	// Break plants a known protocol bug, for the simulator only (liege
	// inject --sim --break): a simulator that cannot catch a known bug
	// proves nothing. Never set it anywhere else; the zero value is the
	// protocol of DESIGN.md.
	Break Break
}

// Break names a deliberately broken protocol, for the simulator only
// (NodeConfig.Break).
type Break string

// The broken protocols the simulator must catch.
const (
	// BreakLiteral: the post's two checks alone (no mirror use check).
	BreakLiteral Break = "literal"
	// BreakPrev: Prev contiguity ignored.
	BreakPrev Break = "prev"
	// BreakDiscard: the liege's discarding ended by any rollback answer.
	BreakDiscard Break = "discard"
	// BreakSubject: a reprocess or correction whose subject is held is
	// accepted.
	BreakSubject Break = "subject"
	// BreakPending: own transactions committed but not yet durable are
	// left out of the window (they join it only when durable), while peer
	// transactions are no longer held back until they are.
	BreakPending Break = "pending"
)

// Breaks lists the broken protocols, in order.
var Breaks = []Break{BreakLiteral, BreakPrev, BreakDiscard, BreakSubject, BreakPending}

func (c *NodeConfig) defaults() {
	if c.MaxClockOffset <= 0 {
		c.MaxClockOffset = 500 * time.Millisecond
	}
	if c.HeartbeatTicks <= 0 {
		c.HeartbeatTicks = 1
	}
	if c.SilenceTicks <= 0 {
		c.SilenceTicks = 10 * c.HeartbeatTicks
	}
	if c.ResendTicks <= 0 {
		c.ResendTicks = 5 * c.HeartbeatTicks
	}
	if c.ReconResendTicks <= 0 {
		c.ReconResendTicks = 20 * c.HeartbeatTicks
	}
	if c.PromoteQuietTicks <= 0 {
		c.PromoteQuietTicks = 3 * c.HeartbeatTicks
	}
	if c.ForwardTicks <= 0 {
		c.ForwardTicks = 15 * c.HeartbeatTicks
	}
	if c.MaxShip <= 0 {
		c.MaxShip = 256
	}
	if c.MaxUnsent <= 0 {
		c.MaxUnsent = int(^uint(0) >> 1) // no bound
	}
	if c.FrameBudget <= 0 {
		c.FrameBudget = DefaultSeedChunk
	}
	if c.SeedChunk <= 0 {
		c.SeedChunk = DefaultSeedChunk
	}
	c.SeedChunk = min(c.SeedChunk, c.FrameBudget)
	if c.Holds == nil {
		c.Holds = func(journal.TxID) bool { return false }
	}
}

// NodeState is what the driver recovered from its journal at start-up: the
// node's starting point.
type NodeState struct {
	// Role and Reign are the journaled role and reign (reign 1 for a new
	// pair).
	Role  string
	Reign uint64
	// Epoch is this instance's epoch.
	Epoch uint64
	// Watermark is the highest peer OSeq in the journal.
	Watermark uint64
	// Own are the own transaction records still in the journal, in OSeq
	// order (the window is rebuilt from them; a reign change puts them all
	// back in it).
	Own []*journal.Record
	// BasePrev is the OSeq of the last own transaction before the first of
	// Own that the journal no longer holds (its front was truncated, or the
	// state was seeded from the peer): the Prev of Own[0]. 0 if none.
	BasePrev uint64
	// Empty: the journal holds nothing but its open and role records (no
	// checkpoint, transaction, rollback): the instance may be seeded from
	// the peer's checkpoint (seed.go).
	Empty bool
	// Pending are the vassal's reconciliation records not yet back: the
	// pending entries of its reconciliation logs.
	Pending []*journal.Record
}

// Verdict is what a node decided about one incoming peer transaction.
type Verdict uint8

const (
	// VerdictApply: apply it (Ready.Apply).
	VerdictApply Verdict = iota + 1
	// VerdictDuplicate: its OSeq is at or below the watermark; dropped.
	VerdictDuplicate
	// VerdictGap: its Prev is not the watermark (a frame is missing, or it
	// is stale after a rollback); dropped, and a resend asked for.
	VerdictGap
	// VerdictStale: sent in an epoch of the peer older than one seen since;
	// dropped.
	VerdictStale
	// VerdictDiscarded: the liege is discarding vassal transactions until
	// the answer to its rollback command; dropped.
	VerdictDiscarded
	// VerdictHeld: a rollback is outstanding here; dropped (the peer
	// resends after the new watermark).
	VerdictHeld
	// VerdictOldReign: sent in an older reign than this instance's;
	// dropped (the peer resends in the new reign after the handshake).
	VerdictOldReign
	// VerdictReject (liege): it conflicts; not applied, rollback command
	// sent, discarding begins (DESIGN.md section 8).
	VerdictReject
	// VerdictRollBack (vassal): it conflicts; not applied, roll back to
	// just before the earliest conflicting own transaction (section 7).
	VerdictRollBack
)

var verdictNames = [...]string{
	VerdictApply: "apply", VerdictDuplicate: "duplicate", VerdictGap: "gap", VerdictStale: "stale epoch",
	VerdictDiscarded: "discarded", VerdictHeld: "held", VerdictOldReign: "older reign", VerdictReject: "reject",
	VerdictRollBack: "roll back",
}

func (v Verdict) String() string {
	if v >= VerdictApply && v <= VerdictRollBack {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Conflict is one own transaction an incoming peer transaction conflicts
// with.
type Conflict struct {
	Own journal.TxID
	Pos uint64 // the own transaction's position
	// Check is the check of DESIGN.md section 6 that fired, with its
	// witness Key; zero for a duplicate subject (section 10).
	Check detect.Check
	Key   []byte
	// Case is the row of DESIGN.md section 6's table the conflict is
	// (e.g. "C1"); empty for a duplicate subject.
	Case    string
	Subject journal.TxID // a duplicate subject: the subject both stand for
}

// PeerVerdict is the node's decision on one incoming peer transaction.
type PeerVerdict struct {
	Txn       journal.TxID
	Verdict   Verdict
	Conflicts []Conflict // for VerdictReject and VerdictRollBack, by position
}

// RoleChange is a role and reign to journal.
type RoleChange struct {
	Role  string
	Reign uint64
	Why   string
}

// Rollback asks a vassal's driver to roll its journal back to just before
// position Before (DESIGN.md section 7, step 2), build and keep the
// reconciliation log, and report with Node.RollbackDone.
type Rollback struct {
	// Before is the position of the first record to roll off: the earliest
	// conflicting own transaction, or the one the liege rejected.
	Before uint64
	// Own is the own transaction at Before.
	Own journal.TxID
	// Subject is the TxID the liege's rollback command named (zero when
	// this instance detected the conflict itself).
	Subject journal.TxID
	// Incoming is the liege transaction that conflicts (own detection).
	Incoming journal.TxID
	Reason   string
}

// RollbackResult is what the driver reports when a rollback is done.
type RollbackResult struct {
	// Epoch is the new epoch, Watermark the highest peer OSeq left in the
	// journal.
	Epoch, Watermark uint64
	// RolledOff are the transaction records rolled off, in journal order
	// (own and peer): the node takes the reconciliation log from them.
	RolledOff []*journal.Record
}

// TakeBack says that the peer holds own transactions this instance no
// longer has (DESIGN.md section 3, never reuse a shipped OSeq): OSeqs in
// (After, UpTo]. The driver must not assign them again: it takes the
// records back from the peer's copy before it takes calls, or continues
// after UpTo and logs what was lost. The node ships the next own
// transaction with Prev UpTo.
type TakeBack struct {
	After, UpTo uint64
}

// Message is a frame to send. For a Txn message the driver puts the record
// of the own transaction at journal position Pos in Frame.Record (it is
// durable: the node ships only what OwnDurable reported); for a Hello it
// sets Frame.WallClock just before sending.
type Message struct {
	link.Frame
	Pos uint64
	Txn journal.TxID // the own transaction of a Txn message
}

// Quiesce is a change of the switchover's quiescing.
type Quiesce uint8

const (
	// QuiesceOn: stop taking new own transactions (DESIGN.md section 10).
	QuiesceOn Quiesce = iota + 1
	// QuiesceOff: take them again.
	QuiesceOff
)

// Ready is everything that must happen now, in the order of the contract
// (doc.go): persist, apply, roll back, reconcile, send; then Advance.
type Ready struct {
	// Role is a role and reign to journal durably before anything else.
	Role *RoleChange
	// TakeBack: the peer holds own OSeqs this journal lacks.
	TakeBack *TakeBack
	// Verdicts are the decisions on incoming peer transactions, in order
	// (for the log and the metrics; Apply and Rollback carry the actions).
	Verdicts []PeerVerdict
	// Apply are peer records to apply and journal, in order (OSeq order).
	Apply []*journal.Record
	// Rollback (vassal only) is a rollback to run; no peer record is
	// applied until RollbackDone.
	Rollback *Rollback
	// Reconcile (liege only) are reconciliation records to run (re-execute
	// the subject; reprocess or correct), then report with Reconciled.
	Reconcile []*journal.Record
	// Forwarded (liege only) are calls a vassal forwarded: run each as an
	// own transaction (its idempotency key returns the first outcome of a
	// resent call) and report with ForwardDone once durable.
	Forwarded []ForwardCall
	// ForwardAnswers (vassal only) are the outcomes of forwarded calls,
	// each after its TxID is applied here (in Apply of this Ready or
	// before): answer the clients.
	ForwardAnswers []ForwardAnswer
	// Messages are frames to send, in order.
	Messages []Message
	// Quiesce changes whether new own transactions are taken.
	Quiesce Quiesce
	// Disconnect, if set, is why the node wants the link closed (the
	// driver closes it and calls Disconnected).
	Disconnect string
	// Notes are log lines worth an operator's attention (a reign adopted,
	// discarding ended, a window pruned ...).
	Notes []string
	// Seed is the seeding to carry out, if any (seed.go): after Apply,
	// before Messages.
	Seed *SeedReady
}

// empty reports whether rd holds nothing to do.
func (rd *Ready) empty() bool {
	return rd.Role == nil && rd.TakeBack == nil && len(rd.Verdicts) == 0 && len(rd.Apply) == 0 &&
		rd.Rollback == nil && len(rd.Reconcile) == 0 && len(rd.Messages) == 0 && rd.Quiesce == 0 &&
		rd.Disconnect == "" && len(rd.Notes) == 0 && rd.Seed == nil && len(rd.Forwarded) == 0 && len(rd.ForwardAnswers) == 0
}

// NodeStatus is what a node knows of the link and the peer, for /status.
type NodeStatus struct {
	ID, Peer string
	// Connected: the link is up and the handshake done.
	Connected  bool
	Role       string
	Reign      uint64
	Epoch      uint64
	PeerRole   string
	PeerReign  uint64
	PeerEpoch  uint64
	Watermark  uint64 // highest peer OSeq applied here
	PeerWM     uint64 // the peer's watermark of our OSeqs
	LastOwn    uint64 // newest own OSeq in the journal
	PeerLast   uint64 // the peer's newest own OSeq, as last told
	Stable     uint64 // our stable watermark
	PeerStable uint64 // the peer's, as last told (our window's prune point)
	// LagIn is how many peer OSeqs we have not applied, LagOut how many of
	// ours the peer has not.
	LagIn, LagOut uint64
	// Discarding is the rejected vassal TxID the liege awaits the answer
	// for (zero when not discarding).
	Discarding journal.TxID
	// RollingBack: a rollback is outstanding here.
	RollingBack bool
	Window      int // own transactions in the window
	// ReconPending counts the vassal's reconciliation records not yet back;
	// Reconciling the liege's records handed to the driver and not yet
	// reported done.
	ReconPending, Reconciling int
	Quiescing                 bool
	// Refused is why the last handshake failed, if it did.
	Refused string
	// Forwarding counts the vassal's forwarded calls not yet answered.
	Forwarding int
}

// Idle reports whether nothing is in flight: connected, both streams
// caught up, no rejection, rollback or reconciliation pending.
func (s NodeStatus) Idle() bool {
	return s.Connected && s.LagIn == 0 && s.LagOut == 0 && s.Discarding.IsZero() && !s.RollingBack &&
		s.ReconPending == 0 && s.Reconciling == 0
}
