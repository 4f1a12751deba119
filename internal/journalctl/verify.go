package journalctl

import (
	"bufio"
	"fmt"

	"github.com/liege-db/liege/internal/inspect"
	"github.com/urfave/cli/v2"
)

func verifyCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check the journal, checkpoints and rollback state of a stopped instance",
		ArgsUsage: "DIR",
		Description: `verify checks the stopped instance in DIR and prints what it checked, one
line each, then every problem with the file and journal position it is
at, then "OK" or the number of problems. The exit status is 0 when the
instance is healthy and 1 when verify found a problem or could not run.

It checks every frame's checksum; that every record decodes and carries
its position; that position 1 opens the journal of the instance; that
epochs rise only at epoch records and their lost transaction files exist;
that own OSeqs and HLCs strictly increase and no OSeq is reused after a
rollback; that each peer's OSeqs strictly increase; and that the state
replayed from position 1 matches every checkpoint. A torn tail and an
interrupted rollback are reported as problems: the engine repairs or
finishes them at its next open.

Examples:
   journalctl verify /var/lib/liege/A
   journalctl verify /var/lib/liege/A && systemctl start liege@A`,
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "DIR")
			if err != nil {
				return err
			}
			rep, err := inspect.Verify(dir)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(s.stdout)
			fmt.Fprintf(w, "instance %q in %s: journal positions %d..%d\n", rep.Instance, dir, rep.First, rep.Last)
			if rep.First > 1 {
				fmt.Fprintf(w, "the journal begins at position %d: retention truncated the positions before it\n", rep.First)
			}
			for _, line := range rep.Checked {
				fmt.Fprintf(w, "checked: %s\n", line)
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(w, "problem: %s\n", p)
			}
			switch n := len(rep.Problems); n {
			case 0:
				fmt.Fprintln(w, "OK")
			case 1:
				fmt.Fprintln(w, "1 problem")
			default:
				fmt.Fprintf(w, "%d problems\n", n)
			}
			if err := w.Flush(); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			if !rep.OK() {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}
