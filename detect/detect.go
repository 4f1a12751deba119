package detect

import (
	"bytes"
	"strconv"

	"github.com/liege-db/liege/journal"
)

// Check names the check of the conflict predicate (DESIGN.md section 6) that
// fired for a pair. The zero Check is no check.
type Check uint8

const (
	// CheckUpdate: both transactions write a key, and not both by Add.
	CheckUpdate Check = iota + 1
	// CheckUse: the own transaction is clock-before the incoming one and
	// wrote a key the incoming one read (the incoming one is invalid in the
	// path).
	CheckUse
	// CheckMirrorUse: the incoming transaction is clock-before the own one
	// and wrote a key the own one read (the own one is invalid in the path).
	CheckMirrorUse
)

func (c Check) String() string {
	switch c {
	case CheckUpdate:
		return "update"
	case CheckUse:
		return "use"
	case CheckMirrorUse:
		return "mirror_use"
	}
	return "check(" + strconv.Itoa(int(c)) + ")"
}

// Txn is what the predicate needs of a transaction.
type Txn struct {
	ID  journal.TxID
	HLC uint64
	// PeerSeen is the highest OSeq of the other instance's transactions the
	// origin had applied when it committed this one.
	PeerSeen uint64
	// Pos is the transaction's position in this instance's journal.
	Pos uint64
	// Reads are the point reads, absent keys included.
	Reads  [][]byte
	Ranges []journal.RangeRead
	Writes []Write
}

// Write is one key a transaction wrote; Add is true for a commutative Add,
// false for Set and Delete.
type Write struct {
	Key []byte
	Add bool
}

// FromRecord returns the Txn of a transaction record. It copies every key,
// so r may be reused afterwards.
func FromRecord(r *journal.Record) *Txn {
	n := 0
	for i := range r.Reads {
		n += len(r.Reads[i].Key)
	}
	for i := range r.Ranges {
		n += len(r.Ranges[i].Lo) + len(r.Ranges[i].Hi)
	}
	for i := range r.Writes {
		n += len(r.Writes[i].Key)
	}
	buf := make([]byte, 0, n) // one allocation for all the keys
	clone := func(b []byte) []byte {
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	t := &Txn{
		ID:       r.TxID(),
		HLC:      r.HLC,
		PeerSeen: r.PeerSeen,
		Pos:      r.Pos,
		Reads:    make([][]byte, len(r.Reads)),
		Ranges:   make([]journal.RangeRead, len(r.Ranges)),
		Writes:   make([]Write, len(r.Writes)),
	}
	for i := range r.Reads {
		t.Reads[i] = clone(r.Reads[i].Key)
	}
	for i, rg := range r.Ranges {
		t.Ranges[i] = journal.RangeRead{
			Lo: clone(rg.Lo), Hi: clone(rg.Hi),
			LoInclusive: rg.LoInclusive, HiInclusive: rg.HiInclusive,
		}
	}
	for i, w := range r.Writes {
		t.Writes[i] = Write{Key: clone(w.Key), Add: w.Op == journal.OpAdd}
	}
	return t
}

// Before reports whether t is clock-before u: (HLC, origin) less, the path
// order of DESIGN.md section 4.
func (t *Txn) Before(u *Txn) bool {
	return journal.Version{HLC: t.HLC, Origin: t.ID.Origin}.Less(journal.Version{HLC: u.HLC, Origin: u.ID.Origin})
}

// Conflict evaluates the predicate of DESIGN.md section 6 for own
// transaction o and incoming peer transaction t. It returns the first check
// that fires, in the order of the doc, and the smallest key that witnesses
// it (the smallest, so that both instances name the same key). The key is
// one of o's or t's, not a copy.
//
// Reads are point reads (absent keys included) and ranges; Add counts as a
// write. A key written twice by one transaction, once by Add and once by
// Set, conflicts through the Set: only a pair of Adds is exempt.
func Conflict(o, t *Txn) (check Check, key []byte, ok bool) {
	// 1. update: writes(o) ∩ writes(t) ≠ ∅, except Add/Add on the same key.
	for _, wo := range o.Writes {
		for _, wt := range t.Writes {
			if bytes.Equal(wo.Key, wt.Key) && !(wo.Add && wt.Add) {
				key, ok = smaller(key, ok, wo.Key)
			}
		}
	}
	if ok {
		return CheckUpdate, key, true
	}
	// 2. use: o clock-before t and writes(o) ∩ reads(t) ≠ ∅.
	if o.Before(t) {
		if key, ok = writtenAndRead(o, t); ok {
			return CheckUse, key, true
		}
	}
	// 3. mirror use: t clock-before o and writes(t) ∩ reads(o) ≠ ∅.
	if t.Before(o) {
		if key, ok = writtenAndRead(t, o); ok {
			return CheckMirrorUse, key, true
		}
	}
	return 0, nil, false
}

// writtenAndRead returns the smallest key w writes (by any op) that r reads,
// by a point read or inside a range.
func writtenAndRead(w, r *Txn) (key []byte, ok bool) {
	for _, wr := range w.Writes {
		for _, k := range r.Reads {
			if bytes.Equal(wr.Key, k) {
				key, ok = smaller(key, ok, wr.Key)
			}
		}
		for i := range r.Ranges {
			if contains(&r.Ranges[i], wr.Key) {
				key, ok = smaller(key, ok, wr.Key)
			}
		}
	}
	return key, ok
}

// smaller returns the smaller of the witness found so far (if any) and k.
func smaller(key []byte, found bool, k []byte) ([]byte, bool) {
	if !found || bytes.Compare(k, key) < 0 {
		return k, true
	}
	return key, true
}

// contains is journal.RangeRead.Contains without its allocations: k is in
// the range; an empty Lo or Hi is unbounded.
func contains(r *journal.RangeRead, k []byte) bool {
	if len(r.Lo) > 0 {
		c := bytes.Compare(k, r.Lo)
		if c < 0 || c == 0 && !r.LoInclusive {
			return false
		}
	}
	if len(r.Hi) > 0 {
		c := bytes.Compare(k, r.Hi)
		if c > 0 || c == 0 && !r.HiInclusive {
			return false
		}
	}
	return true
}
