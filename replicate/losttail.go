package replicate

import "sort"

// This file is the node's part of DESIGN.md section 3, "never reuse a
// shipped OSeq": what the peer's watermark of our OSeqs, heard at the
// handshake, says about own transactions this journal lost.

// checkLostOwn takes the peer's watermark w of our OSeqs from its hello.
//
//   - w above our newest own OSeq: the peer holds own transactions this
//     journal lacks. The driver is told (Ready.TakeBack) to take them back
//     or at least never to assign those OSeqs again, and the next own
//     transaction is shipped with Prev w.
//   - w below our newest own OSeq but not the OSeq of an own transaction
//     still in the journal (nor at or below the journal's compacted front):
//     the lost transactions were skipped before (a TakeBack, then a
//     restart), and own transactions were committed after them. The peer
//     applied w, so the first own transaction after w is shipped with Prev
//     w, not with the OSeq of the own transaction before it in the
//     journal. A rollback never leaves such a watermark: it rolls back only
//     own transactions the peer has not applied. (Retention may: w is then
//     the newest own OSeq truncated, and Prev w is right for the first own
//     transaction left, since retention keeps every one the peer has not
//     applied.)
func (n *Node) checkLostOwn(w uint64) {
	if last := n.lastDurable(); w > last {
		n.rd.TakeBack = &TakeBack{After: last, UpTo: w}
		n.prevFloor = w
		n.note("the peer holds own OSeqs %d..%d that this journal lacks: never reuse them", last+1, w)
		return
	}
	if w > n.basePrev && !n.holdsOwn(w) && w > n.prevFloor {
		n.prevFloor = w
		n.note("the peer applied own OSeq %d, which this journal no longer holds: the next own transaction after it is shipped with Prev %d", w, w)
	}
}

// holdsOwn reports whether own transaction OSeq o is in the node's list.
func (n *Node) holdsOwn(o uint64) bool {
	i := sort.Search(len(n.own), func(i int) bool { return n.own[i].oseq() >= o })
	return i < len(n.own) && n.own[i].oseq() == o
}
