//go:build !linux

package journalctl

import "os"

// isTerminalFile reports whether f is a character device, the closest
// portable test for a terminal (it takes /dev/null for one; reading it then
// gives no "yes", so the rollback is cancelled).
func isTerminalFile(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
