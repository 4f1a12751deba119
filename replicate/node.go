package replicate

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// Roles, as journaled and announced in a Hello.
const (
	RoleLiege  = link.RoleLiege
	RoleVassal = link.RoleVassal
)

// linkState is where the node is with the link.
type linkState uint8

const (
	linkDown  linkState = iota // no link
	linkHello                  // link up, our Hello sent, the peer's awaited
	linkUp                     // handshake done: streams flow
)

// reconLogChunk is how many records one reconciliation log frame carries.
const reconLogChunk = 256

// own is one own transaction still in the journal. Its OSeq and position
// are t's, held here too: the node binary-searches its own transactions by
// them several times a step (Status, ship, OwnDurable), and a probe that
// reads them from t is a cache miss per probe once there are many.
type own struct {
	t        *detect.Txn  // nil once packed (ownpack.go)
	packed   []byte       // t's keys and clock, once it left the window
	subject  journal.TxID // zero for a local transaction
	seq      uint64       // t.ID.OSeq
	pos      uint64       // t.Pos
	peerSeen uint64       // t.PeerSeen
}

func (o *own) oseq() uint64 { return o.seq }

// standsFor is the TxID the transaction stands for (DESIGN.md section 9);
// origin is the node's ID.
func (o *own) standsFor(origin string) journal.TxID {
	if !o.subject.IsZero() {
		return o.subject
	}
	return o.id(origin)
}

// id is the transaction's TxID; origin is the node's ID.
func (o *own) id(origin string) journal.TxID { return journal.TxID{Origin: origin, OSeq: o.seq} }

// pendingRec is one of the vassal's rolled-off subjects not yet back.
type pendingRec struct {
	rec *journal.Record
	// send: the record goes in reconciliation logs (an own record); a
	// liege's reprocess or correction rolled off here is pending only for a
	// promote (DESIGN.md section 10).
	send bool
}

// command is a liege's rollback command the vassal has not acted on yet.
type command struct {
	subject   journal.TxID
	watermark uint64
}

// Node is the replication protocol of one instance (DESIGN.md sections 5 to
// 10) as a state machine: no goroutine, no clock, no I/O. See doc.go for
// the contract.
type Node struct {
	cfg  NodeConfig
	dec  *journal.Decoder // Txn frames' records (decodeTxn); interns their names
	recs []journal.Record // the next records decodeTxn decodes into

	role  string
	reign uint64
	epoch uint64

	// The peer's stream into this instance.
	watermark uint64 // highest peer OSeq applied (or handed to the driver to apply)
	durable   uint64 // highest peer OSeq reported durable (PeerApplied)
	peerEpoch uint64 // highest epoch of the peer seen in this session

	// This instance's own transactions and its stream to the peer.
	own       []own  // still in the journal (committed, durable or not), OSeq order
	ownArr    []own  // the array own is a slice of, from its start (roomForOwn)
	ownDur    uint64 // own transactions up to this OSeq are durable: they alone may ship
	basePrev  uint64
	window    *detect.Window
	floor     uint64 // own OSeqs at or below it have left the window
	winFrom   uint64 // window holds only those above it, at least floor (materialize)
	peerWM    uint64 // the peer's watermark of our OSeqs
	next      uint64 // ship own transactions with OSeq > next
	unsent    int    // Txn frames shipped that the driver has not said written (Written)
	prevFloor uint64 // Prev is at least this (TakeBack)

	// The link.
	link                          linkState
	peerRole                      string
	peerReign, peerLast, peerStbl uint64
	sinceHeard                    int // ticks since the last frame, over links (Promote)
	silent, sinceBeat             int // ticks since the last frame or Connected (the silence timeout)
	sinceProgress, sinceResend    int
	resendWM                      uint64
	resendAsked                   bool
	resendWait                    int // ticks before the same watermark is asked again
	refused                       string
	heardEver                     bool

	// Liege: the rejected vassal TxID whose answer ends the discarding.
	discarding   journal.TxID
	commandWM    uint64
	sinceCommand int
	reconciling  map[journal.TxID]bool

	// Vassal.
	rollback   *Rollback
	commands   []command
	answering  *command // the command the outstanding rollback answers
	pending    map[journal.TxID]pendingRec
	sinceRecon int
	quiescing  bool

	seed seedState // seed.go
	fwd  forwards  // call forwarding (forward.go)

	rd      Ready
	inReady bool
	lent    Ready // the last Ready, until Advance: its slices are reused

	in        detect.Txn // the peer transaction being checked (incoming)
	ownSlab   ownSlab    // the own transactions' detect.Txns (addOwn)
	packSlabs packSlabs  // their packed forms (packOwn)
	packedTo  uint64     // own transactions up to this OSeq are packed

	// Where ownAfter found its last answer, one per question asked often.
	durHint, wmHint, nextHint, idxHint, packHint, winHint, floorHint int
}

// Errors of the operator's inputs.
var (
	// ErrHearsLiege is returned by Promote, unless forced, while the vassal
	// still hears from its liege.
	ErrHearsLiege = errors.New("the liege is still heard from (link up or a recent frame): promote only a vassal whose liege is gone, or force it")
	// ErrRole is returned by Promote of a liege and Switchover of a vassal.
	ErrRole = errors.New("wrong role for this operation")
	// ErrBusy is returned by Promote while a rollback is outstanding and by
	// Switchover while the link is down.
	ErrBusy = errors.New("not now")
	// ErrAwaitingSeed is returned by Promote, forced or not, while the
	// instance is empty and waits for the peer's checkpoint (AwaitingSeed).
	ErrAwaitingSeed = errors.New("the instance waits for its peer's checkpoint before it can be promoted")
)

// NewNode returns the node of an instance recovered in state st.
func NewNode(cfg NodeConfig, st NodeState) (*Node, error) {
	cfg.defaults()
	if cfg.ID == "" || cfg.PeerID == "" || cfg.Cluster == "" {
		return nil, errors.New("replicate: NodeConfig needs ID, PeerID and Cluster")
	}
	if st.Role != RoleLiege && st.Role != RoleVassal {
		return nil, fmt.Errorf("replicate: role %q: want %q or %q", st.Role, RoleLiege, RoleVassal)
	}
	n := &Node{cfg: cfg, role: st.Role, reign: max(st.Reign, 1), epoch: st.Epoch,
		watermark: st.Watermark, durable: st.Watermark, basePrev: st.BasePrev,
		reconciling: map[journal.TxID]bool{}, pending: map[journal.TxID]pendingRec{}, seed: seedState{empty: st.Empty}}
	if k := len(st.Own); k > 0 { // the list's array at once, with room to grow (roomForOwn)
		n.own = make([]own, 0, k+k/4)
		n.ownArr = n.own
	}
	var view detect.Txn
	for _, r := range st.Own {
		if err := n.addOwnPacked(r, &view); err != nil {
			return nil, err
		}
		n.ownDur = r.OSeq // recovered from the journal: durable
	}
	n.resetWindow()
	for _, r := range st.Pending {
		// A subject pending again (the peer's reprocess or correction of
		// it rolled off) may be pending as our own record too, from an
		// older log: the own record stands, as in RollbackDone (it is
		// what the liege reconciles).
		s, send := standsFor(r), r.Origin == cfg.ID
		if p, ok := n.pending[s]; !ok || send && !p.send {
			n.pending[s] = pendingRec{rec: r, send: send}
		}
	}
	if n.role == RoleLiege {
		// Promoted, then restarted before its reconciliations committed:
		// a liege reconciles its own pending subjects itself.
		n.reconcilePending()
	}
	return n, nil
}

// standsFor is the subject a record stands for (DESIGN.md section 9).
func standsFor(r *journal.Record) journal.TxID {
	if !r.Subject.IsZero() {
		return r.Subject
	}
	return r.TxID()
}

// ---- Ready and Advance ----

// HasReady reports whether Ready has something to do.
func (n *Node) HasReady() bool {
	n.ship()
	n.releaseForwards()
	return !n.rd.empty()
}

// Ready returns what must happen now. Handle it all, in the order of the
// contract, then call Advance before any other input. The slices Verdicts,
// Apply and Messages are the Node's again after Advance (it clears them
// and fills the next Ready's in them): copy out their elements, not the
// slices, before Advance.
func (n *Node) Ready() Ready {
	n.ship()
	n.releaseForwards()
	n.inReady = true
	rd := n.rd
	n.rd = Ready{}
	n.lent = rd
	return rd
}

// Advance says that the last Ready was handled.
func (n *Node) Advance() {
	n.inReady = false
	// The lent slices' elements keep nothing alive once handled: their
	// backing arrays are zero past every length the Node hands out, so a
	// Ready never clears more than the last one used (not, after one
	// burst of thousands of frames, their whole capacity every time).
	clear(n.lent.Verdicts)
	clear(n.lent.Apply)
	clear(n.lent.Messages)
	// One peer transaction is a Ready of its own (a verdict, an apply):
	// the next one fills the same slices rather than new ones.
	if n.rd.Verdicts == nil {
		n.rd.Verdicts = n.lent.Verdicts[:0]
	}
	if n.rd.Apply == nil {
		n.rd.Apply = n.lent.Apply[:0]
	}
	if n.rd.Messages == nil {
		n.rd.Messages = n.lent.Messages[:0]
	}
	n.lent = Ready{}
}

// input guards every input: the contract allows none between Ready and
// Advance.
func (n *Node) input(name string) {
	if n.inReady {
		panic(fmt.Sprintf("replicate: Node.%s between Ready and Advance: handle the Ready and call Advance first", name))
	}
}

func (n *Node) send(f link.Frame) {
	f.Cluster, f.From, f.Epoch, f.Reign = n.cfg.Cluster, n.cfg.ID, n.epoch, n.reign
	n.rd.Messages = append(n.rd.Messages, Message{Frame: f})
}

func (n *Node) note(format string, args ...any) {
	n.rd.Notes = append(n.rd.Notes, fmt.Sprintf(format, args...))
}

// ---- the link ----

// Connected says a link to the peer came up: the node sends its Hello.
func (n *Node) Connected() {
	n.input("Connected")
	n.resetSession()
	n.link = linkHello
	n.sendHello()
}

// Disconnected says the link went down.
func (n *Node) Disconnected() {
	n.input("Disconnected")
	n.resetSession()
	n.link = linkDown
}

// resetSession forgets what held for one connection only: a rejection
// (the rejected transaction is checked again when resent), commands not
// acted on, and an unfinished switchover.
func (n *Node) resetSession() {
	if !n.discarding.IsZero() {
		n.note("link reset: no longer discarding for %v (it is checked again when resent)", n.discarding)
	}
	n.discarding = journal.TxID{}
	n.commands = nil
	n.peerEpoch = 0
	n.silent, n.sinceBeat, n.sinceProgress, n.sinceResend = 0, 0, 0, 0
	n.resendAsked, n.unsent = false, 0
	n.resetSeed()
	if n.quiescing {
		n.quiescing = false
		n.rd.Quiesce = QuiesceOff
		n.note("switchover abandoned: the link went down")
	}
}

func (n *Node) sendHello() {
	n.send(link.Frame{Kind: link.KindHello, Version: link.ProtocolVersion, Role: n.role,
		Watermark: n.durable, Prev: n.lastDurable()})
}

// Handshake takes the peer's Hello f and the wall-clock offset the driver
// measured against it (the peer's clock minus ours). An error means the
// peer is refused: the driver closes the link.
func (n *Node) Handshake(f *link.Frame, offset time.Duration) error {
	n.input("Handshake")
	if n.link == linkDown {
		return errors.New("replicate: a hello with no link: call Connected first")
	}
	if err := n.checkHello(f, offset); err != nil {
		n.refused = err.Error()
		return err
	}
	n.heard()
	switch {
	case f.Reign < n.reign:
		// The peer adopts our reign when our Hello arrives and sends
		// another.
		n.note("dropped the hello of %s in reign %d, older than ours (%d): it adopts ours", f.From, f.Reign, n.reign)
		return nil
	case f.Reign > n.reign:
		n.adopt(f.Reign, f.Role)
		n.sendHello()
	case f.Role == n.role:
		err := fmt.Errorf("both %s and its peer %s are %s in reign %d: exactly one must be liege; promote one (it starts a higher reign) or restore the other's journal",
			n.cfg.ID, f.From, n.role, n.reign)
		n.refused = err.Error()
		return err
	}
	n.refused = ""
	n.link = linkUp
	n.peerRole, n.peerReign, n.peerEpoch, n.peerLast = f.Role, f.Reign, f.Epoch, f.Prev
	n.peerWM, n.next = f.Watermark, f.Watermark // resume after the peer's watermark
	n.checkSeed(f.Watermark)
	n.askSeed(f.Watermark) // seed.go
	n.sinceProgress, n.sinceRecon = 0, 0
	if !n.seed.want {
		// An empty instance that asked for the peer's checkpoint takes
		// its own transactions back from it: nothing to skip.
		n.checkLostOwn(f.Watermark)
	}
	if n.role == RoleVassal {
		n.sendRecon()
	}
	n.resendForwards()
	return nil
}

// checkHello checks the peer's Hello (DESIGN.md sections 4 and 5).
func (n *Node) checkHello(f *link.Frame, offset time.Duration) error {
	if f.Kind != link.KindHello {
		return fmt.Errorf("the peer's first frame is a %v, not a hello", f.Kind)
	}
	if err := link.CheckCluster(f, n.cfg.Cluster); err != nil {
		return err
	}
	switch {
	case f.Version != link.ProtocolVersion:
		return fmt.Errorf("peer %s speaks replication protocol %d, this build speaks %d: run the same release on both", f.From, f.Version, link.ProtocolVersion)
	case f.From != n.cfg.PeerID:
		return fmt.Errorf("peer calls itself %q, but this instance's peer is %q (--peer-id): check the address", f.From, n.cfg.PeerID)
	case f.Role != RoleLiege && f.Role != RoleVassal:
		return fmt.Errorf("peer %s announces role %q", f.From, f.Role)
	case offset > n.cfg.MaxClockOffset || -offset > n.cfg.MaxClockOffset:
		return fmt.Errorf("peer %s: wall clocks differ by %v, over the bound of %v: synchronize the clocks (NTP) or raise the bound", f.From, offset, n.cfg.MaxClockOffset)
	}
	return nil
}

// heard notes a frame from the peer.
func (n *Node) heard() {
	n.sinceHeard, n.silent = 0, 0
	n.heardEver = true
}

// ---- frames ----

// Step takes one frame from the peer (a Hello goes to Handshake). An error
// means the frame must close the link (another cluster, a record that does
// not decode or is not the peer's own transaction). The byte strings of a
// Txn frame's record (keys, values, args) alias f.Record: it must not
// change until the Ready that applies the record is handled (frames read
// off a link own their bytes; a driver journals and stores copies).
func (n *Node) Step(f *link.Frame) error {
	n.input("Step")
	if f.Kind == link.KindHello {
		return errors.New("replicate: a hello goes to Handshake, with the measured clock offset")
	}
	if err := link.CheckCluster(f, n.cfg.Cluster); err != nil {
		return err
	}
	if n.link != linkUp {
		return nil // before the handshake: nothing to act on
	}
	n.heard()
	if f.Reign < n.reign {
		// Sent before a reign change the peer has not learnt of yet.
		if f.Kind == link.KindTxn {
			return n.dropTxn(f, VerdictOldReign)
		}
		return nil
	}
	if f.Reign > n.reign {
		// We missed the peer's Hello of that reign. Only a Hello says the
		// peer's role in it (a promoted vassal is liege, a liege that
		// switched over is vassal): handshake anew on a new link.
		n.rd.Disconnect = fmt.Sprintf("a %v frame of the peer's reign %d, newer than ours (%d): reconnect to handshake in it", f.Kind, f.Reign, n.reign)
		return nil
	}
	stale := f.Epoch < n.peerEpoch
	n.peerEpoch = max(n.peerEpoch, f.Epoch)
	switch f.Kind {
	case link.KindTxn:
		if n.seed.want {
			return nil // the checkpoint asked for holds it, or it comes after it
		}
		return n.stepTxn(f, stale)
	case link.KindHeartbeat:
		n.stepHeartbeat(f)
	case link.KindAck:
		n.peerWM = f.Watermark
	case link.KindResend:
		n.peerWM, n.next = f.Watermark, f.Watermark
		n.checkSeed(f.Watermark)
	case link.KindSeedOffer, link.KindSeedRequest, link.KindSeed:
		n.stepSeed(f)
	case link.KindRollbackCommand:
		return n.stepCommand(f)
	case link.KindRollbackAnswer:
		n.stepAnswer(f)
	case link.KindReconLog:
		return n.stepReconLog(f)
	case link.KindForward:
		return n.stepForward(f)
	case link.KindForwardAnswer:
		return n.stepForwardAnswer(f)
	}
	return nil
}

func (n *Node) stepHeartbeat(f *link.Frame) {
	n.peerWM, n.peerLast = f.Watermark, f.Prev
	if f.Stable > n.floor {
		// The peer's watermark of our OSeqs never drops below its stable
		// watermark in this reign: no future peer transaction has a
		// PeerSeen below it (DESIGN.md section 5).
		n.floor = f.Stable
		n.peerStbl = f.Stable
		n.window.Prune(f.Stable)
		n.winFrom = max(n.winFrom, f.Stable)
		n.packOwn(f.Stable)
	}
}

// recSlab is how many records decodeTxn allocates at once: a record is
// 312 bytes with pointers, and a peer transaction's is dropped once
// applied, so one allocation serves many. A slab lives while any of its
// records does, and each keeps its frame's bytes (borrowed): only records
// of frames up to recSlabMax bytes take a slot, so that a slab keeps at
// most a few hundred KiB alive past their use.
const (
	recSlab    = 32
	recSlabMax = 8 << 10
)

// decodeTxn decodes and checks the record of a Txn frame.
func (n *Node) decodeTxn(f *link.Frame) (*journal.Record, error) {
	if n.dec == nil {
		n.dec = journal.NewDecoder()
	}
	var rec *journal.Record
	if len(f.Record) <= recSlabMax {
		if len(n.recs) == 0 {
			n.recs = make([]journal.Record, recSlab)
		}
		rec, n.recs = &n.recs[0], n.recs[1:]
	} else {
		rec = new(journal.Record)
	}
	// Borrowed: no copy of the record's bytes (Step's doc says why that
	// is safe).
	if err := n.dec.DecodeFrameBorrow(f.Record, rec); err != nil {
		return nil, fmt.Errorf("txn frame from %s: %w", f.From, err)
	}
	if !rec.Kind.IsOwn() || rec.Origin != n.cfg.PeerID || rec.OSeq == 0 {
		return nil, fmt.Errorf("refused a streamed record of kind %v with TxID %v: the peer %q streams only its own transactions",
			rec.Kind, rec.TxID(), n.cfg.PeerID)
	}
	return rec, nil
}

// dropTxn records verdict v for a Txn frame dropped unread.
func (n *Node) dropTxn(f *link.Frame, v Verdict) error {
	rec, err := n.decodeTxn(f)
	if err != nil {
		return err
	}
	n.rd.Verdicts = append(n.rd.Verdicts, PeerVerdict{Txn: rec.TxID(), Verdict: v})
	return nil
}

// stepTxn decides about one peer transaction.
func (n *Node) stepTxn(f *link.Frame, stale bool) error {
	rec, err := n.decodeTxn(f)
	if err != nil {
		return err
	}
	v := PeerVerdict{Txn: rec.TxID()}
	switch {
	case stale:
		v.Verdict = VerdictStale
	case !n.discarding.IsZero():
		v.Verdict = VerdictDiscarded
	case n.rollback != nil:
		v.Verdict = VerdictHeld
	case rec.OSeq <= n.watermark:
		v.Verdict = VerdictDuplicate
	case f.Prev != n.watermark && n.cfg.Break != BreakPrev:
		v.Verdict = VerdictGap
		n.askResend()
	default:
		n.check(rec, &v)
	}
	n.rd.Verdicts = append(n.rd.Verdicts, v)
	return nil
}

// check runs the conflict check of DESIGN.md section 6 (and the duplicate
// subject of section 10) on a contiguous peer transaction and acts on it.
func (n *Node) check(rec *journal.Record, v *PeerVerdict) {
	if !n.cfg.NoCheck {
		in := n.incoming(rec)
		n.materialize(rec.PeerSeen)
		for _, h := range n.window.Check(in) {
			if h.Check == detect.CheckMirrorUse && n.cfg.Break == BreakLiteral {
				continue
			}
			v.Conflicts = append(v.Conflicts, Conflict{Own: h.Own.ID, Pos: h.Own.Pos, Check: h.Check, Key: h.Key,
				Case: caseOf(h, in, n.role == RoleLiege)})
		}
		n.dupSubject(rec, v)
	}
	if len(v.Conflicts) == 0 {
		v.Verdict = VerdictApply
		n.rd.Apply = append(n.rd.Apply, rec)
		n.watermark = rec.OSeq
		n.sinceProgress = 0
		if _, ok := n.pending[rec.Subject]; ok && !rec.Subject.IsZero() {
			delete(n.pending, rec.Subject) // come back from the liege
			n.sinceRecon = 0
		}
		return
	}
	sort.SliceStable(v.Conflicts, func(i, j int) bool { return v.Conflicts[i].Pos < v.Conflicts[j].Pos })
	if n.role == RoleLiege {
		v.Verdict = VerdictReject
		n.reject(rec.TxID())
		return
	}
	v.Verdict = VerdictRollBack
	c := v.Conflicts[0]
	n.startRollback(&Rollback{Before: c.Pos, Own: c.Own, Incoming: rec.TxID(),
		Reason: fmt.Sprintf("conflict: liege %v vs own %v (%s)", rec.TxID(), c.Own, checkName(c))})
}

func checkName(c Conflict) string {
	if !c.Subject.IsZero() {
		return "duplicate subject " + c.Subject.String()
	}
	return c.Check.String() + " check"
}

// incoming is rec as the detect.Txn checked against the window: n.in,
// refilled, its keys those of rec, not copies (detect.FromRecord copies
// them for a Txn that is kept; this one is not, and a Hit's key, kept in
// the verdict, keeps rec alive, not a scratch buffer).
func (n *Node) incoming(rec *journal.Record) *detect.Txn {
	return viewOf(&n.in, rec)
}

// viewOf fills t with rec's keys, which it shares (t's slices are reused)
// and returns it.
func viewOf(t *detect.Txn, rec *journal.Record) *detect.Txn {
	reads, writes := t.Reads[:0], t.Writes[:0]
	for i := range rec.Reads {
		reads = append(reads, rec.Reads[i].Key)
	}
	for i := range rec.Writes {
		writes = append(writes, detect.Write{Key: rec.Writes[i].Key, Add: rec.Writes[i].Op == journal.OpAdd})
	}
	*t = detect.Txn{ID: rec.TxID(), HLC: rec.HLC, PeerSeen: rec.PeerSeen, Pos: rec.Pos, Reads: reads, Ranges: rec.Ranges, Writes: writes}
	return t
}

// dupSubject adds the conflict of a reprocess or correction whose subject
// this instance already holds (DESIGN.md section 10): at the liege, held
// anywhere in the journal (or being reconciled here); at the vassal, held by
// an own transaction in the window, which then rolls back.
func (n *Node) dupSubject(rec *journal.Record, v *PeerVerdict) {
	s := rec.Subject
	if s.IsZero() || n.cfg.Break == BreakSubject {
		return
	}
	if n.role == RoleLiege {
		if n.cfg.Holds(s) || n.reconciling[s] {
			v.Conflicts = append(v.Conflicts, Conflict{Subject: s})
		}
		return
	}
	// Only the own transactions after what the record's origin had seen
	// and still in the window: a binary search, not a walk of the own
	// list (as long as the journal, about a million at the default
	// JournalKeep) for every reprocess and correction a reconciliation
	// brings.
	var hint int
	for i := n.ownAfter(max(rec.PeerSeen, n.floor), &hint); i < len(n.own); i++ {
		if o := &n.own[i]; o.standsFor(n.cfg.ID) == s {
			v.Conflicts = append(v.Conflicts, Conflict{Own: o.id(n.cfg.ID), Pos: o.pos, Subject: s})
		}
	}
}

// maxResendBackoff bounds how many ResendTicks a Node waits between asks
// for the same watermark.
const maxResendBackoff = 32

// askResend asks the peer to resume after our watermark, once per
// watermark until ResendTicks pass, then twice as long each time the
// watermark did not move (up to maxResendBackoff ResendTicks): each ask
// makes the peer ship everything after it again, so asking faster than a
// busy peer ships a long backlog would bury the link in duplicates.
func (n *Node) askResend() {
	if n.resendAsked && n.resendWM == n.watermark {
		if n.sinceResend < n.resendWait {
			return
		}
		n.resendWait = min(2*n.resendWait, maxResendBackoff*n.cfg.ResendTicks)
	} else {
		n.resendWait = n.cfg.ResendTicks
	}
	n.resendAsked, n.resendWM, n.sinceResend = true, n.watermark, 0
	n.send(link.Frame{Kind: link.KindResend, Watermark: n.watermark})
}

// ---- the liege's rejection (DESIGN.md section 8) ----

func (n *Node) reject(id journal.TxID) {
	n.discarding, n.commandWM, n.sinceCommand = id, n.watermark, 0
	n.sendCommand()
	n.note("rejected %v: the vassal is commanded to roll it back; discarding its transactions until it answers", id)
}

func (n *Node) sendCommand() {
	n.send(link.Frame{Kind: link.KindRollbackCommand, Subject: n.discarding.String(), Watermark: n.commandWM})
}

// stepAnswer: only the answer naming the rejected TxID ends the discarding;
// any answer or notice says the vassal rolled back, so our stream resumes
// after its watermark.
func (n *Node) stepAnswer(f *link.Frame) {
	if !n.discarding.IsZero() {
		if f.Subject != n.discarding.String() && n.cfg.Break != BreakDiscard {
			n.note("an answer for %q does not end the discarding for %v", f.Subject, n.discarding)
		} else {
			n.note("the vassal answered for %v: discarding ends", n.discarding)
			n.discarding = journal.TxID{}
		}
	}
	n.peerWM, n.next = f.Watermark, f.Watermark
}

// ---- the vassal's rollback (DESIGN.md sections 7 and 8) ----

func (n *Node) stepCommand(f *link.Frame) error {
	if n.role != RoleVassal {
		n.note("ignored a rollback command for %s: this instance is the liege", f.Subject)
		return nil
	}
	s, err := journal.ParseTxID(f.Subject)
	if err != nil {
		return err
	}
	if s.Origin != n.cfg.ID {
		return fmt.Errorf("rollback command names %v, which is not a transaction of this instance (%s)", s, n.cfg.ID)
	}
	n.commands = append(n.commands, command{subject: s, watermark: f.Watermark})
	n.nextCommand()
	return nil
}

// nextCommand acts on the oldest command unless a rollback is outstanding.
func (n *Node) nextCommand() {
	for n.rollback == nil && len(n.commands) > 0 && !n.seed.reseed {
		c := n.commands[0]
		n.commands = n.commands[1:]
		if i := n.findOwn(c.subject); i >= 0 {
			n.answering = &c
			n.startRollback(&Rollback{Before: n.own[i].pos, Own: c.subject, Subject: c.subject,
				Reason: fmt.Sprintf("rejected by the liege %s", n.cfg.PeerID)})
			return
		}
		// Already rolled off: nothing to roll back; answer.
		n.answer(c)
	}
}

func (n *Node) answer(c command) {
	n.send(link.Frame{Kind: link.KindRollbackAnswer, Subject: c.subject.String(), Watermark: n.watermark})
	n.peerWM, n.next = c.watermark, c.watermark
}

func (n *Node) startRollback(r *Rollback) {
	if n.role != RoleVassal {
		panic(fmt.Sprintf("replicate: %s would roll back as %s (%+v): a liege never rolls back", n.cfg.ID, n.role, *r))
	}
	n.rollback = r
	n.rd.Rollback = r
}

func (n *Node) findOwn(id journal.TxID) int {
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].oseq() >= id.OSeq })
	if i < len(n.own) && n.own[i].id(n.cfg.ID) == id {
		return i
	}
	return -1
}

// RollbackDone says the rollback the node asked for is done and durable,
// its reconciliation log kept.
func (n *Node) RollbackDone(res RollbackResult) {
	n.input("RollbackDone")
	r := n.rollback
	if r == nil {
		panic("replicate: RollbackDone with no rollback outstanding")
	}
	n.rollback = nil
	n.epoch, n.watermark, n.durable = res.Epoch, res.Watermark, res.Watermark
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].pos >= r.Before })
	clear(n.own[i:]) // the rolled-off ones' Txns go (appends write over them later)
	n.own = n.own[:i]
	n.window.TruncateFrom(r.Before)
	if len(n.pending) == 0 && len(res.RolledOff) > 64 {
		// A long partition rolls off a million: no rehashing as it grows.
		n.pending = make(map[journal.TxID]pendingRec, len(res.RolledOff))
	}
	log := make([]*journal.Record, 0, len(res.RolledOff))
	for _, rec := range res.RolledOff {
		switch {
		case rec.Origin == n.cfg.ID && rec.Kind.IsOwn():
			n.pending[standsFor(rec)] = pendingRec{rec: rec, send: true}
			log = append(log, rec)
		case rec.RepublishesOwn(n.cfg.ID):
			// A liege's reprocess or correction of ours rolled off: its
			// subject is pending again (for a promote).
			if _, ok := n.pending[rec.Subject]; !ok {
				n.pending[rec.Subject] = pendingRec{rec: rec}
			}
		}
	}
	if n.link == linkUp {
		if c := n.answering; c != nil {
			n.answer(*c)
		} else {
			n.send(link.Frame{Kind: link.KindRollbackAnswer, Watermark: n.watermark}) // the notice
		}
		n.sendLog(log)
	}
	n.answering = nil
	n.reseedRolledBack() // reseed.go
	n.nextCommand()
}

// ---- reconciliation ----

// sendRecon sends every pending reconciliation record (vassal).
func (n *Node) sendRecon() {
	var log []*journal.Record
	for _, p := range n.pending {
		if p.send {
			log = append(log, p.rec)
		}
	}
	sort.Slice(log, func(i, j int) bool { return log[i].OSeq < log[j].OSeq })
	n.sendLog(log)
}

func (n *Node) sendLog(log []*journal.Record) {
	n.sinceRecon = 0
	enc := journal.NewEncoder()
	var f link.Frame
	size := 0
	for _, r := range log {
		b, err := enc.Frame(r)
		if err != nil {
			panic(fmt.Sprintf("replicate: encode reconciliation record %v: %v", r.TxID(), err))
		}
		// A frame holds up to reconLogChunk records and FrameBudget bytes
		// of them; a record larger than the budget travels alone.
		if len(f.Records) == reconLogChunk || len(f.Records) > 0 && size+len(b) > n.cfg.FrameBudget {
			n.send(f)
			f, size = link.Frame{}, 0
		}
		f.Kind = link.KindReconLog
		f.Records = append(f.Records, append([]byte(nil), b...))
		size += len(b)
	}
	if len(f.Records) > 0 {
		n.send(f)
	}
}

// stepReconLog: the liege reconciles each record whose subject it does not
// hold (DESIGN.md section 9).
func (n *Node) stepReconLog(f *link.Frame) error {
	if n.role != RoleLiege {
		n.note("ignored a reconciliation log: this instance is the vassal")
		return nil
	}
	dec := journal.NewDecoder()
	var skipped []journal.TxID
	for i, b := range f.Records {
		r := new(journal.Record)
		if err := dec.DecodeFrame(b, r); err != nil {
			return fmt.Errorf("reconciliation log record %d: %w", i, err)
		}
		if r.Origin != n.cfg.PeerID || !r.Kind.IsOwn() {
			return fmt.Errorf("reconciliation log record %d is %v of kind %v: a vassal reconciles only its own transactions", i, r.TxID(), r.Kind)
		}
		if !n.reconcile(r) {
			skipped = append(skipped, standsFor(r))
		}
	}
	n.noteSkipped(skipped)
	return nil
}

// reconcile hands r to the driver unless its subject is held or being
// reconciled already, and reports whether it did.
func (n *Node) reconcile(r *journal.Record) bool {
	s := standsFor(r)
	if n.cfg.Holds(s) || n.reconciling[s] {
		return false
	}
	n.reconciling[s] = true
	n.rd.Reconcile = append(n.rd.Reconcile, r)
	return true
}

// noteSkipped notes the subjects of a batch of reconciliation records
// skipped (held, or under way): one line a batch, as a log resent after a
// reconnect may be a million records the liege holds already.
func (n *Node) noteSkipped(skipped []journal.TxID) {
	switch len(skipped) {
	case 0:
	case 1:
		n.note("reconciliation: skip %v (held)", skipped[0])
	default:
		n.note("reconciliation: skip %d records held or under way (%v to %v)", len(skipped), skipped[0], skipped[len(skipped)-1])
	}
}

// Reconciled says the driver finished the reconciliation of subject (its
// reprocess or correction is committed, or it failed and stays pending at
// the vassal).
func (n *Node) Reconciled(subject journal.TxID) {
	n.input("Reconciled")
	delete(n.reconciling, subject)
}

// ---- own transactions ----

// OwnCommitted says own transaction rec is committed (appended to the
// journal and applied to the state), durable or not: it joins the window at
// once, so a peer transaction that arrives before rec is durable is checked
// against it (DESIGN.md section 5). It is shipped only once OwnDurable
// reports it. Own transactions come in OSeq order. rec is not kept: the
// node copies the keys it needs.
func (n *Node) OwnCommitted(rec *journal.Record) {
	n.input("OwnCommitted")
	if err := n.addOwn(rec); err != nil {
		panic(err.Error())
	}
	if n.cfg.Break != BreakPending {
		n.window.Add(n.own[len(n.own)-1].t)
	}
}

// OwnDurable says own transaction rec is durable: it may now be shipped
// (durable before shipped). One that OwnCommitted did not report first
// joins the window now. Own transactions come in OSeq order. Of one that
// OwnCommitted reported, only the TxID and Subject are read (its keys are
// the node's since then): a driver need not keep the whole record until
// it is durable. rec is not kept.
func (n *Node) OwnDurable(rec *journal.Record) {
	n.input("OwnDurable")
	switch i := n.ownIndex(rec.OSeq); {
	case i >= 0 && n.own[i].id(n.cfg.ID) == rec.TxID():
		// Committed before (OwnCommitted): in the window already.
		if n.cfg.Break == BreakPending {
			n.window.Add(n.ownTxn(i))
		}
	default:
		if err := n.addOwn(rec); err != nil {
			panic(err.Error())
		}
		n.window.Add(n.own[len(n.own)-1].t)
	}
	n.ownDur = max(n.ownDur, rec.OSeq)
	delete(n.pending, rec.Subject) // a liege reconciled its own pending subject
}

// ownIndex is the index in n.own of own OSeq o, or -1.
func (n *Node) ownIndex(o uint64) int {
	if o == 0 {
		return -1 // no own transaction has OSeq 0
	}
	i := n.ownAfter(o-1, &n.idxHint)
	if i < len(n.own) && n.own[i].oseq() == o {
		return i
	}
	return -1
}

// durableOwn is how many of n.own are durable (a prefix: the journal
// becomes durable in order).
func (n *Node) durableOwn() int { return n.ownAfter(n.ownDur, &n.durHint) }

// ownAfter is the index in n.own (in OSeq order) of the first own
// transaction with an OSeq above o, len(n.own) if none. It starts at
// *hint, where the last question with that hint found its answer, and
// leaves the answer there: the node asks the same few questions (which
// are durable, which has the peer applied) several times a step, their
// answers move forward a little between steps, and a binary search of a
// long own list takes a cache miss per probe. A hint past the answer (the
// list was cut: a rollback, a compaction) is dropped.
func (n *Node) ownAfter(o uint64, hint *int) int {
	own, h := n.own, *hint
	if h < 0 || h > len(own) || h > 0 && own[h-1].seq > o {
		h = 0
	}
	// own[:h] all have OSeqs at or below o: a few steps forward, then a
	// binary search of the rest.
	for range 8 {
		if h == len(own) || own[h].seq > o {
			*hint = h
			return h
		}
		h++
	}
	i := h + sort.Search(len(own)-h, func(i int) bool { return own[h+i].seq > o })
	*hint = i
	return i
}

func (n *Node) addOwn(rec *journal.Record) error {
	if err := n.canAddOwn(rec); err != nil {
		return err
	}
	t := n.ownSlab.fromRecord(rec)
	n.own = append(n.own, own{t: t, subject: rec.Subject, seq: t.ID.OSeq, pos: t.Pos, peerSeen: t.PeerSeen})
	return nil
}

// addOwnPacked is addOwn for an own transaction recovered from the journal
// at start-up: it goes packed (ownpack.go) at once, as those the peer's
// stable watermark pruned. The window takes it back when a peer
// transaction needs it (materialize), and the first stable watermark
// usually prunes it first: unpacked until then, a journal's million own
// transactions took 1.15 s and 429 MB at start-up, against 0.51 s and
// 148 MB packed (BenchmarkNodeStart). view is scratch for rec's keys.
func (n *Node) addOwnPacked(rec *journal.Record, view *detect.Txn) error {
	if err := n.canAddOwn(rec); err != nil {
		return err
	}
	p := n.packSlabs.pack(viewOf(view, rec))
	n.own = append(n.own, own{packed: p, subject: rec.Subject, seq: rec.OSeq, pos: rec.Pos, peerSeen: rec.PeerSeen})
	n.packedTo = rec.OSeq
	return nil
}

// canAddOwn checks that rec may join n.own, and makes room for it.
func (n *Node) canAddOwn(rec *journal.Record) error {
	if rec.Origin != n.cfg.ID || !rec.Kind.IsOwn() {
		return fmt.Errorf("replicate: %v of kind %v is not an own transaction of %s", rec.TxID(), rec.Kind, n.cfg.ID)
	}
	if last := n.lastOwn(); rec.OSeq <= last {
		return fmt.Errorf("replicate: own transaction %v is not after the newest one, OSeq %d", rec.TxID(), last)
	}
	if len(n.own) == cap(n.own) {
		n.roomForOwn()
	}
	return nil
}

// roomForOwn makes room at the end of n.own, which is full.
//
// When retention passes (Compacted) took at least half as many from the
// array's front as the list holds, the list moves back to the array's
// start, in place. Otherwise the list moves to an array twice as large
// (append grows a long slice by a quarter, so each own transaction was
// copied about four times, into new memory each time, as the list grew
// with the journal). In a long-running instance the list stays about as
// long as the journal keeps, and growing there each time was fresh memory
// every million own transactions or so: at a million, 160 MB whose first
// touch (page faults) stalled the executor 0.55 s in one OwnCommitted.
func (n *Node) roomForOwn() {
	l := len(n.own)
	if front := cap(n.ownArr) - cap(n.own); front > 0 && front >= l/2 {
		n.own = append(n.ownArr[:0], n.own...) // within its capacity: a move
		clear(n.ownArr[l : front+l])           // what moved, and nothing else, held them
		return
	}
	grown := make([]own, l, 2*max(l, 32))
	copy(grown, n.own)
	n.own, n.ownArr = grown, grown
}

// Compacted says the journal's front was truncated below position pos: own
// transactions before it leave the node's memory (the retention rule keeps
// every one the peer has not applied).
func (n *Node) Compacted(pos uint64) {
	n.input("Compacted")
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].pos >= pos })
	if i == 0 {
		return
	}
	n.basePrev = n.own[i-1].oseq()
	clear(n.own[:i]) // their Txns and packed blocks go
	if i > len(n.own)/2 {
		// Most of the list goes: a copy of the rest lets the array go.
		n.own = append([]own(nil), n.own[i:]...)
		n.ownArr = n.own
	} else {
		// A retention pass takes off a few: a copy of the rest each time
		// was 39 ms and 80 MB at a million own transactions (the default
		// JournalKeep holds about 1.3M), on the executor. roomForOwn
		// takes the array's head back when the list reaches its end.
		n.own = n.own[i:]
	}
}

// PeerApplied says the peer records up to OSeq wm are applied durably.
func (n *Node) PeerApplied(wm uint64) {
	n.input("PeerApplied")
	n.durable = max(n.durable, min(wm, n.watermark))
}

// lastOwn is the newest own OSeq committed (durable or not).
func (n *Node) lastOwn() uint64 {
	if len(n.own) == 0 {
		return n.basePrev
	}
	return n.own[len(n.own)-1].oseq()
}

// lastDurable is the newest own OSeq that is durable: what a Hello and a
// heartbeat announce, and what the take-back compares with. An own
// transaction not yet durable may still be lost in a crash, so the peer must
// never count on it.
func (n *Node) lastDurable() uint64 {
	if d := n.durableOwn(); d > 0 {
		return n.own[d-1].oseq()
	}
	return n.basePrev
}

// ship adds the own transactions after the peer's watermark to the Ready,
// with Prev for contiguity, unless a rollback here may still take them.
//
// A liege discarding the vassal's transactions ships none either: the
// vassal is about to roll back, drops what comes meanwhile (held, then a
// gap), and its answer has the liege ship again from the vassal's new
// watermark anyway. Shipping on meant shipping what the vassal then
// dropped, and the same frames again after its answer: under contention,
// with a link behind, that was most of the vassal's work in the runs of
// `liege bench replicate --contention 0.05` that collapsed (before
// MaxUnsent bounded it: 180,000 to 400,000 frames dropped as held in 4 s).
func (n *Node) ship() {
	if n.link != linkUp || n.rollback != nil || len(n.commands) > 0 || n.seed.offered || n.seed.want || n.seed.reseed ||
		!n.discarding.IsZero() {
		return
	}
	if n.ownDur <= n.next {
		return // nothing durable after what was shipped (HasReady asks often)
	}
	i, d := n.ownAfter(n.next, &n.nextHint), n.durableOwn()
	for k := 0; i < d && k < n.cfg.MaxShip && n.unsent < n.cfg.MaxUnsent; i, k = i+1, k+1 {
		n.unsent++
		o := &n.own[i]
		prev := n.basePrev
		if i > 0 {
			prev = n.own[i-1].oseq()
		}
		if prev < n.prevFloor && n.prevFloor < o.seq {
			prev = n.prevFloor
		}
		n.send(link.Frame{Kind: link.KindTxn, Prev: prev})
		m := &n.rd.Messages[len(n.rd.Messages)-1]
		m.Pos, m.Txn = o.pos, o.id(n.cfg.ID)
		n.next = o.seq
	}
}

// Written says the driver wrote k of the Txn frames this node shipped to
// the link (or dropped them: a link that went down). Shipping stops while
// MaxUnsent are not written: a link slower than the executor (a peer
// behind, a rewind of a long backlog) then holds back the node instead of
// a queue in memory that a rewind makes obsolete.
func (n *Node) Written(k int) {
	n.input("Written")
	n.unsent = max(0, n.unsent-k)
}

// ---- the window (DESIGN.md section 5) ----

// stable is our stable watermark: the PeerSeen of our first durable own
// transaction the peer has not applied, or our (durable) watermark. An own
// transaction not yet durable does not count: its PeerSeen may cover peer
// records not yet durable either, which a crash loses with it; every own
// transaction committed after the crash then has a PeerSeen at or above our
// durable watermark, and so does a surviving one (it follows in the journal
// every peer record durable now).
func (n *Node) stable() uint64 {
	i := n.ownAfter(n.peerWM, &n.wmHint)
	if i < n.durableOwn() {
		return n.own[i].peerSeen
	}
	return n.durable
}

// resetWindow puts every own transaction in the journal back in the window
// (a reign change; start-up). It does so by the book: the detect.Window
// gets them when a peer transaction needs them (materialize), by which
// time the peer's stable watermark has usually pruned most of them. A
// journal at the default JournalKeep holds about a million own
// transactions: adding them all took 1.5 to 2 s and 500 to 770 MB of
// allocations at every start-up and every promote or switchover, for a
// window the first heartbeat then emptied (BenchmarkNodeStart).
func (n *Node) resetWindow() {
	n.window = detect.NewWindow()
	n.floor, n.peerStbl, n.winFrom = 0, 0, 0
	if k := n.windowEnd(); k > 0 {
		n.winFrom = n.own[k-1].seq
	}
}

// windowEnd is how many of n.own the window takes: all of them, or with
// BreakPending the durable ones (the break: a peer transaction is not
// checked against an own transaction that is not durable yet).
func (n *Node) windowEnd() int {
	if n.cfg.Break == BreakPending {
		return n.durableOwn()
	}
	return len(n.own)
}

// materialize makes the detect.Window hold every own transaction of the
// window above OSeq peerSeen (those a peer transaction with that PeerSeen
// is checked against). The own transactions in (floor, winFrom] are in the
// window by DESIGN.md section 5 but not yet in the detect.Window: if the
// check needs some of them, materialize builds it anew from n.own. It
// reaches twice as far down as asked, so that peer transactions with ever
// lower PeerSeens (rare: PeerSeen grows along a stream) rebuild it a
// logarithmic number of times, not once each.
func (n *Node) materialize(peerSeen uint64) {
	need := max(n.floor, peerSeen)
	if n.winFrom <= need {
		return
	}
	from := max(n.floor, need-min(need, n.winFrom-need))
	n.window = detect.NewWindow()
	for i, k := n.ownAfter(from, new(int)), n.windowEnd(); i < k; i++ {
		n.window.Add(n.ownTxn(i))
	}
	n.winFrom = from
}

// windowLen is the number of own transactions in the window: those in the
// detect.Window and those it does not hold yet (see winFrom).
func (n *Node) windowLen() int {
	k := n.windowEnd()
	return n.window.Len() + min(n.ownAfter(n.winFrom, &n.winHint), k) - min(n.ownAfter(n.floor, &n.floorHint), k)
}

// ownTxn returns the detect.Txn of n.own[i], unpacked if packed (the entry
// stays packed: the window keeps the Txn until it prunes it).
func (n *Node) ownTxn(i int) *detect.Txn {
	o := &n.own[i]
	if o.t != nil {
		return o.t
	}
	t, err := unpackTxn(o.packed, o.id(n.cfg.ID), o.pos, o.peerSeen)
	if err != nil {
		panic(err.Error()) // packed by packOwn, never written since
	}
	return t
}

// packOwn packs the own transactions up to OSeq upTo that are not packed
// yet: the window has pruned them (ownpack.go).
func (n *Node) packOwn(upTo uint64) {
	for i := n.ownAfter(n.packedTo, &n.packHint); i < len(n.own) && n.own[i].seq <= upTo; i++ {
		o := &n.own[i]
		o.packed, o.t = n.packSlabs.pack(o.t), nil
		n.packedTo = o.seq
	}
}

// ---- time ----

// Tick advances the node's clock by one tick.
func (n *Node) Tick() {
	n.input("Tick")
	n.sinceHeard++
	n.tickForwards()
	if n.link == linkDown {
		return
	}
	if n.silent++; n.silent > n.silenceTicks() { // seed.go
		n.rd.Disconnect = fmt.Sprintf("no frame from the peer for %d ticks", n.silent)
		return
	}
	if n.link != linkUp {
		return
	}
	n.sinceBeat++
	n.sinceProgress++
	n.sinceResend++
	n.sinceRecon++
	if n.sinceBeat >= n.cfg.HeartbeatTicks {
		n.sinceBeat = 0
		n.send(link.Frame{Kind: link.KindHeartbeat, Watermark: n.durable, Prev: n.lastDurable(), Stable: n.stable()})
	}
	if !n.discarding.IsZero() {
		if n.sinceCommand++; n.sinceCommand >= n.cfg.ResendTicks {
			n.sinceCommand = 0
			n.sendCommand() // the command or its answer may have been lost
		}
	} else if n.peerLast > n.watermark && n.sinceProgress >= n.cfg.ResendTicks && n.rollback == nil {
		n.sinceProgress = 0
		n.askResend() // the stream stopped short
	}
	if n.role == RoleVassal && n.sinceRecon >= n.cfg.ReconResendTicks {
		// A log frame lost while the link stays up (a partition or a drop
		// is no disconnect, so no handshake resends it) goes again here;
		// the liege skips what it holds, so a resent log changes nothing.
		if k := n.pendingSend(); k > 0 {
			n.note("resend the reconciliation log: %d transaction(s) not come back in %d ticks", k, n.sinceRecon)
			n.sendRecon()
		}
	}
	n.tickSeed() // seed.go
	n.trySwitchover()
}

func (n *Node) pendingSend() int {
	c := 0
	for _, p := range n.pending {
		if p.send {
			c++
		}
	}
	return c
}

// ---- roles and reigns (DESIGN.md section 10) ----

// adopt takes reign r and the role other than peerRole, journaled first.
func (n *Node) adopt(r uint64, peerRole string) {
	role := RoleLiege
	if peerRole == RoleLiege {
		role = RoleVassal
	}
	n.changeRole(role, r, fmt.Sprintf("adopted the peer's reign %d as %s", r, role))
}

// changeRole journals role in reign r and resets what a reign change
// resets: window pruning and the peer's watermark of our OSeqs (taken afresh
// from the new reign's handshake), a rejection, a switchover.
func (n *Node) changeRole(role string, r uint64, why string) {
	was := n.role
	n.role, n.reign = role, r
	n.rd.Role = &RoleChange{Role: role, Reign: r, Why: why}
	n.note("%s: %s -> %s in reign %d", why, was, role, r)
	n.discarding = journal.TxID{}
	n.resetWindow()
	n.peerWM = 0
	if n.quiescing {
		n.quiescing = false
		n.rd.Quiesce = QuiesceOff
	}
	if role != RoleVassal {
		n.abandonForwards()
	}
	if role == RoleLiege && was == RoleVassal {
		n.commands, n.answering = nil, nil
		n.reconcilePending()
	}
}

// reconcilePending: a new liege reconciles every own subject still pending
// (its reconciliation logs, and subjects whose reprocess a rollback here
// rolled off again).
func (n *Node) reconcilePending() {
	subjects := make([]journal.TxID, 0, len(n.pending))
	for s := range n.pending {
		subjects = append(subjects, s)
	}
	sort.Slice(subjects, func(i, j int) bool { // a total order: subjects of both origins may be pending
		if subjects[i].OSeq != subjects[j].OSeq {
			return subjects[i].OSeq < subjects[j].OSeq
		}
		return subjects[i].Origin < subjects[j].Origin
	})
	var skipped []journal.TxID
	for _, s := range subjects {
		if !n.reconcile(n.pending[s].rec) {
			skipped = append(skipped, s)
		}
		delete(n.pending, s)
	}
	n.noteSkipped(skipped)
}

// Promote makes this vassal the liege in the next reign, on its own (the
// liege is gone). It refuses while the liege is still heard from unless
// force is set, and while a rollback is outstanding or the instance waits
// for its seed (AwaitingSeed), forced or not.
func (n *Node) Promote(force bool) error {
	n.input("Promote")
	if n.role != RoleVassal {
		return fmt.Errorf("promote %s: %w: it is already the liege", n.cfg.ID, ErrRole)
	}
	if n.rollback != nil {
		return fmt.Errorf("promote %s: %w: a rollback is outstanding; retry when it is done", n.cfg.ID, ErrBusy)
	}
	if n.AwaitingSeed() {
		// Even forced: this empty instance lacks own transactions the peer
		// holds; as liege it would give their OSeqs to new transactions.
		return PromoteAwaitingSeed(n.cfg.ID)
	}
	heard := n.link == linkUp || n.heardEver && n.sinceHeard <= n.cfg.PromoteQuietTicks
	if heard && !force {
		return fmt.Errorf("promote %s: %w", n.cfg.ID, ErrHearsLiege)
	}
	n.changeRole(RoleLiege, n.reign+1, "promoted")
	if n.link != linkDown {
		n.sendHello()
	}
	return nil
}

// PromoteAwaitingSeed is Promote's refusal of instance id while it waits
// for its seed (the engine keeps that wait across a lost link, when the
// Node no longer asks).
func PromoteAwaitingSeed(id string) error {
	return fmt.Errorf("promote %s: %w: it is empty and its peer holds own transactions of it; promote it once the checkpoint is installed (its log says \"seeded from the peer's checkpoint\"), or, if the peer is gone for good, restore this site from a backup instead (force does not override this)", id, ErrAwaitingSeed)
}

// Switchover starts a planned role swap at the liege: it quiesces new own
// commits and, once both streams are drained, journals vassal in the next
// reign and tells the peer, which adopts it as liege.
func (n *Node) Switchover() error {
	n.input("Switchover")
	if n.role != RoleLiege {
		return fmt.Errorf("switchover from %s: %w: start it at the liege", n.cfg.ID, ErrRole)
	}
	if n.link != linkUp {
		return fmt.Errorf("switchover from %s: %w: the link is down", n.cfg.ID, ErrBusy)
	}
	n.quiescing = true
	n.rd.Quiesce = QuiesceOn
	n.trySwitchover()
	return nil
}

// trySwitchover finishes a switchover once both streams are drained.
func (n *Node) trySwitchover() {
	if !n.quiescing || n.link != linkUp || !n.discarding.IsZero() || len(n.reconciling) > 0 {
		return
	}
	if n.peerWM < n.lastOwn() || n.watermark < n.peerLast {
		return
	}
	n.changeRole(RoleVassal, n.reign+1, "switchover")
	n.sendHello()
}

// ---- operator rollback (DESIGN.md section 3) ----

// ErrLiegeRollback is returned by RollbackFloor at a liege.
var ErrLiegeRollback = errors.New("a liege never rolls back, by hand either: switch over or promote first")

// RollbackFloor returns the lowest journal position an operator may roll
// this vassal back to (the rollback removes floor and everything after
// it): its first own transaction the liege has not applied, as far as this
// node knows. ok is false when the liege has applied every own
// transaction: then nothing may be rolled back.
func (n *Node) RollbackFloor() (floor uint64, ok bool, err error) {
	if n.role == RoleLiege {
		return 0, false, fmt.Errorf("roll back %s: %w", n.cfg.ID, ErrLiegeRollback)
	}
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].oseq() > n.peerWM })
	if i >= n.durableOwn() {
		return 0, false, nil
	}
	return n.own[i].pos, true, nil
}

// ---- status ----

// Status returns what the node knows, for /status.
func (n *Node) Status() NodeStatus {
	s := NodeStatus{ID: n.cfg.ID, Peer: n.cfg.PeerID, Connected: n.link == linkUp, Role: n.role, Reign: n.reign,
		Epoch: n.epoch, Watermark: n.watermark, LastOwn: n.lastDurable(), Stable: n.stable(),
		Discarding: n.discarding, RollingBack: n.rollback != nil, Window: n.windowLen(),
		ReconPending: len(n.pending), Reconciling: len(n.reconciling), Quiescing: n.quiescing, Refused: n.refused,
		Forwarding: len(n.fwd.inflight)}
	if s.Connected {
		s.PeerRole, s.PeerReign, s.PeerEpoch = n.peerRole, n.peerReign, n.peerEpoch
		s.PeerWM, s.PeerLast, s.PeerStable = n.peerWM, n.peerLast, n.peerStbl
		if n.peerLast > n.watermark {
			s.LagIn = n.peerLast - n.watermark
		}
		if s.LastOwn > n.peerWM {
			s.LagOut = s.LastOwn - n.peerWM
		}
	}
	return s
}
