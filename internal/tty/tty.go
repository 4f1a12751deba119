// Package tty is the one terminal check of liege and journalctl: whether
// a stream is a terminal a person types at or watches, asked of the
// terminal driver (golang.org/x/term). journalctl rollback confirms only
// on a terminal; liege inject draws its progress line only on one.
//
// It replaces a Linux ioctl in journalctl and a character-device test in
// inject, which disagreed: /dev/null is a character device but not a
// terminal.
package tty

import "golang.org/x/term"

// IsTerminal reports whether stream (an io.Reader or io.Writer) is a
// terminal: an *os.File, or anything else with a file descriptor, whose
// descriptor the terminal driver answers for. Pipes, files, /dev/null and
// in-memory buffers are not.
func IsTerminal(stream any) bool {
	f, ok := stream.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}
