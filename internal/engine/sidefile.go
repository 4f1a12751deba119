package engine

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/liege-db/liege/journal"
)

// appendDurable appends buf to the side file at path (the TxID index, the
// idempotency keys) and fsyncs it; a file it creates has its directory
// entry synced too, so the file survives a crash once this returns.
func appendDurable(path string, buf []byte) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.Write(buf); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = journal.SyncDir(filepath.Dir(path))
	}
	return err
}
