package replicate

import (
	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
)

// ownSlab makes the detect.Txns of own transactions (addOwn) as
// detect.FromRecord does, but carves them, their key and write lists and
// their keys' bytes out of shared blocks: one allocation per many
// transactions where FromRecord takes four or five each. Own transactions
// leave the node (and the window) oldest first, so a block is freed soon
// after the newest of its transactions leaves. A transaction with ranges
// or with more keys than ownSlabKeys takes FromRecord's allocations.
type ownSlab struct {
	txns   []detect.Txn
	reads  [][]byte
	writes []detect.Write
	keys   []byte
}

const (
	ownSlabTxns  = 32
	ownSlabLists = 256     // keys (reads and writes) per list block
	ownSlabBytes = 4 << 10 // key bytes per block
	ownSlabKeys  = 32      // keys a transaction may have to be carved
	ownSlabMax   = 1 << 10 // key bytes a transaction may have to be carved
)

func (s *ownSlab) fromRecord(r *journal.Record) *detect.Txn {
	n := 0
	for i := range r.Reads {
		n += len(r.Reads[i].Key)
	}
	for i := range r.Writes {
		n += len(r.Writes[i].Key)
	}
	if len(r.Ranges) > 0 || n > ownSlabMax || len(r.Reads) > ownSlabKeys || len(r.Writes) > ownSlabKeys {
		return detect.FromRecord(r)
	}
	if len(s.txns) == 0 {
		s.txns = make([]detect.Txn, ownSlabTxns)
	}
	t := &s.txns[0]
	s.txns = s.txns[1:]
	if cap(s.keys)-len(s.keys) < n {
		s.keys = make([]byte, 0, ownSlabBytes)
	}
	clone := func(b []byte) []byte {
		start := len(s.keys)
		s.keys = append(s.keys, b...)
		return s.keys[start:len(s.keys):len(s.keys)]
	}
	if len(s.reads) < len(r.Reads) {
		s.reads = make([][]byte, ownSlabLists)
	}
	reads := s.reads[:len(r.Reads):len(r.Reads)]
	s.reads = s.reads[len(r.Reads):]
	if len(s.writes) < len(r.Writes) {
		s.writes = make([]detect.Write, ownSlabLists)
	}
	writes := s.writes[:len(r.Writes):len(r.Writes)]
	s.writes = s.writes[len(r.Writes):]
	for i := range r.Reads {
		reads[i] = clone(r.Reads[i].Key)
	}
	for i := range r.Writes {
		writes[i] = detect.Write{Key: clone(r.Writes[i].Key), Add: r.Writes[i].Op == journal.OpAdd}
	}
	*t = detect.Txn{ID: r.TxID(), HLC: r.HLC, PeerSeen: r.PeerSeen, Pos: r.Pos,
		Reads: reads, Ranges: []journal.RangeRead{}, Writes: writes}
	return t
}
