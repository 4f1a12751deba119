package journalctl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/journaljson"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// The JSON forms of inspect --json, lost --json and state --json are in
// package journaljson, their one home (docs/journal-json.md).

// compactJSON renders a JSON-ready value on one line, without HTML
// escaping.
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("!(%v)", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// newJSONEncoder returns an encoder writing one JSON value per line.
func newJSONEncoder(w *bufio.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// The record table of inspect and lost: fixed-width columns, so that a
// table of millions of rows streams without buffering; long cells are
// abbreviated with "…" and the last column runs to the end of the line.
var tableColumns = []struct {
	name  string
	width int
	right bool
}{
	{"POS", 7, true},
	{"EPOCH", 5, true},
	{"KIND", 10, false},
	{"TXID", 12, false},
	{"HLC", 28, false},
	{"PROC", 16, false},
	{"RESULT", 24, false},
	{"KEYS / DETAIL", 0, false},
}

// writeTableHeader writes the header line of the record table.
func writeTableHeader(w *bufio.Writer) {
	cells := make([]string, len(tableColumns))
	for i, c := range tableColumns {
		cells[i] = c.name
	}
	writeTableLine(w, cells)
}

// writeTableRow writes one record as a row of the record table.
func writeTableRow(w *bufio.Writer, r *journal.Record) {
	writeTableLine(w, tableRow(r))
}

// tableRow returns the cells of a record's row in the record table.
func tableRow(r *journal.Record) []string {
	ts, txid := "-", "-"
	if r.HLC != 0 {
		ts = hlc.Timestamp(r.HLC).String()
	}
	if id := r.TxID(); !id.IsZero() {
		txid = id.String()
	}
	result := ""
	if r.Result != nil {
		result = compactJSON(journaljson.Value(r.Result))
	}
	return []string{
		strconv.FormatUint(r.Pos, 10), strconv.FormatUint(r.Epoch, 10), r.Kind.String(), txid, ts,
		r.Proc, result, recordDetail(r),
	}
}

func writeTableLine(w *bufio.Writer, cells []string) {
	for i, c := range tableColumns {
		s := cells[i]
		if c.width == 0 {
			w.WriteString(s)
			break
		}
		s = abbrev(s, c.width)
		pad := strings.Repeat(" ", max(0, c.width-utf8.RuneCountInString(s)))
		if c.right {
			w.WriteString(pad + s)
		} else {
			w.WriteString(s + pad)
		}
		w.WriteString("  ")
	}
	w.WriteByte('\n')
}

// abbrev shortens s to at most n runes, ending it with "…" if it was cut.
func abbrev(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Limits of the KEYS / DETAIL column.
const (
	detailItems  = 4  // keys listed before "+N more"
	detailKeyLen = 48 // runes per key
)

// recordDetail describes what a transaction touched (its writes, ranges
// and point reads, with tuple keys) or what a bookkeeping record says.
func recordDetail(r *journal.Record) string {
	switch r.Kind {
	case journal.KindOpen:
		s := "instance " + strconv.Quote(r.Instance)
		if r.HighOSeq != 0 {
			s += fmt.Sprintf(", OSeqs assigned up to %d", r.HighOSeq)
		}
		return s
	case journal.KindEpoch:
		ri := r.Rollback
		if ri == nil {
			return fmt.Sprintf("epoch %d", r.Epoch)
		}
		return fmt.Sprintf("epoch %d: rolled off positions %d..%d (%d records) to %s, reason %q, peer watermark %d",
			r.Epoch, ri.From, ri.To, ri.Records, ri.LostFile, ri.Reason, ri.PeerWatermark)
	case journal.KindRole:
		return "role " + r.Role
	case journal.KindCheckpoint:
		return fmt.Sprintf("checkpoint of the state at position %d", r.Checkpoint)
	}
	var items []string
	if !r.Subject.IsZero() {
		items = append(items, "for "+r.Subject.String())
	}
	for _, w := range r.Writes {
		items = append(items, w.Op.String()+" "+abbrev(tuple.Format(w.Key), detailKeyLen))
	}
	for i := range r.Ranges {
		items = append(items, "range "+abbrev(rangeString(&r.Ranges[i]), detailKeyLen))
	}
	for _, p := range r.Reads {
		items = append(items, "get "+abbrev(tuple.Format(p.Key), detailKeyLen))
	}
	if len(items) > detailItems {
		more := len(items) - detailItems
		items = append(items[:detailItems], fmt.Sprintf("+%d more", more))
	}
	return strings.Join(items, ", ")
}

// rangeString shows a range read in interval notation with tuple keys, or
// as "prefix (...)" for the subtree of a tuple prefix.
func rangeString(g *journal.RangeRead) string {
	if len(g.Lo) > 0 && g.LoInclusive && !g.HiInclusive && bytes.Equal(g.Hi, tuple.PrefixEnd(g.Lo)) {
		return "prefix " + tuple.Format(g.Lo)
	}
	lo, hi := "start", "end"
	lb, hb := "(", ")"
	if len(g.Lo) > 0 {
		lo = tuple.Format(g.Lo)
		if g.LoInclusive {
			lb = "["
		}
	}
	if len(g.Hi) > 0 {
		hi = tuple.Format(g.Hi)
		if g.HiInclusive {
			hb = "]"
		}
	}
	return lb + lo + ", " + hi + hb
}
