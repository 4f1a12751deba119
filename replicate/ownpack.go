package replicate

import (
	"encoding/binary"
	"fmt"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
)

// The node keeps every own transaction the journal holds (n.own): a reign
// change puts them all back in the window (resetWindow), so their keys must
// stay at hand. Most of them left the window long ago (the peer applied
// them), and as detect.Txns they cost about 360 bytes each, with a dozen
// pointers for the garbage collector to follow, for as long as the journal
// keeps them: with the default JournalKeep of 1 GiB of ticket records, half
// of them own, about 460 MB. Once one leaves the window (packOwn, at the
// peer's stable watermark), its keys and clock are packed into about their
// own size in bytes, carved from shared blocks the collector does not scan,
// and its detect.Txn goes: about 180 bytes with the node's entry
// (BenchmarkNodeOwnMemory). resetWindow unpacks them again.
//
// The packed form: HLC (uvarint); the reads: count, then each key's length
// and bytes; the writes: count, then each key's length times 2 plus 1 for
// an Add, and bytes; the ranges: count, then each range's flags (bit 0
// LoInclusive, bit 1 HiInclusive), its Lo's length and bytes, its Hi's.

// packSlab is the size of the blocks packed transactions are carved from;
// a new block starts when less than packSlabMax bytes are left.
const (
	packSlab    = 16 << 10
	packSlabMax = 1 << 10
)

// packTxn appends t's packed form to dst.
func packTxn(dst []byte, t *detect.Txn) []byte {
	bin := func(b []byte) { dst = binary.AppendUvarint(dst, uint64(len(b))); dst = append(dst, b...) }
	dst = binary.AppendUvarint(dst, t.HLC)
	dst = binary.AppendUvarint(dst, uint64(len(t.Reads)))
	for _, k := range t.Reads {
		bin(k)
	}
	dst = binary.AppendUvarint(dst, uint64(len(t.Writes)))
	for _, w := range t.Writes {
		n := uint64(len(w.Key)) << 1
		if w.Add {
			n |= 1
		}
		dst = binary.AppendUvarint(dst, n)
		dst = append(dst, w.Key...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(t.Ranges)))
	for _, r := range t.Ranges {
		var f byte
		if r.LoInclusive {
			f |= 1
		}
		if r.HiInclusive {
			f |= 2
		}
		dst = append(dst, f)
		bin(r.Lo)
		bin(r.Hi)
	}
	return dst
}

// unpackTxn returns the detect.Txn packTxn packed into p, with the fields
// the packed form leaves to the node's entry. Its keys slice p, which is
// never written again.
func unpackTxn(p []byte, id journal.TxID, pos, peerSeen uint64) (*detect.Txn, error) {
	i := 0
	fail := func(what string) error {
		return fmt.Errorf("replicate: packed own transaction %v broken at byte %d of %d: %s", id, i, len(p), what)
	}
	uv := func() (uint64, bool) {
		x, n := binary.Uvarint(p[i:])
		if n <= 0 {
			return 0, false
		}
		i += n
		return x, true
	}
	bytesOf := func(n uint64) ([]byte, bool) {
		if n > uint64(len(p)-i) {
			return nil, false
		}
		b := p[i : i+int(n) : i+int(n)]
		i += int(n)
		return b, true
	}
	count := func() (int, bool) {
		n, ok := uv()
		return int(n), ok && n <= uint64(len(p)-i) // each takes a byte at least
	}
	t := &detect.Txn{ID: id, Pos: pos, PeerSeen: peerSeen}
	var ok bool
	if t.HLC, ok = uv(); !ok {
		return nil, fail("HLC")
	}
	nr, ok := count()
	if !ok {
		return nil, fail("count of reads")
	}
	t.Reads = make([][]byte, nr)
	for j := range t.Reads {
		n, ok := uv()
		if ok {
			t.Reads[j], ok = bytesOf(n)
		}
		if !ok {
			return nil, fail("read key")
		}
	}
	nw, ok := count()
	if !ok {
		return nil, fail("count of writes")
	}
	t.Writes = make([]detect.Write, nw)
	for j := range t.Writes {
		n, ok := uv()
		if ok {
			t.Writes[j].Add = n&1 == 1
			t.Writes[j].Key, ok = bytesOf(n >> 1)
		}
		if !ok {
			return nil, fail("written key")
		}
	}
	ng, ok := count()
	if !ok {
		return nil, fail("count of ranges")
	}
	t.Ranges = make([]journal.RangeRead, ng)
	for j := range t.Ranges {
		r := &t.Ranges[j]
		if i >= len(p) {
			return nil, fail("range flags")
		}
		f := p[i]
		i++
		r.LoInclusive, r.HiInclusive = f&1 != 0, f&2 != 0
		n, ok := uv()
		if ok {
			r.Lo, ok = bytesOf(n)
		}
		if ok {
			if n, ok = uv(); ok {
				r.Hi, ok = bytesOf(n)
			}
		}
		if !ok {
			return nil, fail("range bounds")
		}
	}
	if i != len(p) {
		return nil, fail("bytes after the ranges")
	}
	return t, nil
}

// packSlabs carves packed transactions out of shared blocks: own
// transactions are packed and dropped oldest first, so a block goes soon
// after the newest of its transactions does.
type packSlabs struct{ buf []byte }

func (s *packSlabs) pack(t *detect.Txn) []byte {
	if cap(s.buf)-len(s.buf) < packSlabMax {
		s.buf = make([]byte, 0, packSlab)
	}
	// One larger than the room left grows the block: the transactions
	// carved before keep the old one.
	l := len(s.buf)
	s.buf = packTxn(s.buf, t)
	return s.buf[l:len(s.buf):len(s.buf)]
}
