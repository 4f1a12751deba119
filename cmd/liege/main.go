// Command liege is Liege's command-line tool.
//
// Each subcommand lives in its own file and contributes itself to the
// application through a func returning its *cli.Command (benchCommand in
// bench.go, ...), listed in commands.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "liege: %v\n", err)
		os.Exit(1)
	}
}

// newApp returns the liege application.
func newApp() *cli.App {
	return &cli.App{
		Name:                 "liege",
		Usage:                "a replicated transaction engine",
		HideVersion:          true,
		EnableBashCompletion: true,
		Commands:             commands(),
	}
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
		statusCommand(),
		ticketingCommand(),
		atmCommand(),
		promoteCommand(),
		switchoverCommand(),
		demoCommand(),
		injectCommand(),
		certCommand(),
	}
}
