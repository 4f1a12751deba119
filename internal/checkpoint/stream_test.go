package checkpoint

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

func sampleCheckpoint(t *testing.T) []byte {
	t.Helper()
	st := store.New()
	for i := range 300 {
		origin := "A"
		if i%3 == 0 {
			origin = "B"
		}
		st.Set([]byte(fmt.Sprintf("k%04d", i)), bytes.Repeat([]byte{byte(i)}, i%50), journal.Version{HLC: uint64(i + 1), Origin: origin})
	}
	var b bytes.Buffer
	if err := Encode(&b, Meta{Instance: "A", Pos: 9, Epoch: 2, HighOSeq: 7, PeerWatermark: 5, Held: []string{"B/3"}}, st.Snapshot()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// DecodeFile reads what Decode reads, from a file, and refuses what it
// refuses.
func TestDecodeFile(t *testing.T) {
	data := sampleCheckpoint(t)
	wantMeta, want, err := Decode("memory", data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(b []byte) string {
		p := filepath.Join(dir, "ckpt")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meta, got, err := DecodeFile(write(data))
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != want.Hash() || got.Len() != want.Len() || fmt.Sprint(meta) != fmt.Sprint(wantMeta) {
		t.Fatalf("DecodeFile: %d keys, meta %+v; Decode: %d keys, meta %+v", got.Len(), meta, want.Len(), wantMeta)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(data)
		b[i] ^= 0x40
		return b
	}
	huge := bytes.Clone(data)
	huge[0], huge[1], huge[2], huge[3] = 0xff, 0xff, 0xff, 0x7f // a header length far beyond the file
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"a flipped byte in an entry", flip(len(data) / 2)},
		{"a flipped byte in the trailer", flip(len(data) - 1)},
		{"truncated", data[:len(data)-5]},
		{"a byte after the trailer", append(bytes.Clone(data), 0)},
		{"too short", data[:7]},
		{"a length beyond the file", huge},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, st, err := DecodeFile(write(c.b))
			if err == nil || st != nil || !strings.Contains(err.Error(), "checkpoint ") {
				t.Fatalf("got %v (store %v), want a checkpoint error", err, st != nil)
			}
			if _, _, derr := Decode("memory", c.b); derr == nil {
				t.Fatalf("Decode accepts what DecodeFile refuses (%v)", err)
			}
		})
	}
}
