// Command liege is Liege's command-line tool.
//
// Each subcommand lives in its own file and contributes itself to the
// application through a func returning its *cli.Command (benchCommand in
// bench.go, ...), listed in commands.
package main

import (
	"fmt"
	"os"

	"github.com/liege-db/liege/internal/cliargs"
	"github.com/liege-db/liege/internal/version"
	"github.com/urfave/cli/v2"
)

func main() {
	if err := run(newApp(), os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "liege: %v\n", err)
		os.Exit(1)
	}
}

// run runs app with the command line args, taking each command's flags
// wherever they are written, before or after its arguments.
func run(app *cli.App, args []string) error {
	return app.Run(cliargs.Intersperse(app, args))
}

// newApp returns the liege application.
func newApp() *cli.App {
	return &cli.App{
		Name:                 "liege",
		Usage:                "a replicated transaction engine",
		HideVersion:          true,
		EnableBashCompletion: true,
		Commands:             commands(),
		Flags:                []cli.Flag{versionFlag()},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				_, err := fmt.Fprint(c.App.Writer, version.Get())
				return err
			}
			if c.NArg() > 0 {
				return fmt.Errorf("unknown command %q: run 'liege --help' for the commands", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
}

// versionFlag is the application's --version. It is a flag of our own
// rather than urfave/cli's, whose printer is a package variable.
func versionFlag() cli.Flag {
	return &cli.BoolFlag{Name: "version", Aliases: []string{"v"},
		Usage: "print this build's module version, VCS revision, Go version, journal format and replication protocol"}
}

// commands returns the subcommands, one func per file.
func commands() []*cli.Command {
	return []*cli.Command{
		benchCommand(),
		serveCommand(),
		callCommand(),
		getCommand(),
		keysCommand(),
		txnCommand(),
		conflictsCommand(),
		statusCommand(),
		backupCommand(),
		ticketingCommand(),
		atmCommand(),
		promoteCommand(),
		switchoverCommand(),
		demoCommand(),
		injectCommand(),
		certCommand(),
	}
}
