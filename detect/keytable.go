package detect

import "math/bits"

// keyTable maps 64-bit key hashes to key records (see Window): an
// open-addressing hash table with linear probing, the hashes apart from the
// rest so that a probe scans adjacent words. A slot names its record by
// index; records live in pages of a fixed size (no slack of a doubling
// array) and are reused through free, so that the table's empty slots cost
// 12 bytes, not a record. Deletion shifts the following slots back (no
// tombstones: the window deletes as much as it inserts).
type keyTable struct {
	hashes []uint64 // 0: empty slot; a key's hash is never 0
	idx    []uint32 // by slot: the index of the hash's record
	n      int
	shift  uint // 64 - log2(len(hashes)): a hash's home slot is hash >> shift
	pages  [][]keyRec
	nrecs  int      // records in pages, used or free
	free   []uint32 // indexes of unused records
	// The lists of more than one element, by index (keyRec.one); unused
	// ones are nil, their indexes in freeLists.
	lists     [][]uint32
	freeLists []uint32
}

// recPageBits is the log2 of the records in a page.
const recPageBits = 12

// rec returns record i.
func (kt *keyTable) rec(i int) *keyRec {
	return &kt.pages[i>>recPageBits][i&(1<<recPageBits-1)]
}

// keyRec lists the own transactions in the window touching one key, by
// sequence number (see Window), each list in increasing order.
//
// Keys whose hashes collide share a record. The record keeps its key's
// order key, exact for keys of up to 15 bytes; for longer ones the window
// asks a transaction of the record whether it touches a key of the same
// hash (see Window.is). A lookup compares them (an incoming key may
// collide with the record's), and an insert of another key marks the
// record mixed: the window then confirms every element of a mixed record
// against its transaction's keys. Collisions of 64-bit seeded hashes are
// rare; the tests force them. A record is 32 bytes: two to a cache line.
type keyRec struct {
	ok okey // the order key of the record's key
	// The lists, by list kind (listSet ...): the low 32 bits of sequence
	// numbers in increasing order. Most keys have one transaction per list,
	// so a list of one is inline (one[i], state[i] == 1: no allocation, no
	// cache miss for it); a longer one is keyTable.lists[one[i]]
	// (state[i] == 2).
	one   [3]uint32
	state [3]uint8
	mixed bool
}

// The lists of a key.
const (
	listSet  = iota // transactions that Set or Delete the key (and maybe Add to it)
	listAdd         // transactions whose only writes to the key are Adds
	listRead        // transactions that point-read the key
)

func (r *keyRec) empty() bool { return r.state == [3]uint8{} }

// list returns list i of r, valid until r changes.
func (kt *keyTable) list(r *keyRec, i int) []uint32 {
	switch r.state[i] {
	case 1:
		return r.one[i : i+1]
	case 2:
		return kt.lists[r.one[i]]
	}
	return nil
}

// push appends s to list i of r.
func (kt *keyTable) push(r *keyRec, i int, s uint32) {
	switch r.state[i] {
	case 0:
		r.one[i], r.state[i] = s, 1
	case 1:
		l := []uint32{r.one[i], s}
		if n := len(kt.freeLists); n > 0 {
			r.one[i], kt.freeLists = kt.freeLists[n-1], kt.freeLists[:n-1]
			kt.lists[r.one[i]] = l
		} else {
			r.one[i] = uint32(len(kt.lists))
			kt.lists = append(kt.lists, l)
		}
		r.state[i] = 2
	default:
		kt.lists[r.one[i]] = append(kt.lists[r.one[i]], s)
	}
}

// pop removes s from the front (or the back) of list i of r, and reports
// whether it was there.
func (kt *keyTable) pop(r *keyRec, i int, s uint32, front bool) bool {
	switch r.state[i] {
	case 1:
		if r.one[i] != s {
			return false
		}
		r.state[i] = 0
		return true
	case 2:
		li := r.one[i]
		l := kt.lists[li]
		switch {
		case front && l[0] == s:
			l = l[1:]
		case !front && l[len(l)-1] == s:
			l = l[:len(l)-1]
		default:
			return false
		}
		if len(l) > 1 {
			kt.lists[li] = l
			return true
		}
		kt.lists[li] = nil
		kt.freeLists = append(kt.freeLists, li)
		r.one[i], r.state[i] = l[0], 1
		return true
	}
	return false
}

const keyTableMin = 64

func (kt *keyTable) init(size int) {
	kt.hashes = make([]uint64, size)
	kt.idx = make([]uint32, size)
	kt.shift = uint(64 - bits.TrailingZeros(uint(size)))
	kt.n = 0
}

// find returns the index of the record of hash h, or -1.
func (kt *keyTable) find(h uint64) int {
	if kt.n == 0 {
		return -1
	}
	mask := uint64(len(kt.hashes) - 1)
	for i := h >> kt.shift; ; i = (i + 1) & mask {
		switch kt.hashes[i] {
		case h:
			return int(kt.idx[i])
		case 0:
			return -1
		}
	}
}

// insert returns the index of the record of hash h, adding an empty one if
// there is none (created). Record indexes are stable until remove.
func (kt *keyTable) insert(h uint64) (rec int, created bool) {
	if (kt.n+1)*4 > len(kt.hashes)*3 {
		kt.resize(max(keyTableMin, 2*len(kt.hashes)))
	}
	mask := uint64(len(kt.hashes) - 1)
	for i := h >> kt.shift; ; i = (i + 1) & mask {
		switch kt.hashes[i] {
		case h:
			return int(kt.idx[i]), false
		case 0:
			var r uint32
			if n := len(kt.free); n > 0 {
				r, kt.free = kt.free[n-1], kt.free[:n-1]
			} else {
				if kt.nrecs>>recPageBits == len(kt.pages) {
					kt.pages = append(kt.pages, make([]keyRec, 1<<recPageBits))
				}
				r = uint32(kt.nrecs)
				kt.nrecs++
			}
			kt.hashes[i], kt.idx[i] = h, r
			kt.n++
			return int(r), true
		}
	}
}

// remove removes hash h, which must be in the table, and frees its record.
func (kt *keyTable) remove(h uint64) {
	mask := uint64(len(kt.hashes) - 1)
	i := h >> kt.shift
	for kt.hashes[i] != h {
		i = (i + 1) & mask
	}
	*kt.rec(int(kt.idx[i])) = keyRec{}
	kt.free = append(kt.free, kt.idx[i])
	// Shift back every following slot of the cluster that may move into
	// the hole: one whose home is not cyclically in (i, j].
	for j := (i + 1) & mask; kt.hashes[j] != 0; j = (j + 1) & mask {
		home := kt.hashes[j] >> kt.shift
		if (j-home)&mask >= (j-i)&mask {
			kt.hashes[i], kt.idx[i] = kt.hashes[j], kt.idx[j]
			i = j
		}
	}
	kt.hashes[i], kt.idx[i] = 0, 0
	kt.n--
	if len(kt.hashes) > keyTableMin && kt.n*8 < len(kt.hashes) {
		kt.resize(len(kt.hashes) / 2)
	}
	if kt.n == 0 { // let the records go
		kt.pages, kt.nrecs, kt.free = nil, 0, kt.free[:0]
		kt.lists, kt.freeLists = nil, nil
	}
}

func (kt *keyTable) resize(size int) {
	old := *kt
	kt.init(size)
	mask := uint64(size - 1)
	for j, h := range old.hashes {
		if h == 0 {
			continue
		}
		i := h >> kt.shift
		for kt.hashes[i] != 0 {
			i = (i + 1) & mask
		}
		kt.hashes[i], kt.idx[i] = h, old.idx[j]
	}
	kt.n = old.n
}

// touch reads the home slots of the hashes of ks, so that their cache
// misses overlap rather than come one by one in find.
func (kt *keyTable) touch(ks []tkey) (x uint64) {
	if kt.n == 0 {
		return 0
	}
	for i := range ks {
		j := ks[i].h >> kt.shift
		x += kt.hashes[j] + uint64(kt.idx[j])
	}
	return x
}
