package journal

import (
	"os"
	"path/filepath"
)

// WriteFramedFile replaces the file at path with payload in a frame
// (version and CRC32C), atomically: a temporary file in the same
// directory, fsync, rename, directory fsync. A crash leaves the old file or
// the new one, never a mix; a temporary file it leaves is ignored by
// readers (its name ends in .tmp).
func WriteFramedFile(path string, payload []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(AppendFrame(nil, payload))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = SyncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// ReadFramedFile reads a file written by WriteFramedFile and returns its
// checked payload.
func ReadFramedFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return OpenFrame(data)
}
