package benchkit

import "time"

// usage is what the process has used so far: CPU time (user and system)
// and minor page faults, each a first touch of a page of memory. Where a
// page fault is dear (a virtual machine that backs guest memory on first
// touch: ~12 µs per 4 KiB page on the machine these figures were first
// taken on, against well under 1 µs on bare metal), the faults of a
// growing heap are a first-order share of the CPU time, and they tell
// run-to-run noise from a change in the code.
type usage struct {
	cpu    time.Duration
	faults int64
	// switches counts the times a thread of the process gave up its CPU
	// (waiting: a goroutine handing off to one parked, an fsync) or was
	// made to (preempted): the process's wake-ups, roughly.
	switches int64
	rt       rtUsage // the runtime's own figures (runtimeUsage)
}

// processCPU returns the CPU time (user and system) this process has used,
// and whether the platform reports it.
func processCPU() (time.Duration, bool) {
	u, ok := processUsage()
	return u.cpu, ok
}

// ProcessCPU returns the CPU time (user and system) this process has used
// so far, 0 where the system does not say.
func ProcessCPU() time.Duration {
	d, _ := processCPU()
	return d
}
