//go:build !linux

package inject

import "syscall"

// childAttr puts an instance in its own process group, so a Ctrl-C at the
// runner's terminal does not reach it before the runner stops it in order.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
