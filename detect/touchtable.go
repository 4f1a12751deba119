package detect

import "math/bits"

// touchTable holds one entry per (own transaction, distinct key it
// touches): an open-addressing hash table with linear probing in which a
// key's entries (one per own transaction) share the key's home slot, so a
// lookup scans one cluster of adjacent words and sees every own
// transaction touching the key.
//
// The table is kept the Robin Hood way (see place), so a lookup reads the
// entries from its home slot on only while their homes are not past its
// own: about one cache line at a load of 0.8, where plain linear probing
// read ~18 slots per key (measured on the default workload of detectbench).
//
// An entry is one uint64 (0: empty slot):
//
//	bits 40-63  tag: the top 24 bits of the key's hash
//	bits  8-39  the low 32 bits of the transaction's sequence number
//	bits  5-7   roles: roleRead | roleAdd | roleSet (never 0)
//	bits  0-4   the key's index in the transaction (see touchIdx), or
//	            idxUnknown
//
// The home slot of an entry is a function of its tag and the table size
// alone (tag * size >> 24), so the table resizes and deletes (shifting the
// following displaced entries back: no tombstones) without the keys. A tag
// is only a filter: an entry names its transaction and the key's index in
// it, and Window.Check confirms a candidate against the key's bytes.
//
// Why this shape: a window of 100,000 own transactions touches ~900,000
// (transaction, key) pairs. An entry of 8 bytes at a load of 0.6 to 0.8 is
// ~10 bytes per pair, and the lookup of a key is one cache miss (two
// adjacent lines at worst), where a table of key records with lists of
// transactions was two to three dependent misses and ~50 bytes per pair.
type touchTable struct {
	slots []uint64
	n     int
}

// Roles of a transaction for a key.
const (
	roleRead = 1 << iota // point-reads it
	roleAdd              // writes it, only by Add
	roleSet              // writes it by a Set or Delete (and maybe Add)
)

// idxUnknown is the key index of an entry whose key is at index 31 or
// later in its transaction: Check then finds the key by its bytes.
const idxUnknown = 31

const (
	touchMin     = 64
	touchMaxLoad = 0.8 // grow above it
	touchMinLoad = 0.3 // shrink below it
	touchResize  = 0.6 // the load after a resize
)

func touchEntry(h uint64, seq uint32, roles, idx int) uint64 {
	return h>>40<<40 | uint64(seq)<<8 | uint64(roles)<<5 | uint64(min(idx, idxUnknown))
}

func touchTag(e uint64) uint64 { return e >> 40 }
func touchSeq(e uint64) uint32 { return uint32(e >> 8) }
func touchRoles(e uint64) int  { return int(e>>5) & 7 }
func touchIdx(e uint64) uint32 { return uint32(e) & 31 }

// home returns the home slot of tag.
func (tt *touchTable) home(tag uint64) int {
	hi, _ := bits.Mul64(tag<<40, uint64(len(tt.slots)))
	return int(hi)
}

// next returns the slot after i, cyclically.
func (tt *touchTable) next(i int) int {
	if i++; i == len(tt.slots) {
		return 0
	}
	return i
}

// dist returns how far slot j is from the home of its entry e.
func (tt *touchTable) dist(j int, e uint64) int {
	d := j - tt.home(touchTag(e))
	if d < 0 {
		d += len(tt.slots)
	}
	return d
}

// insert adds entry e.
func (tt *touchTable) insert(e uint64) {
	if float64(tt.n+1) > touchMaxLoad*float64(len(tt.slots)) {
		tt.resize(tt.n + 1)
	}
	tt.place(e)
	tt.n++
}

// place puts e in the table the Robin Hood way: it takes the slot of the
// first entry nearer its home than e would be, which moves on in turn. So
// the entries of a cluster stay in the order of their homes, and a lookup
// stops at the first entry whose home is past its own.
func (tt *touchTable) place(e uint64) {
	j, d := tt.home(touchTag(e)), 0
	for {
		x := tt.slots[j]
		if x == 0 {
			tt.slots[j] = e
			return
		}
		if xd := tt.dist(j, x); xd < d {
			tt.slots[j], e, d = e, x, xd
		}
		j, d = tt.next(j), d+1
	}
}

// remove removes entry e, and reports whether it was in the table.
func (tt *touchTable) remove(e uint64) bool {
	if tt.n == 0 {
		return false
	}
	i, d := tt.home(touchTag(e)), 0
	for tt.slots[i] != e {
		if x := tt.slots[i]; x == 0 || tt.dist(i, x) < d {
			return false
		}
		i, d = tt.next(i), d+1
	}
	// Shift the displaced entries after it back by one.
	for j := tt.next(i); tt.slots[j] != 0 && tt.dist(j, tt.slots[j]) > 0; j = tt.next(j) {
		tt.slots[i] = tt.slots[j]
		i = j
	}
	tt.slots[i] = 0
	tt.n--
	if tt.n == 0 {
		tt.slots = nil // an empty window holds nothing
		return true
	}
	if len(tt.slots) > touchMin && float64(tt.n) < touchMinLoad*float64(len(tt.slots)) {
		tt.resize(tt.n)
	}
	return true
}

// resize rebuilds the table for n entries at load touchResize.
func (tt *touchTable) resize(n int) {
	old := tt.slots
	tt.slots = make([]uint64, max(touchMin, int(float64(n)/touchResize)))
	for _, e := range old {
		if e != 0 {
			tt.place(e)
		}
	}
}
