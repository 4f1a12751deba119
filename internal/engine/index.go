package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/liege-db/liege/journal"
)

// txnIndex finds the journal position of a transaction by TxID. OSeqs of an
// origin are increasing in journal order, so each origin's entries form a
// sorted list (16 bytes per transaction); reprocess and correction records
// are also found by their subject. Owned by the executor.
type txnIndex struct {
	byOrigin map[string][]posEntry
	// gone holds, per origin, the OSeqs of the entries dropBefore dropped,
	// as runs of consecutive ones: they are still held (find knew them),
	// at positions the journal no longer has.
	gone     map[string][]oseqRun
	subjects map[journal.TxID]uint64 // subject -> position of its reprocess/correction
	status   *txnStatus              // the durable index (txnstatus.go), told of every record added
}

type posEntry struct{ oseq, pos uint64 }

type oseqRun struct{ lo, hi uint64 }

func newTxnIndex() *txnIndex {
	return &txnIndex{byOrigin: map[string][]posEntry{}, subjects: map[journal.TxID]uint64{}}
}

func (x *txnIndex) add(r *journal.Record) {
	if !r.Kind.IsTxn() {
		return
	}
	if x.status != nil {
		x.status.add(r)
	}
	x.byOrigin[r.Origin] = append(x.byOrigin[r.Origin], posEntry{oseq: r.OSeq, pos: r.Pos})
	if !r.Subject.IsZero() {
		x.subjects[r.Subject] = r.Pos
	}
}

// reserve makes room for n more entries of each of origins, so that
// replay appends them without growing: a slice past 256 entries grows by
// a quarter, so the appends of a replay copied each entry about four
// times, to new memory each time (about 0.1 s at a million records).
// Room no record took is given back by trim.
func (x *txnIndex) reserve(n uint64, origins ...string) {
	for _, o := range origins {
		es := x.byOrigin[o]
		x.byOrigin[o] = slices.Grow(es, int(n))
	}
}

// trim gives back room that reserve left unused, where it is more than
// an eighth of what is used.
func (x *txnIndex) trim() {
	for o, es := range x.byOrigin {
		if cap(es)-len(es) > len(es)/8 {
			x.byOrigin[o] = slices.Clone(es)
		}
	}
}

// dropBefore forgets the positions of the transactions before position
// pos, which retention truncated from the journal: the index grew by 16
// bytes a transaction for as long as the process ran, and handed out
// positions the journal no longer held (GET /v1/txn failed to read them
// where the durable TxID index answers). That they are held stays known,
// as runs of OSeqs (a few: one more per gap a rollback left), so what the
// instance skips as held does not change. Subjects stay: one entry per
// reconciled transaction.
func (x *txnIndex) dropBefore(pos uint64) {
	for o, es := range x.byOrigin {
		i := sort.Search(len(es), func(i int) bool { return es[i].pos >= pos })
		if i == 0 {
			continue
		}
		if x.gone == nil {
			x.gone = map[string][]oseqRun{}
		}
		runs := x.gone[o]
		for _, e := range es[:i] {
			if n := len(runs); n > 0 && runs[n-1].hi+1 == e.oseq {
				runs[n-1].hi = e.oseq
			} else {
				runs = append(runs, oseqRun{e.oseq, e.oseq})
			}
		}
		x.gone[o] = runs
		if i > len(es)/2 {
			// Most of it goes: a copy of the rest lets the array go.
			x.byOrigin[o] = slices.Clone(es[i:])
		} else {
			x.byOrigin[o] = es[i:]
		}
	}
}

// dropped reports whether dropBefore dropped id.
func (x *txnIndex) dropped(id journal.TxID) bool {
	runs := x.gone[id.Origin]
	i := sort.Search(len(runs), func(i int) bool { return runs[i].hi >= id.OSeq })
	return i < len(runs) && runs[i].lo <= id.OSeq
}

// find returns the position of id's own record, or 0.
func (x *txnIndex) find(id journal.TxID) uint64 {
	es := x.byOrigin[id.Origin]
	i := sort.Search(len(es), func(i int) bool { return es[i].oseq >= id.OSeq })
	if i < len(es) && es[i].oseq == id.OSeq {
		return es[i].pos
	}
	return 0
}

// truncate forgets every entry at position pos or later (after a rollback).
func (x *txnIndex) truncate(pos uint64) {
	for o, es := range x.byOrigin {
		i := sort.Search(len(es), func(i int) bool { return es[i].pos >= pos })
		x.byOrigin[o] = es[:i]
	}
	for s, p := range x.subjects {
		if p >= pos {
			delete(x.subjects, s)
		}
	}
}

// idemCache remembers the outcome of the most recent calls that carried an
// idempotency key, so that a retry returns the first outcome. It holds at
// most cap keys, forgetting the oldest; keys put since the last flush are
// pending for the file (idemfile.go). Owned by the executor.
type idemCache struct {
	m       map[string]idemOutcome
	ring    []string
	next    int
	pending []idemPending
}

type idemOutcome struct {
	txid journal.TxID
	pos  uint64
	hlc  uint64
	raw  []byte // the result
	// sum is the call's fingerprint (procedure and argument bytes): a key
	// used again with another one is refused (see idemCache.sum).
	sum uint64
	// durable: the record at pos was durable when the key was written to
	// the file (a later rollback may have reused pos).
	durable bool
	slot    int // index in ring
}

func newIdemCache(capacity int) *idemCache {
	return &idemCache{m: make(map[string]idemOutcome), ring: make([]string, capacity)}
}

// sum fingerprints a call: its procedure and its msgpack argument bytes (as
// journaled). Fingerprints are kept in the file across restarts, so the
// hash is fixed (the first 8 bytes of SHA-256).
func (c *idemCache) sum(proc string, args []byte) uint64 {
	h := sha256.New()
	h.Write([]byte(proc))
	h.Write([]byte{0})
	h.Write(args)
	var b [sha256.Size]byte
	return binary.LittleEndian.Uint64(h.Sum(b[:0]))
}

// forget removes key (its keep time ran out). Its slot in the ring is
// reused in turn.
func (c *idemCache) forget(key string) { delete(c.m, key) }

func (c *idemCache) put(key string, o idemOutcome) {
	if key == "" || len(c.ring) == 0 {
		return
	}
	if _, dup := c.m[key]; dup {
		return
	}
	if old := c.ring[c.next]; old != "" {
		if e, ok := c.m[old]; ok && e.slot == c.next {
			delete(c.m, old)
		}
	}
	c.ring[c.next] = key
	o.slot = c.next
	c.next = (c.next + 1) % len(c.ring)
	c.m[key] = o
	c.pending = append(c.pending, idemPending{key: key, o: o})
	if len(c.pending) > 2*len(c.ring)+1024 {
		// Long between checkpoints: drop what the ring forgot already.
		n := 0
		for _, p := range c.pending {
			if e, ok := c.m[p.key]; ok && e.slot == p.o.slot && e.txid == p.o.txid {
				c.pending[n] = p
				n++
			}
		}
		clear(c.pending[n:])
		c.pending = c.pending[:n]
	}
}

// replace puts key's outcome o in place of one it may have: at start-up,
// where a later entry for a key (used again once it expired) wins.
func (c *idemCache) replace(key string, o idemOutcome) {
	delete(c.m, key) // its old ring slot no longer matches
	c.put(key, o)
}

func (c *idemCache) get(key string) (idemOutcome, bool) {
	o, ok := c.m[key]
	return o, ok
}

// markDurable notes that key's outcome for txid is in the file.
func (c *idemCache) markDurable(key string, txid journal.TxID) {
	if o, ok := c.m[key]; ok && o.txid == txid {
		o.durable = true
		c.m[key] = o
	}
}

// durableEntries lists the kept keys that are in the file and pass keep,
// oldest first, for a compaction.
func (c *idemCache) durableEntries(keep func(*idemOutcome) bool) []idemPending {
	var es []idemPending
	for i := range c.ring {
		slot := (c.next + i) % len(c.ring)
		key := c.ring[slot]
		if o, ok := c.m[key]; ok && key != "" && o.slot == slot && o.durable && keep(&o) {
			es = append(es, idemPending{key: key, o: o})
		}
	}
	return es
}
