package detect

import (
	"cmp"
	"math/bits"
	"slices"
	"sort"
)

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
//
// A hot key (one most own transactions touch: the ATM app's totals, which
// every transaction Adds to) would make one cluster of the whole window:
// every insert, lookup and delete of it a scan of the window. So a tag
// with hotMin entries goes to a list of its own (hotList), leaving one
// marker entry in the table (roles 0; the sequence field is the list's
// index in hot). A lookup that meets the marker asks the list for the
// entries of the checks the incoming key can fire, by binary search:
// O(log n + answers) whatever the number of own transactions touching it.
type touchTable struct {
	slots []uint64
	n     int // entries in slots, markers included

	hot    []hotList // by the index their marker holds
	free   []uint32  // indexes of hot not in use
	hotMin int       // tests: a tag goes to a list at this many entries (0: touchHotMin)
}

// hotList holds the entries of one tag that went hot, by the class of
// their roles (see class), each class in sequence order (relative to the
// window's base: Window adds the newest and removes the oldest or the
// newest).
type hotList struct {
	by [hotClasses][]uint64
}

// len returns the number of entries in h.
func (h *hotList) len() int {
	n := 0
	for _, s := range h.by {
		n += len(s)
	}
	return n
}

// The classes of roles in a hot list: each asks one run of indexes of a
// lookup, so that the lookup reads only the entries whose checks fire.
const (
	hotSet     = iota // roleSet, maybe roleRead
	hotAdd            // roleAdd alone
	hotAddRead        // roleAdd | roleRead
	hotRead           // roleRead alone
	hotClasses
)

// class returns the class of an entry of roles r in a hot list.
func class(r int) int {
	switch {
	case r&roleSet != 0:
		return hotSet
	case r == roleAdd:
		return hotAdd
	case r&roleAdd != 0:
		return hotAddRead
	}
	return hotRead
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
	touchHotMin  = 16 // entries of one tag that make it hot: two cache lines
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

// marker returns the marker entry of the hot list of index i for tag.
func marker(tag uint64, i uint32) uint64 { return tag<<40 | uint64(i)<<8 | 1 }

// isMarker reports whether e is a marker (roles 0).
func isMarker(e uint64) bool { return touchRoles(e) == 0 }

// insert adds entry e; base is the window's base sequence number (the
// order of the hot lists).
func (tt *touchTable) insert(e uint64, base uint32) {
	if float64(tt.n+1) > touchMaxLoad*float64(len(tt.slots)) {
		tt.resize(tt.n + 1)
	}
	// Walk the entries of e's home: a marker of its tag takes e; too many
	// of its tag go to a list with it.
	tag, same := touchTag(e), 0
	j, d := tt.home(tag), 0
	for x := tt.slots[j]; x != 0; x = tt.slots[j] {
		xd := tt.dist(j, x)
		if xd < d {
			break
		}
		if xd == d && touchTag(x) == tag {
			if isMarker(x) {
				tt.hot[touchSeq(x)].add(e)
				return
			}
			same++
		}
		j, d = tt.next(j), d+1
	}
	if same+1 >= tt.hotAt() {
		tt.promote(tag, e, base)
		return
	}
	tt.placeFrom(j, d, e)
	tt.n++
}

func (tt *touchTable) hotAt() int {
	if tt.hotMin > 0 {
		return tt.hotMin
	}
	return touchHotMin
}

// promote moves the entries of tag, and e, to a new hot list, and puts
// its marker in their place.
func (tt *touchTable) promote(tag, e uint64, base uint32) {
	moved := []uint64{e}
	for j, d := tt.home(tag), 0; tt.slots[j] != 0; j, d = tt.next(j), d+1 {
		x := tt.slots[j]
		xd := tt.dist(j, x)
		if xd < d {
			break
		}
		if xd == d && touchTag(x) == tag {
			moved = append(moved, x)
		}
	}
	for _, x := range moved[1:] {
		tt.del(x)
	}
	slices.SortFunc(moved, func(a, b uint64) int { return cmp.Compare(touchSeq(a)-base, touchSeq(b)-base) })
	var i uint32
	if k := len(tt.free); k > 0 {
		i, tt.free = tt.free[k-1], tt.free[:k-1]
	} else {
		i = uint32(len(tt.hot))
		tt.hot = append(tt.hot, hotList{})
	}
	for _, x := range moved {
		tt.hot[i].add(x)
	}
	tt.place(marker(tag, i)) // in a slot of the entries moved out
	tt.n++
}

// add appends entry e, the newest of its class.
func (h *hotList) add(e uint64) {
	c := class(touchRoles(e))
	h.by[c] = append(h.by[c], e)
}

// remove removes entry e, and reports whether it was in the list. The
// oldest or the newest of its class (what Window removes) goes at once,
// another by a scan.
func (h *hotList) remove(e uint64) bool {
	c := class(touchRoles(e))
	s := h.by[c]
	switch n := len(s); {
	case n == 0:
		return false
	case s[0] == e:
		s = s[1:]
	case s[n-1] == e:
		s = s[:n-1]
	default:
		i := slices.Index(s, e)
		if i < 0 {
			return false
		}
		s = slices.Delete(s, i, i+1)
	}
	if len(s) == 0 {
		s = nil // let the array go
	}
	h.by[c] = s
	return true
}

// within returns the entries of class c whose transactions' offsets from
// base are in [lo, hi): two binary searches.
func (h *hotList) within(c int, base uint32, lo, hi int) []uint64 {
	if hi <= lo {
		return nil
	}
	s := h.by[c]
	off := func(k int) int { return int(touchSeq(s[k]) - base) }
	i := sort.Search(len(s), func(k int) bool { return off(k) >= lo })
	j := i + sort.Search(len(s)-i, func(k int) bool { return off(i+k) >= hi })
	return s[i:j]
}

// place puts e in the table the Robin Hood way: it takes the slot of the
// first entry nearer its home than e would be, which moves on in turn. So
// the entries of a cluster stay in the order of their homes, and a lookup
// stops at the first entry whose home is past its own.
func (tt *touchTable) place(e uint64) {
	tt.placeFrom(tt.home(touchTag(e)), 0, e)
}

// placeFrom is place from slot j, d from e's home, the slots before it
// taken by entries whose homes are not past e's.
func (tt *touchTable) placeFrom(j, d int, e uint64) {
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

// remove removes entry e, from the table or its tag's hot list, and
// reports whether it was there.
func (tt *touchTable) remove(e uint64) bool {
	if tt.n == 0 {
		return false
	}
	tag := touchTag(e)
	i, d := tt.home(tag), 0
	for x := tt.slots[i]; x != e; x = tt.slots[i] {
		xd := 0
		if x != 0 {
			xd = tt.dist(i, x)
		}
		if x == 0 || xd < d {
			return false
		}
		if xd == d && touchTag(x) == tag && isMarker(x) {
			h := &tt.hot[touchSeq(x)]
			if !h.remove(e) {
				return false
			}
			if h.len() > 0 {
				return true
			}
			// The list is empty: its marker goes.
			*h = hotList{}
			tt.free = append(tt.free, touchSeq(x))
			e = x
			break
		}
		i, d = tt.next(i), d+1
	}
	tt.del(e)
	if tt.n == 0 {
		tt.slots = nil // an empty window holds nothing
		tt.hot, tt.free = nil, nil
		return true
	}
	if len(tt.slots) > touchMin && float64(tt.n) < touchMinLoad*float64(len(tt.slots)) {
		tt.resize(tt.n)
	}
	return true
}

// del deletes entry e, which is in the table, shifting the displaced
// entries after it back by one.
func (tt *touchTable) del(e uint64) {
	i := tt.home(touchTag(e))
	for tt.slots[i] != e {
		i = tt.next(i)
	}
	// Shift the displaced entries after it back by one.
	for j := tt.next(i); tt.slots[j] != 0 && tt.dist(j, tt.slots[j]) > 0; j = tt.next(j) {
		tt.slots[i] = tt.slots[j]
		i = j
	}
	tt.slots[i] = 0
	tt.n--
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
