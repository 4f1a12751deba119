package journalctl

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/liege-db/liege/internal/journaljson"
	"github.com/liege-db/liege/rollback"
	"github.com/urfave/cli/v2"
)

func lostCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "lost",
		Usage:     "print a lost transaction file: what a rollback rolled off",
		ArgsUsage: "FILE",
		Description: `lost reads a lost transaction file (DIR/lost/*.ltf), written by every
rollback with the records it rolled off, and prints its header (instance,
epoch, reason, positions, when it was written) and its records as the
table of inspect. With --json it prints the header as one JSON object and
then one JSON object per record, in the format of inspect --json
(docs/journal-json.md). It reads only FILE, so the instance may be running.

Examples:
   journalctl lost /var/lib/liege/A/lost/lost-A-e1-120-130.ltf
   journalctl lost /var/lib/liege/A/lost/lost-A-e1-120-130.ltf --json | tail -n +2 | jq .txid`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON lines: the header, then one object per record (see docs/journal-json.md)"},
		},
		Action: func(c *cli.Context) error {
			file, err := oneArg(c, "FILE")
			if err != nil {
				return err
			}
			return runLost(s, file, c.Bool("json"))
		},
	}
}

// lostHeaderJSON is the first line of lost --json.
type lostHeaderJSON struct {
	File          string `json:"file"`
	Instance      string `json:"instance"`
	Epoch         uint64 `json:"epoch"`
	PrevEpoch     uint64 `json:"prev_epoch"`
	Reason        string `json:"reason"`
	From          uint64 `json:"from"`
	To            uint64 `json:"to"`
	Records       uint64 `json:"records"`
	Created       string `json:"created"`
	CreatedUnixMs int64  `json:"created_unix_ms"`
}

func runLost(s *streams, file string, asJSON bool) error {
	lf, err := rollback.ReadLostFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lost transaction file %s does not exist", file)
	}
	if lf == nil {
		return err
	}
	readErr := err // records after a damaged one are missing; print what was read
	h := lf.Header
	created := time.UnixMilli(h.Created).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	w := bufio.NewWriterSize(s.stdout, 256<<10)
	if asJSON {
		enc := newJSONEncoder(w)
		err = enc.Encode(lostHeaderJSON{File: file, Instance: h.Instance, Epoch: h.Epoch, PrevEpoch: h.PrevEpoch, Reason: h.Reason,
			From: h.From, To: h.To, Records: h.Records, Created: created, CreatedUnixMs: h.Created})
		for i := 0; i < len(lf.Records) && err == nil; i++ {
			var d *journaljson.Record
			if d, err = journaljson.FromRecord(&lf.Records[i]); err == nil {
				err = enc.Encode(d)
			}
		}
	} else {
		fmt.Fprintf(w, "lost transaction file %s\n", file)
		fmt.Fprintf(w, "instance:  %q\n", h.Instance)
		fmt.Fprintf(w, "epoch:     %d (the rollback ended epoch %d)\n", h.Epoch, h.PrevEpoch)
		fmt.Fprintf(w, "reason:    %s\n", h.Reason)
		fmt.Fprintf(w, "positions: %d..%d (%d records)\n", h.From, h.To, h.Records)
		fmt.Fprintf(w, "created:   %s\n\n", created)
		writeTableHeader(w)
		for i := range lf.Records {
			writeTableRow(w, &lf.Records[i])
		}
		fmt.Fprintf(w, "(%d records)\n", len(lf.Records))
	}
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	if err != nil {
		return err
	}
	if readErr != nil {
		return fmt.Errorf("%w (the %d records before it were printed)", readErr, len(lf.Records))
	}
	return nil
}
