package inspect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/liege-db/liege/journal"
)

// dirError reports an instance directory that is missing or is not one. It
// wraps fs.ErrNotExist so callers can test for it with errors.Is.
type dirError struct{ msg string }

func (e *dirError) Error() string { return e.msg }
func (e *dirError) Unwrap() error { return fs.ErrNotExist }

// lockDir checks that dir is an instance directory and takes the shared
// lock of a read-only tool on it (journal.CheckFree): it fails with a
// *journal.InUseError while an instance runs there.
func lockDir(dir string) (release func(), err error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &dirError{fmt.Sprintf("instance directory %s does not exist", dir)}
	}
	if err != nil {
		return nil, fmt.Errorf("instance directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory: give the instance directory (the one holding journal/)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, journal.WalDir)); errors.Is(err, fs.ErrNotExist) {
		return nil, &dirError{fmt.Sprintf("%s is not an instance directory: it has no %s/ subdirectory", dir, journal.WalDir)}
	}
	return journal.CheckFree(dir)
}

// Records decodes every valid record of the journal of the stopped instance
// in dir, in position order, and calls fn with each record's position in
// the journal and the record. rec is reused: it (and every slice in it) is
// valid only during the call. fn sees the record as stored: a record that
// claims another position than the one it is stored at is passed on, with
// pos the position it is stored at (Verify reports it).
//
// A frame that fails its checksum anywhere but in the torn tail of the last
// segment, or a record that does not decode, stops the scan with a
// *journal.DamageError naming the file, byte offset and position; fn has
// seen every record before it. A torn tail is not an error: it is returned
// in ScanResult.Tail. An error returned by fn stops the scan and is
// returned as it is.
func Records(dir string, fn func(pos uint64, rec *journal.Record) error) (*journal.ScanResult, error) {
	return RecordsBetween(dir, 0, 0, fn)
}

// RecordsBetween is Records for the positions from..to only (inclusive; a
// to of 0 means up to the end). Records before from are checked but not
// decoded; the scan stops after to, so the ScanResult then describes the
// journal only up to to.
func RecordsBetween(dir string, from, to uint64, fn func(pos uint64, rec *journal.Record) error) (*journal.ScanResult, error) {
	release, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer release()
	return scanRecords(dir, from, to, func(e journal.Entry, rec *journal.Record) error { return fn(e.Pos, rec) })
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// scanRecords decodes the records at positions from..to (to 0: up to the
// end) of the journal in dir and calls fn with each entry and its record.
func scanRecords(dir string, from, to uint64, fn func(e journal.Entry, rec *journal.Record) error) (*journal.ScanResult, error) {
	d := journal.NewDecoder()
	var rec journal.Record
	res, err := journal.Scan(filepath.Join(dir, journal.WalDir), func(e journal.Entry) error {
		if e.Pos < from {
			return nil
		}
		if to != 0 && e.Pos > to {
			return errStop
		}
		if err := d.DecodeFrame(e.Frame, &rec); err != nil {
			return &journal.DamageError{File: e.File, Offset: e.Offset, Pos: e.Pos, Err: err}
		}
		return fn(e, &rec)
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return res, err
}
