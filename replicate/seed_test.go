package replicate

import (
	"fmt"
	"slices"
	"sort"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// The scenario harness's retention and seeding (node_test.go): the fake
// engine's journal keeps every record (positions index it), and a
// compaction only moves where the node's view of it begins.

// fakeSeed is a fake instance's retention and seeding state.
type fakeSeed struct {
	first    int      // index of the first journal record retention kept
	from     int      // index of the first journal record after a seed
	basePrev uint64   // the last own OSeq before it (NodeState.BasePrev)
	wm       uint64   // the watermark a seed brought
	ids      []string // the TxIDs the seed's state holds (for check)
	buf      []byte   // the peer's checkpoint so far
	seeded   bool
}

// seedEmpty: nothing but the open (and role) records, never seeded.
func (in *fakeInst) seedEmpty() bool {
	if in.seed.seeded || in.epoch != 0 {
		return false
	}
	for _, r := range in.journal {
		if r.Kind != journal.KindOpen && r.Kind != journal.KindRole {
			return false
		}
	}
	return true
}

// fakeCheckpoint is what the fake sends as its checkpoint.
type fakeCheckpoint struct {
	IDs    []string
	Keys   []string
	Values []string
	HLCs   []uint64
	Origin []string
	Held   []string `codec:",omitempty"` // the receiver's subjects the sender's journal holds a reprocess of
}

func (h *harness) runSeed(cmd, first string, count func(int) int) bool {
	switch cmd {
	case "compact":
		in := h.get(first)
		pos := uint64(count(0))
		if pos < 2 || pos > uint64(len(in.journal)) {
			h.t.Fatalf("compact %s n=%d: want a position in 2..%d", in.id, pos, len(in.journal))
		}
		in.seed.basePrev = in.node.OwnBefore(pos)
		in.seed.first = int(pos - 1)
		in.node.Compacted(pos)
		h.printf("%s: journal begins at pos %d, own OSeqs up to %d before it\n", in.id, pos, in.seed.basePrev)
	case "wipe":
		in := h.get(first)
		if in.node != nil {
			h.t.Fatalf("wipe %s: crash it first", in.id)
		}
		fresh := &fakeInst{h: h, id: in.id, peer: in.peer, role: in.role, reign: 1, state: map[string]entry{}, committed: in.committed}
		fresh.journal = append(fresh.journal, &journal.Record{Pos: 1, Kind: journal.KindOpen, Instance: in.id})
		fresh.undo = append(fresh.undo, nil)
		h.inst[in.id] = fresh
		h.printf("%s: directory lost: empty\n", in.id)
	default:
		return false
	}
	return true
}

// seedReady carries out a Ready's seeding part, after Advance (it gives the
// node inputs).
func (in *fakeInst) seedReady(s *SeedReady) func() {
	for _, c := range s.Chunks {
		in.seed.buf = append(in.seed.buf, c...)
	}
	return func() {
		if s.Send {
			cp := fakeCheckpoint{}
			for _, r := range in.journal {
				if r.Kind.IsTxn() {
					cp.IDs = append(cp.IDs, r.TxID().String())
				}
			}
			cp.IDs = append(cp.IDs, in.seed.ids...)
			for _, r := range in.journal {
				if r.Kind.IsTxn() && r.Subject.Origin == in.peer {
					cp.Held = append(cp.Held, r.Subject.String())
				}
			}
			keys := make([]string, 0, len(in.state))
			for k := range in.state {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				e := in.state[k]
				cp.Keys, cp.Values = append(cp.Keys, k), append(cp.Values, e.val)
				cp.HLCs, cp.Origin = append(cp.HLCs, e.ver.HLC), append(cp.Origin, e.ver.Origin)
			}
			b, err := journal.Marshal(&cp)
			if err != nil {
				in.h.t.Fatal(err)
			}
			in.node.SendSeed(b, in.node.Status().LastOwn, in.watermark())
			in.process()
		}
		if d := s.Done; d != nil {
			var cp fakeCheckpoint
			if err := journal.Unmarshal(in.seed.buf, &cp); err != nil {
				in.h.t.Fatalf("%s: the peer's checkpoint: %v", in.id, err)
			}
			in.seed.buf = nil
			in.state = map[string]entry{} // the checkpoint is the whole state (a re-seed replaces one)
			for _, s := range cp.Held {
				id, err := journal.ParseTxID(s)
				if err != nil {
					in.h.t.Fatal(err)
				}
				d.Held = append(d.Held, id)
				in.pending = slices.DeleteFunc(in.pending, func(p *journal.Record) bool { return standsFor(p) == id })
			}
			for i, k := range cp.Keys {
				in.state[k] = entry{val: cp.Values[i], ver: journal.Version{HLC: cp.HLCs[i], Origin: cp.Origin[i]}}
			}
			in.seed.ids, in.seed.wm, in.seed.basePrev, in.seed.seeded = cp.IDs, d.Watermark, d.BasePrev, true
			in.seed.first, in.seed.from = len(in.journal), len(in.journal)
			in.highOSeq = max(in.highOSeq, d.BasePrev)
			in.h.printf("%s: installed the peer's checkpoint: %d keys, watermark %d, own OSeqs up to %d%s\n", in.id, len(cp.Keys), d.Watermark, d.BasePrev, map[bool]string{true: " (re-seed)"}[d.Reseed])
			in.node.Seeded(*d)
			in.process()
		}
	}
}

func printSeed(p func(string, ...any), s *SeedReady) {
	if s.Send {
		p("send our checkpoint")
	}
	if len(s.Chunks) > 0 {
		n := 0
		for _, c := range s.Chunks {
			n += len(c)
		}
		p("checkpoint bytes: %d in %d chunk(s)", n, len(s.Chunks))
	}
	if d := s.Done; d != nil {
		p("install the checkpoint (%d bytes): watermark %d, own OSeqs up to %d", d.Bytes, d.Watermark, d.BasePrev)
	}
}

func seedFrameString(f *link.Frame) string {
	switch f.Kind {
	case link.KindSeedOffer:
		return fmt.Sprintf(" journal after %d", f.Watermark)
	case link.KindSeed:
		return fmt.Sprintf(" bytes %d..%d of %d wm %d prev %d", f.Offset, f.Offset+uint64(len(f.Chunk)), f.Total, f.Watermark, f.Prev)
	}
	return ""
}
