//go:build unix

package liege

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the user and system CPU time the process has used: the
// figure benchmarks report next to wall time, which on a shared machine
// moves with the neighbours' load.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUTime is cpuTime for the external tests (package liege_test).
var CPUTime = cpuTime
