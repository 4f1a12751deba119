package journalctl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/journaljson"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
	"github.com/urfave/cli/v2"
)

func inspectCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "print the journal's records as a table or as JSON lines",
		ArgsUsage: "DIR",
		Description: `inspect prints the records of the journal of the stopped instance in DIR,
one per line: position, epoch, kind, TxID, HLC, procedure, result and the
keys the transaction wrote ("set", "delete", "add"), read ("get") and
ranged over ("range"), or what a bookkeeping record (open, epoch, role,
checkpoint) says. Filters combine: a record is printed if it matches all
of them. With --json it prints one JSON object per record with every field
decoded (format: docs/journal-json.md).

A damaged record stops the listing with an error naming its file and
position; a torn tail (never acknowledged) is noted on stderr.

Examples:
   journalctl inspect /var/lib/liege/A
   journalctl inspect /var/lib/liege/A --from 100 --to 200
   journalctl inspect /var/lib/liege/A --txid B/17
   journalctl inspect /var/lib/liege/A --key '["seat","gala"]' --kind local,peer
   journalctl inspect /var/lib/liege/A --json | jq 'select(.proc == "book")'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "first position to print", DefaultText: "1"},
			&cli.StringFlag{Name: "to", Usage: "last position to print", DefaultText: "the last"},
			&cli.StringFlag{Name: "txid", Usage: "only the transaction `ORIGIN/OSEQ` and the reprocess or correction records that stand for it"},
			&cli.StringFlag{Name: "key", Usage: "only records that read, write or range over a key with this tuple `PREFIX`, a JSON array like '[\"seat\",\"gala\"]' (an element printed as {\"base64\": ...} is taken as printed)"},
			&cli.StringFlag{Name: "origin", Usage: "only transactions computed by this `INSTANCE`"},
			&cli.StringFlag{Name: "kind", Usage: "only records of these `KINDS`, comma-separated: local, peer, reprocess, correction, open, epoch, role, checkpoint"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per record (see docs/journal-json.md)"},
		},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "DIR")
			if err != nil {
				return err
			}
			f, err := parseFilter(c)
			if err != nil {
				return err
			}
			return runInspect(s, dir, f, c.Bool("json"))
		},
	}
}

func runInspect(s *streams, dir string, f *filter, asJSON bool) error {
	w := bufio.NewWriterSize(s.stdout, 256<<10)
	enc := newJSONEncoder(w)
	n := 0
	// The header waits for the first row, so that an instance that cannot
	// be read (in use, missing) prints only the error.
	header := func() {
		if !asJSON && n == 0 {
			writeTableHeader(w)
		}
	}
	res, err := inspect.RecordsBetween(dir, f.from, f.to, func(_ uint64, r *journal.Record) error {
		if !f.match(r) {
			return nil
		}
		header()
		n++
		if asJSON {
			d, err := journaljson.FromRecord(r)
			if err != nil {
				return err
			}
			return enc.Encode(d)
		}
		writeTableRow(w, r)
		return nil
	})
	if !asJSON && err == nil {
		header()
		fmt.Fprintf(w, "(%d records)\n", n)
	}
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	var dmg *journal.DamageError
	if errors.As(err, &dmg) {
		return fmt.Errorf("%w\nthe records before it were printed; run 'journalctl verify %s' for a full report", err, dir)
	}
	if err != nil {
		return err
	}
	if res != nil && res.First > 1 {
		fmt.Fprintf(s.stderr, "journalctl: note: the journal begins at position %d: retention truncated the positions before it (the newest checkpoint holds their state)\n", res.First)
	}
	if res != nil && res.Tail != nil {
		fmt.Fprintf(s.stderr, "journalctl: note: %v: it was never acknowledged and will be truncated at next open\n", res.Tail)
	}
	return nil
}

// filter selects the records inspect prints.
type filter struct {
	from, to uint64 // positions; to 0 means the end
	txid     journal.TxID
	key      []byte // a tuple prefix
	keyEnd   []byte // PrefixEnd(key); nil means no upper bound
	hasKey   bool
	origin   string
	kinds    map[journal.Kind]bool
}

func parseFilter(c *cli.Context) (*filter, error) {
	f := &filter{}
	var err error
	if c.IsSet("from") {
		if f.from, err = parsePosition(c, "from"); err != nil {
			return nil, err
		}
	}
	if c.IsSet("to") {
		if f.to, err = parsePosition(c, "to"); err != nil {
			return nil, err
		}
		if f.from > f.to {
			return nil, usageError(c, "--from %d is after --to %d: nothing to print", f.from, f.to)
		}
	}
	if c.IsSet("txid") {
		if f.txid, err = journal.ParseTxID(c.String("txid")); err != nil {
			return nil, usageError(c, "--txid: %v", err)
		}
	}
	if c.IsSet("key") {
		s := c.String("key")
		if f.key, err = journaljson.ParseKey([]byte(s)); err != nil {
			return nil, usageError(c, "--key %s: %v; write the key prefix as a JSON array of strings and integers, with {\"base64\": ...} for a string that is not UTF-8 as inspect prints it, e.g. --key '[\"seat\",\"gala\"]'", s, err)
		}
		f.keyEnd, f.hasKey = tuple.PrefixEnd(f.key), true
	}
	if c.IsSet("origin") {
		if f.origin = c.String("origin"); f.origin == "" {
			return nil, usageError(c, "--origin needs an instance id, e.g. --origin A")
		}
	}
	if c.IsSet("kind") {
		f.kinds = map[journal.Kind]bool{}
		for _, k := range strings.Split(c.String("kind"), ",") {
			kind, err := journal.ParseKind(strings.TrimSpace(k))
			if err != nil {
				return nil, usageError(c, "--kind: %v", err)
			}
			f.kinds[kind] = true
		}
	}
	return f, nil
}

// parsePosition parses the journal position given to --name.
func parsePosition(c *cli.Context, name string) (uint64, error) {
	s := c.String(name)
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil || n == 0 {
		return 0, usageError(c, "--%s %q is not a journal position: give a positive integer, e.g. --%s 120", name, s, name)
	}
	return n, nil
}

// match reports whether r passes every filter set.
func (f *filter) match(r *journal.Record) bool {
	if f.kinds != nil && !f.kinds[r.Kind] {
		return false
	}
	if f.origin != "" && r.Origin != f.origin {
		return false
	}
	if !f.txid.IsZero() && r.TxID() != f.txid && r.Subject != f.txid {
		return false
	}
	if f.hasKey && !f.touches(r) {
		return false
	}
	return true
}

// touches reports whether r reads, writes or ranges over a key in the
// subtree of the --key prefix.
func (f *filter) touches(r *journal.Record) bool {
	for i := range r.Writes {
		if bytes.HasPrefix(r.Writes[i].Key, f.key) {
			return true
		}
	}
	for i := range r.Reads {
		if bytes.HasPrefix(r.Reads[i].Key, f.key) {
			return true
		}
	}
	for i := range r.Ranges {
		if f.overlaps(&r.Ranges[i]) {
			return true
		}
	}
	return false
}

// overlaps reports whether range g holds a key of the subtree [key, keyEnd).
// A range proved a set of keys: if any key of the subtree lies in it, the
// record read (or proved absent) keys with that prefix.
func (f *filter) overlaps(g *journal.RangeRead) bool {
	// The range's lower bound must lie below the subtree's end ...
	if len(g.Lo) > 0 && f.keyEnd != nil && bytes.Compare(g.Lo, f.keyEnd) >= 0 {
		return false
	}
	// ... and its upper bound above the subtree's start.
	if len(g.Hi) > 0 {
		c := bytes.Compare(g.Hi, f.key)
		if c < 0 || (c == 0 && !g.HiInclusive) {
			return false
		}
	}
	return true
}
