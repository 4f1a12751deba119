//go:build !linux

package detectbench

import "time"

// threadCPU returns 0: the thread's CPU time is only read on Linux.
func threadCPU() time.Duration { return 0 }
