//go:build !unix

package benchkit

// processUsage is not measured on this platform.
func processUsage() (usage, bool) { return usage{}, false }
