package journaljson

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// ToRecord converts a record's JSON form back to the record, re-encoding
// keys from key_hex (or, when key_hex is absent, from the key array; when
// both are present they must agree) and values as EncodeValue does. pos
// and kind are required; any other field left out means its zero value.
// HLCTime is not read; OriginKind (not in the JSON) stays zero.
func (x *Record) ToRecord() (journal.Record, error) {
	var r journal.Record
	if x.Pos == nil || *x.Pos == 0 {
		return r, errors.New(`no "pos" (a positive integer)`)
	}
	kind, err := journal.ParseKind(x.Kind)
	if err != nil {
		return r, err
	}
	r.Pos, r.Epoch, r.Kind = *x.Pos, x.Epoch, kind
	r.Origin, r.OSeq, r.HLC, r.PeerSeen, r.Proc = x.Origin, x.OSeq, x.HLC, x.PeerSeen, x.Proc
	r.Instance, r.Role, r.HighOSeq, r.Checkpoint = x.Instance, x.Role, x.HighOSeq, x.Checkpoint
	r.IdempotencyKey = x.IdempotencyKey
	if x.TxID != nil {
		id, err := journal.ParseTxID(*x.TxID)
		if err != nil {
			return r, fmt.Errorf("txid: %w", err)
		}
		if r.Origin == "" && r.OSeq == 0 { // a hand-made record may give the txid alone
			r.Origin, r.OSeq = id.Origin, id.OSeq
		}
		if id != r.TxID() {
			return r, fmt.Errorf("txid %q disagrees with origin %q and oseq %d", *x.TxID, r.Origin, r.OSeq)
		}
	}
	if x.Subject != nil {
		if r.Subject, err = journal.ParseTxID(*x.Subject); err != nil {
			return r, fmt.Errorf("subject: %w", err)
		}
	}
	if r.Args, err = EncodeValue(x.Args, false); err != nil {
		return r, fmt.Errorf("args: %w", err)
	}
	if r.Result, err = EncodeValue(x.Result, false); err != nil {
		return r, fmt.Errorf("result: %w", err)
	}
	if len(x.Reads) > 0 {
		r.Reads = make([]journal.PointRead, len(x.Reads))
	}
	for i := range x.Reads {
		p := &x.Reads[i]
		if r.Reads[i].Key, err = decodeKey(p.Key, p.KeyHex, false); err != nil {
			return r, fmt.Errorf("read #%d: %w", i+1, err)
		}
		r.Reads[i].Version = p.Version.version()
	}
	if len(x.Ranges) > 0 {
		r.Ranges = make([]journal.RangeRead, len(x.Ranges))
	}
	for i := range x.Ranges {
		g, out := &x.Ranges[i], &r.Ranges[i]
		if out.Lo, err = decodeKey(g.Lo, g.LoHex, true); err != nil {
			return r, fmt.Errorf("range #%d lo: %w", i+1, err)
		}
		if out.Hi, err = decodeKey(g.Hi, g.HiHex, true); err != nil {
			return r, fmt.Errorf("range #%d hi: %w", i+1, err)
		}
		out.LoInclusive, out.HiInclusive = g.LoInclusive, g.HiInclusive
	}
	if len(x.Writes) > 0 {
		r.Writes = make([]journal.Write, len(x.Writes))
	}
	for i := range x.Writes {
		if err := x.Writes[i].write(&r.Writes[i]); err != nil {
			return r, fmt.Errorf("write #%d: %w", i+1, err)
		}
	}
	if rb := x.Rollback; rb != nil {
		r.Rollback = &journal.RollbackInfo{From: rb.From, To: rb.To, Reason: rb.Reason, LostFile: rb.LostFile,
			Records: rb.Records, PeerWatermark: rb.PeerWatermark}
	}
	return r, nil
}

func (x *Write) write(w *journal.Write) error {
	var err error
	if w.Key, err = decodeKey(x.Key, x.KeyHex, false); err != nil {
		return err
	}
	w.BeforeVersion = x.BeforeVersion.version()
	switch x.Op {
	case "set":
		w.Op = journal.OpSet
		// A set's value is never absent: JSON null is msgpack nil.
		if w.Value, err = valueOf(x.Value, x.ValueHex, true); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	case "delete":
		w.Op = journal.OpDelete
	case "add":
		w.Op = journal.OpAdd
		if x.Delta == nil {
			return errors.New("an add without a delta")
		}
		w.Delta = *x.Delta
		if w.Value, err = valueOf(x.Value, x.ValueHex, false); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	default:
		return fmt.Errorf("unknown op %q (want set, delete or add)", x.Op)
	}
	if x.ValueHex != nil && w.Op == journal.OpDelete {
		return errors.New("a delete with a value_hex")
	}
	if x.Delta != nil && w.Op != journal.OpAdd {
		return fmt.Errorf("a %s with a delta", x.Op)
	}
	// The before-image exists exactly when its version does; JSON null is
	// then msgpack nil.
	if w.Before, err = valueOf(x.Before, x.BeforeHex, !w.BeforeVersion.IsZero()); err != nil {
		return fmt.Errorf("before: %w", err)
	}
	return nil
}

func (v *Version) version() journal.Version {
	if v == nil {
		return journal.Version{}
	}
	return journal.Version{HLC: v.HLC, Origin: v.Origin}
}

// decodeKey returns the bytes of a key given as a tuple array and/or hex.
// With both, they must agree; a tuple array that is null (not a tuple
// encoding) needs the hex. A bound (of a range) may be absent: unbounded,
// nil; a key may not.
func decodeKey(arr json.RawMessage, hexStr *string, bound bool) ([]byte, error) {
	null := len(arr) == 0 || string(arr) == "null"
	var fromArr []byte
	if !null {
		var err error
		if fromArr, err = encodeTuple(arr); err != nil {
			return nil, err
		}
	}
	if hexStr == nil {
		if null && !bound {
			return nil, errors.New("a key with neither key nor key_hex")
		}
		return fromArr, nil
	}
	b, err := hex.DecodeString(*hexStr)
	if err != nil {
		return nil, fmt.Errorf("hex %q: %w", *hexStr, err)
	}
	if len(b) == 0 {
		if !bound {
			return nil, errors.New("an empty key")
		}
		if !null {
			return nil, fmt.Errorf("an unbounded bound (hex \"\") with the tuple %s", arr)
		}
		return nil, nil
	}
	if !null && !bytes.Equal(b, fromArr) {
		return nil, fmt.Errorf("the tuple %s encodes to %x, not to the hex given, %s", arr, fromArr, *hexStr)
	}
	return b, nil
}

// valueOf returns a value's msgpack bytes: those of hexStr when given
// (exact), else EncodeValue(raw, present).
func valueOf(raw json.RawMessage, hexStr *string, present bool) ([]byte, error) {
	if hexStr == nil {
		return EncodeValue(raw, present)
	}
	b, err := hex.DecodeString(*hexStr)
	if err != nil {
		return nil, fmt.Errorf("hex %q: %w", *hexStr, err)
	}
	if len(b) == 0 {
		return nil, errors.New("an empty hex value (leave the field out for no value)")
	}
	return b, nil
}

// ParseKey returns the bytes of a key (or key prefix) written as
// journalctl prints keys: a JSON array of strings, integers and {"base64":
// ...} (a string element that is not UTF-8), e.g. ["seat", {"base64":
// "/w=="}, 12].
func ParseKey(arr []byte) ([]byte, error) { return encodeTuple(arr) }

// encodeTuple encodes a key written as journalctl writes it: a JSON array
// of strings, integers and {"base64": ...} (a string element that is not
// UTF-8).
func encodeTuple(arr json.RawMessage) ([]byte, error) {
	var elems []any
	dec := json.NewDecoder(bytes.NewReader(arr))
	dec.UseNumber()
	if err := dec.Decode(&elems); err != nil {
		return nil, fmt.Errorf("key %s: want a JSON array of strings and integers: %w", arr, err)
	}
	key := []byte{}
	for i, e := range elems {
		switch e := e.(type) {
		case string:
			key = tuple.AppendString(key, e)
		case json.Number:
			n, err := strconv.ParseInt(string(e), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("key %s: element %d: %s is not an integer of 64 bits", arr, i, e)
			}
			key = tuple.AppendInt(key, n)
		case map[string]any:
			b, ok := base64Object(e)
			if !ok {
				return nil, fmt.Errorf("key %s: element %d is an object other than {\"base64\": ...}", arr, i)
			}
			key = tuple.AppendString(key, string(b))
		default:
			return nil, fmt.Errorf("key %s: element %d is not a string or integer", arr, i)
		}
	}
	return key, nil
}

// base64Object decodes the {"base64": "..."} form of bytes that are not
// UTF-8.
func base64Object(m map[string]any) ([]byte, bool) {
	s, ok := m["base64"].(string)
	if len(m) != 1 || !ok {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// EncodeValue re-encodes a value decoded by Value (raw JSON) as msgpack, as
// the engine encodes the Go value the JSON naturally maps to
// (journal.Marshal, canonical): null, true/false, an integer as the
// smallest signed form (an integer above math.MaxInt64 as uint64), a
// number with a fraction or exponent as float64, a string as a msgpack str,
// {"base64": ...} as a bin, an array as an array, an object as a map with
// sorted string keys, and the {"undecodable", "msgpack_hex"} form as its
// bytes. This is exact for what the engine writes from UTF-8 strings,
// []byte that is not UTF-8, signed integers, bools, nil, float64 with a
// fraction, and maps (string keys), slices and structs of those; the
// oracle's FromExport lists what it is not exact for.
//
// An absent value or JSON null is nil, unless present is set: then null is
// msgpack nil (0xc0).
func EncodeValue(raw json.RawMessage, present bool) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if present {
			return []byte{0xc0}, nil
		}
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	// What journalctl prints for bytes that do not decode: the bytes.
	if m, ok := v.(map[string]any); ok && len(m) == 2 {
		h, ok1 := m["msgpack_hex"].(string)
		_, ok2 := m["undecodable"].(string)
		if ok1 && ok2 {
			if b, err := hex.DecodeString(h); err == nil {
				return b, nil
			}
		}
	}
	g, err := goValue(v)
	if err != nil {
		return nil, err
	}
	return journal.Marshal(g)
}

// goValue turns a JSON value (numbers as json.Number) into the Go value the
// engine would have encoded (see EncodeValue).
func goValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				return u, nil
			}
			// Beyond 64 bits: a float64 that Go printed without an
			// exponent (1e20 prints as 100000000000000000000).
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", s, err)
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = goValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		if b, ok := base64Object(x); ok {
			return b, nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = goValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", v)
}

// Decode converts a key of state --json back to the key, value and version
// the instance holds, as ToRecord does for records. A stored key always
// has a version.
func (k *StateKey) Decode() (key, value []byte, v journal.Version, err error) {
	key, err = decodeKey(k.Key, k.KeyHex, false)
	if err == nil && k.Version.version().IsZero() {
		err = errors.New("no version (a stored key always has one)")
	}
	if err == nil {
		value, err = valueOf(k.Value, k.ValueHex, true)
	}
	if err != nil {
		return nil, nil, journal.Version{}, err
	}
	return key, value, k.Version.version(), nil
}
