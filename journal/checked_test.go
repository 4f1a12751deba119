package journal_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege/journal"
)

// The file log's CheckedThrough is the last position its open checked:
// every entry on open, those before a torn tail it cut, none written
// since, and no more than a truncation kept. A Log that checks nothing at
// open (a MemLog) has checked nothing.
func TestCheckedThrough(t *testing.T) {
	dir := t.TempDir()
	open := func() journal.Log {
		t.Helper()
		l, err := journal.OpenFileLog(dir, 4096) // several segments
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	write := func(l journal.Log, from, to uint64) {
		t.Helper()
		var fs [][]byte
		for p := from; p <= to; p++ {
			fs = append(fs, testFrame(t, p, 300))
		}
		if err := l.Write(from, fs); err != nil {
			t.Fatal(err)
		}
	}
	want := func(l journal.Log, n uint64) {
		t.Helper()
		if got := journal.CheckedThrough(l); got != n {
			t.Fatalf("CheckedThrough %d, want %d", got, n)
		}
	}
	l := open()
	want(l, 0)
	write(l, 1, 40)
	want(l, 0) // written, not checked
	l.Close()

	l = open()
	want(l, 40)
	write(l, 41, 50)
	want(l, 40)
	if err := l.TruncateBack(30); err != nil {
		t.Fatal(err)
	}
	want(l, 30)
	write(l, 31, 45)
	want(l, 30)
	l.Close()

	// A torn last entry: the open cuts it, and checked those before.
	segs, err := journal.ListSegments(filepath.Join(dir, journal.WalDir))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(segs[len(segs)-1].Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(append([]byte{200, 1}, testFrame(t, 46, 300)[:20]...)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l = open()
	want(l, 45)
	l.Close()

	want(journal.NewMemLog(), 0)
}

// DecodeCheckedFrameBorrow decodes a frame as DecodeFrameBorrow does, and
// checks its header, but not its checksum.
func TestDecodeCheckedFrame(t *testing.T) {
	f := testFrame(t, 7, 50)
	d := journal.NewDecoder()
	var want, got journal.Record
	if err := d.DecodeFrameBorrow(f, &want); err != nil {
		t.Fatal(err)
	}
	if err := d.DecodeCheckedFrameBorrow(f, &got); err != nil {
		t.Fatal(err)
	}
	if got.Pos != 7 || string(got.Args) != string(want.Args) || string(got.Writes[0].Key) != string(want.Writes[0].Key) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	bad := append([]byte(nil), f...)
	bad[1] ^= 0xff
	if err := d.DecodeFrameBorrow(bad, &got); !errors.Is(err, journal.ErrChecksum) {
		t.Fatalf("DecodeFrameBorrow of a bad checksum: %v", err)
	}
	if err := d.DecodeCheckedFrameBorrow(bad, &got); err != nil || got.Pos != 7 {
		t.Fatalf("DecodeCheckedFrameBorrow of a bad checksum: %v, position %d", err, got.Pos)
	}
	for _, h := range [][]byte{nil, f[:3], append([]byte{f[0] + 1}, f[1:]...)} {
		_, want := journal.OpenFrame(h)
		if err := d.DecodeCheckedFrameBorrow(h, &got); err == nil || err.Error() != want.Error() {
			t.Fatalf("DecodeCheckedFrameBorrow of header % x: %v, want %v", h[:min(len(h), 5)], err, want)
		}
	}
}
