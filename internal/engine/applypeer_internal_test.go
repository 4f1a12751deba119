package engine

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liege-db/liege/journal"
)

// TestApplyPeerBeforeImages: whichever path applyPeer takes (one search per
// key, or the two-pass path for a record that writes a key twice), the
// journaled before-images are the keys' values before the record, the
// store ends as the record says, and a record that fails leaves the store
// as it was.
func TestApplyPeerBeforeImages(t *testing.T) {
	in, err := Open(Config{ID: "A", Dir: t.TempDir(), Log: journal.NewMemLog(), Runner: noProcs{}, Now: time.Now, CheckpointEvery: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	old := journal.Version{HLC: 10, Origin: "A"}
	in.st.Set([]byte("set"), []byte("s0"), old)
	in.st.Set([]byte("del"), []byte("d0"), old)
	in.st.Set([]byte("add"), encodeInt(5), old)
	in.st.Set([]byte("twice"), []byte("t0"), old)
	in.st.Set([]byte("text"), []byte("not a number"), old)
	oseq := uint64(0)
	peer := func(ws ...journal.Write) *journal.Record {
		oseq++
		return &journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: oseq, HLC: 100 + oseq, Writes: ws}
	}
	type want struct {
		key, before string
		absent      bool
	}
	check := func(name string, r *journal.Record, wants []want, after map[string]string) {
		t.Helper()
		if !swappable(r) && name == "one search" || swappable(r) && name == "two passes" {
			t.Fatalf("%s: swappable(%v) = %v: the test does not take the path it means to", name, r.Writes, swappable(r))
		}
		if err := in.applyPeer(r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := in.ReadRecord(in.lastPos)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Writes) != len(wants) {
			t.Fatalf("%s: journaled %d writes, want %d", name, len(got.Writes), len(wants))
		}
		for i, w := range wants {
			g := got.Writes[i]
			if string(g.Key) != w.key || (g.Before == nil) != w.absent || string(g.Before) != w.before {
				t.Errorf("%s: write %d journaled %q before %q (nil %v), want %q before %q (absent %v)",
					name, i, g.Key, g.Before, g.Before == nil, w.key, w.before, w.absent)
			}
			if !w.absent && g.BeforeVersion != old {
				t.Errorf("%s: write %d before-version %v, want %v", name, i, g.BeforeVersion, old)
			}
		}
		for k, v := range after {
			cur, _, ok := in.st.Get([]byte(k))
			if v == "" && ok || v != "" && !bytes.Equal(cur, []byte(v)) {
				t.Errorf("%s: %q holds %q (present %v) after the record, want %q", name, k, cur, ok, v)
			}
		}
	}
	check("one search", peer(
		journal.Write{Key: []byte("set"), Op: journal.OpSet, Value: []byte("s1")},
		journal.Write{Key: []byte("del"), Op: journal.OpDelete},
		journal.Write{Key: []byte("add"), Op: journal.OpAdd, Delta: 2},
		journal.Write{Key: []byte("new"), Op: journal.OpSet, Value: []byte("n1")},
	), []want{{key: "set", before: "s0"}, {key: "del", before: "d0"}, {key: "add", before: string(encodeInt(5))}, {key: "new", absent: true}},
		map[string]string{"set": "s1", "del": "", "add": string(encodeInt(7)), "new": "n1"})
	// A key written twice keeps, for both writes, the before-image it had
	// before the record.
	check("two passes", peer(
		journal.Write{Key: []byte("twice"), Op: journal.OpSet, Value: []byte("t1")},
		journal.Write{Key: []byte("twice"), Op: journal.OpSet, Value: []byte("t2")},
	), []want{{key: "twice", before: "t0"}, {key: "twice", before: "t0"}}, map[string]string{"twice": "t2"})

	// An add to a non-integer fails the record after a write was made:
	// that write is undone.
	pos, h := in.lastPos, in.st.Hash()
	r := peer(
		journal.Write{Key: []byte("set"), Op: journal.OpSet, Value: []byte("s2")},
		journal.Write{Key: []byte("new"), Op: journal.OpDelete},
		journal.Write{Key: []byte("text"), Op: journal.OpAdd, Delta: 1},
	)
	if !swappable(r) {
		t.Fatal("the failing record does not take the one-search path")
	}
	if err := in.applyPeer(r); err == nil {
		t.Fatal("an add to a non-integer was applied")
	}
	if in.lastPos != pos {
		t.Errorf("a failed record moved the journal to position %d, from %d", in.lastPos, pos)
	}
	if in.st.Hash() != h {
		t.Error("a failed record left the store changed: the writes it made before the failure were not undone")
	}
}

// noProcs is a Runner for a test that runs no procedure (a call panics).
type noProcs struct{ Runner }
