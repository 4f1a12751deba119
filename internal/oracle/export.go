package oracle

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// ErrNotExact is wrapped by the error FromExport returns when the values it
// re-encoded from JSON do not give the state hash the export states: the
// JSON form lost something the engine's bytes held (see FromExport). The
// Instance is returned with it, so that a caller may still look at it.
var ErrNotExact = errors.New("the JSON export does not give the engine's value bytes back")

// FromExport builds an Instance from what `journalctl inspect --json DIR`
// and `journalctl state --json DIR` print for a stopped instance directory
// (format: docs/journal-json.md), so that a runner without access to the
// directory (or to this module's readers) can check the oracle.
//
// inspectJSON is the whole inspect output, unfiltered (one record per
// line); stateJSON is the one object of state --json. id is the instance id:
// if the journal's open record names another instance FromExport fails; if
// id is "" the open record's id is used.
//
// What comes back, and how exact it is:
//
//   - Records: every transaction record (local, peer, reprocess,
//     correction) and every bookkeeping record (open, epoch, role,
//     checkpoint), in position order, with Pos, Epoch, Kind, Origin, OSeq,
//     HLC, PeerSeen, Proc, Subject, Reads (keys and versions), Ranges
//     (bounds and inclusiveness), Writes (key, op, delta, value and
//     before-image), Instance, Role, HighOSeq, Rollback, Checkpoint and
//     IdempotencyKey. Keys, range bounds, TxIDs, HLCs, versions, deltas and
//     ops are exact: keys from key_hex (or, when key_hex is absent, from
//     the key array re-encoded with package tuple; when both are present
//     they must agree).
//   - OriginKind (the kind a peer record had at its origin) is not in the
//     JSON and stays zero; the oracle does not use it.
//   - State: every key with its version (exact) and value.
//
// Values (set values, add after-values, before-images, stored values,
// arguments, results) are decoded msgpack in the JSON and are re-encoded
// here as the engine encodes the Go value the JSON naturally maps to
// (journal.Marshal, canonical; the engine's Set writes strings, integers,
// booleans and nil identically): null, true/false, an integer as the
// smallest signed form (an integer above math.MaxInt64 as uint64), a
// number with a fraction or exponent as float64, a string as a msgpack str,
// {"base64": ...} as a bin, an array as an array, an object as a map with
// sorted string keys (structs encode so too), and the
// {"undecodable", "msgpack_hex"} form of journalctl as its bytes. This is
// byte-exact for the values the engine's Set writes from UTF-8 strings,
// []byte that is not UTF-8, signed integers, bools, nil, float64 with a
// fraction, and maps (string keys), slices and structs of those. It is not
// for a []byte holding UTF-8 (written as bin, shown as a string), a string
// that is not UTF-8 (written as str, shown as base64), unsigned integers
// (uint forms, shown as numbers), floats with an integral value (shown as
// integers), float32, NaN and the infinities (shown as strings),
// timestamps and other extensions (shown as strings), maps with
// non-string keys (shown as text) and a map whose one key is "base64".
//
// Because state --json states the state hash, FromExport checks the
// re-encoded state against it: if they differ, it returns the Instance and
// an error wrapping ErrNotExact. Values of records are not covered by that
// hash: a record's set value that the JSON cannot give back exactly makes
// the oracle's replay differ from the state (a violation of item 2 that is
// the export's, not the engine's), and two copies whose values differ only
// in what the JSON loses look equal to the copies check.
//
// What the JSON cannot say, the runner must check when it exports: that
// journalctl exited 0 (a damaged record ends inspect early, with status 1,
// after the records before it) and wrote nothing on stderr. A note there
// means the directory was not cleanly stopped: a torn tail (left out of
// both outputs, consistently) or an interrupted rollback, whose records
// inspect still prints but state --json already leaves out; nothing in
// the JSON tells those records apart, and the oracle would then report the
// path's state as not the instance's (item 2). Open and close such a
// directory with the engine first, which finishes the rollback.
//
// A hand-made export may leave out fields: key_hex, lo_hex and hi_hex (the
// key array is encoded instead), hash (not checked), and any field whose
// zero value is meant. pos and kind are required.
func FromExport(id string, inspectJSON, stateJSON io.Reader) (Instance, error) {
	in := Instance{ID: id}
	recs, journalID, err := readInspectJSON(inspectJSON)
	if err != nil {
		return Instance{}, err
	}
	switch {
	case id == "":
		in.ID = journalID
	case journalID != "" && journalID != id:
		return Instance{}, fmt.Errorf("oracle: the journal exported as instance %q is instance %q's (its open record)", id, journalID)
	}
	in.Records = recs
	state, hash, err := readStateJSON(stateJSON)
	if err != nil {
		return Instance{}, err
	}
	in.State = state
	if hash != nil {
		if got := StateHash(state); !bytes.Equal(got[:], hash) {
			return in, fmt.Errorf("oracle: state --json of %s: the state re-encoded from JSON hashes to %x, the export says %x: %w (a value that is bytes, an unsigned or float number, a timestamp, or a map with non-string keys; see FromExport)",
				label(in.ID), got[:8], hash[:8], ErrNotExact)
		}
	}
	return in, nil
}

func label(id string) string {
	if id == "" {
		return "the instance"
	}
	return "instance " + id
}

// The JSON forms of docs/journal-json.md. Values are kept raw and
// re-encoded by encodeValue; hex fields are pointers so that a hand-made
// export may leave them out.

type exportVersion struct {
	HLC    uint64 `json:"hlc"`
	Origin string `json:"origin"`
}

type exportRead struct {
	Key     json.RawMessage `json:"key"`
	KeyHex  *string         `json:"key_hex"`
	Version *exportVersion  `json:"version"`
}

type exportRange struct {
	Lo          json.RawMessage `json:"lo"`
	Hi          json.RawMessage `json:"hi"`
	LoHex       *string         `json:"lo_hex"`
	HiHex       *string         `json:"hi_hex"`
	LoInclusive bool            `json:"lo_inclusive"`
	HiInclusive bool            `json:"hi_inclusive"`
}

type exportWrite struct {
	Key           json.RawMessage `json:"key"`
	KeyHex        *string         `json:"key_hex"`
	Op            string          `json:"op"`
	Value         json.RawMessage `json:"value"`
	Delta         *int64          `json:"delta"`
	Before        json.RawMessage `json:"before"`
	BeforeVersion *exportVersion  `json:"before_version"`
}

type exportRollback struct {
	From          uint64 `json:"from"`
	To            uint64 `json:"to"`
	Reason        string `json:"reason"`
	LostFile      string `json:"lost_file"`
	Records       uint64 `json:"records"`
	PeerWatermark uint64 `json:"peer_watermark"`
}

type exportRecord struct {
	Pos            *uint64         `json:"pos"`
	Epoch          uint64          `json:"epoch"`
	Kind           string          `json:"kind"`
	TxID           *string         `json:"txid"`
	Origin         string          `json:"origin"`
	OSeq           uint64          `json:"oseq"`
	HLC            uint64          `json:"hlc"`
	PeerSeen       uint64          `json:"peer_seen"`
	Proc           string          `json:"proc"`
	Args           json.RawMessage `json:"args"`
	Result         json.RawMessage `json:"result"`
	Subject        *string         `json:"subject"`
	Reads          []exportRead    `json:"reads"`
	Ranges         []exportRange   `json:"ranges"`
	Writes         []exportWrite   `json:"writes"`
	Instance       string          `json:"instance"`
	Role           string          `json:"role"`
	HighOSeq       uint64          `json:"high_oseq"`
	Rollback       *exportRollback `json:"rollback"`
	Checkpoint     uint64          `json:"checkpoint"`
	IdempotencyKey string          `json:"idempotency_key"`
}

type exportStateKey struct {
	Key     json.RawMessage `json:"key"`
	KeyHex  *string         `json:"key_hex"`
	Value   json.RawMessage `json:"value"`
	Version *exportVersion  `json:"version"`
}

type exportState struct {
	Hash *string          `json:"hash"`
	Keys []exportStateKey `json:"keys"`
}

// readInspectJSON reads the records of inspect --json and the instance id
// of the journal's open record ("" if none).
func readInspectJSON(r io.Reader) ([]journal.Record, string, error) {
	dec := json.NewDecoder(r)
	var recs []journal.Record
	instance := ""
	for n := 1; ; n++ {
		var x exportRecord
		if err := dec.Decode(&x); err == io.EOF {
			break
		} else if err != nil {
			return nil, "", fmt.Errorf("oracle: inspect --json, record %d: %w", n, err)
		}
		rec, err := x.record()
		if err != nil {
			where := fmt.Sprintf("record %d", n)
			if x.Pos != nil {
				where += fmt.Sprintf(" (pos %d)", *x.Pos)
			}
			return nil, "", fmt.Errorf("oracle: inspect --json, %s: %w", where, err)
		}
		if len(recs) == 0 && rec.Pos != 1 {
			return nil, "", fmt.Errorf("oracle: inspect --json starts at position %d, not 1: the oracle needs the whole journal (was the output filtered, or the journal's front truncated?)", rec.Pos)
		}
		if len(recs) > 0 && rec.Pos <= recs[len(recs)-1].Pos {
			return nil, "", fmt.Errorf("oracle: inspect --json, record %d: position %d after position %d: not in position order", n, rec.Pos, recs[len(recs)-1].Pos)
		}
		if rec.Kind == journal.KindOpen {
			if instance != "" && rec.Instance != instance {
				return nil, "", fmt.Errorf("oracle: inspect --json: open records name instances %q and %q", instance, rec.Instance)
			}
			instance = rec.Instance
		}
		recs = append(recs, rec)
	}
	return recs, instance, nil
}

func (x *exportRecord) record() (journal.Record, error) {
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
	if r.Args, err = encodeValue(x.Args, false); err != nil {
		return r, fmt.Errorf("args: %w", err)
	}
	if r.Result, err = encodeValue(x.Result, false); err != nil {
		return r, fmt.Errorf("result: %w", err)
	}
	if len(x.Reads) > 0 {
		r.Reads = make([]journal.PointRead, len(x.Reads))
	}
	for i := range x.Reads {
		p := &x.Reads[i]
		if r.Reads[i].Key, err = exportKey(p.Key, p.KeyHex, false); err != nil {
			return r, fmt.Errorf("read #%d: %w", i+1, err)
		}
		r.Reads[i].Version = p.Version.version()
	}
	if len(x.Ranges) > 0 {
		r.Ranges = make([]journal.RangeRead, len(x.Ranges))
	}
	for i := range x.Ranges {
		g, out := &x.Ranges[i], &r.Ranges[i]
		if out.Lo, err = exportKey(g.Lo, g.LoHex, true); err != nil {
			return r, fmt.Errorf("range #%d lo: %w", i+1, err)
		}
		if out.Hi, err = exportKey(g.Hi, g.HiHex, true); err != nil {
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

func (x *exportWrite) write(w *journal.Write) error {
	var err error
	if w.Key, err = exportKey(x.Key, x.KeyHex, false); err != nil {
		return err
	}
	w.BeforeVersion = x.BeforeVersion.version()
	switch x.Op {
	case "set":
		w.Op = journal.OpSet
		// A set's value is never absent: JSON null is msgpack nil.
		if w.Value, err = encodeValue(x.Value, true); err != nil {
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
		if w.Value, err = encodeValue(x.Value, false); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	default:
		return fmt.Errorf("unknown op %q (want set, delete or add)", x.Op)
	}
	if x.Delta != nil && w.Op != journal.OpAdd {
		return fmt.Errorf("a %s with a delta", x.Op)
	}
	// The before-image exists exactly when its version does; JSON null is
	// then msgpack nil.
	if w.Before, err = encodeValue(x.Before, !w.BeforeVersion.IsZero()); err != nil {
		return fmt.Errorf("before: %w", err)
	}
	return nil
}

func (v *exportVersion) version() journal.Version {
	if v == nil {
		return journal.Version{}
	}
	return journal.Version{HLC: v.HLC, Origin: v.Origin}
}

// readStateJSON reads state --json: the entries and the stated hash (nil if
// the export has none).
func readStateJSON(r io.Reader) ([]Entry, []byte, error) {
	dec := json.NewDecoder(r)
	var x exportState
	if err := dec.Decode(&x); err != nil {
		if err == io.EOF {
			err = errors.New("no object")
		}
		return nil, nil, fmt.Errorf("oracle: state --json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("oracle: state --json: more than one value (want exactly one object)")
	}
	var hash []byte
	if x.Hash != nil {
		var err error
		if hash, err = hex.DecodeString(*x.Hash); err != nil || len(hash) != 32 {
			return nil, nil, fmt.Errorf("oracle: state --json: hash %q is not 64 hex digits", *x.Hash)
		}
	}
	state := make([]Entry, 0, len(x.Keys))
	for i := range x.Keys {
		k := &x.Keys[i]
		key, err := exportKey(k.Key, k.KeyHex, false)
		if err == nil && k.Version.version().IsZero() {
			err = errors.New("no version (a stored key always has one)")
		}
		var val []byte
		if err == nil {
			val, err = encodeValue(k.Value, true)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("oracle: state --json, key #%d: %w", i+1, err)
		}
		state = append(state, Entry{Key: key, Value: val, Version: k.Version.version()})
	}
	return state, hash, nil
}

// exportKey returns the bytes of a key given as a tuple array and/or hex.
// With both, they must agree; a tuple array that is null (not a tuple
// encoding) needs the hex. A bound (of a range) may be absent: unbounded,
// nil; a key may not.
func exportKey(arr json.RawMessage, hexStr *string, bound bool) ([]byte, error) {
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
				return nil, fmt.Errorf("key %s: element %d: %s is not a 64-bit integer", arr, i, e)
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

// encodeValue re-encodes a decoded value as msgpack (see FromExport). An
// absent value or JSON null is nil, unless present is set: then null is
// msgpack nil (0xc0).
func encodeValue(raw json.RawMessage, present bool) ([]byte, error) {
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
// engine would have encoded (see FromExport).
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
