//go:build !unix

package liege

import (
	"testing"
	"time"
)

// cpuTime is not measured here: the CPU figures read 0.
func cpuTime(testing.TB) time.Duration { return 0 }

// CPUTime is cpuTime for the external tests (package liege_test).
var CPUTime = cpuTime
