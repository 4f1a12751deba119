package rollback

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/liege-db/liege/journal"
)

// LostDir is the directory of lost transaction files in an instance
// directory.
const LostDir = "lost"

const lostMagic = "LIEGELOST1"

// LostHeader describes a lost transaction file.
type LostHeader struct {
	Magic    string
	Instance string
	// Epoch is the epoch the rollback started; PrevEpoch the one it ended.
	Epoch     uint64
	PrevEpoch uint64
	Reason    string
	// From and To are the journal positions rolled off, inclusive.
	From, To uint64
	Records  uint64
	// Created is when the file was written, in Unix milliseconds.
	Created int64
}

// LostFileName returns the name of the lost transaction file for a
// rollback, relative to the instance directory.
func LostFileName(instance string, epoch, from, to uint64) string {
	return filepath.Join(LostDir, fmt.Sprintf("lost-%s-e%d-%d-%d.ltf", instance, epoch, from, to))
}

// WriteLostFile writes the frames at positions hdr.From..hdr.To of j to
// path, atomically (temporary file, fsync, rename, directory fsync). Frames
// are copied as they are in the journal, checksums included.
func WriteLostFile(path string, hdr LostHeader, read func(pos uint64) ([]byte, error)) error {
	return writeLostFile(path, hdr, func(f *os.File) error {
		var readErr error
		err := journal.WriteEntries(f, hdr.From, hdr.To, func(p uint64) ([]byte, error) {
			fr, err := read(p)
			if err != nil {
				readErr = fmt.Errorf("save position %d to lost transaction file: %w", p, err)
			}
			return fr, readErr
		})
		if readErr != nil {
			return readErr
		}
		if err != nil {
			return fmt.Errorf("write lost transaction file: %w", err)
		}
		return nil
	})
}

// writeLostFile writes a lost transaction file as WriteLostFile does, its
// records written by body, which appends the frames of hdr.From..hdr.To
// to the file, each as uvarint(len)+frame, after the header.
func writeLostFile(path string, hdr LostHeader, body func(f *os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create lost transaction directory: %w", err)
	}
	hdr.Magic = lostMagic
	hdr.Records = hdr.To - hdr.From + 1
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create lost transaction file: %w", err)
	}
	defer os.Remove(tmp)
	hb, err := journal.Marshal(&hdr)
	if err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(binary.AppendUvarint(nil, uint64(len(hb)))); err != nil {
		f.Close()
		return fmt.Errorf("write lost transaction file: %w", err)
	}
	if _, err := f.Write(hb); err != nil {
		f.Close()
		return fmt.Errorf("write lost transaction file: %w", err)
	}
	if err := body(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync lost transaction file: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("install lost transaction file: %w", err)
	}
	return journal.SyncDir(filepath.Dir(path))
}

// LostFile is a lost transaction file read back.
type LostFile struct {
	Header  LostHeader
	Records []journal.Record
	// Size is the file's size in bytes, when it was read from one.
	Size int
}

// ReadLostFile reads and checks a lost transaction file.
func ReadLostFile(path string) (*LostFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLostFile(path, data)
}

// ParseLostFile parses the bytes of a lost transaction file; name is used
// in errors.
func ParseLostFile(name string, data []byte) (*LostFile, error) {
	off := 0
	next := func() ([]byte, error) {
		n, w := binary.Uvarint(data[off:])
		if w <= 0 || uint64(len(data)-off-w) < n {
			return nil, io.ErrUnexpectedEOF
		}
		b := data[off+w : off+w+int(n)]
		off += w + int(n)
		return b, nil
	}
	hb, err := next()
	if err != nil {
		return nil, fmt.Errorf("%s: not a lost transaction file (unreadable header)", name)
	}
	lf := &LostFile{Size: len(data)}
	if err := journal.Unmarshal(hb, &lf.Header); err != nil || lf.Header.Magic != lostMagic {
		return nil, fmt.Errorf("%s: not a lost transaction file", name)
	}
	// Room for the records the header counts, as far as the file's bytes
	// can hold them (a frame is more than 16 bytes; a damaged header
	// claims any number): a lost file of a long partition holds a million
	// records of 312 bytes, which growing by append copied over and over.
	lf.Records = make([]journal.Record, 0, min(lf.Header.Records, uint64(len(data)-off)/16))
	d := journal.NewDecoder()
	for p := lf.Header.From; off < len(data); p++ {
		at := off
		fr, err := next()
		if err != nil {
			return lf, fmt.Errorf("%s: record for position %d at byte %d: truncated", name, p, at)
		}
		var r journal.Record
		if err := d.DecodeFrame(fr, &r); err != nil {
			return lf, fmt.Errorf("%s: record for position %d at byte %d: %w", name, p, at, err)
		}
		lf.Records = append(lf.Records, r)
	}
	if uint64(len(lf.Records)) != lf.Header.Records {
		return lf, fmt.Errorf("%s: header says %d records, file holds %d", name, lf.Header.Records, len(lf.Records))
	}
	return lf, nil
}

// ErrNoIntent is returned by ReadIntent when there is no rollback intent.
var ErrNoIntent = errors.New("no rollback intent")
