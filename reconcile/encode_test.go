package reconcile

import (
	"bytes"
	"testing"

	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

// Save writes a log encoded by hand, byte for byte what journal.Marshal,
// the format's definition (and what Load reads), gives.
func TestEncodeIsMarshal(t *testing.T) {
	str := rapid.StringOfN(rapid.RuneFrom([]rune("abcAB/-é")), 0, 40, -1)
	bin := rapid.SliceOfN(rapid.Byte(), 0, 40)
	rapid.Check(t, func(t *rapid.T) {
		l := &Log{Instance: str.Draw(t, "instance"), Epoch: rapid.Uint64().Draw(t, "epoch"), LostFile: str.Draw(t, "lost")}
		if rapid.Bool().Draw(t, "entries") {
			l.Entries = []Entry{}
			for range rapid.IntRange(0, 20).Draw(t, "n") {
				r := journal.Record{Pos: rapid.Uint64().Draw(t, "pos"), Kind: journal.Kind(rapid.IntRange(0, 12).Draw(t, "kind")),
					Origin: str.Draw(t, "origin"), OSeq: rapid.Uint64().Draw(t, "oseq"), HLC: rapid.Uint64().Draw(t, "hlc"),
					Proc: str.Draw(t, "proc"), Args: bin.Draw(t, "args"), Result: bin.Draw(t, "result"),
					Subject:        journal.TxID{Origin: str.Draw(t, "so"), OSeq: rapid.Uint64Range(0, 300).Draw(t, "ss")},
					IdempotencyKey: str.Draw(t, "idem")}
				for range rapid.IntRange(0, 3).Draw(t, "writes") {
					r.Writes = append(r.Writes, journal.Write{Key: bin.Draw(t, "key"), Value: bin.Draw(t, "value"), Before: bin.Draw(t, "before"), Op: journal.OpSet})
				}
				for range rapid.IntRange(0, 3).Draw(t, "reads") {
					r.Reads = append(r.Reads, journal.PointRead{Key: bin.Draw(t, "rkey")})
				}
				l.Entries = append(l.Entries, Entry{Record: r, Conflicting: rapid.Bool().Draw(t, "c"), Done: rapid.Bool().Draw(t, "d")})
			}
		}
		want, err := journal.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.encode(); !bytes.Equal(got, want) {
			t.Fatalf("encodings differ:\nMarshal %x\nencode  %x", want, got)
		}
	})
}
