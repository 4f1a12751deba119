package checkpoint

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"

	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// DecodeFile reads the checkpoint file at path (written by Encode or
// Write) into a new store, streaming: the file's bytes are never all in
// memory at once, only the store they fill (a seed received from the peer
// would otherwise need its size twice). It checks what Decode checks.
func DecodeFile(path string) (Meta, *store.Store, error) {
	f, err := os.Open(path)
	if err != nil {
		return Meta{}, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Meta{}, nil, err
	}
	return decodeStream(path, f, fi.Size())
}

// consumed hashes the bytes read through it, and counts them.
type consumed struct {
	r   *bufio.Reader
	crc hash.Hash32
	n   int64
}

func (c *consumed) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.crc.Write([]byte{b})
		c.n++
	}
	return b, err
}

func (c *consumed) full(p []byte) error {
	if _, err := io.ReadFull(c.r, p); err != nil {
		return err
	}
	c.crc.Write(p)
	c.n += int64(len(p))
	return nil
}

// decodeStream decodes a checkpoint of size bytes from r.
func decodeStream(name string, r io.Reader, size int64) (Meta, *store.Store, error) {
	var meta Meta
	bad := func(format string, a ...any) (Meta, *store.Store, error) {
		return meta, nil, fmt.Errorf("checkpoint %s: %s", name, fmt.Sprintf(format, a...))
	}
	if size < 12 {
		return bad("too short (%d bytes)", size)
	}
	body := size - 12 // the bytes before the trailer
	c := &consumed{r: bufio.NewReaderSize(r, 1<<20), crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))}
	// bytesOf reads a length-prefixed byte string that must end within the
	// body (a damaged length must not allocate beyond the file).
	bytesOf := func() ([]byte, bool) {
		n, err := binary.ReadUvarint(c)
		if err != nil || n > uint64(body-c.n) {
			return nil, false
		}
		b := make([]byte, n)
		return b, c.full(b) == nil
	}
	num := func() (uint64, bool) {
		x, err := binary.ReadUvarint(c)
		return x, err == nil && c.n <= body
	}
	hdr, ok := bytesOf()
	if !ok {
		return bad("bad header length")
	}
	if err := journal.Unmarshal(hdr, &meta); err != nil {
		return bad("header: %v", err)
	}
	if meta.Magic != magic {
		return bad("not a checkpoint (magic %q)", meta.Magic)
	}
	st := store.New()
	for i := uint64(0); i < meta.Keys; i++ {
		k, ok1 := bytesOf()
		v, ok2 := bytesOf()
		h, ok3 := num()
		o, ok4 := num()
		if !ok1 || !ok2 || !ok3 || !ok4 || o >= uint64(len(meta.Origins)) {
			return bad("entry %d is malformed", i)
		}
		st.Set(k, v, journal.Version{HLC: h, Origin: meta.Origins[o]})
	}
	if c.n != body {
		return bad("entry count does not match")
	}
	var tr [12]byte
	if _, err := io.ReadFull(c.r, tr[:]); err != nil {
		return bad("trailer: %v", err)
	}
	if _, err := c.r.ReadByte(); !errors.Is(err, io.EOF) {
		return bad("bytes follow the trailer")
	}
	if c.crc.Sum32() != binary.LittleEndian.Uint32(tr[8:]) {
		return bad("checksum mismatch")
	}
	if binary.LittleEndian.Uint64(tr[:8]) != meta.Keys {
		return bad("entry count does not match")
	}
	return meta, st, nil
}
