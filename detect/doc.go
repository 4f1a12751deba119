// Package detect decides whether an incoming peer transaction conflicts with
// this instance's own transactions (DESIGN.md sections 5 and 6).
//
// It is pure: no I/O, no clock, no goroutines. The replicate driver feeds it
// values and acts on the answers.
//
//   - Conflict is the predicate of section 6 for one pair (own o, incoming
//     t), in plain code meant to be checked against the doc line by line.
//     It is symmetric across the two instances: Conflict(o, t) here equals
//     Conflict(t, o) at the peer, with use and mirror use swapped, and the
//     same witness key (the smallest key that witnesses the check).
//   - Window is the index of own transactions the peer has not yet seen
//     (section 5). Window.Check returns exactly what a scan of the window
//     calling Conflict on every own transaction with OSeq > t.PeerSeen
//     would return (the same transactions, checks and key bytes; the key
//     slice may be t's where Conflict's is o's), at a cost that does not
//     grow with the window for point keys and grows logarithmically for
//     ranges, plus the own writes inside a range of t (see window.go).
//
// Caveats:
//
//   - Window relies on what section 4 guarantees for own transactions: they
//     are added in increasing OSeq, position and clock order together (one
//     executor assigns the HLC and then the OSeq). Window.Add panics,
//     naming the values, when that is broken.
//   - Window.Check only reports own transactions still in the window, so
//     Prune must only be given a watermark that no later incoming
//     transaction's PeerSeen can fall below: the PeerSeen of the last peer
//     transaction applied is safe; a heartbeat watermark is safe only if
//     every peer transaction committed before it has been received. A
//     vassal's watermark of liege OSeqs goes down in a rollback, so a liege
//     must not prune past the PeerSeen of vassal transactions it may still
//     receive.
//   - A Window is not safe for concurrent use, not even for concurrent
//     Check calls (Check keeps scratch state in the window, and the hits
//     it returns are the window's until the next Check).
package detect
