package journalctl

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/jsonval"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// The JSON forms below are a public interface (docs/journal-json.md):
// fields are only ever added, never renamed or removed.

// versionJSON is a key's version; a zero version (absent key) is null.
type versionJSON struct {
	HLC    uint64 `json:"hlc"`
	Origin string `json:"origin"`
}

func versionDoc(v journal.Version) *versionJSON {
	if v.IsZero() {
		return nil
	}
	return &versionJSON{HLC: v.HLC, Origin: v.Origin}
}

type readJSON struct {
	Key     any          `json:"key"`
	KeyHex  string       `json:"key_hex"`
	Version *versionJSON `json:"version"`
}

type rangeJSON struct {
	Lo          any    `json:"lo"`
	Hi          any    `json:"hi"`
	LoHex       string `json:"lo_hex"`
	HiHex       string `json:"hi_hex"`
	LoInclusive bool   `json:"lo_inclusive"`
	HiInclusive bool   `json:"hi_inclusive"`
}

type writeJSON struct {
	Key           any          `json:"key"`
	KeyHex        string       `json:"key_hex"`
	Op            string       `json:"op"`
	Value         any          `json:"value"`
	Delta         *int64       `json:"delta"`
	Before        any          `json:"before"`
	BeforeVersion *versionJSON `json:"before_version"`
}

type rollbackJSON struct {
	From          uint64 `json:"from"`
	To            uint64 `json:"to"`
	Reason        string `json:"reason"`
	LostFile      string `json:"lost_file"`
	Records       uint64 `json:"records"`
	PeerWatermark uint64 `json:"peer_watermark"`
}

// recordJSON is one journal record in the form of inspect --json and lost
// --json. Every field is always present.
type recordJSON struct {
	Pos        uint64        `json:"pos"`
	Epoch      uint64        `json:"epoch"`
	Kind       string        `json:"kind"`
	TxID       *string       `json:"txid"`
	Origin     string        `json:"origin"`
	OSeq       uint64        `json:"oseq"`
	HLC        uint64        `json:"hlc"`
	HLCTime    *string       `json:"hlc_time"`
	PeerSeen   uint64        `json:"peer_seen"`
	Proc       string        `json:"proc"`
	Args       any           `json:"args"`
	Result     any           `json:"result"`
	Subject    *string       `json:"subject"`
	Reads      []readJSON    `json:"reads"`
	Ranges     []rangeJSON   `json:"ranges"`
	Writes     []writeJSON   `json:"writes"`
	Instance   string        `json:"instance"`
	Role       string        `json:"role"`
	HighOSeq   uint64        `json:"high_oseq"`
	Rollback   *rollbackJSON `json:"rollback"`
	Checkpoint uint64        `json:"checkpoint"`
	// IdempotencyKey is the client's key for the call, "" if none.
	IdempotencyKey string `json:"idempotency_key"`
}

// recordDoc converts a record to its JSON form, decoding keys, arguments,
// results and values. It does not retain r.
func recordDoc(r *journal.Record) *recordJSON {
	d := &recordJSON{
		Pos: r.Pos, Epoch: r.Epoch, Kind: r.Kind.String(),
		TxID: txidDoc(r.TxID()), Origin: r.Origin, OSeq: r.OSeq,
		HLC: r.HLC, HLCTime: hlcTimeDoc(r.HLC), PeerSeen: r.PeerSeen,
		Proc: r.Proc, Args: msgpackDoc(r.Args), Result: msgpackDoc(r.Result),
		Subject:  txidDoc(r.Subject),
		Reads:    make([]readJSON, len(r.Reads)),
		Ranges:   make([]rangeJSON, len(r.Ranges)),
		Writes:   make([]writeJSON, len(r.Writes)),
		Instance: r.Instance, Role: r.Role, HighOSeq: r.HighOSeq, Checkpoint: r.Checkpoint,
		IdempotencyKey: r.IdempotencyKey,
	}
	for i, p := range r.Reads {
		d.Reads[i] = readJSON{Key: keyDoc(p.Key), KeyHex: hex.EncodeToString(p.Key), Version: versionDoc(p.Version)}
	}
	for i, g := range r.Ranges {
		d.Ranges[i] = rangeJSON{
			Lo: boundDoc(g.Lo), Hi: boundDoc(g.Hi), LoHex: hex.EncodeToString(g.Lo), HiHex: hex.EncodeToString(g.Hi),
			LoInclusive: g.LoInclusive, HiInclusive: g.HiInclusive,
		}
	}
	for i, w := range r.Writes {
		wd := writeJSON{Key: keyDoc(w.Key), KeyHex: hex.EncodeToString(w.Key), Op: w.Op.String(),
			Before: msgpackDoc(w.Before), BeforeVersion: versionDoc(w.BeforeVersion)}
		if w.Op != journal.OpDelete {
			wd.Value = msgpackDoc(w.Value)
		}
		if w.Op == journal.OpAdd {
			delta := w.Delta
			wd.Delta = &delta
		}
		d.Writes[i] = wd
	}
	if ri := r.Rollback; ri != nil {
		d.Rollback = &rollbackJSON{From: ri.From, To: ri.To, Reason: ri.Reason, LostFile: ri.LostFile,
			Records: ri.Records, PeerWatermark: ri.PeerWatermark}
	}
	return d
}

func txidDoc(id journal.TxID) *string {
	if id.IsZero() {
		return nil
	}
	s := id.String()
	return &s
}

func hlcTimeDoc(ts uint64) *string {
	if ts == 0 {
		return nil
	}
	s := hlc.Timestamp(ts).String()
	return &s
}

// keyDoc decodes a key into its tuple elements (strings and integers), or
// null if it is not a tuple.
func keyDoc(key []byte) any {
	t, err := tuple.ToJSONArray(key)
	if err != nil {
		return nil
	}
	if t == nil {
		t = []any{}
	}
	for i, e := range t {
		t[i] = jsonval.FromValue(e)
	}
	return t
}

// boundDoc is keyDoc for a range bound, where empty means unbounded (null).
func boundDoc(key []byte) any {
	if len(key) == 0 {
		return nil
	}
	return keyDoc(key)
}

// msgpackDoc decodes a msgpack value (an argument, result or stored value)
// for JSON; nil bytes are null. Bytes that do not decode are shown as
// {"undecodable": error, "msgpack_hex": bytes}.
func msgpackDoc(b []byte) any {
	if b == nil {
		return nil
	}
	var v any
	if err := journal.Unmarshal(b, &v); err != nil {
		return map[string]any{"undecodable": err.Error(), "msgpack_hex": hex.EncodeToString(b)}
	}
	return jsonval.FromValue(v)
}

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
		result = compactJSON(msgpackDoc(r.Result))
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
