package journalctl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/tty"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
	"github.com/urfave/cli/v2"
)

const defaultRollbackReason = "operator rollback with journalctl"

func rollbackCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "roll a stopped instance back to just before a journal position",
		ArgsUsage: "DIR --to POS",
		Description: `rollback rolls the stopped instance in DIR back to just before position
POS, as the engine does online: every record from POS to the last is
undone, saved to a lost transaction file (DIR/lost/*.ltf, readable with
'journalctl lost') and removed from the journal, and the epoch is bumped.
It is crash-safe: if it is interrupted, the instance finishes the rollback
at its next open.

It first says what will happen (how many records, which positions, how
many of them are own transactions) and asks you to type "yes". Pass --yes
to skip the question; without a terminal on stdin, --yes is required.
POS must be in 2..LAST: position 1 opens the journal and is never rolled
off.

The roles limit it (DESIGN.md section 3), as the journal's newest role
record says:
   - A liege never rolls back, by hand either: rollback refuses.
   - A vassal rolls back only down to its first own transaction the liege
     has not applied. The liege's transactions in the vassal's journal say
     up to which of the vassal's OSeqs the liege had applied (their
     peer_seen); rollback refuses a POS that would roll off one of those,
     and names the lowest POS it accepts. If the journal holds no
     transaction of the liege it cannot tell: rollback says so and goes on
     (there is no override flag, so it does not refuse what it cannot
     know); reconcile what the liege applied from the lost transaction
     file.
   - An instance with no role record is a lone instance: no limit.

Examples:
   journalctl rollback /var/lib/liege/A --to 120
   journalctl rollback /var/lib/liege/A --to 120 --yes --reason "bad deploy at 14:02"`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the first `POS`ition to roll off (the instance is rolled back to POS-1)"},
			&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"},
			&cli.StringFlag{Name: "reason", Value: defaultRollbackReason, Usage: "why, recorded in the epoch record and the lost transaction file"},
		},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "DIR")
			if err != nil {
				return err
			}
			if !c.IsSet("to") {
				return usageError(c, "missing --to: give the first position to roll off, e.g. journalctl rollback %s --to 120", dir)
			}
			toStr := strings.TrimSpace(c.String("to"))
			to, err := strconv.ParseUint(toStr, 10, 64)
			if err != nil {
				return usageError(c, "--to %q is not a journal position: give a number, e.g. --to 120", c.String("to"))
			}
			return runRollback(c, s, dir, to, c.Bool("yes"), c.String("reason"))
		},
	}
}

func runRollback(c *cli.Context, s *streams, dir string, to uint64, yes bool, reason string) error {
	// Plan read-only: nothing is written before the confirmation.
	rec, err := inspect.Recover(dir)
	if err != nil {
		return err
	}
	if in := rec.Intent; in != nil {
		return fmt.Errorf("%s holds an interrupted rollback of positions %d..%d (%s), which the engine finishes at its next open: start the instance once to finish it, stop it, and run this command again",
			dir, in.Target, in.Head, filepath.Join(dir, rollback.IntentFile))
	}
	if rec.Last < 2 {
		return fmt.Errorf("the journal of %s holds no record after the open record at position 1: there is nothing to roll back", dir)
	}
	if to < 2 || to > rec.Last {
		return usageError(c, "--to %d is outside the valid range 2..%d (position 1 opens the journal and is never rolled off; the last record is at %d)", to, rec.Last, rec.Last)
	}
	var total, own, peer uint64
	limits := rollbackLimits{instance: rec.Instance}
	if _, err := inspect.RecordsBetween(dir, 1, rec.Last, func(pos uint64, r *journal.Record) error {
		limits.observe(pos, to, r)
		if pos < to {
			return nil
		}
		total++
		switch {
		case r.Kind.IsOwn() && r.Origin == rec.Instance:
			own++
		case r.Kind.IsTxn():
			peer++
		}
		return nil
	}); err != nil {
		return err
	}
	note, err := limits.check(dir, to, rec.Last)
	if err != nil {
		return err
	}

	fmt.Fprintf(s.stdout, "instance %q in %s: journal positions 1..%d, epoch %d\n", rec.Instance, dir, rec.Last, rec.Epoch)
	fmt.Fprintln(s.stdout, note)
	if t := rec.TornTail; t != nil {
		fmt.Fprintf(s.stdout, "a torn tail at position %d (file %s, byte offset %d) was never acknowledged; it is truncated first\n", t.Pos, t.File, t.Offset)
	}
	fmt.Fprintf(s.stdout, "will roll off %d records, positions %d..%d, %d of them own transactions (%d peer); they are saved to a lost transaction file\n",
		total, to, rec.Last, own, peer)
	fmt.Fprintf(s.stdout, "the instance then ends at position %d with an epoch record for epoch %d\n", to, rec.Epoch+1)

	if !yes {
		if err := confirm(s); err != nil {
			return err
		}
	}

	db, err := liege.Open(liege.Options{
		Dir: dir, ID: rec.Instance,
		CheckpointEvery: -1, // write nothing but the rollback
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return fmt.Errorf("open %s for the rollback (nothing was rolled back): %w", dir, err)
	}
	st, err := db.Status(c.Context)
	if err == nil && st.LastPos != rec.Last {
		err = fmt.Errorf("the journal of %s changed since it was read: it ends at position %d, not %d; nothing was rolled back, run the command again", dir, st.LastPos, rec.Last)
	}
	if err != nil {
		return errors.Join(err, db.Close())
	}
	res, err := db.RollbackTo(c.Context, to, reason)
	if err != nil {
		return errors.Join(fmt.Errorf("rollback of %s to before position %d: %w", dir, to, err), db.Close())
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("rolled back to before position %d (epoch %d, lost transaction file %s), but closing the instance failed: %w", to, res.Epoch, res.LostFile, err)
	}
	fmt.Fprintf(s.stdout, "rolled off %d records, positions %d..%d; the instance is now in epoch %d\n", res.Records, res.From, res.To, res.Epoch)
	fmt.Fprintf(s.stdout, "lost transaction file: %s\n", res.LostFile)
	return nil
}

// confirm asks the operator to type yes on stdin, which must be a terminal.
func confirm(s *streams) error {
	if !tty.IsTerminal(s.stdin) {
		return cli.Exit("refusing to roll back without confirmation: stdin is not a terminal; pass --yes to confirm", 1)
	}
	fmt.Fprint(s.stdout, "type yes to roll back: ")
	line, err := bufio.NewReader(s.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != "yes" {
		return cli.Exit("rollback cancelled: nothing was changed", 1)
	}
	return nil
}
