package detect

import "math/bits"

// keyTable maps 64-bit key hashes to the lists of a key (see Window): an
// open-addressing hash table with linear probing, the hashes apart from the
// lists so that a probe scans adjacent words, and the lists inline (no
// pointer to chase from the slot). Deletion shifts the following slots back
// (no tombstones: the window deletes as much as it inserts).
//
// Keys whose hashes collide share lists. That is harmless: the lists then
// hold own transactions that touch either key, a superset, and
// Window.Check confirms every candidate with Conflict.
type keyTable struct {
	hashes []uint64 // 0: empty slot; a key's hash is never 0
	lists  []keyLists
	n      int
	shift  uint // 64 - log2(len(hashes)): a hash's home slot is hash >> shift
}

// keyLists lists the own transactions in the window touching one key (or a
// few keys with the same hash), each list in OSeq order.
type keyLists [3][]ref

// The lists of a key.
const (
	listSet  = iota // transactions that Set or Delete the key (and maybe Add to it)
	listAdd         // transactions whose only writes to the key are Adds
	listRead        // transactions that point-read the key
)

// ref is an entry in a key list, with its OSeq inline for the binary search.
type ref struct {
	oseq uint64
	e    *entry
}

const keyTableMin = 64

func (kt *keyTable) init(size int) {
	kt.hashes = make([]uint64, size)
	kt.lists = make([]keyLists, size)
	kt.shift = uint(64 - bits.TrailingZeros(uint(size)))
	kt.n = 0
}

// find returns the lists of hash h, or nil.
func (kt *keyTable) find(h uint64) *keyLists {
	if kt.n == 0 {
		return nil
	}
	mask := uint64(len(kt.hashes) - 1)
	for i := h >> kt.shift; ; i = (i + 1) & mask {
		switch kt.hashes[i] {
		case h:
			return &kt.lists[i]
		case 0:
			return nil
		}
	}
}

// insert returns the lists of hash h, adding empty ones if there are none.
// The pointer is good until the next insert or remove.
func (kt *keyTable) insert(h uint64) *keyLists {
	if (kt.n+1)*2 > len(kt.hashes) {
		kt.resize(max(keyTableMin, 2*len(kt.hashes)))
	}
	mask := uint64(len(kt.hashes) - 1)
	for i := h >> kt.shift; ; i = (i + 1) & mask {
		switch kt.hashes[i] {
		case h:
			return &kt.lists[i]
		case 0:
			kt.hashes[i] = h
			kt.n++
			return &kt.lists[i]
		}
	}
}

// remove removes hash h, which must be in the table, with its lists.
func (kt *keyTable) remove(h uint64) {
	mask := uint64(len(kt.hashes) - 1)
	i := h >> kt.shift
	for kt.hashes[i] != h {
		i = (i + 1) & mask
	}
	// Shift back every following slot of the cluster that may move into
	// the hole: one whose home is not cyclically in (i, j].
	for j := (i + 1) & mask; kt.hashes[j] != 0; j = (j + 1) & mask {
		home := kt.hashes[j] >> kt.shift
		if (j-home)&mask >= (j-i)&mask {
			kt.hashes[i], kt.lists[i] = kt.hashes[j], kt.lists[j]
			i = j
		}
	}
	kt.hashes[i], kt.lists[i] = 0, keyLists{}
	kt.n--
	if len(kt.hashes) > keyTableMin && kt.n*8 < len(kt.hashes) {
		kt.resize(len(kt.hashes) / 2)
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
		kt.hashes[i], kt.lists[i] = h, old.lists[j]
	}
	kt.n = old.n
}

// touch reads the slots of hashes hs, so that their cache misses overlap.
func (kt *keyTable) touch(hs []uint64) (x uint64) {
	if kt.n == 0 {
		return 0
	}
	for _, h := range hs {
		i := h >> kt.shift
		x += kt.hashes[i] + uint64(len(kt.lists[i][listSet]))
	}
	return x
}
