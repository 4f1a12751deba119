// Package detectbench builds the workload that `liege bench detect` and the
// detect package's BenchmarkWindowCheck measure: a window of own
// transactions and a stream of incoming peer transactions, checked one by
// one with detect.Window.Check.
//
// Keys are tuple keys (table, id) with four tables, ids uniform over
// KeySpace keys in all (short keys of 8 to 12 bytes sharing their first
// bytes per table, as the engine's keys do). Each transaction touches
// KeysPerTxn keys; each key is, independently:
//
//   - with probability RangeFraction, a range read: a scan of 1 to 16
//     consecutive ids in one table, [lo, hi) or, as a limited scan records
//     it, [lo, last];
//   - otherwise a point read (50%), a Set (30%, half of them read first, as
//     read-modify-write does) or an Add (20%).
//
// Own transactions have OSeq, position and clock increasing with the
// window. Incoming transactions have PeerSeen 0 (the partition case: the
// peer saw none of the window) and an HLC uniform over the window's, so
// that the use and mirror use runs split the window anywhere.
package detectbench

import (
	"math/rand/v2"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// Workload is the shape of the transactions.
type Workload struct {
	KeysPerTxn    int     // keys a transaction touches (points and ranges)
	KeySpace      uint64  // distinct keys
	RangeFraction float64 // fraction of the keys touched that are range reads
	Seed          uint64
	// Counters, if above 0, makes every transaction also Add to one of
	// that many counter keys (the ATM app's totals): keys most of the
	// window touches, which the conflict check must pass over (Adds
	// commute).
	Counters int `json:",omitempty"`
}

// Default is the workload the benchmarks use unless told otherwise.
var Default = Workload{KeysPerTxn: 10, KeySpace: 1 << 20, RangeFraction: 0.1, Seed: 1}

var tables = []string{"acct", "seat", "order", "stock"}

func (wl *Workload) key(id uint64) []byte {
	return tuple.Pack(tables[id%uint64(len(tables))], int64(id/uint64(len(tables))))
}

// txn makes one transaction through FromRecord, as the engine does.
func (wl *Workload) txn(r *rand.Rand, origin string, oseq, pos, hlc uint64) *detect.Txn {
	rec := &journal.Record{Kind: journal.KindLocal, Origin: origin, OSeq: oseq, Pos: pos, HLC: hlc}
	for range wl.KeysPerTxn {
		id := r.Uint64N(wl.KeySpace)
		if r.Float64() < wl.RangeFraction {
			span := 1 + r.Uint64N(16)
			rg := journal.RangeRead{Lo: wl.key(id), LoInclusive: true}
			if r.IntN(2) == 0 {
				rg.Hi = wl.key(id + span*uint64(len(tables))) // [lo, hi)
			} else {
				rg.Hi, rg.HiInclusive = wl.key(id+(span-1)*uint64(len(tables))), true // [lo, last]
			}
			rec.Ranges = append(rec.Ranges, rg)
			continue
		}
		k := wl.key(id)
		switch p := r.IntN(100); {
		case p < 50:
			rec.Reads = append(rec.Reads, journal.PointRead{Key: k})
		case p < 80:
			if p < 65 {
				rec.Reads = append(rec.Reads, journal.PointRead{Key: k})
			}
			rec.Writes = append(rec.Writes, journal.Write{Key: k, Op: journal.OpSet})
		default:
			rec.Writes = append(rec.Writes, journal.Write{Key: k, Op: journal.OpAdd})
		}
	}
	if wl.Counters > 0 {
		rec.Writes = append(rec.Writes, journal.Write{Key: tuple.Pack("counter", int64(r.IntN(wl.Counters))), Op: journal.OpAdd})
	}
	return detect.FromRecord(rec)
}

// Window returns a window of n own transactions (origin "A", OSeq and
// position 1..n, HLC 10, 20, ...) and count incoming ones (origin "B") to
// check against it. The same workload and n give the same transactions.
func (wl Workload) Window(n, count int) (*detect.Window, []*detect.Txn) {
	own, in := wl.Txns(n, count)
	w := detect.NewWindow()
	for _, o := range own {
		w.Add(o)
	}
	return w, in
}

// Txns returns the transactions of Window(n, count): the own ones and the
// incoming ones.
func (wl Workload) Txns(n, count int) (own, in []*detect.Txn) {
	r := rand.New(rand.NewPCG(wl.Seed, uint64(n)))
	own = make([]*detect.Txn, n)
	for i := range own {
		own[i] = wl.txn(r, "A", uint64(i+1), uint64(i+1), uint64(i+1)*10)
	}
	in = make([]*detect.Txn, count)
	for i := range in {
		in[i] = wl.txn(r, "B", uint64(i+1), uint64(n+i+1), r.Uint64N(uint64(n)*10+10))
	}
	return own, in
}
