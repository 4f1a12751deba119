package inject

import "syscall"

// childAttr puts an instance in its own process group, so a Ctrl-C at the
// runner's terminal does not reach it before the runner stops it in order,
// and has the kernel kill it if the runner dies without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
