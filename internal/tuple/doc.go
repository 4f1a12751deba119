// Package tuple encodes tuple keys of strings and integers as byte strings
// whose bytewise order is the tuple order, in the style of the FoundationDB
// tuple layer.
//
// Tuples compare element by element. Within a position every integer sorts
// before every string; integers compare numerically and strings bytewise. A
// tuple that is a proper prefix of another sorts first.
//
// Because the encoding of a tuple is the concatenation of the encodings of
// its elements and no element encoding is a proper prefix of another, the
// encoding of a tuple prefix p is a byte prefix of the encoding of every
// tuple that extends p, and of no other tuple. So the half-open key range
// [Pack(p...), PrefixEnd(Pack(p...))) holds exactly the subtree of tuples
// extending p, which is what range scans over a key space need.
//
// # Encoding
//
// Integers (int64) use FoundationDB's type codes:
//
//	0x14                 zero
//	0x15..0x1C  b1..bn   positive, n = 1..8 big-endian magnitude bytes
//	0x13..0x0C  b1..bn   negative, n = 1..8 bytes of the one's complement
//	                     of the big-endian magnitude
//
// where n is always the minimal number of bytes that holds the magnitude.
// Shorter magnitudes of positive numbers get smaller codes and shorter
// magnitudes of negative numbers get larger codes, so the type code alone
// orders integers of different magnitude lengths; the complement makes
// larger negative magnitudes sort first within a length.
//
// Strings are the byte 0x1E, the string's bytes with every 0x00 written as
// 0x00 0xFF, and the terminator 0x00 0x01. The terminator sorts below any
// content byte, so a string sorts before its extensions. Strings are
// arbitrary byte sequences; they need not be valid UTF-8.
//
// Two deliberate departures from FoundationDB: its string code 0x02 would
// put strings before integers, so strings use 0x1E, above the whole integer
// range including FoundationDB's reserved arbitrary-precision code 0x1D; and
// its one-byte 0x00 terminator is itself a prefix of the 0x00 0xFF escape,
// so there ("") packs to a byte prefix of ("\x00") and a byte-prefix range
// scan of ("") would wrongly include ("\x00"). With the two-byte terminator
// (as in CockroachDB's key encoding) no element's encoding is a byte prefix
// of another's, which is what makes byte prefixes coincide with tuple
// prefixes.
//
// The encoding is canonical: every tuple has exactly one encoding, and
// Unpack rejects any byte string that is not the encoding of some tuple
// (non-minimal integer lengths, integers outside int64, unknown type codes,
// bad escapes, unterminated strings, truncated or trailing bytes), reporting
// the byte offset in a *DecodeError. So Pack(Unpack(k)) == k for every key k
// that Unpack accepts.
package tuple
