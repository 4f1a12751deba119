package benchkit

import "time"

// ProcessCPU returns the CPU time (user and system) this process has used
// so far, 0 where the system does not say.
func ProcessCPU() time.Duration {
	d, _ := processCPU()
	return d
}
