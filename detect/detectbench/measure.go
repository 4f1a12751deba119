package detectbench

import (
	"runtime"
	"time"

	"github.com/liege-db/liege/detect"
)

// Result is what Measure found.
type Result struct {
	Checks int
	// Wall is the elapsed time of the checks; CPU the time the measuring
	// thread ran (on a busy machine it is the figure that does not count
	// waiting for a core).
	Wall, CPU time.Duration
	Hits      int
	Allocs    uint64
	Bytes     uint64
}

// Measure checks the incoming transactions against w round-robin, for
// about d, on one locked thread.
//
// Unless cold, each incoming transaction is in the caches when its check
// starts, as in production, where the replication node builds it from the
// record it has just decoded (replicate's Node.incoming) and checks it at
// once: a pipeline reads the transaction (its Txn, then its key lists,
// then its keys' bytes) over the three checks before its own, one level of
// memory per check, so that those reads overlap the checks' own misses. The
// window stays cold: the round-robin over many incoming transactions walks
// all of it. With cold, the incoming transactions come from memory too
// (their three levels of misses come first in Check: up to a microsecond
// on a machine whose misses cost 300-400 ns).
func Measure(w *detect.Window, in []*detect.Txn, d time.Duration, cold bool) Result {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	runtime.GC() // not while measuring
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var r Result
	var x int
	cpu0, start := threadCPU(), time.Now()
	for r.Wall < d {
		for range 1024 { // read the clock every 1024 checks
			if !cold {
				x += warm(in, r.Checks)
			}
			r.Hits += len(w.Check(in[r.Checks%len(in)]))
			r.Checks++
		}
		r.Wall = time.Since(start)
	}
	r.CPU = threadCPU() - cpu0
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(w)
	runtime.KeepAlive(x) // what warm read: the reads stay
	r.Allocs = after.Mallocs - before.Mallocs
	r.Bytes = after.TotalAlloc - before.TotalAlloc
	return r
}

// warm reads, before check i, the Txn of incoming transaction i+3, the key
// lists of i+2 and the keys' bytes of i+1 (round-robin), and returns what it
// read: each level's loads depend on the one read a check before, so none
// of them waits.
func warm(in []*detect.Txn, i int) int {
	n := len(in)
	t := in[(i+3)%n]
	x := len(t.Writes) + len(t.Reads) + len(t.Ranges) // both cache lines of the Txn
	t = in[(i+2)%n]
	for j := range t.Writes {
		x += len(t.Writes[j].Key)
	}
	for j := range t.Reads {
		x += len(t.Reads[j])
	}
	for j := range t.Ranges {
		x += len(t.Ranges[j].Lo) + len(t.Ranges[j].Hi)
	}
	t = in[(i+1)%n]
	first := func(k []byte) int {
		if len(k) == 0 {
			return 0
		}
		return int(k[0])
	}
	for j := range t.Writes {
		x += first(t.Writes[j].Key)
	}
	for j := range t.Reads {
		x += first(t.Reads[j])
	}
	for j := range t.Ranges {
		x += first(t.Ranges[j].Lo) + first(t.Ranges[j].Hi)
	}
	return x
}

// WindowBytes returns the heap bytes a window of n own transactions of the
// workload holds beyond the transactions themselves (which the replication
// node keeps anyway), per own transaction.
func (wl Workload) WindowBytes(n int) float64 {
	own, _ := wl.Txns(n, 0)
	h0 := heapInUse()
	w := detect.NewWindow()
	for _, o := range own {
		w.Add(o)
	}
	h1 := heapInUse()
	runtime.KeepAlive(w)
	runtime.KeepAlive(own)
	return (float64(h1) - float64(h0)) / float64(n)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
