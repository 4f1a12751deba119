// Package hlc implements a hybrid logical clock (Kulkarni, Demirbas et al.,
// "Logical Physical Clocks", 2014): timestamps that track physical time
// closely yet respect causality, so that anything that happens after a node
// has seen timestamp t gets a timestamp greater than t, whatever the nodes'
// physical clocks say.
//
// A Timestamp is a uint64 holding physical milliseconds since the Unix epoch
// in its high 48 bits and a logical counter in its low 16 bits, so plain
// integer comparison orders timestamps. A Clock issues a timestamp for a
// local event as max(now, last+1), where now is the physical clock reading
// with a zero logical part, and on receiving a peer's timestamp c it sets
// last = max(last, c). The logical counter therefore only grows while the
// physical clock stands still (or lags a peer's) and resets when it moves on.
//
// A peer whose clock is far ahead would drag every clock it talks to ahead
// with it, so Observe refuses timestamps more than the clock's maximum offset
// ahead of local physical time, returning an *OffsetError; CheckOffset makes
// the same check for a handshake.
package hlc
