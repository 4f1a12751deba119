//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair: what is written to master is read
// from slave as typed input.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("unlock pseudo-terminal: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("pseudo-terminal number: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// typed runs journalctl with stdin a terminal on which input was typed.
func typed(t *testing.T, input string, args ...string) result {
	t.Helper()
	master, slave := openPTY(t)
	if _, err := master.WriteString(input); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = slave
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRollbackConfirmation(t *testing.T) {
	f := build(t)
	r := typed(t, "no\n", "rollback", f.Dir, "--to", "6")
	if r.code != 1 || !strings.Contains(r.stdout, "type yes to roll back: ") || !strings.Contains(r.stderr, "rollback cancelled: nothing was changed") {
		t.Errorf("answering no: %v", r)
	}
	if st := parseJSON(t, ok(t, "state", f.Dir, "--json").stdout); st["hash"] != hexHash(f.Hashes[7]) {
		t.Errorf("a cancelled rollback changed the state")
	}

	r = typed(t, "yes\n", "rollback", f.Dir, "--to", "6")
	if r.code != 0 || !strings.Contains(r.stdout, "rolled off 2 records, positions 6..7; the instance is now in epoch 1") {
		t.Errorf("answering yes: %v", r)
	}
	if st := parseJSON(t, ok(t, "state", f.Dir, "--json").stdout); st["hash"] != hexHash(f.Hashes[5]) {
		t.Errorf("after the confirmed rollback the state is not the one after position 5")
	}
}
