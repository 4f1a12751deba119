package engine

import (
	"fmt"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// The peer watermark below a truncated journal's front. A rollback leaves
// as its watermark the highest peer OSeq it keeps, read backwards from its
// target; where the journal's front comes first (retention truncated it),
// the records that said it are gone. One below the first peer OSeq rolled
// off is wrong where the peer's OSeqs have a gap (a peer that rolled back
// as vassal, then was promoted): this instance would then drop every
// frame of the peer, whose next Prev lies below that watermark. So every
// truncation keeps the watermark below the new front in the front file.

// peerWatermarkBelow returns the peer watermark just below position to: the
// OSeq of the last peer transaction before it, the watermark an epoch
// record there says a rollback left, or, where the journal's front comes
// first, the front's (nil when not known).
func (in *Instance) peerWatermarkBelow(to uint64) (*rollback.FrontWatermark, error) {
	for p := to; p > max(in.w.first, 1); { // down to the first position, inclusive
		p--
		r, err := in.readRecord(p)
		if err != nil {
			return nil, fmt.Errorf("read journal position %d for the peer watermark below the new front %d: %w", p, to, err)
		}
		switch {
		case r.Kind.IsTxn() && r.Origin != in.cfg.ID:
			return &rollback.FrontWatermark{PeerWatermark: r.OSeq}, nil
		case r.Kind == journal.KindEpoch && r.Rollback != nil:
			return &rollback.FrontWatermark{PeerWatermark: r.Rollback.PeerWatermark}, nil
		case r.Kind == journal.KindOpen:
			return &rollback.FrontWatermark{}, nil
		}
	}
	return in.ret.front, nil
}

func (f *front) setFrontWatermark(fw *rollback.FrontWatermark) {
	if fw == nil {
		f.PeerWatermark = nil
		return
	}
	wm := fw.PeerWatermark
	f.PeerWatermark = &wm
}

func (f *front) frontWatermark() *rollback.FrontWatermark {
	if f.PeerWatermark == nil {
		return nil
	}
	return &rollback.FrontWatermark{PeerWatermark: *f.PeerWatermark}
}
