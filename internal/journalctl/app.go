// Package journalctl is the journalctl command (cmd/journalctl is its
// main), kept here so `liege inject` can export a stopped instance exactly
// as journalctl does. journalctl reads, checks and rolls back the instance directory of
// a stopped Liege instance: its journal (inspect), the consistency of
// journal, checkpoints and rollback state (verify), the state the instance
// would recover (state), its lost transaction files (lost), and an offline
// rollback (rollback).
//
// Every command but lost refuses a directory a running instance holds.
// Only rollback writes. The JSON output of inspect, state and lost is a
// public interface, described in docs/journal-json.md.
package journalctl

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/liege-db/liege/internal/cliargs"
	"github.com/liege-db/liege/internal/version"
	"github.com/urfave/cli/v2"
)

// Run runs journalctl with args (args[0] is the program name) and returns
// the exit status: 0 for success, 1 for a failure or a problem found, 2 for
// a usage error.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	return exitStatus(app.Run(cliargs.Intersperse(app, args)), stderr)
}

// streams are the standard streams a command uses, so tests can run it
// in-process.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	s := &streams{stdin: stdin, stdout: stdout, stderr: stderr}
	app := &cli.App{
		Name:  "journalctl",
		Usage: "inspect, verify and roll back the instance directory of a stopped Liege instance",
		Description: `journalctl reads an instance directory (the --dir of a Liege instance: LOCK,
journal/, checkpoints/, lost/) while the instance is stopped. Every command
but lost refuses a directory a running instance holds, and only rollback
writes anything.

Examples:
   journalctl verify /var/lib/liege/A
   journalctl inspect /var/lib/liege/A --txid A/17
   journalctl state /var/lib/liege/A --json | jq .hash
   journalctl rollback /var/lib/liege/A --to 120
   journalctl lost /var/lib/liege/A/lost/lost-A-e1-120-130.ltf

Run 'journalctl COMMAND --help' for the details of a command.`,
		HideVersion:    true,
		Reader:         stdin,
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors and sets the exit status
		OnUsageError:   onUsageError,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"v"},
			Usage: "print this build's module version, VCS revision, Go version, journal format and replication protocol"}},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				_, err := fmt.Fprint(s.stdout, version.Get())
				return err
			}
			if c.NArg() > 0 {
				return usageError(c, "unknown command %q: the commands are inspect, verify, state, rollback and lost", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			inspectCommand(s),
			verifyCommand(s),
			stateCommand(s),
			rollbackCommand(s),
			lostCommand(s),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
	}
	return app
}

// onUsageError turns a flag parsing error into a usage error that points
// at the command's help.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return usageError(c, "%v", err)
}

// usageError returns an error with exit status 2 that ends with a pointer
// to the command's help.
func usageError(c *cli.Context, format string, a ...any) error {
	help := "journalctl --help"
	if c != nil && c.Command != nil && c.Command.Name != "" && (c.App == nil || c.Command.Name != c.App.Name) {
		help = "journalctl " + c.Command.Name + " --help"
	}
	return cli.Exit(fmt.Sprintf(format, a...)+" (see '"+help+"')", 2)
}

// exitStatus prints err, if any, and returns the exit status for it.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	status := 1
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		status = ec.ExitCode()
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "journalctl: "+msg)
	}
	return status
}

// oneArg returns the command's single positional argument, named what in
// the usage error when it is missing or there are more.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 || c.Args().First() == "" {
		if c.NArg() > 1 {
			return "", usageError(c, "%s takes one argument, %s; got %d: %s", c.Command.Name, what, c.NArg(), strings.Join(c.Args().Slice(), " "))
		}
		return "", usageError(c, "%s needs one argument, %s: journalctl %s %s", c.Command.Name, what, c.Command.Name, what)
	}
	return c.Args().First(), nil
}
