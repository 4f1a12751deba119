package replicate

import "sort"

// Retention (DESIGN.md section 3): what the node tells the instance about
// the front of its journal.

// RetainFloor returns the journal position of the first own transaction the
// peer may still need: one it has not applied (to resend), or one still in
// this node's window (a peer transaction yet to come may be checked
// against it). ok is false when the node holds no such transaction. Before
// a handshake and after a reign change the node knows neither, and every
// own transaction it holds is kept.
func (n *Node) RetainFloor() (pos uint64, ok bool) {
	upTo := min(n.peerWM, n.floor)
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].oseq() > upTo })
	if i == len(n.own) {
		return 0, false
	}
	return n.own[i].pos, true
}

// OwnBefore returns the OSeq of the last own transaction at a journal
// position before pos (the Prev of the first one from pos on), or the
// node's base when it holds none before pos.
func (n *Node) OwnBefore(pos uint64) uint64 {
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].pos >= pos })
	if i == 0 {
		return n.basePrev
	}
	return n.own[i-1].oseq()
}
