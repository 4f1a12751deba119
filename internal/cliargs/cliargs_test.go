package cliargs

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func testApp() *cli.App {
	leafFlags := []cli.Flag{
		&cli.StringFlag{Name: "addr", Aliases: []string{"a"}},
		&cli.BoolFlag{Name: "json"},
		&cli.IntFlag{Name: "limit"},
	}
	return &cli.App{
		Name:  "liege",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"v"}}},
		Commands: []*cli.Command{
			{Name: "get", Flags: leafFlags},
			{Name: "ticketing", Subcommands: []*cli.Command{
				{Name: "buy-best", Aliases: []string{"bb"}, Flags: leafFlags},
			}},
		},
	}
}

func TestIntersperse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Flags after the arguments move before them, with their values.
		{"liege ticketing buy-best gala stalls ann --addr 127.0.0.1:7080",
			"liege ticketing buy-best --addr 127.0.0.1:7080 -- gala stalls ann"},
		{"liege ticketing bb gala --json stalls --addr=x ann -a y",
			"liege ticketing bb --json --addr=x -a y -- gala stalls ann"},
		// Flags already first stay; so do flags between the commands.
		{"liege ticketing buy-best --addr x gala", "liege ticketing buy-best --addr x -- gala"},
		{"liege -v get k", "liege -v get -- k"},
		// A word that only looks like a flag stays an argument; so does
		// everything after "--" and a lone "-".
		{"liege get acct -5 --limit 3", "liege get --limit 3 -- acct -5"},
		{"liege get k -- --json", "liege get -- k --json"},
		{"liege get -5 --json", "liege get --json -- -5"},
		{"liege get - --json", "liege get --json -- -"},
		// An unknown double-dash flag is moved too, so the parser reports
		// it as a flag rather than taking it for an argument.
		{"liege get k --bogus", "liege get --bogus -- k"},
		// Help, wherever it is written.
		{"liege get k --help", "liege get --help -- k"},
		// No arguments: nothing to move.
		{"liege get --json", "liege get --json"},
		{"liege ticketing buy-best", "liege ticketing buy-best"},
		// A shell-completion request: as it is.
		{"liege get k --generate-bash-completion", "liege get k --generate-bash-completion"},
		// No command: as it is.
		{"liege nosuch --json x", "liege nosuch --json x"},
		{"liege", "liege"},
		// A value-taking flag at the end keeps its missing value for the
		// parser to report.
		{"liege get k --addr", "liege get --addr -- k"},
	} {
		got := strings.Join(Intersperse(testApp(), strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("Intersperse(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// TestIntersperseParses runs the rewritten line through urfave/cli and
// checks what the command sees.
func TestIntersperseParses(t *testing.T) {
	app := testApp()
	var gotArgs []string
	var gotAddr string
	var gotJSON bool
	app.Commands[1].Subcommands[0].Action = func(c *cli.Context) error {
		gotArgs, gotAddr, gotJSON = c.Args().Slice(), c.String("addr"), c.Bool("json")
		return nil
	}
	args := strings.Fields("liege ticketing buy-best gala -5 ann --json --addr 127.0.0.1:7080")
	if err := app.Run(Intersperse(app, args)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotArgs, []string{"gala", "-5", "ann"}) || gotAddr != "127.0.0.1:7080" || !gotJSON {
		t.Fatalf("the command saw args %q, --addr %q, --json %v", gotArgs, gotAddr, gotJSON)
	}
}
