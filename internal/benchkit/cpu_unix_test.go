//go:build unix

package benchkit

import (
	"syscall"
	"testing"
)

// A section that touches fresh memory shows its page faults; one that
// touches nothing new shows none to speak of.
func TestCostMeterFaults(t *testing.T) {
	const size = 4 << 20
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("no anonymous mmap here: %v", err)
	}
	defer syscall.Munmap(mem)
	var m costMeter
	m.begin()
	for i := 0; i < size; i += 4096 {
		mem[i] = 1
	}
	c := m.end(1)
	if c.Faults < 1 {
		t.Fatalf("touching %d fresh bytes measured %v page faults", size, c.Faults)
	}
	m.begin()
	for i := 0; i < size; i += 4096 {
		mem[i] = 2
	}
	if again := m.end(1); again.Faults >= c.Faults {
		t.Fatalf("touching the same pages again measured %v page faults, the first touch %v", again.Faults, c.Faults)
	}
}
