package benchkit

import (
	"time"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/journal"
)

// TicketRecord returns a journal record like the one the engine writes for
// ticket call number seat with valueSize-byte values: a point read of the
// absent seat and two sets of absent keys.
func TicketRecord(seat int64, valueSize int) (*journal.Record, error) {
	valueSize = max(valueSize, 1)
	t := TicketFor(seat)
	args, err := journal.Marshal(t)
	if err != nil {
		return nil, err
	}
	result, err := journal.Marshal(Sold)
	if err != nil {
		return nil, err
	}
	v1, err := journal.Marshal(paddedValue(valueSize, "owner=", t.Customer))
	if err != nil {
		return nil, err
	}
	v2, err := journal.Marshal(paddedValue(valueSize, "event=", t.Event))
	if err != nil {
		return nil, err
	}
	seatKey := SeatKey(t.Event, seat)
	oseq := uint64(seat) + 1
	return &journal.Record{
		Pos: oseq + 1, Kind: journal.KindLocal, Origin: "A", OSeq: oseq,
		HLC:  uint64(hlc.Make(time.Now().UnixMilli(), 0)),
		Proc: ProcName, Args: args, Result: result,
		Reads: []journal.PointRead{{Key: seatKey}},
		Writes: []journal.Write{
			{Key: seatKey, Op: journal.OpSet, Value: v1},
			{Key: OwnerKey(t.Customer, seat), Op: journal.OpSet, Value: v2},
		},
	}, nil
}

// TicketFrameSize returns the size of the journal frame of a representative
// ticket record (call number 100,000) with valueSize-byte values: the entry
// size raw wal appends need to compare with the engine when its own
// measured average is not at hand.
func TicketFrameSize(valueSize int) (int, error) {
	r, err := TicketRecord(100_000, valueSize)
	if err != nil {
		return 0, err
	}
	f, err := journal.NewEncoder().Frame(r)
	return len(f), err
}
