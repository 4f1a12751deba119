// Command journalctl reads, checks and rolls back the instance directory of
// a stopped Liege instance: its journal (inspect), the consistency of
// journal, checkpoints and rollback state (verify), the state the instance
// would recover (state), its lost transaction files (lost), and an offline
// rollback (rollback).
//
// Every command but lost refuses a directory a running instance holds.
// Only rollback writes. The JSON output of inspect, state and lost is a
// public interface, described in docs/journal-json.md. The command's code
// is in internal/journalctl.
package main

import (
	"io"
	"os"

	jctl "github.com/liege-db/liege/internal/journalctl"
)

func main() {
	os.Exit(jctl.Run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run runs journalctl in-process, for the tests.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return jctl.Run(args, stdin, stdout, stderr)
}
