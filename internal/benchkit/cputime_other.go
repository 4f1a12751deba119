//go:build !unix

package benchkit

import "time"

// processCPU is not measured on this platform: Cost.CPU stays zero.
func processCPU() time.Duration { return 0 }
