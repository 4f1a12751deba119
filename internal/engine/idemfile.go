package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/journal"
)

// This file keeps idempotency keys for their documented time
// (Config.IdempotencyKeep, at most the newest Config.IdempotencyWindow
// keys) whatever journal retention removes: DIR/idemkeys, a small
// append-only file of the keys' outcomes, compacted when most of its
// entries have expired.
//
// Why a side file and not a retention floor: keeping every journal record
// younger than the keep time would tie the journal's size to a day of
// traffic (write sets and before-images included) at whatever rate the
// pair runs, with no bound an operator can set; the keys alone are
// bounded by the window (100,000 by default) times the size of a key and
// its call's result.
//
// Entries, each
//
//	0   uint32 payload length n, little endian
//	4   uint32 CRC32C of the payload
//	8   payload (n bytes)
//
// A payload's first byte is its type. A key (idemKey): uint64 journal
// position, HLC, fingerprint and OSeq, then the origin, the key and the
// result, each as a uvarint length and the bytes. A mark (idemMark):
// uint64 position; every keyed record at or below the last mark in the
// file is in the file (a rollback can lower the mark, so the last one
// counts, not the largest).
//
// Pending keys are appended (and fsync'd) when a checkpoint is taken,
// after a rollback and at Close: retention truncates the journal only
// below a checkpoint, so every key it removes is in the file by then. At
// start-up the file is read (keys past their keep time are dropped) and
// the journal after its mark is read back into the keys.

// IdemFile is the file of the idempotency keys in an instance directory.
const IdemFile = "idemkeys"

const (
	idemKey  byte = 1
	idemMark byte = 2

	idemHeader = 8
	// idemMaxEntry bounds one entry's payload: a key (256 bytes) and a
	// result that fitted a journal frame.
	idemMaxEntry = 1 << 30
)

// idemPending is a key not yet in the file.
type idemPending struct {
	key string
	o   idemOutcome
}

func appendIdemEntry(b []byte, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

func idemKeyPayload(key string, o *idemOutcome) []byte {
	p := make([]byte, 0, 1+32+3*binary.MaxVarintLen64+len(o.txid.Origin)+len(key)+len(o.raw))
	p = append(p, idemKey)
	p = binary.LittleEndian.AppendUint64(p, o.pos)
	p = binary.LittleEndian.AppendUint64(p, o.hlc)
	p = binary.LittleEndian.AppendUint64(p, o.sum)
	p = binary.LittleEndian.AppendUint64(p, o.txid.OSeq)
	for _, s := range [][]byte{[]byte(o.txid.Origin), []byte(key), o.raw} {
		p = binary.AppendUvarint(p, uint64(len(s)))
		p = append(p, s...)
	}
	return p
}

func idemMarkPayload(mark uint64) []byte {
	return binary.LittleEndian.AppendUint64([]byte{idemMark}, mark)
}

// decodeIdemPayload decodes a checked payload: a key and its outcome, or
// a mark (key "", isMark true).
func decodeIdemPayload(p []byte) (key string, o idemOutcome, mark uint64, isMark bool, err error) {
	if len(p) == 9 && p[0] == idemMark {
		return "", o, binary.LittleEndian.Uint64(p[1:]), true, nil
	}
	if len(p) < 33 || p[0] != idemKey {
		return "", o, 0, false, fmt.Errorf("an entry of type %d and %d bytes is neither a key nor a mark", p[0], len(p))
	}
	o.pos = binary.LittleEndian.Uint64(p[1:])
	o.hlc = binary.LittleEndian.Uint64(p[9:])
	o.sum = binary.LittleEndian.Uint64(p[17:])
	o.txid.OSeq = binary.LittleEndian.Uint64(p[25:])
	rest := p[33:]
	var parts [3][]byte
	for i := range parts {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return "", o, 0, false, errors.New("a key entry is cut short")
		}
		parts[i], rest = rest[k:k+int(n)], rest[k+int(n):]
	}
	if len(rest) != 0 {
		return "", o, 0, false, errors.New("a key entry has bytes after its result")
	}
	o.txid.Origin, key = string(parts[0]), string(parts[1])
	if len(parts[2]) > 0 {
		o.raw = append([]byte(nil), parts[2]...)
	}
	o.durable = true
	return key, o, 0, false, nil
}

// idemFile is the on-disk side of the idempotency keys.
type idemFile struct {
	path    string
	mark    uint64 // every keyed record at or below this position is in the file
	entries int    // key entries in the file, for compaction
}

// openIdemFile reads DIR/idemkeys and hands each key, oldest first, to
// put. A torn last entry (a crash during an append that was never fsync'd)
// is cut off; damage before it is an error that names the file.
func openIdemFile(dir string, put func(key string, o idemOutcome)) (*idemFile, error) {
	f := &idemFile{path: filepath.Join(dir, IdemFile)}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the idempotency keys: %w", err)
	}
	off := 0
	for off < len(data) {
		var bad error
		n := 0
		if len(data)-off < idemHeader {
			bad = errors.New("the entry's header is cut short")
		} else if n = int(binary.LittleEndian.Uint32(data[off:])); n == 0 || n > idemMaxEntry || n > len(data)-off-idemHeader {
			bad = fmt.Errorf("the entry claims %d bytes", n)
		} else if crc32.Checksum(data[off+idemHeader:off+idemHeader+n], castagnoli) != binary.LittleEndian.Uint32(data[off+4:]) {
			bad = errors.New("the entry's checksum does not match")
		}
		if bad == nil {
			key, o, mark, isMark, derr := decodeIdemPayload(data[off+idemHeader : off+idemHeader+n])
			if derr != nil {
				return nil, fmt.Errorf("the idempotency keys file %s is damaged at byte %d: %v; restore it from a backup, or move it away to start a new one (keys no longer in the journal are then forgotten)", f.path, off, derr)
			}
			if isMark {
				f.mark = mark
			} else {
				f.entries++
				put(key, o)
			}
			off += idemHeader + n
			continue
		}
		if off+idemHeader+n < len(data) && n > 0 && n <= idemMaxEntry {
			return nil, fmt.Errorf("the idempotency keys file %s is damaged at byte %d: %v; restore it from a backup, or move it away to start a new one (keys no longer in the journal are then forgotten)", f.path, off, bad)
		}
		// A torn last entry: never fsync'd, so nothing relied on it.
		if err := os.Truncate(f.path, int64(off)); err != nil {
			return nil, fmt.Errorf("cut the torn tail of the idempotency keys file %s: %w", f.path, err)
		}
		break
	}
	return f, nil
}

// append writes es and a mark at the end of the file and fsyncs.
func (f *idemFile) append(es []idemPending, mark uint64) error {
	var buf []byte
	for i := range es {
		buf = appendIdemEntry(buf, idemKeyPayload(es[i].key, &es[i].o))
	}
	buf = appendIdemEntry(buf, idemMarkPayload(mark))
	if err := appendDurable(f.path, buf); err != nil {
		return fmt.Errorf("append to the idempotency keys file %s: %w", f.path, err)
	}
	f.entries += len(es)
	f.mark = mark
	return nil
}

// rewrite replaces the file with es and a mark, atomically.
func (f *idemFile) rewrite(es []idemPending, mark uint64) error {
	var buf []byte
	for i := range es {
		buf = appendIdemEntry(buf, idemKeyPayload(es[i].key, &es[i].o))
	}
	buf = appendIdemEntry(buf, idemMarkPayload(mark))
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, IdemFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("compact the idempotency keys file: %w", err)
	}
	_, err = tmp.Write(buf)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err == nil {
		err = journal.SyncDir(dir)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("compact the idempotency keys file %s: %w", f.path, err)
	}
	f.entries, f.mark = len(es), mark
	return nil
}

// ---- the Instance's side ----

// openIdem reads the kept keys at start-up, before the journal after the
// file's mark is read back into them. A key past its keep time is dropped.
func (in *Instance) openIdem() error {
	if len(in.idem.ring) == 0 {
		return nil
	}
	f, err := openIdemFile(in.cfg.Dir, func(key string, o idemOutcome) {
		if !in.idemExpired(&o) {
			in.idem.replace(key, o)
		}
	})
	if err != nil {
		return err
	}
	in.idem.pending = in.idem.pending[:0] // read from the file: in it already
	// A journal shorter than the mark lost records (a disk that lied
	// about an fsync), and a rollback finished at this start-up removed
	// some: read the journal back from there.
	f.mark = min(f.mark, in.w.next-1)
	if res := in.Recovery.Rollback; res != nil && res.From > 0 {
		f.mark = min(f.mark, res.From-1)
	}
	in.idemF = f
	return nil
}

// idemMarkPos is the position after which the journal is read back into
// the keys at start-up (0 with no file).
func (in *Instance) idemMarkPos() uint64 {
	if in.idemF == nil {
		return 0
	}
	return in.idemF.mark
}

// idemExpired reports whether o is past Config.IdempotencyKeep.
func (in *Instance) idemExpired(o *idemOutcome) bool {
	keep := in.cfg.IdempotencyKeep
	return keep > 0 && in.cfg.Now().Sub(hlc.Timestamp(o.hlc).Physical()) > keep
}

// flushIdem appends the pending keys of records at or below upTo (durable)
// and a mark at upTo, then compacts the file when most of its entries are
// gone from the keys kept.
func (in *Instance) flushIdem(upTo uint64) error {
	f, c := in.idemF, in.idem
	if f == nil || len(c.pending) == 0 && upTo == f.mark {
		return nil
	}
	var out []idemPending
	keep := c.pending[:0]
	for _, p := range c.pending {
		if p.o.pos <= upTo || p.o.durable {
			out = append(out, p)
		} else {
			keep = append(keep, p)
		}
	}
	if err := f.append(out, upTo); err != nil {
		return err
	}
	clear(c.pending[len(keep):])
	c.pending = keep
	for _, p := range out {
		c.markDurable(p.key, p.o.txid)
	}
	if f.entries <= 1024 {
		return nil
	}
	live := c.durableEntries(func(o *idemOutcome) bool { return !in.idemExpired(o) })
	if f.entries <= 2*len(live)+1024 {
		return nil
	}
	return f.rewrite(live, upTo)
}

// idemRolledBack writes every pending key (a rollback runs only once
// everything appended is durable) and lowers the mark below the rollback's
// first position, from: the positions after it are reused.
func (in *Instance) idemRolledBack(from uint64) error {
	if in.idemF == nil {
		return nil
	}
	for i := range in.idem.pending {
		in.idem.pending[i].o.durable = true
	}
	return in.flushIdem(from - 1)
}

// waitPos is the position a retry's answer waits for: the first call's,
// or none beyond durable for a key from the file (a rollback may have
// reused its position since).
func (o *idemOutcome) waitPos(durable uint64) uint64 {
	if o.durable {
		return min(o.pos, durable)
	}
	return o.pos
}
