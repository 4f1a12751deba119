package replicate

import (
	"errors"
	"fmt"
	"sort"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// This file is call forwarding (DESIGN.md section 13): a vassal hands a
// call to its liege over the link, the liege runs it as its own
// transaction and answers with its TxID and result, and the vassal answers
// its client once it has applied that TxID (read-your-writes at the
// vassal). Every forwarded call carries an idempotency key, so resending it
// after a reconnect, or a client's retry at either site, returns the first
// outcome.
//
// Inputs: Forward (vassal), ForwardDone (liege), frames of kinds Forward and
// ForwardAnswer, Tick. Outputs: Ready.Forwarded (liege: calls to run) and
// Ready.ForwardAnswers (vassal: answers to give).

// ForwardCall is a call a vassal forwards to its liege.
type ForwardCall struct {
	// ID is the vassal driver's id for the call, unique while it is in
	// flight; the answer names it.
	ID uint64
	// Proc and Args (msgpack) are the procedure and its arguments.
	Proc string
	Args []byte
	// Key is the idempotency key: required, so the liege commits the call
	// once however often it arrives.
	Key string
}

// ForwardAnswer is the outcome of a forwarded call.
type ForwardAnswer struct {
	ID uint64
	// TxID, HLC and Result are the liege's committed transaction (TxID
	// zero for a read-only call).
	TxID   journal.TxID
	HLC    uint64
	Result []byte
	// Err is the procedure's error at the liege (nothing committed).
	Err string
	// Refused: the liege did not run the call (it is not the liege, or it
	// is quiescing): nothing committed; the vassal may run it itself.
	Refused bool
	// TooLarge: the liege refused the call's transaction as too large for
	// the replication stream (nothing committed, Err says why); Size is
	// the frame it would have needed and Limit the liege's limit.
	TooLarge    bool
	Size, Limit int
	// Timeout (vassal only): the answer did not come, or the vassal did not
	// apply its TxID, within NodeConfig.ForwardTicks. The outcome is
	// unknown: ask about TxID (if set) or retry with Key.
	Timeout bool
	// Key is the call's idempotency key (vassal only, for a timeout).
	Key string
}

// ErrNoForward is returned by Forward when the call cannot be forwarded
// now: this instance is not a vassal with its link to the liege up.
var ErrNoForward = errors.New("cannot forward: not a vassal with its link to the liege up")

// forwarding is a vassal's forwarded call not yet answered to the driver.
type forwarding struct {
	call   ForwardCall
	ticks  int            // since Forward
	answer *ForwardAnswer // the liege's answer, held until its TxID is applied
}

// forwards is the Node's forwarding state (kept out of node.go).
type forwards struct {
	inflight map[uint64]*forwarding
}

// wireCall and wireAnswer are the payloads of Forward and ForwardAnswer
// frames (in Frame.Record, msgpack).
type wireCall struct {
	//lint:ignore U1000 the codec reads its tag
	_struct struct{} `codec:",toarray"`
	ID      uint64
	Proc    string
	Args    []byte
	Key     string
}

type wireAnswer struct {
	//lint:ignore U1000 the codec reads its tag
	_struct struct{} `codec:",toarray"`
	ID      uint64
	TxID    string
	HLC     uint64
	Result  []byte
	Err     string
	Refused bool
	// Added in protocol version 2 without a version change: the codec
	// fills trailing fields an older peer does not send with zero values,
	// and skips trailing ones it does not know.
	TooLarge    bool
	Size, Limit int
}

// Forward forwards call c to the liege (vassal). It returns ErrNoForward
// unless this instance is a vassal with the link up; the driver then runs
// the call itself or refuses it. The answer comes in Ready.ForwardAnswers.
func (n *Node) Forward(c ForwardCall) error {
	n.input("Forward")
	if n.role != RoleVassal || n.link != linkUp || n.peerRole != RoleLiege {
		return ErrNoForward
	}
	if c.Key == "" || c.Proc == "" {
		return fmt.Errorf("replicate: forward call %d: Proc and an idempotency Key are required", c.ID)
	}
	if n.fwd.inflight == nil {
		n.fwd.inflight = map[uint64]*forwarding{}
	}
	if _, dup := n.fwd.inflight[c.ID]; dup {
		return fmt.Errorf("replicate: forward call %d is already in flight", c.ID)
	}
	n.fwd.inflight[c.ID] = &forwarding{call: c}
	n.sendForward(c)
	return nil
}

func (n *Node) sendForward(c ForwardCall) {
	b, err := journal.Marshal(wireCall{ID: c.ID, Proc: c.Proc, Args: c.Args, Key: c.Key})
	if err != nil {
		panic(fmt.Sprintf("replicate: encode forward call %d: %v", c.ID, err))
	}
	n.send(link.Frame{Kind: link.KindForward, Record: b})
}

// stepForward: the liege hands the call to its driver, or refuses it.
func (n *Node) stepForward(f *link.Frame) error {
	var w wireCall
	if err := journal.Unmarshal(f.Record, &w); err != nil {
		return fmt.Errorf("forward frame from %s: %w", f.From, err)
	}
	if w.Proc == "" || w.Key == "" {
		return fmt.Errorf("forward frame from %s: call %d names no procedure or no idempotency key", f.From, w.ID)
	}
	if n.role != RoleLiege || n.quiescing {
		n.note("refused forwarded call %d (%s): this instance is %s%s", w.ID, w.Proc, n.role, map[bool]string{true: ", quiescing"}[n.quiescing])
		n.sendAnswer(ForwardAnswer{ID: w.ID, Refused: true, Err: "not the liege now"})
		return nil
	}
	n.rd.Forwarded = append(n.rd.Forwarded, ForwardCall{ID: w.ID, Proc: w.Proc, Args: w.Args, Key: w.Key})
	return nil
}

// ForwardDone says the liege's driver finished forwarded call a.ID: its
// transaction is durable (or it failed). The answer goes to the vassal if
// the link is up; otherwise the vassal resends the call after the
// handshake and the idempotency key returns this outcome.
func (n *Node) ForwardDone(a ForwardAnswer) {
	n.input("ForwardDone")
	if n.link != linkUp {
		return
	}
	n.sendAnswer(a)
}

func (n *Node) sendAnswer(a ForwardAnswer) {
	w := wireAnswer{ID: a.ID, HLC: a.HLC, Result: a.Result, Err: a.Err, Refused: a.Refused,
		TooLarge: a.TooLarge, Size: a.Size, Limit: a.Limit}
	if !a.TxID.IsZero() {
		w.TxID = a.TxID.String()
	}
	b, err := journal.Marshal(w)
	if err != nil {
		panic(fmt.Sprintf("replicate: encode forward answer %d: %v", a.ID, err))
	}
	n.send(link.Frame{Kind: link.KindForwardAnswer, Record: b})
}

// stepForwardAnswer: the vassal holds the answer until it has applied its
// TxID.
func (n *Node) stepForwardAnswer(f *link.Frame) error {
	var w wireAnswer
	if err := journal.Unmarshal(f.Record, &w); err != nil {
		return fmt.Errorf("forward answer frame from %s: %w", f.From, err)
	}
	a := ForwardAnswer{ID: w.ID, HLC: w.HLC, Result: w.Result, Err: w.Err, Refused: w.Refused,
		TooLarge: w.TooLarge, Size: w.Size, Limit: w.Limit}
	if w.TxID != "" {
		id, err := journal.ParseTxID(w.TxID)
		if err != nil {
			return fmt.Errorf("forward answer frame from %s: %w", f.From, err)
		}
		if id.Origin != n.cfg.PeerID {
			return fmt.Errorf("forward answer frame from %s names %v, not a transaction of the peer", f.From, id)
		}
		a.TxID = id
	}
	fw := n.fwd.inflight[w.ID]
	if fw == nil || fw.answer != nil {
		n.note("dropped an answer to forwarded call %d: not in flight (answered or timed out)", w.ID)
		return nil
	}
	a.Key = fw.call.Key
	fw.answer = &a
	n.releaseForwards()
	return nil
}

// releaseForwards hands the driver every held answer whose TxID is applied
// here (or that committed nothing).
func (n *Node) releaseForwards() {
	var done []uint64
	for id, fw := range n.fwd.inflight {
		if a := fw.answer; a != nil && (a.TxID.IsZero() || a.TxID.OSeq <= n.watermark) && n.rollback == nil {
			done = append(done, id)
		}
	}
	n.answerForwards(done, false)
}

// answerForwards hands the driver the answers of ids, in id order; timeout
// marks them timed out.
func (n *Node) answerForwards(ids []uint64, timeout bool) {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		fw := n.fwd.inflight[id]
		delete(n.fwd.inflight, id)
		a := ForwardAnswer{ID: id}
		if fw.answer != nil {
			a = *fw.answer
		}
		a.Key = fw.call.Key
		if timeout {
			a.Timeout, a.Result, a.Err = true, nil, ""
		}
		n.rd.ForwardAnswers = append(n.rd.ForwardAnswers, a)
	}
}

// tickForwards times out forwarded calls older than ForwardTicks.
func (n *Node) tickForwards() {
	var late []uint64
	for id, fw := range n.fwd.inflight {
		if fw.ticks++; fw.ticks > n.cfg.ForwardTicks {
			late = append(late, id)
		}
	}
	if len(late) > 0 {
		n.note("%d forwarded calls timed out after %d ticks: their outcome is unknown to this vassal", len(late), n.cfg.ForwardTicks)
		n.answerForwards(late, true)
	}
}

// resendForwards resends, after a handshake, every forwarded call still
// waiting for its answer: the liege returns the first outcome of a call it
// already ran (its idempotency key).
func (n *Node) resendForwards() {
	if n.role != RoleVassal || n.peerRole != RoleLiege {
		return
	}
	ids := make([]uint64, 0, len(n.fwd.inflight))
	for id, fw := range n.fwd.inflight {
		if fw.answer == nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		n.sendForward(n.fwd.inflight[id].call)
	}
}

// abandonForwards times out every forwarded call: this instance stopped
// being a vassal (a promote or a switchover), so no liege answers them.
func (n *Node) abandonForwards() {
	if len(n.fwd.inflight) == 0 {
		return
	}
	ids := make([]uint64, 0, len(n.fwd.inflight))
	for id := range n.fwd.inflight {
		ids = append(ids, id)
	}
	n.note("%d forwarded calls abandoned by a role change: their outcome is unknown to this instance", len(ids))
	n.answerForwards(ids, true)
}

// Forwarding returns how many forwarded calls are in flight (vassal).
func (n *Node) Forwarding() int { return len(n.fwd.inflight) }
