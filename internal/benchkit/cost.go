package benchkit

import (
	"runtime"
	"time"
)

// Cost is what a measured section cost the whole process, per operation:
// the figures to compare on a shared machine, where wall-clock rates move
// with the neighbours' load and CPU time and allocations do not.
type Cost struct {
	// CPU is the user and system CPU time of the process (all its
	// goroutines and the fsyncs' system time) per operation; zero where
	// the platform does not report it.
	CPU time.Duration
	// Allocs and AllocBytes are the heap allocations per operation.
	Allocs     float64
	AllocBytes float64
	// Faults is the process's minor page faults per operation: pages of
	// memory touched for the first time (see usage).
	Faults float64
}

// costMeter measures a Cost between begin and end.
type costMeter struct {
	use            usage
	mem            runtime.MemStats
	mallocs, bytes uint64
}

func (m *costMeter) begin() {
	runtime.ReadMemStats(&m.mem)
	m.mallocs, m.bytes = m.mem.Mallocs, m.mem.TotalAlloc
	m.use, _ = processUsage()
}

// end returns the Cost of the section per op operations.
func (m *costMeter) end(ops int) Cost {
	use, _ := processUsage()
	runtime.ReadMemStats(&m.mem)
	if ops <= 0 {
		return Cost{}
	}
	n := float64(ops)
	return Cost{
		CPU:        time.Duration(float64(use.cpu-m.use.cpu) / n),
		Allocs:     float64(m.mem.Mallocs-m.mallocs) / n,
		AllocBytes: float64(m.mem.TotalAlloc-m.bytes) / n,
		Faults:     float64(use.faults-m.use.faults) / n,
	}
}
