// Package checkpoint saves an instance's state at a journal position and
// loads the newest valid one at start-up, so recovery replays only the
// journal after it.
//
// A checkpoint file is written to a temporary name, fsynced, renamed to
// checkpoint-<pos> and the directory fsynced: a crash leaves either the
// whole file or none. Its layout is a msgpack Meta header, the entries
// (uvarint key length, key, uvarint value length, value, uvarint HLC,
// uvarint origin index into Meta.Origins), and a trailer of the entry count
// (8 bytes) and a CRC32C (4 bytes) of everything before it.
package checkpoint

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// Dir is the checkpoints' directory inside an instance directory.
const Dir = "checkpoints"

const magic = "LIEGECKPT1"

// Meta is the engine state a checkpoint holds besides the keys.
type Meta struct {
	Magic    string
	Instance string
	// Pos is the last journal position included in the state.
	Pos      uint64
	Epoch    uint64
	HighOSeq uint64 // largest own OSeq ever assigned
	HLC      uint64 // largest HLC seen
	// PeerWatermark is the highest peer OSeq applied.
	PeerWatermark uint64
	Keys          uint64
	Origins       []string
	// Held is set in a checkpoint sent to seed the peer only: the peer's
	// transactions (TxIDs) this instance's journal holds a reprocess or
	// correction of, so that the peer stops waiting for them
	// (replicate.SeedDone.Held).
	Held []string `codec:",omitempty"`
}

// File is a checkpoint file found in a directory.
type File struct {
	Path string
	Pos  uint64
}

// List returns the checkpoint files of an instance directory, oldest first.
func List(instanceDir string) ([]File, error) {
	ents, err := os.ReadDir(filepath.Join(instanceDir, Dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []File
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), "checkpoint-")
		if !ok || strings.Contains(name, ".") {
			continue
		}
		pos, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, File{Path: filepath.Join(instanceDir, Dir, e.Name()), Pos: pos})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pos < out[j].Pos })
	return out, nil
}

// Write saves snap with meta as the checkpoint at meta.Pos. It reads snap
// only, so it may run in the background while the store changes.
func Write(instanceDir string, meta Meta, snap *store.Snapshot) (string, error) {
	dir := filepath.Join(instanceDir, Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create checkpoint directory: %w", err)
	}
	final := filepath.Join(dir, fmt.Sprintf("checkpoint-%020d", meta.Pos))
	f, err := os.CreateTemp(dir, filepath.Base(final)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("create checkpoint: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := write(f, meta, snap); err != nil {
		f.Close()
		return "", fmt.Errorf("write checkpoint %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("fsync checkpoint %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("install checkpoint: %w", err)
	}
	if err := journal.SyncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

// Encode writes snap with meta in the checkpoint file format to f (a peer
// is seeded with these bytes: see package replicate's seed.go). meta.Magic,
// Keys and Origins are filled in.
func Encode(f io.Writer, meta Meta, snap *store.Snapshot) error { return write(f, meta, snap) }

func write(f io.Writer, meta Meta, snap *store.Snapshot) error {
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	// Collect origins first so the header can carry the table.
	idx := map[string]uint64{}
	meta.Origins = meta.Origins[:0]
	var keys uint64
	snap.Ascend(nil, func(_, _ []byte, ver journal.Version) bool {
		if _, ok := idx[ver.Origin]; !ok {
			idx[ver.Origin] = uint64(len(meta.Origins))
			meta.Origins = append(meta.Origins, ver.Origin)
		}
		keys++
		return true
	})
	meta.Magic = magic
	meta.Keys = keys
	hdr, err := journal.Marshal(&meta)
	if err != nil {
		return err
	}
	var lb [binary.MaxVarintLen64]byte
	putUvarint := func(x uint64) {
		n := binary.PutUvarint(lb[:], x)
		w.Write(lb[:n])
	}
	putUvarint(uint64(len(hdr)))
	w.Write(hdr)
	snap.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		putUvarint(uint64(len(k)))
		w.Write(k)
		putUvarint(uint64(len(v)))
		w.Write(v)
		putUvarint(ver.HLC)
		putUvarint(idx[ver.Origin])
		return true
	})
	var tr [12]byte
	binary.LittleEndian.PutUint64(tr[:8], keys)
	if err := w.Flush(); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(tr[8:], crc.Sum32())
	_, err = f.Write(tr[:])
	return err
}

// Load reads the checkpoint at path into a new store.
func Load(path string) (Meta, *store.Store, error) {
	var meta Meta
	data, err := os.ReadFile(path)
	if err != nil {
		return meta, nil, err
	}
	return decode(path, data)
}

// Decode reads a checkpoint encoded by Encode (name says where it came from,
// in errors).
func Decode(name string, data []byte) (Meta, *store.Store, error) { return decode(name, data) }

func decode(path string, data []byte) (Meta, *store.Store, error) {
	var meta Meta
	bad := func(format string, a ...any) (Meta, *store.Store, error) {
		return meta, nil, fmt.Errorf("checkpoint %s: %s", path, fmt.Sprintf(format, a...))
	}
	if len(data) < 12 {
		return bad("too short (%d bytes)", len(data))
	}
	body, tr := data[:len(data)-12], data[len(data)-12:]
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != binary.LittleEndian.Uint32(tr[8:]) {
		return bad("checksum mismatch")
	}
	n, w := binary.Uvarint(body)
	if w <= 0 || uint64(len(body)-w) < n {
		return bad("bad header length")
	}
	if err := journal.Unmarshal(body[w:w+int(n)], &meta); err != nil {
		return bad("header: %v", err)
	}
	if meta.Magic != magic {
		return bad("not a checkpoint (magic %q)", meta.Magic)
	}
	body = body[w+int(n):]
	st := store.New()
	next := func() ([]byte, bool) {
		n, w := binary.Uvarint(body)
		if w <= 0 || uint64(len(body)-w) < n {
			return nil, false
		}
		b := body[w : w+int(n)]
		body = body[w+int(n):]
		return b, true
	}
	num := func() (uint64, bool) {
		x, w := binary.Uvarint(body)
		if w <= 0 {
			return 0, false
		}
		body = body[w:]
		return x, true
	}
	for i := uint64(0); i < meta.Keys; i++ {
		k, ok1 := next()
		v, ok2 := next()
		h, ok3 := num()
		o, ok4 := num()
		if !ok1 || !ok2 || !ok3 || !ok4 || o >= uint64(len(meta.Origins)) {
			return bad("entry %d is malformed", i)
		}
		st.Set(k, v, journal.Version{HLC: h, Origin: meta.Origins[o]})
	}
	if len(body) != 0 || binary.LittleEndian.Uint64(tr[:8]) != meta.Keys {
		return bad("entry count does not match")
	}
	return meta, st, nil
}

// LoadNewest loads the newest valid checkpoint whose position is at most
// maxPos. Invalid ones are skipped and reported in skipped. It returns a
// nil store if there is none.
func LoadNewest(instanceDir string, maxPos uint64) (meta Meta, st *store.Store, path string, skipped []error, err error) {
	files, err := List(instanceDir)
	if err != nil {
		return meta, nil, "", nil, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		if files[i].Pos > maxPos {
			continue
		}
		m, s, err := Load(files[i].Path)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		return m, s, files[i].Path, skipped, nil
	}
	return meta, nil, "", skipped, nil
}

// Prune removes all but the newest keep checkpoints, and every checkpoint
// above maxPos (a rollback makes those invalid).
func Prune(instanceDir string, keep int, maxPos uint64) error {
	return PruneKeeping(instanceDir, keep, maxPos, 0)
}

// PruneKeeping is Prune that also keeps the newest checkpoint below
// position below (if below > 0): the one retention truncates the journal
// to while a rollback may still remove the newer ones.
func PruneKeeping(instanceDir string, keep int, maxPos, below uint64) error {
	files, err := List(instanceDir)
	if err != nil {
		return err
	}
	var valid []File
	removed := false
	for _, f := range files {
		if f.Pos > maxPos {
			if err := os.Remove(f.Path); err != nil {
				return err
			}
			removed = true
			continue
		}
		valid = append(valid, f)
	}
	spare := -1
	for i, f := range valid {
		if below > 0 && f.Pos < below {
			spare = i
		}
	}
	for i := 0; i < len(valid)-keep; i++ {
		if i == spare {
			continue
		}
		if err := os.Remove(valid[i].Path); err != nil {
			return err
		}
		removed = true
	}
	if removed {
		return journal.SyncDir(filepath.Join(instanceDir, Dir))
	}
	return nil
}
