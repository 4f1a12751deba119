package engine

import (
	"sort"

	"github.com/liege-db/liege/journal"
)

// txnIndex finds the journal position of a transaction by TxID. OSeqs of an
// origin are increasing in journal order, so each origin's entries form a
// sorted list (16 bytes per transaction); reprocess and correction records
// are also found by their subject. Owned by the executor.
type txnIndex struct {
	byOrigin map[string][]posEntry
	subjects map[journal.TxID]uint64 // subject -> position of its reprocess/correction
}

type posEntry struct{ oseq, pos uint64 }

func newTxnIndex() *txnIndex {
	return &txnIndex{byOrigin: map[string][]posEntry{}, subjects: map[journal.TxID]uint64{}}
}

func (x *txnIndex) add(r *journal.Record) {
	if !r.Kind.IsTxn() {
		return
	}
	x.byOrigin[r.Origin] = append(x.byOrigin[r.Origin], posEntry{oseq: r.OSeq, pos: r.Pos})
	if !r.Subject.IsZero() {
		x.subjects[r.Subject] = r.Pos
	}
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
// most cap keys, forgetting the oldest. Owned by the executor.
type idemCache struct {
	m    map[string]idemOutcome
	ring []string
	next int
}

type idemOutcome struct {
	txid journal.TxID
	pos  uint64
	hlc  uint64
	raw  []byte // the result
}

func newIdemCache(capacity int) *idemCache {
	return &idemCache{m: make(map[string]idemOutcome), ring: make([]string, capacity)}
}

func (c *idemCache) put(key string, o idemOutcome) {
	if key == "" || len(c.ring) == 0 {
		return
	}
	if _, dup := c.m[key]; dup {
		return
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.m, old)
	}
	c.ring[c.next] = key
	c.next = (c.next + 1) % len(c.ring)
	c.m[key] = o
}

func (c *idemCache) get(key string) (idemOutcome, bool) {
	o, ok := c.m[key]
	return o, ok
}
