package replicate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
)

// ownSlab.fromRecord against detect.FromRecord on random records: the same
// Txn, its keys copies (the Runner reuses a record's memory), and no Txn
// made before shares bytes a later one overwrites.
func TestOwnSlabMatchesFromRecord(t *testing.T) {
	seed := uint64(rand.Int64())
	rng := rand.New(rand.NewPCG(seed, 1))
	key := func() []byte {
		k := make([]byte, 1+rng.IntN(80))
		for i := range k {
			k[i] = byte(rng.IntN(256))
		}
		return k
	}
	var s ownSlab
	var recs []*journal.Record
	var got, want []*detect.Txn
	for i := range 3000 {
		r := &journal.Record{Origin: "A", OSeq: uint64(i + 1), HLC: uint64(10 * i), PeerSeen: uint64(i / 3), Pos: uint64(2*i + 5)}
		for range rng.IntN(40) {
			r.Reads = append(r.Reads, journal.PointRead{Key: key()})
		}
		for range rng.IntN(40) {
			r.Writes = append(r.Writes, journal.Write{Key: key(), Op: journal.Op(rng.IntN(3))})
		}
		if rng.IntN(20) == 0 {
			r.Ranges = append(r.Ranges, journal.RangeRead{Lo: key(), Hi: key(), LoInclusive: true})
		}
		recs = append(recs, r)
		got = append(got, s.fromRecord(r))
		want = append(want, detect.FromRecord(r))
	}
	for _, r := range recs {
		for i := range r.Reads {
			clear(r.Reads[i].Key)
		}
		for i := range r.Writes {
			clear(r.Writes[i].Key)
		}
	}
	for i := range recs {
		if d := txnDiff(got[i], want[i]); d != "" {
			t.Fatalf("seed %d: record %d: %s", seed, i, d)
		}
	}
}

func txnDiff(a, b *detect.Txn) string {
	if a.ID != b.ID || a.HLC != b.HLC || a.PeerSeen != b.PeerSeen || a.Pos != b.Pos {
		return fmt.Sprintf("header %v/%d/%d/%d, want %v/%d/%d/%d", a.ID, a.HLC, a.PeerSeen, a.Pos, b.ID, b.HLC, b.PeerSeen, b.Pos)
	}
	if len(a.Reads) != len(b.Reads) || len(a.Writes) != len(b.Writes) || len(a.Ranges) != len(b.Ranges) {
		return fmt.Sprintf("%d reads, %d writes, %d ranges; want %d, %d, %d", len(a.Reads), len(a.Writes), len(a.Ranges), len(b.Reads), len(b.Writes), len(b.Ranges))
	}
	for i := range a.Reads {
		if !bytes.Equal(a.Reads[i], b.Reads[i]) {
			return fmt.Sprintf("read %d is %x, want %x", i, a.Reads[i], b.Reads[i])
		}
	}
	for i := range a.Writes {
		if !bytes.Equal(a.Writes[i].Key, b.Writes[i].Key) || a.Writes[i].Add != b.Writes[i].Add {
			return fmt.Sprintf("write %d is %x/%v, want %x/%v", i, a.Writes[i].Key, a.Writes[i].Add, b.Writes[i].Key, b.Writes[i].Add)
		}
	}
	for i := range a.Ranges {
		x, y := a.Ranges[i], b.Ranges[i]
		if !bytes.Equal(x.Lo, y.Lo) || !bytes.Equal(x.Hi, y.Hi) || x.LoInclusive != y.LoInclusive || x.HiInclusive != y.HiInclusive {
			return fmt.Sprintf("range %d differs", i)
		}
	}
	return ""
}
