//go:build unix

package benchkit

import (
	"syscall"
	"time"
)

// processUsage returns the CPU time (user and system) this process has
// used and its minor page faults so far, and whether the platform reports
// them.
func processUsage() (usage, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}, false
	}
	return usage{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), faults: int64(ru.Minflt), switches: int64(ru.Nvcsw + ru.Nivcsw)}, true
}
