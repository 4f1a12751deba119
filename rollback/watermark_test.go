package rollback_test

import (
	"fmt"
	"testing"

	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// memJournal is a rollback.Journal in memory: frames by position from 1.
type memJournal struct{ frames [][]byte }

func (j *memJournal) Next() uint64 { return uint64(len(j.frames)) + 1 }

func (j *memJournal) Read(pos uint64) ([]byte, error) {
	if pos < 1 || pos > uint64(len(j.frames)) {
		return nil, fmt.Errorf("position %d is outside 1..%d", pos, len(j.frames))
	}
	return j.frames[pos-1], nil
}

func (j *memJournal) Append(pos uint64, f []byte) error {
	if pos != j.Next() {
		return fmt.Errorf("append at %d, want %d", pos, j.Next())
	}
	j.frames = append(j.frames, append([]byte(nil), f...)) // the Encoder reuses its buffer
	return nil
}

func (j *memJournal) Flush() error { return nil }

func (j *memJournal) TruncateAfter(pos uint64) error {
	j.frames = j.frames[:pos]
	return nil
}

// TestRollbackWatermarkAcrossPeerOSeqGap: the peer watermark a rollback
// leaves is the OSeq of the last peer record kept, not one below the first
// peer record rolled off. They differ when the peer's OSeqs have a gap,
// which they do after a promote: the new liege's rolled-off vassal
// transactions keep their OSeqs. Found by the simulator on the real engine
// (liege inject --sim --engine, seeds 5, 7, 14, 19, 33, 61, 63, 70, 73, 82,
// 95 of the first 100): the vassal's watermark fell inside the gap, every
// later frame of the liege carried a Prev below it and was dropped, and the
// pair never converged.
func TestRollbackWatermarkAcrossPeerOSeqGap(t *testing.T) {
	// Position: 1 open, 2 peer B/3, 3 own A/1, 4 peer B/21 (B/4..B/20 were
	// rolled off at B before it was promoted), 5 own A/2, 6 peer B/22.
	recs := []journal.Record{
		{Pos: 1, Kind: journal.KindOpen, Instance: "A"},
		{Pos: 2, Kind: journal.KindPeer, Origin: "B", OSeq: 3, HLC: 10, Writes: []journal.Write{{Key: []byte("k"), Op: journal.OpSet, Value: []byte("b3")}}},
		{Pos: 3, Kind: journal.KindLocal, Origin: "A", OSeq: 1, HLC: 11, Writes: []journal.Write{{Key: []byte("a"), Op: journal.OpSet, Value: []byte("a1")}}},
		{Pos: 4, Kind: journal.KindPeer, Origin: "B", OSeq: 21, HLC: 12, Writes: []journal.Write{{Key: []byte("k"), Op: journal.OpSet, Value: []byte("b21"), Before: []byte("b3"), BeforeVersion: journal.Version{HLC: 10, Origin: "B"}}}},
		{Pos: 5, Kind: journal.KindLocal, Origin: "A", OSeq: 2, HLC: 13, Writes: []journal.Write{{Key: []byte("a"), Op: journal.OpSet, Value: []byte("a2"), Before: []byte("a1"), BeforeVersion: journal.Version{HLC: 11, Origin: "A"}}}},
		{Pos: 6, Kind: journal.KindPeer, Origin: "B", OSeq: 22, HLC: 14, Writes: []journal.Write{{Key: []byte("k"), Op: journal.OpSet, Value: []byte("b22"), Before: []byte("b21"), BeforeVersion: journal.Version{HLC: 12, Origin: "B"}}}},
	}
	for _, tc := range []struct {
		name   string
		online bool // undo a Store in memory, or scan the lost file
		target uint64
		want   uint64
	}{
		{"online, across the gap", true, 4, 3},
		{"offline, across the gap", false, 4, 3},
		{"online, after the gap", true, 5, 21},
		{"offline, after the gap", false, 6, 21},
		{"online, from the first record", true, 2, 0},
		{"offline, from the first record", false, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := journal.NewEncoder()
			j := &memJournal{}
			st := store.New()
			for i := range recs {
				f, err := enc.Frame(&recs[i])
				if err != nil {
					t.Fatal(err)
				}
				if err := j.Append(recs[i].Pos, f); err != nil {
					t.Fatal(err)
				}
				st.Apply(&recs[i])
			}
			env := rollback.Env{Dir: t.TempDir(), Instance: "A", Self: "A", Journal: j, Encoder: enc,
				Epoch: 1, HighOSeq: 2, PeerWatermark: 22}
			if tc.online {
				env.Store = st
			}
			res, err := rollback.Run(env, tc.target, "test")
			if err != nil {
				t.Fatal(err)
			}
			if res.PeerWatermark != tc.want {
				t.Fatalf("rollback to before %d: peer watermark %d, want %d (the last peer OSeq kept)", tc.target, res.PeerWatermark, tc.want)
			}
			// The epoch record, which recovery reads, says the same.
			var ep journal.Record
			f, err := j.Read(tc.target)
			if err == nil {
				err = journal.NewDecoder().DecodeFrame(f, &ep)
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.Kind != journal.KindEpoch || ep.Rollback == nil || ep.Rollback.PeerWatermark != tc.want {
				t.Fatalf("epoch record at %d: %+v, want a rollback with peer watermark %d", tc.target, ep.Rollback, tc.want)
			}
		})
	}
}

// truncatedJournal is a memJournal whose front was truncated: positions
// before first are gone.
type truncatedJournal struct {
	*memJournal
	first uint64
}

func (j *truncatedJournal) Read(pos uint64) ([]byte, error) {
	if pos < j.first {
		return nil, fmt.Errorf("position %d is before the journal's front %d", pos, j.first)
	}
	return j.memJournal.Read(pos)
}

// TestRollbackWatermarkAtTruncatedFront: a rollback whose target has no
// peer or epoch record before it in a journal whose front retention
// truncated leaves the watermark Env.Front says, not one below the first
// peer record rolled off (20 here, inside the peer's OSeq gap: the
// simulator's seed 684 with retention and promotes, where the vassal then
// dropped every frame of the liege for good).
func TestRollbackWatermarkAtTruncatedFront(t *testing.T) {
	// Position: 1 open, 2 peer B/3, 3 own A/1 (both truncated), 4 peer
	// B/21 (B/4..B/20 were rolled off at B), 5 own A/2, 6 peer B/22.
	recs := []journal.Record{
		{Pos: 1, Kind: journal.KindOpen, Instance: "A"},
		{Pos: 2, Kind: journal.KindPeer, Origin: "B", OSeq: 3, HLC: 10},
		{Pos: 3, Kind: journal.KindLocal, Origin: "A", OSeq: 1, HLC: 11},
		{Pos: 4, Kind: journal.KindPeer, Origin: "B", OSeq: 21, HLC: 12, Writes: []journal.Write{{Key: []byte("k"), Op: journal.OpSet, Value: []byte("b21")}}},
		{Pos: 5, Kind: journal.KindLocal, Origin: "A", OSeq: 2, HLC: 13, Writes: []journal.Write{{Key: []byte("a"), Op: journal.OpSet, Value: []byte("a2")}}},
		{Pos: 6, Kind: journal.KindPeer, Origin: "B", OSeq: 22, HLC: 14, Writes: []journal.Write{{Key: []byte("k"), Op: journal.OpSet, Value: []byte("b22"), Before: []byte("b21"), BeforeVersion: journal.Version{HLC: 12, Origin: "B"}}}},
	}
	for _, tc := range []struct {
		name   string
		online bool
		front  *rollback.FrontWatermark
		target uint64
		want   uint64
	}{
		{"online, front known", true, &rollback.FrontWatermark{PeerWatermark: 3}, 4, 3},
		{"offline, front known", false, &rollback.FrontWatermark{PeerWatermark: 3}, 4, 3},
		{"front unknown: one below the first rolled off", true, nil, 4, 20},
		{"a peer record before the target", true, &rollback.FrontWatermark{PeerWatermark: 3}, 5, 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := journal.NewEncoder()
			mj := &memJournal{}
			st := store.New()
			for i := range recs {
				f, err := enc.Frame(&recs[i])
				if err != nil {
					t.Fatal(err)
				}
				if err := mj.Append(recs[i].Pos, f); err != nil {
					t.Fatal(err)
				}
				st.Apply(&recs[i])
			}
			j := &truncatedJournal{memJournal: mj, first: 4}
			env := rollback.Env{Dir: t.TempDir(), Instance: "A", Self: "A", Journal: j, Encoder: enc,
				Epoch: 1, HighOSeq: 2, PeerWatermark: 22, Front: tc.front}
			if tc.online {
				env.Store = st
			}
			res, err := rollback.Run(env, tc.target, "test")
			if err != nil {
				t.Fatal(err)
			}
			if res.PeerWatermark != tc.want {
				t.Fatalf("rollback to before %d: peer watermark %d, want %d", tc.target, res.PeerWatermark, tc.want)
			}
		})
	}
}
