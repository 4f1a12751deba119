// Package inspecttest builds small instance directories with a known
// journal and state for the tests of package inspect and of journalctl.
package inspecttest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// ID is the instance id of the fixtures.
const ID = "A"

// BookArgs are the arguments of "book": sell seat Seat of show Show to Name.
type BookArgs struct {
	Show string
	Seat int
	Name string
}

// ShowArgs are the arguments of "cancel" (Seat) and "count" (Show only).
type ShowArgs struct {
	Show string
	Seat int
}

// ErrTaken is returned by "book" for a seat already sold.
var ErrTaken = errors.New("seat taken")

// Register registers the fixture procedures on db:
//
//   - book: Get ("seat", show, seat) (absent), Set it to the name and Add 1
//     to ("sold", show); the result is {"seat": seat, "ok": true}.
//   - cancel: Get ("seat", show, seat), Delete it and Add -1 to ("sold",
//     show); the result is true.
//   - count: Scan the subtree ("seat", show), Get ("note", show) (absent)
//     and Set ("count", show) to the number of seats; the result is that
//     number.
func Register(db *liege.DB) error {
	noCorrection := func(*liege.Tx, BookArgs, map[string]any, map[string]any) (any, error) { return nil, nil }
	err := liege.Register(db, liege.Procedure[BookArgs, map[string]any]{
		Name: "book",
		Run: func(tx *liege.Tx, a BookArgs) (map[string]any, error) {
			key := liege.K("seat", a.Show, a.Seat)
			if _, ok := tx.Get(key); ok {
				return nil, ErrTaken
			}
			tx.Set(key, a.Name)
			tx.Add(liege.K("sold", a.Show), 1)
			return map[string]any{"seat": a.Seat, "ok": true}, nil
		},
		Correct: noCorrection,
	})
	if err != nil {
		return err
	}
	err = liege.Register(db, liege.Procedure[ShowArgs, bool]{
		Name: "cancel",
		Run: func(tx *liege.Tx, a ShowArgs) (bool, error) {
			key := liege.K("seat", a.Show, a.Seat)
			if _, ok := tx.Get(key); !ok {
				return false, nil
			}
			tx.Delete(key)
			tx.Add(liege.K("sold", a.Show), -1)
			return true, nil
		},
		Correct: func(*liege.Tx, ShowArgs, bool, bool) (any, error) { return nil, nil },
	})
	if err != nil {
		return err
	}
	return liege.Register(db, liege.Procedure[ShowArgs, int]{
		Name: "count",
		Run: func(tx *liege.Tx, a ShowArgs) (int, error) {
			prefix := liege.K("seat", a.Show)
			n := len(tx.Scan(prefix, prefix.PrefixEnd(), liege.ScanOptions{}))
			tx.Get(liege.K("note", a.Show))
			tx.Set(liege.K("count", a.Show), n)
			return n, nil
		},
		Correct: func(*liege.Tx, ShowArgs, int, int) (any, error) { return nil, nil },
	})
}

// Fixture is an instance directory built by Build.
type Fixture struct {
	Dir string
	// Hashes holds the state hash after each journal position, as the
	// engine reported it.
	Hashes map[uint64][32]byte
	// Last is the journal's last position.
	Last uint64
}

// Step is one call of Build.
type Step struct {
	Proc string
	Args any
}

// Steps are the calls Build makes, journaled at positions 2..7 as
// A/1..A/6.
var Steps = []Step{
	{"book", BookArgs{Show: "gala", Seat: 12, Name: "alice"}}, // 2, A/1
	{"book", BookArgs{Show: "gala", Seat: 13, Name: "bob"}},   // 3, A/2
	{"book", BookArgs{Show: "gala", Seat: 14, Name: "carol"}}, // 4, A/3
	{"cancel", ShowArgs{Show: "gala", Seat: 13}},              // 5, A/4
	{"count", ShowArgs{Show: "gala"}},                         // 6, A/5
	{"book", BookArgs{Show: "opera", Seat: 1, Name: "dave"}},  // 7, A/6
}

// Build creates an instance in dir (which must not hold one), makes the
// calls of Steps and closes it, which writes a checkpoint at position 7.
func Build(t testing.TB, dir string) *Fixture {
	t.Helper()
	db := Open(t, dir)
	f := &Fixture{Dir: dir, Hashes: map[uint64][32]byte{1: store.New().Hash()}}
	ctx := context.Background()
	for _, s := range Steps {
		res, err := db.Call(ctx, s.Proc, s.Args)
		if err != nil {
			t.Fatalf("call %s(%+v): %v", s.Proc, s.Args, err)
		}
		if res.Pos == 0 {
			t.Fatalf("call %s(%+v) committed nothing", s.Proc, s.Args)
		}
		h, err := db.Hash(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f.Hashes[res.Pos] = h
		f.Last = res.Pos
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return f
}

// Open opens the fixture instance in dir with the fixture procedures
// registered and closes it when the test ends (closing twice is harmless).
func Open(t testing.TB, dir string) *liege.DB {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: dir, ID: ID})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := Register(db); err != nil {
		t.Fatal(err)
	}
	return db
}

// Entries returns the journal entries of the instance in dir, in order.
func Entries(t testing.TB, dir string) []journal.Entry {
	t.Helper()
	var out []journal.Entry
	_, err := journal.Scan(filepath.Join(dir, journal.WalDir), func(e journal.Entry) error {
		e.Frame = append([]byte(nil), e.Frame...)
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("scan journal of %s: %v", dir, err)
	}
	return out
}

// FlipFrameByte flips a byte in the middle of the frame of the entry at
// pos (not in its length prefix, so the entry boundaries stay readable) and
// returns that entry.
func FlipFrameByte(t testing.TB, dir string, pos uint64) journal.Entry {
	t.Helper()
	for _, e := range Entries(t, dir) {
		if e.Pos != pos {
			continue
		}
		data, err := os.ReadFile(e.File)
		if err != nil {
			t.Fatal(err)
		}
		// The frame is the entry's last len(e.Frame) bytes after its uvarint
		// length prefix.
		hdr := uvarintLen(uint64(len(e.Frame)))
		at := e.Offset + int64(hdr) + int64(len(e.Frame))/2
		data[at] ^= 0x5a
		if err := os.WriteFile(e.File, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return e
	}
	t.Fatalf("no journal entry at position %d in %s", pos, dir)
	return journal.Entry{}
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// TruncateTail cuts n bytes off the end of the last journal segment and
// returns its path.
func TruncateTail(t testing.TB, dir string, n int64) string {
	t.Helper()
	segs, err := journal.ListSegments(filepath.Join(dir, journal.WalDir))
	if err != nil || len(segs) == 0 {
		t.Fatalf("list segments of %s: %v (%d segments)", dir, err, len(segs))
	}
	last := segs[len(segs)-1].Path
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()-n); err != nil {
		t.Fatal(err)
	}
	return last
}

// WriteJournal writes a journal of the given records, appended at
// positions 1, 2, ... whatever their Pos fields say, into dir/journal.
func WriteJournal(t testing.TB, dir string, recs []journal.Record) {
	t.Helper()
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc := journal.NewEncoder()
	for i := range recs {
		f, err := enc.Frame(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Append(uint64(i+1), f); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// Packed returns the msgpack encoding of v, for synthetic records.
func Packed(t testing.TB, v any) []byte {
	t.Helper()
	b, err := journal.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
