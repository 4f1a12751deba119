package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
)

// TestIdemFile: keys written come back in order with their outcome and the
// last mark wins (a rollback lowers it); a torn last entry is cut off;
// damage before the last entry is refused, naming the file.
func TestIdemFile(t *testing.T) {
	dir := t.TempDir()
	f, err := openIdemFile(dir, func(string, idemOutcome) { t.Fatal("a key from a file that does not exist") })
	if err != nil {
		t.Fatal(err)
	}
	a := idemOutcome{txid: journal.TxID{Origin: "A", OSeq: 7}, pos: 12, hlc: 99, raw: []byte("ok"), sum: 42}
	b := idemOutcome{txid: journal.TxID{Origin: "B", OSeq: 3}, pos: 14, hlc: 100, sum: 43}
	if err := f.append([]idemPending{{key: "ka", o: a}}, 12); err != nil {
		t.Fatal(err)
	}
	if err := f.append([]idemPending{{key: "kb", o: b}}, 10); err != nil {
		t.Fatal(err)
	}
	read := func() (*idemFile, []string, []idemOutcome, error) {
		var keys []string
		var got []idemOutcome
		g, err := openIdemFile(dir, func(k string, o idemOutcome) { keys, got = append(keys, k), append(got, o) })
		return g, keys, got, err
	}
	g, keys, outs, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if g.mark != 10 || g.entries != 2 || strings.Join(keys, ",") != "ka,kb" {
		t.Fatalf("read back mark %d, %d entries, keys %q; want mark 10 (the last), 2 entries, ka,kb", g.mark, g.entries, keys)
	}
	a.durable, b.durable = true, true
	if o := outs[0]; o.txid != a.txid || o.pos != a.pos || o.hlc != a.hlc || o.sum != a.sum || string(o.raw) != "ok" || !o.durable {
		t.Fatalf("ka read back as %+v, want %+v", o, a)
	}
	if o := outs[1]; o.txid != b.txid || o.raw != nil || !o.durable {
		t.Fatalf("kb read back as %+v, want %+v", o, b)
	}

	path := filepath.Join(dir, IdemFile)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A torn last entry (the mark) is cut off at start-up.
	if err := os.WriteFile(path, whole[:len(whole)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	g, keys, _, err = read()
	if err != nil || len(keys) != 2 || g.mark != 12 {
		t.Fatalf("torn last entry: %v, keys %q, mark %d; want both keys and the mark before it (12)", err, keys, g.mark)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(len(whole)-17) {
		t.Fatalf("torn last entry: the file is %d bytes, want %d (cut at the last whole entry)", fi.Size(), len(whole)-17)
	}
	// A flipped byte in the first entry is damage, not a torn tail.
	bad := append([]byte(nil), whole...)
	bad[20] ^= 0xff
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := read(); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "damaged at byte 0") {
		t.Fatalf("damaged first entry: %v; want an error naming %s and byte 0", err, path)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(len(bad)) {
		t.Fatalf("a damaged file was changed: %d bytes, want %d", fi.Size(), len(bad))
	}
}
