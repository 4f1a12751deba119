package liege

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/liege-db/liege/journal"
)

// BackupInfo says what a backup holds.
type BackupInfo struct {
	// CheckpointPos is the journal position of the checkpoint taken for
	// it; the journal after it is in the backup up to the last durable
	// position when the copy was made.
	CheckpointPos uint64
	Files         int
	Bytes         int64
}

// Backup writes an online, consistent copy of the instance to w as a tar
// archive of its directory: a checkpoint taken now, the journal (every
// record durable when its segment was copied; a record cut short at the
// end is an unacknowledged tail the next open removes), and the side files
// (lost transactions, reconciliation logs, the journal's front). Retention
// is held while it copies. Restore it by extracting it into an empty
// directory and starting the instance there (docs/operations.md).
func (db *DB) Backup(ctx context.Context, w io.Writer) (BackupInfo, error) {
	var info BackupInfo
	if err := db.control(ctx, func() { db.in.HoldRetention(true) }); err != nil {
		return info, err
	}
	defer db.control(context.Background(), func() { db.in.HoldRetention(false) })
	if err := db.Checkpoint(ctx); err != nil {
		return info, fmt.Errorf("backup: take a checkpoint: %w", err)
	}
	info.CheckpointPos = db.lastCkptPos.Load()
	tw := tar.NewWriter(w)
	dir := db.opts.Dir
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile (a temporary file)
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		name := d.Name()
		if name == journal.LockFile || strings.HasSuffix(name, ".tmp") || strings.Contains(name, ".tmp.") {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: filepath.ToSlash(rel) + "/", Mode: 0o755, ModTime: fi.ModTime()})
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		// The size now: a segment being appended to is copied as far as it
		// was written (the records in it then, the last maybe cut short).
		fi, err = f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: filepath.ToSlash(rel), Mode: 0o644,
			Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
		n, err := io.Copy(tw, io.LimitReader(f, fi.Size()))
		if err == nil && n != fi.Size() {
			err = fmt.Errorf("%s shrank while it was copied (%d of %d bytes)", path, n, fi.Size())
		}
		info.Files++
		info.Bytes += n
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return info, fmt.Errorf("backup of %s: %w", dir, err)
	}
	return info, nil
}
