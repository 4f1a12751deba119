//go:build linux

package tty

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPseudoTerminal checks that a terminal is one: the slave side of a
// pseudo-terminal.
func TestPseudoTerminal(t *testing.T) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("this system offers no pseudo-terminal (/dev/ptmx: %v), so only the negative cases ran", err)
	}
	defer m.Close()
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pseudo-terminal: %v", err)
	}
	defer s.Close()
	if !IsTerminal(s) {
		t.Errorf("the pseudo-terminal /dev/pts/%d is not taken for a terminal", n)
	}
}
