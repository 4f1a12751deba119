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
func Measure(w *detect.Window, in []*detect.Txn, d time.Duration) Result {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	runtime.GC() // not while measuring
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var r Result
	cpu0, start := threadCPU(), time.Now()
	for r.Wall < d {
		for range 1024 { // read the clock every 1024 checks
			r.Hits += len(w.Check(in[r.Checks%len(in)]))
			r.Checks++
		}
		r.Wall = time.Since(start)
	}
	r.CPU = threadCPU() - cpu0
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(w)
	r.Allocs = after.Mallocs - before.Mallocs
	r.Bytes = after.TotalAlloc - before.TotalAlloc
	return r
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
