package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	liege "github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
)

// The retention flags of liege serve (internal/engine/retain.go).

func retainFlags(env func(string) []string) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "checkpoint-every", EnvVars: env("checkpoint-every"), Value: 500_000,
			Usage: "write a checkpoint in the background every `RECORDS` journal records (a negative number turns them off, and with them the journal's truncation); " +
				"recovery loads the newest checkpoint and replays the journal after it (e.g. --checkpoint-every 100000)"},
		&cli.StringFlag{Name: "segment-size", EnvVars: env("segment-size"), Value: "4MiB",
			Usage: "target `SIZE` of a journal segment file, with a unit B, KiB, MiB or GiB (e.g. --segment-size 16MiB)"},
		&cli.StringFlag{Name: "journal-keep", EnvVars: env("journal-keep"), Value: "1GiB",
			Usage: "the newest `SIZE` of journal is never truncated from its front (about a day at 50 transactions a second of 200 bytes); " +
				"older records go once a checkpoint covers them and the peer has applied and no longer checks against them. " +
				"\"none\" never truncates (e.g. --journal-keep 4GiB)"},
		&cli.DurationFlag{Name: "side-keep", EnvVars: env("side-keep"), Value: engine.DefaultSideKeep,
			Usage: "how long (`DURATION`) lost transaction files (lost/*.ltf) and finished reconciliation logs (recon/done-*) are kept before removal; 0 keeps them for ever (e.g. --side-keep 72h)"},
	}
}

// retainSettings are the retention flags, checked.
type retainSettings struct {
	checkpointEvery int
	segmentSize     int
	journalKeep     int64
	sideKeep        time.Duration
}

func retainSettingsFrom(c *cli.Context) (retainSettings, error) {
	s := retainSettings{checkpointEvery: c.Int("checkpoint-every"), sideKeep: c.Duration("side-keep")}
	if s.checkpointEvery == 0 {
		return s, fmt.Errorf("--checkpoint-every 0: give a number of records (e.g. 500000), or a negative number to turn checkpoints off")
	}
	seg, err := parseSize(c.String("segment-size"))
	if err != nil {
		return s, fmt.Errorf("--segment-size: %w", err)
	}
	if seg < 4<<10 || seg > 1<<30 {
		return s, fmt.Errorf("--segment-size %s: must be between 4KiB and 1GiB", c.String("segment-size"))
	}
	s.segmentSize = int(seg)
	if k := c.String("journal-keep"); strings.EqualFold(k, "none") {
		s.journalKeep = -1
	} else if s.journalKeep, err = parseSize(k); err != nil {
		return s, fmt.Errorf("--journal-keep: %w (or none)", err)
	} else if s.journalKeep == 0 {
		s.journalKeep = 1 // 0 would mean the default: keep no floor at all
	}
	if s.sideKeep < 0 {
		return s, fmt.Errorf("--side-keep %v: must not be negative (0 keeps the files for ever)", s.sideKeep)
	}
	if s.sideKeep == 0 {
		s.sideKeep = -1
	}
	if s.checkpointEvery < 0 {
		s.journalKeep = -1 // nothing may be truncated without checkpoints
	}
	return s, nil
}

func (s retainSettings) apply(o *liege.Options) {
	o.CheckpointEvery, o.SegmentSize, o.JournalKeep, o.SideKeep = s.checkpointEvery, s.segmentSize, s.journalKeep, s.sideKeep
}

// parseSize parses a byte size: a number with an optional unit B, KiB, MiB,
// GiB (or KB, MB, GB, also powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size: want a number of bytes with an optional unit, e.g. 64MiB", s)
	}
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q, want B, KiB, MiB or GiB", s, t[i:])
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}
