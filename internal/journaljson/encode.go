package journaljson

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/jsonval"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// FromRecord converts a record to its JSON form, decoding keys, arguments,
// results and values. It does not retain r. It fails only if a decoded
// value cannot be written as JSON.
func FromRecord(r *journal.Record) (*Record, error) {
	var c conv
	raw := c.raw
	pos := r.Pos
	d := &Record{
		Pos: &pos, Epoch: r.Epoch, Kind: r.Kind.String(),
		TxID: txid(r.TxID()), Origin: r.Origin, OSeq: r.OSeq,
		HLC: r.HLC, HLCTime: hlcTime(r.HLC), PeerSeen: r.PeerSeen,
		Proc: r.Proc, Args: raw(Value(r.Args)), Result: raw(Value(r.Result)),
		Subject:  txid(r.Subject),
		Reads:    make([]Read, len(r.Reads)),
		Ranges:   make([]Range, len(r.Ranges)),
		Writes:   make([]Write, len(r.Writes)),
		Instance: r.Instance, Role: r.Role, HighOSeq: r.HighOSeq, Checkpoint: r.Checkpoint,
		IdempotencyKey: r.IdempotencyKey,
	}
	for i, p := range r.Reads {
		d.Reads[i] = Read{Key: raw(Key(p.Key)), KeyHex: hexOf(p.Key), Version: VersionOf(p.Version)}
	}
	for i, g := range r.Ranges {
		d.Ranges[i] = Range{
			Lo: raw(bound(g.Lo)), Hi: raw(bound(g.Hi)), LoHex: hexOf(g.Lo), HiHex: hexOf(g.Hi),
			LoInclusive: g.LoInclusive, HiInclusive: g.HiInclusive,
		}
	}
	for i, w := range r.Writes {
		wd := Write{Key: raw(Key(w.Key)), KeyHex: hexOf(w.Key), Op: w.Op.String(),
			Before: raw(Value(w.Before)), BeforeVersion: VersionOf(w.BeforeVersion), BeforeHex: valueHex(w.Before)}
		if w.Op != journal.OpDelete {
			wd.Value, wd.ValueHex = raw(Value(w.Value)), valueHex(w.Value)
		}
		if w.Op == journal.OpAdd {
			delta := w.Delta
			wd.Delta = &delta
		}
		d.Writes[i] = wd
	}
	if ri := r.Rollback; ri != nil {
		d.Rollback = &Rollback{From: ri.From, To: ri.To, Reason: ri.Reason, LostFile: ri.LostFile,
			Records: ri.Records, PeerWatermark: ri.PeerWatermark}
	}
	if c.err != nil {
		return nil, fmt.Errorf("record at position %d: %w", r.Pos, c.err)
	}
	return d, nil
}

// StateKeyOf converts one key of a state, with its value and version, to
// its JSON form.
func StateKeyOf(key, value []byte, v journal.Version) (StateKey, error) {
	var c conv
	k := StateKey{Key: c.raw(Key(key)), KeyHex: hexOf(key), Value: c.raw(Value(value)), Version: VersionOf(v),
		ValueHex: valueHex(value)}
	return k, c.err
}

// VersionOf returns the JSON form of a version: nil (null) for the zero
// version of an absent key.
func VersionOf(v journal.Version) *Version {
	if v.IsZero() {
		return nil
	}
	return &Version{HLC: v.HLC, Origin: v.Origin}
}

// Key decodes a key into its tuple elements (strings and integers) for
// JSON, or nil (null) if it is not a tuple.
func Key(key []byte) any {
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

// bound is Key for a range bound, where empty means unbounded (null).
func bound(key []byte) any {
	if len(key) == 0 {
		return nil
	}
	return Key(key)
}

// Value decodes a msgpack value (an argument, result or stored value) for
// JSON; nil bytes are nil (null). Bytes that do not decode are shown as
// {"undecodable": error, "msgpack_hex": bytes}.
func Value(b []byte) any {
	if b == nil {
		return nil
	}
	var v any
	if err := journal.Unmarshal(b, &v); err != nil {
		return map[string]any{"undecodable": err.Error(), "msgpack_hex": hex.EncodeToString(b)}
	}
	return jsonval.FromValue(v)
}

func txid(id journal.TxID) *string {
	if id.IsZero() {
		return nil
	}
	s := id.String()
	return &s
}

func hlcTime(ts uint64) *string {
	if ts == 0 {
		return nil
	}
	s := hlc.Timestamp(ts).String()
	return &s
}

// valueHex is hexOf for a value: nil (the field left out) when there are
// no bytes.
func valueHex(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	return hexOf(b)
}

func hexOf(b []byte) *string {
	s := hex.EncodeToString(b)
	return &s
}

type rawEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var rawPool = sync.Pool{New: func() any {
	e := &rawEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// conv keeps the first error of a conversion.
type conv struct{ err error }

// raw encodes a JSON-ready value as journalctl prints it (no HTML
// escaping); nil stays nil, which encoding/json writes as null. Embedded
// in a larger value, it is written unchanged: an encoder that does not
// escape HTML only compacts raw JSON, and this is compact already.
func (c *conv) raw(v any) json.RawMessage {
	if v == nil || c.err != nil {
		return nil
	}
	e := rawPool.Get().(*rawEncoder)
	defer rawPool.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		c.err = err
		return nil
	}
	return bytes.Clone(bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'}))
}
