package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/liege-db/liege/journal"
)

// This file keeps every TxID answerable (issue 13 item 5) whatever journal
// retention removes later: a small append-only file, DIR/txnstatus, of
// fixed-size entries that say what became of ranges of OSeqs.
//
// Entries (40 bytes each, little endian):
//
//	0      state: committed, rolled back, reprocessed, corrected, or mark
//	1      who: 0 this instance's OSeqs, 1 the peer's
//	2      aux who (for reprocessed and corrected: whose OSeq aux is)
//	3..7   zero
//	8      lo OSeq
//	16     hi OSeq (lo..hi inclusive)
//	24     aux: committed: the journal position of lo; reprocessed and
//	       corrected: the OSeq of the transaction that stands for lo; mark:
//	       the journal position up to which every transaction is in the file
//	32     CRC32C of bytes 0..31
//	36..39 zero
//
// The newest entry that covers an OSeq tells its fate: a peer transaction
// rolled off here and applied again is committed, an own one rolled back is
// rolled back until a reprocess or correction stands for it. Own OSeqs are
// assigned in order and peer OSeqs applied in order, so committed
// transactions form a few long runs: one entry per origin at each flush,
// one more per gap a rollback leaves, and one per reconciled transaction.
// Size per million transactions with the default settings (a checkpoint
// every 500,000 records): 2 flushes x (2 runs + 1 mark) x 40 bytes = 240
// bytes, plus up to about 6 x 40 bytes per rollback (the runs it splits,
// its rolled-back runs and two marks) and 40 bytes per reconciled
// transaction; the entries are also held in memory, for lookups (newest
// first, linear in the number of entries).
//
// Pending runs are flushed (appended and fsync'd) when a checkpoint is
// taken, before a rollback's outcome is recorded, and at Close: retention
// truncates the journal only below a checkpoint, so every transaction it
// removes is in the file by then. At start-up the journal after the newest
// mark is read back into pending runs.

// TxnStatusFile is the file of the durable TxID index in an instance
// directory.
const TxnStatusFile = "txnstatus"

const (
	stCommitted uint8 = 1 + iota
	stRolledBack
	stReprocessed
	stCorrected
	stMark uint8 = 9

	statusEntrySize = 40
)

type statusEntry struct {
	state, who, auxWho uint8
	lo, hi, aux        uint64
}

func (e *statusEntry) covers(who uint8, oseq uint64) bool {
	return e.state != stMark && e.who == who && e.lo <= oseq && oseq <= e.hi
}

func (e *statusEntry) encode(b []byte) {
	clear(b[:statusEntrySize])
	b[0], b[1], b[2] = e.state, e.who, e.auxWho
	binary.LittleEndian.PutUint64(b[8:], e.lo)
	binary.LittleEndian.PutUint64(b[16:], e.hi)
	binary.LittleEndian.PutUint64(b[24:], e.aux)
	binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func decodeStatusEntry(b []byte) (statusEntry, bool) {
	if crc32.Checksum(b[:32], castagnoli) != binary.LittleEndian.Uint32(b[32:]) {
		return statusEntry{}, false
	}
	return statusEntry{state: b[0], who: b[1], auxWho: b[2],
		lo: binary.LittleEndian.Uint64(b[8:]), hi: binary.LittleEndian.Uint64(b[16:]), aux: binary.LittleEndian.Uint64(b[24:])}, true
}

// txnStatus is the durable TxID index. Owned by the executor.
type txnStatus struct {
	path        string
	self, peer  string
	entries     []statusEntry // in the file, oldest first
	pending     []statusEntry // not yet in the file
	open        [2]int        // index in pending of the run each who extends, -1 if none
	mark        uint64        // every transaction at or below this position is in the file
	pendingUpTo uint64        // position of the newest transaction in pending
}

// openTxnStatus reads the index of dir. A torn last entry (a crash during
// an append that was never fsync'd) is cut off; damage before it is an
// error that names the file.
func openTxnStatus(dir, self, peer string) (*txnStatus, error) {
	x := &txnStatus{path: filepath.Join(dir, TxnStatusFile), self: self, peer: peer, open: [2]int{-1, -1}}
	data, err := os.ReadFile(x.path)
	if errors.Is(err, os.ErrNotExist) {
		return x, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the TxID index: %w", err)
	}
	n := len(data) / statusEntrySize
	for i := 0; i < n; i++ {
		e, ok := decodeStatusEntry(data[i*statusEntrySize:])
		if !ok && i < n-1 {
			return nil, fmt.Errorf("the TxID index %s is damaged at byte %d (entry %d of %d): restore it from a backup, or move it away to start a new one (TxIDs of transactions no longer in the journal then answer unknown)",
				x.path, i*statusEntrySize, i+1, n)
		}
		if !ok {
			n = i // a torn last entry
			break
		}
		x.entries = append(x.entries, e)
		if e.state == stMark {
			x.mark = e.aux // the newest: a rollback lowers it (rolledBack)
		}
	}
	if n*statusEntrySize != len(data) {
		if err := os.Truncate(x.path, int64(n*statusEntrySize)); err != nil {
			return nil, fmt.Errorf("cut the torn tail of the TxID index %s: %w", x.path, err)
		}
	}
	return x, nil
}

func (x *txnStatus) whoOf(origin string) (uint8, bool) {
	switch origin {
	case x.self:
		return 0, true
	case x.peer:
		return 1, x.peer != ""
	}
	return 0, false
}

// add takes in a transaction record at its journal position (in journal
// order). Records at or below the mark are in the file already.
func (x *txnStatus) add(r *journal.Record) {
	if !r.Kind.IsTxn() || r.Pos <= x.mark || r.Pos <= x.pendingUpTo {
		return
	}
	who, ok := x.whoOf(r.Origin)
	if !ok {
		return
	}
	x.pendingUpTo = max(x.pendingUpTo, r.Pos)
	if i := x.open[who]; i >= 0 && x.pending[i].hi+1 == r.OSeq {
		x.pending[i].hi = r.OSeq
	} else {
		x.pending = append(x.pending, statusEntry{state: stCommitted, who: who, lo: r.OSeq, hi: r.OSeq, aux: r.Pos})
		x.open[who] = len(x.pending) - 1
	}
	if r.Subject.IsZero() {
		return
	}
	sw, ok := x.whoOf(r.Subject.Origin)
	if !ok {
		return
	}
	kind := r.Kind
	if kind == journal.KindPeer {
		kind = r.OriginKind
	}
	st := stReprocessed
	if kind == journal.KindCorrection {
		st = stCorrected
	}
	x.pending = append(x.pending, statusEntry{state: st, who: sw, lo: r.Subject.OSeq, hi: r.Subject.OSeq, auxWho: who, aux: r.OSeq})
}

// flush appends the pending entries and a mark at upTo (a journal position
// every pending transaction is at or below, and durable), and fsyncs.
func (x *txnStatus) flush(upTo uint64) error {
	if len(x.pending) == 0 && upTo <= x.mark {
		return nil
	}
	return x.append(upTo, x.pending...)
}

// rolledBack records that own transactions ids and the records recs (the
// peer's among them; the subjects of reprocesses and corrections among
// them, own or the peer's) were rolled off, after the pending runs, at
// journal end last.
func (x *txnStatus) rolledBack(last uint64, ids []journal.TxID, recs []*journal.Record) error {
	es := append([]statusEntry(nil), x.pending...)
	for _, id := range ids {
		es = appendRun(es, 0, id.OSeq)
	}
	for _, r := range recs {
		if r.Origin == x.peer && x.peer != "" {
			es = appendRun(es, 1, r.OSeq)
		}
	}
	// A reprocess or correction rolled off no longer stands for its
	// subject: the subject is out of the path again until it is
	// reconciled anew (its entry said reprocessed or corrected).
	for _, r := range recs {
		if r.Subject.IsZero() {
			continue
		}
		if who, ok := x.whoOf(r.Subject.Origin); ok {
			es = append(es, statusEntry{state: stRolledBack, who: who, lo: r.Subject.OSeq, hi: r.Subject.OSeq})
		}
	}
	if err := x.append(last, es...); err != nil {
		return err
	}
	// The positions after last are free again: the transactions written
	// there next are not in the file (add skips what is at or below the
	// mark), and the mark just appended says so at the next open.
	x.mark, x.pendingUpTo = min(x.mark, last), min(x.pendingUpTo, last)
	return nil
}

// appendRun adds oseq to a rolled-back run of who at the end of es.
func appendRun(es []statusEntry, who uint8, oseq uint64) []statusEntry {
	if n := len(es); n > 0 && es[n-1].state == stRolledBack && es[n-1].who == who && es[n-1].hi+1 == oseq {
		es[n-1].hi = oseq
		return es
	}
	return append(es, statusEntry{state: stRolledBack, who: who, lo: oseq, hi: oseq})
}

func (x *txnStatus) append(mark uint64, es ...statusEntry) error {
	es = append(es, statusEntry{state: stMark, aux: mark})
	buf := make([]byte, len(es)*statusEntrySize)
	for i := range es {
		es[i].encode(buf[i*statusEntrySize:])
	}
	if err := appendDurable(x.path, buf); err != nil {
		return fmt.Errorf("append to the TxID index %s: %w", x.path, err)
	}
	x.entries = append(x.entries, es...)
	x.pending, x.open = x.pending[:0], [2]int{-1, -1}
	x.mark = max(x.mark, mark)
	x.pendingUpTo = max(x.pendingUpTo, mark)
	return nil
}

// lookup is what the file and the pending runs say of id: its state
// (0 if nothing) and, for a reprocessed or corrected one, the TxID of the
// transaction that stands for it.
func (x *txnStatus) lookup(id journal.TxID) (state uint8, by journal.TxID) {
	who, ok := x.whoOf(id.Origin)
	if !ok {
		return 0, journal.TxID{}
	}
	for _, es := range [][]statusEntry{x.pending, x.entries} {
		for i := len(es) - 1; i >= 0; i-- {
			if e := &es[i]; e.covers(who, id.OSeq) {
				if e.state == stReprocessed || e.state == stCorrected {
					by = journal.TxID{Origin: x.self, OSeq: e.aux}
					if e.auxWho == 1 {
						by.Origin = x.peer
					}
				}
				return e.state, by
			}
		}
	}
	return 0, journal.TxID{}
}

// Fate states, as Fate returns them.
const (
	FateCommitted   = "committed"
	FateRolledBack  = "rolled_back"
	FateReprocessed = "reprocessed"
	FateCorrected   = "corrected"
)

// Fate is what the durable TxID index says of id (see fate), for a
// transaction the journal no longer holds.
func (in *Instance) Fate(id journal.TxID) (state string, by journal.TxID) { return in.fate(id) }

// fate is what the durable TxID index says of id: one of the Fate states,
// or "" if it holds nothing of it; by is the transaction that stands for a
// reprocessed or corrected one.
func (in *Instance) fate(id journal.TxID) (state string, by journal.TxID) {
	if in.txst == nil {
		return "", journal.TxID{}
	}
	st, by := in.txst.lookup(id)
	switch st {
	case stCommitted:
		return FateCommitted, by
	case stRolledBack:
		return FateRolledBack, by
	case stReprocessed:
		return FateReprocessed, by
	case stCorrected:
		return FateCorrected, by
	}
	return "", by
}

// flushTxnStatus makes the journal durable and writes the pending runs of
// the TxID index: before a checkpoint, so that retention, which truncates
// only below a checkpoint, never removes a transaction the index lacks.
func (in *Instance) flushTxnStatus() error {
	if in.txst == nil {
		return nil
	}
	if in.sync(); in.fatal != nil {
		return in.fatal
	}
	return in.txst.flush(in.durable)
}

// txnStatusRolledBack records a finished rollback in the TxID index.
func (in *Instance) txnStatusRolledBack(own []journal.TxID, peer []*journal.Record) error {
	if in.txst == nil || len(own) == 0 && len(peer) == 0 {
		return nil
	}
	return in.txst.rolledBack(in.lastPos, own, peer)
}

// openTxnStatus opens the TxID index at start-up, before the journal is
// read back into it. A rollback finished at this start-up is recorded
// again: it may have been cut off before its outcome reached the index.
func (in *Instance) openTxnStatus() error {
	x, err := openTxnStatus(in.cfg.Dir, in.cfg.ID, in.cfg.PeerID)
	if err != nil {
		return err
	}
	in.txst, in.index.status = x, x
	// A journal shorter than the mark lost records the index had (a disk
	// that lied about an fsync): read back what the journal holds there.
	x.mark = min(x.mark, in.w.next-1)
	x.pendingUpTo = x.mark
	return nil
}
