package testproc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// Open opens an instance with the standard test procedures registered, its
// log going to the test's log, and closes it at the end of the test (a
// second Close is harmless).
func Open(t testing.TB, opts liege.Options) *liege.DB {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := liege.Open(opts)
	if err != nil {
		t.Fatalf("open %s: %v", opts.Dir, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := Register(db); err != nil {
		t.Fatal(err)
	}
	return db
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// CopyDir copies the directory tree src to dst (which must not exist),
// regular files and directories only. The instance in src must be closed.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		return copyFile(path, target)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Records decodes every record of the journal of a (closed) instance
// directory, checking that each record's position is its entry's.
func Records(dir string) ([]journal.Record, *journal.ScanResult, error) {
	var recs []journal.Record
	d := journal.NewDecoder()
	res, err := journal.Scan(filepath.Join(dir, journal.WalDir), func(e journal.Entry) error {
		var r journal.Record
		if err := d.DecodeFrame(e.Frame, &r); err != nil {
			return fmt.Errorf("position %d: %w", e.Pos, err)
		}
		if r.Pos != e.Pos {
			return fmt.Errorf("entry at position %d holds the record of position %d", e.Pos, r.Pos)
		}
		recs = append(recs, r)
		return nil
	})
	return recs, res, err
}

// Replay applies, in order, the transaction records of recs whose position
// is at most upto to a fresh store: the state an instance must have after
// recovering exactly those records.
func Replay(recs []journal.Record, upto uint64) *store.Store {
	st := store.New()
	for i := range recs {
		if recs[i].Pos <= upto && recs[i].Kind.IsTxn() {
			st.Apply(&recs[i])
		}
	}
	return st
}

// ReplayDir is Replay over the whole journal of a closed instance
// directory.
func ReplayDir(t testing.TB, dir string) *store.Store {
	t.Helper()
	recs, _, err := Records(dir)
	if err != nil {
		t.Fatalf("read journal of %s: %v", dir, err)
	}
	return Replay(recs, ^uint64(0))
}

// CheckJournal checks the journal of a closed instance directory without
// writing: every entry framed and decodable, no torn tail, positions
// contiguous from 1 and matching the records, an open record first naming
// id, epochs only growing and each epoch record closing a rollback that
// starts at its own position, and OSeqs of own transactions strictly
// increasing and never reused after a rollback (above every epoch record's
// HighOSeq). It also checks that no rollback intent is left.
func CheckJournal(dir, id string) error {
	recs, res, err := Records(dir)
	if err != nil {
		return err
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if res.Tail != nil {
		bad("torn tail: %v", res.Tail)
	}
	if len(recs) == 0 {
		return errors.New("journal is empty")
	}
	if recs[0].Pos != 1 || recs[0].Kind != journal.KindOpen || recs[0].Instance != id {
		bad("first record is %v at position %d of instance %q, want the open record of %q at 1", recs[0].Kind, recs[0].Pos, recs[0].Instance, id)
	}
	var epoch, oseq uint64
	for i := range recs {
		r := &recs[i]
		if i > 0 && r.Pos != recs[i-1].Pos+1 {
			bad("position %d follows %d", r.Pos, recs[i-1].Pos)
		}
		if r.Epoch < epoch {
			bad("position %d: epoch %d after epoch %d", r.Pos, r.Epoch, epoch)
		}
		switch {
		case r.Kind == journal.KindEpoch:
			// Above the epoch before it (a rollback may have rolled off an
			// earlier epoch record, so epochs may skip).
			if r.Epoch <= epoch {
				bad("position %d: epoch record for epoch %d after epoch %d", r.Pos, r.Epoch, epoch)
			}
			if r.Rollback == nil || r.Rollback.From != r.Pos || r.Rollback.To < r.Pos {
				bad("position %d: epoch record describes rollback %+v", r.Pos, r.Rollback)
			}
			if r.HighOSeq < oseq {
				bad("position %d: epoch record's HighOSeq %d is below OSeq %d already used", r.Pos, r.HighOSeq, oseq)
			}
			oseq = max(oseq, r.HighOSeq)
		case r.Kind.IsTxn() && r.Origin == id:
			if r.OSeq <= oseq {
				bad("position %d: OSeq %d is not above %d", r.Pos, r.OSeq, oseq)
			}
			oseq = r.OSeq
		}
		epoch = r.Epoch
	}
	if _, err := os.Stat(filepath.Join(dir, rollback.IntentFile)); !errors.Is(err, fs.ErrNotExist) {
		bad("a rollback intent is left (%v)", err)
	}
	return errors.Join(errs...)
}

// Verify checks a closed instance directory the way an operator would
// (journalctl verify: inspect.Verify) and with CheckJournal, failing the
// test on any problem.
func Verify(t testing.TB, dir, id string) {
	t.Helper()
	rep, err := inspect.Verify(dir)
	if err != nil {
		t.Errorf("verify %s: %v", dir, err)
	} else if !rep.OK() {
		for _, p := range rep.Problems {
			t.Errorf("verify %s: %v", dir, p)
		}
	}
	if err := CheckJournal(dir, id); err != nil {
		t.Errorf("check journal of %s: %v", dir, err)
	}
}
