package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

func conflictsCommand() *cli.Command {
	return &cli.Command{
		Name:      "conflicts",
		Usage:     "list the conflicts a running instance detected",
		UsageText: "liege conflicts [flags]",
		Description: `Lists the conflicts the instance detected, oldest first, from its conflict
log (conflicts.jsonl in its directory, kept across restarts and crashes:
the newest 100,000, none older than 30 days): the incoming peer
transaction and the own one, the check that fired and its case in
DESIGN.md section 6, the witness key, the action (a liege rejects, a
vassal rolls back), the rollback epoch that followed (at the vassal) and
the liege's reprocess or correction of the vassal's transaction, once
this instance holds it. --since SEQ lists those after SEQ; a listing that
stops at --limit says so and names the --since of the next page. --json
prints the instance's answer as it is (docs/http-api.md, GET
/v1/conflicts).

   liege conflicts --addr 127.0.0.1:7071
   liege conflicts --since 120 --limit 10 --json`,
		Flags: append(connFlags(), jsonFlag(),
			&cli.Uint64Flag{Name: "since", Usage: "list the conflicts with a seq above `SEQ`"},
			&cli.IntFlag{Name: "limit", Value: 100, Usage: "list at most `N` conflicts (1 to 1000)"},
		),
		Action: runConflicts,
	}
}

func runConflicts(c *cli.Context) error {
	s, err := newSession(c, 0, 0)
	if err != nil {
		return err
	}
	if n := c.Int("limit"); n < 1 || n > 1000 {
		return errors.New("--limit: want 1 to 1000")
	}
	page, err := s.cl.Conflicts(c.Context, c.Uint64("since"), c.Int("limit"))
	if err != nil {
		return s.explain(err)
	}
	if c.Bool("json") {
		return s.printRaw(page.Raw)
	}
	if len(page.Conflicts) == 0 {
		_, err := fmt.Fprintf(s.out, "no conflicts after seq %d\n", c.Uint64("since"))
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tINCOMING\tOWN\tCHECK\tCASE\tKEY\tACTION\tEPOCH\tENDED IN")
	for _, x := range page.Conflicts {
		check := x.Check
		if x.Subject != "" {
			check += " " + x.Subject
		}
		epoch, ended := "-", "-"
		if x.Epoch > 0 {
			epoch = fmt.Sprint(x.Epoch)
		}
		if x.EndedIn != "" {
			ended = x.EndedIn
		}
		cs := x.Case
		if cs == "" {
			cs = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Seq, x.Time.Format(time.RFC3339), x.Incoming, x.Own,
			check, cs, x.KeyText, x.Action, epoch, ended)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.More {
		_, err = fmt.Fprintf(s.out, "more: liege conflicts --since %d\n", page.Next)
	}
	return err
}
