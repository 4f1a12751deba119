package journalctl

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/journaljson"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/urfave/cli/v2"
)

func stateCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print the state the instance would recover: every key, value and version, and the state hash",
		ArgsUsage: "DIR",
		Description: `state works out, without writing anything, the state the stopped instance
in DIR would recover at its next open (the newest valid checkpoint plus the
journal after it, without a torn tail, and before the target of an
interrupted rollback) and prints every key as a tuple, its value decoded
as JSON and its version (HLC and origin), then "hash: " and the state hash,
which equals the hash the running instance reports. With --json it prints
one JSON object {"hash": ..., "keys": [...]} (format: docs/journal-json.md).
Notes about a torn tail or an interrupted rollback go to stderr.

Examples:
   journalctl state /var/lib/liege/A
   journalctl state /var/lib/liege/A --json | jq -r .hash`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object (see docs/journal-json.md)"},
		},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "DIR")
			if err != nil {
				return err
			}
			return runState(s, dir, c.Bool("json"))
		},
	}
}

func runState(s *streams, dir string, asJSON bool) error {
	rec, err := inspect.Recover(dir)
	if err != nil {
		return err
	}
	if t := rec.TornTail; t != nil {
		fmt.Fprintf(s.stderr, "journalctl: note: %v: it was never acknowledged, is not in this state, and will be truncated at next open\n", t)
	}
	if in := rec.Intent; in != nil {
		fmt.Fprintf(s.stderr, "journalctl: note: an interrupted rollback of positions %d..%d will be finished at next open (it stands at phase %q; next step: %s); this is the state after it\n",
			in.Target, in.Head, rec.Rollback.Phase, rec.Rollback.Next)
	}
	for _, e := range rec.SkippedCheckpoints {
		fmt.Fprintf(s.stderr, "journalctl: note: %v: the engine skips this checkpoint\n", e)
	}
	hash := rec.Store.Hash()
	w := bufio.NewWriterSize(s.stdout, 256<<10)
	if asJSON {
		err = writeStateJSON(w, rec, hash)
	} else {
		err = writeStateTable(w, rec, hash)
	}
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	return err
}

func writeStateJSON(w *bufio.Writer, rec *inspect.Recovered, hash [32]byte) error {
	// Streamed key by key, so that a large state is not held twice; the
	// whole object is one line.
	hb, _ := json.Marshal(hex.EncodeToString(hash[:]))
	fmt.Fprintf(w, `{"hash":%s,"keys":[`, hb)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var err error
	first := true
	rec.Store.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		buf.Reset()
		var sk journaljson.StateKey
		if sk, err = journaljson.StateKeyOf(k, v, ver); err != nil {
			return false
		}
		if err = enc.Encode(sk); err != nil {
			return false
		}
		if !first {
			w.WriteByte(',')
		}
		first = false
		w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return true
	})
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	_, err = w.WriteString("]}\n")
	return err
}

func writeStateTable(w *bufio.Writer, rec *inspect.Recovered, hash [32]byte) error {
	from := "replayed from position 1"
	if rec.Checkpoint != "" {
		from = "from checkpoint " + rec.Checkpoint + fmt.Sprintf(" and %d records after it", rec.Replayed)
	}
	fmt.Fprintf(w, "instance %q, journal position %d, epoch %d, %d keys (%s)\n", rec.Instance, rec.Last, rec.Epoch, rec.Store.Len(), from)
	rec.Store.Ascend(nil, func(k, v []byte, ver journal.Version) bool {
		fmt.Fprintf(w, "%s = %s  version: hlc %d (%v) origin %s\n", tuple.Format(k), compactJSON(journaljson.Value(v)), ver.HLC, hlc.Timestamp(ver.HLC), ver.Origin)
		return true
	})
	_, err := fmt.Fprintf(w, "hash: %s\n", hex.EncodeToString(hash[:]))
	return err
}
