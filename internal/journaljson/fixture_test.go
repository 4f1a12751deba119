package journaljson

import (
	"math"
	"time"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// fixtureRecords are records with every field and the values that are
// hard to print: HTML characters, U+2028, non-UTF-8 strings and bytes,
// unsigned, float, NaN and infinite numbers, timestamps, non-string map
// keys, undecodable msgpack, keys that are not tuples, unbounded ranges.
func fixtureRecords() []journal.Record {
	pack := func(v any) []byte {
		b, err := journal.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	args := pack(map[string]any{
		"<b>": "a&b>c", "line\u2028sep\u2029": 1.5, "n": int64(-3), "u": uint64(1 << 63),
		"bin": []byte{0xff, 0x00}, "utf8bin": []byte("text"), "nan": math.NaN(), "inf": math.Inf(1), "ninf": math.Inf(-1),
		"nested": []any{nil, true, "é", int64(1) << 40, 2.0}, "when": time.Unix(1700000000, 5e6).UTC(),
		"intkeys": map[int64]string{1: "one", -2: "minus two"},
	})
	seat := tuple.Pack("seat", "gala", int64(12))
	return []journal.Record{
		{Pos: 1, Kind: journal.KindOpen, Instance: "A", HighOSeq: 40},
		{Pos: 2, Epoch: 1, Kind: journal.KindLocal, Origin: "A", OSeq: 1, HLC: 117655477043789824 + 3, PeerSeen: 7, Proc: "book",
			Args: args, Result: pack("ok <&>"), IdempotencyKey: "client-1/42",
			Reads: []journal.PointRead{
				{Key: seat, Version: journal.Version{HLC: 117655477043789000, Origin: "B"}},
				{Key: tuple.Pack("bad\xffutf8"), Version: journal.Version{}},
				{Key: []byte{0xff, 0x01}},
			},
			Ranges: []journal.RangeRead{
				{Lo: tuple.Pack("seat"), Hi: tuple.PrefixEnd(tuple.Pack("seat")), LoInclusive: true},
				{Lo: nil, Hi: tuple.Pack("z", int64(-1)), HiInclusive: true},
				{},
			},
			Writes: []journal.Write{
				{Key: seat, Op: journal.OpSet, Value: pack("alice"), Before: pack(nil), BeforeVersion: journal.Version{HLC: 9, Origin: "B"}},
				{Key: tuple.Pack("count"), Op: journal.OpAdd, Delta: -5, Value: pack(int64(95)), Before: pack(int64(100)), BeforeVersion: journal.Version{HLC: 8, Origin: "A"}},
				{Key: tuple.Pack("gone"), Op: journal.OpDelete, Before: []byte{0xc1}, BeforeVersion: journal.Version{HLC: 7, Origin: "A"}},
				{Key: tuple.Pack("new"), Op: journal.OpSet, Value: pack(map[string]any{"x": []any{}, "y": map[string]any{}})},
			}},
		{Pos: 3, Epoch: 1, Kind: journal.KindPeer, Origin: "B", OSeq: 2, HLC: 117655477043789824 + 9, Proc: "cancel", Args: pack([]any{"gala", int64(12)})},
		{Pos: 4, Epoch: 1, Kind: journal.KindCorrection, Origin: "A", OSeq: 2, HLC: 117655477043789824 + 10, Proc: "book",
			Subject: journal.TxID{Origin: "B", OSeq: 3}, Result: pack(nil)},
		{Pos: 5, Epoch: 2, Kind: journal.KindEpoch, HighOSeq: 41,
			Rollback: &journal.RollbackInfo{From: 3, To: 4, Reason: "conflict \"x\" <y>", LostFile: "lost/epoch-1.ltf", Records: 2, PeerWatermark: 5}},
		{Pos: 6, Epoch: 2, Kind: journal.KindRole, Role: "vassal"},
		{Pos: 7, Epoch: 2, Kind: journal.KindCheckpoint, Checkpoint: 6},
	}
}

// fixtureState is a state to print as state --json prints its keys.
func fixtureState() []struct {
	Key, Value []byte
	Version    journal.Version
} {
	recs := fixtureRecords()
	return []struct {
		Key, Value []byte
		Version    journal.Version
	}{
		{recs[1].Writes[0].Key, recs[1].Writes[0].Value, journal.Version{HLC: 117655477043789827, Origin: "A"}},
		{[]byte{0xff, 0x01}, []byte{0xc1}, journal.Version{HLC: 5, Origin: "B"}},
		{tuple.Pack("v"), recs[1].Args, journal.Version{HLC: 6, Origin: "A"}},
	}
}
