package benchkit

import (
	"runtime"

	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// MemoryResult is the heap held by an instance state.
type MemoryResult struct {
	Keys      int
	ValueSize int
	// RawBytes is the total length of the keys and values held.
	RawBytes int64
	// HeapInuse and HeapAlloc are the growth of runtime.MemStats.HeapInuse
	// and HeapAlloc (after a GC) from the empty state to the full one.
	HeapInuse int64
	HeapAlloc int64
	// BytesPerKey is HeapInuse/Keys; OverheadPerKey (HeapInuse-RawBytes)/Keys;
	// Ratio HeapInuse/RawBytes.
	BytesPerKey    float64
	OverheadPerKey float64
	Ratio          float64
	// Budget is the goal: GoalMemoryRawFactor*RawBytes + GoalMemoryPerKey*Keys.
	Budget int64
	Meets  bool
}

// StateMemory measures the heap in use of a state (internal/store, the
// engine's state) holding keys ticket-like keys, half ("seat", event, n)
// and half ("owner", customer, n), each with a valueSize-byte value and a
// version, as the ticket workload leaves them. It is measured in this
// process: run it when little else is allocating.
func StateMemory(keys, valueSize int) MemoryResult {
	keys = max(keys, 1)
	valueSize = max(valueSize, 1)
	val := make([]byte, valueSize)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	key := make([]byte, 0, 64)

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m0)
	st := store.New()
	ver := journal.Version{HLC: 1 << 40, Origin: "A"}
	for i := range keys {
		seat := int64(i / 2)
		t := TicketFor(seat)
		if i%2 == 0 {
			key = tuple.Append(key[:0], "seat", t.Event, seat)
		} else {
			key = tuple.Append(key[:0], "owner", t.Customer, seat)
		}
		ver.HLC++
		st.Set(key, val, ver)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m1)

	res := MemoryResult{
		Keys:      st.Len(),
		ValueSize: valueSize,
		RawBytes:  st.RawBytes(),
		HeapInuse: int64(m1.HeapInuse) - int64(m0.HeapInuse),
		HeapAlloc: int64(m1.HeapAlloc) - int64(m0.HeapAlloc),
	}
	runtime.KeepAlive(st)
	res.BytesPerKey = float64(res.HeapInuse) / float64(res.Keys)
	res.OverheadPerKey = float64(res.HeapInuse-res.RawBytes) / float64(res.Keys)
	if res.RawBytes > 0 {
		res.Ratio = float64(res.HeapInuse) / float64(res.RawBytes)
	}
	res.Budget = int64(GoalMemoryRawFactor*float64(res.RawBytes)) + int64(GoalMemoryPerKey*res.Keys)
	res.Meets = res.HeapInuse <= res.Budget
	return res
}
