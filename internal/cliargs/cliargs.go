// Package cliargs lets the commands of liege and journalctl take their
// flags after their arguments, as in
//
//	liege ticketing buy-best gala stalls ann --addr 127.0.0.1:7080
//
// urfave/cli v2 parses flags with the standard flag package, which stops at
// the first argument that is not a flag and takes every later word, flags
// included, for an argument. Intersperse rewrites the command line before
// the application runs: it finds the command the line names, moves that
// command's flags (with their values) in front of its arguments, and puts
// the arguments behind a "--", so that an argument that looks like a flag
// (a negative amount, "-5") stays an argument.
package cliargs

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// completionFlag ends a command line the shell completion script sends
// (cli.App.EnableBashCompletion).
const completionFlag = "--generate-bash-completion"

// Intersperse returns args (args[0] is the program name) with the flags of
// the command they run moved before its positional arguments. A word is a
// flag when it starts with "--", or with "-" and names one of the command's
// flags (or -h); the word after a flag that takes a value, written without
// "=", is its value. Everything after a "--" stays an argument. A line that
// names no command of app, or asks for shell completion, is returned as it
// is.
func Intersperse(app *cli.App, args []string) []string {
	// A shell-completion request stays as it is: urfave/cli turns
	// completion off on a line with a "--".
	if len(args) < 2 || args[len(args)-1] == completionFlag {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	flags, cmds := app.Flags, app.Commands
	var cmd *cli.Command
	for {
		n := leadingFlags(flags, rest)
		out = append(out, rest[:n]...)
		rest = rest[n:]
		if len(rest) == 0 || rest[0] == "--" {
			return append(out, rest...)
		}
		sub := find(cmds, rest[0])
		if sub == nil {
			break
		}
		out = append(out, rest[0])
		rest = rest[1:]
		cmd, flags, cmds = sub, sub.Flags, sub.Subcommands
	}
	if cmd == nil {
		return args
	}
	var moved, positional []string
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j+1:]...)
			break
		}
		name, known, takesValue := flagWord(flags, a)
		if name == "" || (!known && !strings.HasPrefix(a, "--")) {
			positional = append(positional, a)
			continue
		}
		moved = append(moved, a)
		if takesValue && !strings.Contains(a, "=") && j+1 < len(rest) {
			moved = append(moved, rest[j+1])
			j++
		}
	}
	out = append(out, moved...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

// leadingFlags returns how many words at the start of args are flags (and
// their values) of a command with the given flags.
func leadingFlags(flags []cli.Flag, args []string) int {
	i := 0
	for i < len(args) && args[i] != "--" {
		name, known, takesValue := flagWord(flags, args[i])
		if name == "" || (!known && !strings.HasPrefix(args[i], "--")) {
			break
		}
		i++
		if takesValue && !strings.Contains(args[i-1], "=") && i < len(args) {
			i++
		}
	}
	return i
}

// flagWord parses a word as a flag of flags: its name ("" when the word is
// not written as a flag), whether the command has it, and whether it takes
// a value.
func flagWord(flags []cli.Flag, a string) (name string, known, takesValue bool) {
	if len(a) < 2 || a[0] != '-' {
		return "", false, false
	}
	name = strings.TrimLeft(a, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	if name == "" {
		return "", false, false
	}
	if name == "help" || name == "h" {
		return name, true, false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				tv := false
				if d, ok := f.(cli.DocGenerationFlag); ok {
					tv = d.TakesValue()
				}
				return name, true, tv
			}
		}
	}
	return name, false, false
}

// find returns the command of cmds named (or aliased) name, or nil.
func find(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
