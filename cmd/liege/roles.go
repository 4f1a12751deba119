package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/liege-db/liege/client"
	"github.com/urfave/cli/v2"
)

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:      "promote",
		Usage:     "make a vassal whose liege is gone the liege",
		UsageText: "liege promote --addr VASSAL-ADDR [--wait 5s | --force]",
		Description: `Promotes the vassal at --addr to liege in the next reign (DESIGN.md
section 10). Use it when the liege is gone: it is refused while the vassal
still hears from its liege (link up, or a frame within 3 heartbeats),
unless --force. Right after the liege went down the vassal may still
count it as heard for those few heartbeats: --wait asks again until the
vassal agrees or the wait is over. An emptied instance that waits for
its peer's checkpoint (a rebuilt site, not yet seeded) is refused even
with --force: it lacks own transactions the peer holds and would reuse
their OSeqs; promote it once seeded, or restore it from a backup if the
peer is gone for good. The vassal's own rolled-off transactions that were
waiting for the old liege are reconciled by the vassal itself, in the
background.

When the old liege comes back, start it as usual, even with --role liege:
it learns the higher reign at the handshake and becomes the vassal by
itself; its transactions the new liege never received are then checked,
rolled back and reconciled like any vassal's.`,
		Flags: append(connFlags(),
			&cli.BoolFlag{Name: "force", Usage: "promote even though the vassal still hears from its liege (the old liege steps down when it learns the new reign)"},
			&cli.DurationFlag{Name: "wait", Usage: "while the vassal still hears from its liege, ask again for up to this `DURATION`; without it the refusal is answered at once"}),
		Action: func(c *cli.Context) error {
			s, err := newSession(c, 0, 0)
			if err != nil {
				return err
			}
			deadline := time.Now().Add(c.Duration("wait"))
			for {
				_, err := s.cl.Promote(c.Context, c.Bool("force"))
				if err == nil {
					break
				}
				if !hearsLiege(err) || !time.Now().Before(deadline) {
					return s.explain(err)
				}
				select {
				case <-c.Context.Done():
					return s.explain(err)
				case <-time.After(100 * time.Millisecond):
				}
			}
			fmt.Fprintf(s.out, "%s is now the liege\n", s.addr)
			return nil
		},
	}
}

func switchoverCommand() *cli.Command {
	return &cli.Command{
		Name:      "switchover",
		Usage:     "swap the liege and vassal roles, planned, losing nothing",
		UsageText: "liege switchover --addr LIEGE-ADDR --peer-addr VASSAL-ADDR [--drain-timeout 30s]",
		Description: `The planned role swap of DESIGN.md section 10:
  1. both instances stop taking new transactions (calls answer 503, which
     clients retry);
  2. both streams drain: each has applied every transaction of the other,
     and no reconciliation is pending;
  3. the liege journals its change to vassal, then the vassal to liege;
  4. both take transactions again.
If the drain does not finish within --drain-timeout nothing is changed and
both resume.`,
		Flags: append(connFlags(),
			&cli.StringFlag{Name: "peer-addr", Usage: "the vassal's `ADDR`, host:port or a URL"},
			&cli.DurationFlag{Name: "drain-timeout", Value: 30 * time.Second, Usage: "give up (and resume) if the streams do not drain within `DURATION`"},
		),
		Action: runSwitchover,
	}
}

func runSwitchover(c *cli.Context) error {
	s, err := newSession(c, 0, 0)
	if err != nil {
		return err
	}
	if c.String("peer-addr") == "" {
		return errors.New("--peer-addr is required: the vassal's address (e.g. --peer-addr 127.0.0.1:7080)")
	}
	v := client.New(c.String("peer-addr"), client.WithTimeout(c.Duration("timeout")))
	ctx := c.Context
	ls, err := s.cl.Status(ctx)
	if err != nil {
		return s.explain(err)
	}
	vs, err := v.Status(ctx)
	if err != nil {
		return fmt.Errorf("vassal %s: %w", c.String("peer-addr"), err)
	}
	if ls.Role != "liege" || vs.Role != "vassal" {
		return fmt.Errorf("--addr must be the liege and --peer-addr the vassal; they are %s (%s) and %s (%s)", ls.ID, ls.Role, vs.ID, vs.Role)
	}
	resume := func() {
		_ = s.cl.Quiesce(context.Background(), false)
		_ = v.Quiesce(context.Background(), false)
	}
	if err := s.cl.Quiesce(ctx, true); err != nil {
		return s.explain(err)
	}
	if err := v.Quiesce(ctx, true); err != nil {
		resume()
		return err
	}
	fmt.Fprintf(s.out, "quiesced %s and %s; draining\n", ls.ID, vs.ID)
	deadline := time.Now().Add(c.Duration("drain-timeout"))
	for {
		a, err1 := s.cl.Status(ctx)
		b, err2 := v.Status(ctx)
		if err := errors.Join(err1, err2); err != nil {
			resume()
			return err
		}
		if a.Link != nil && b.Link != nil && a.Link.Idle && b.Link.Idle {
			break
		}
		if time.Now().After(deadline) {
			resume()
			return fmt.Errorf("the streams did not drain within %v (liege link %+v, vassal link %+v); nothing changed, both resumed", c.Duration("drain-timeout"), a.Link, b.Link)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.cl.SetRole(ctx, "vassal"); err != nil {
		resume()
		return s.explain(err)
	}
	if _, err := v.SetRole(ctx, "liege"); err != nil {
		resume()
		return fmt.Errorf("%s is now a vassal but %s could not be promoted: %w; run liege promote --addr %s", ls.ID, vs.ID, err, c.String("peer-addr"))
	}
	resume()
	fmt.Fprintf(s.out, "switchover done: %s is the liege, %s the vassal\n", vs.ID, ls.ID)
	return nil
}

// hearsLiege reports whether err is the vassal's refusal to be promoted
// while it still hears from its liege (HTTP 409 naming that reason), the
// one refusal that time alone can end.
func hearsLiege(err error) bool {
	var ae *client.Error
	return errors.As(err, &ae) && ae.Status == http.StatusConflict && strings.Contains(ae.Message, "still heard")
}
