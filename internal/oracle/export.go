package oracle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/liege-db/liege/internal/journaljson"
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
// The JSON types and both conversions are package journaljson's, shared
// with journalctl. Written values, before-images and stored values are
// read from their value_hex and before_hex fields, exact, when the export
// has them (journalctl writes them). Other values (arguments, results, and
// those of an export without the hex fields) are decoded msgpack in the
// JSON and are re-encoded (journaljson.EncodeValue) as the engine encodes the Go value the JSON naturally maps to
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

// readInspectJSON reads the records of inspect --json and the instance id
// of the journal's open record ("" if none).
func readInspectJSON(r io.Reader) ([]journal.Record, string, error) {
	dec := json.NewDecoder(r)
	var recs []journal.Record
	instance := ""
	for n := 1; ; n++ {
		var x journaljson.Record
		if err := dec.Decode(&x); err == io.EOF {
			break
		} else if err != nil {
			return nil, "", fmt.Errorf("oracle: inspect --json, record %d: %w", n, err)
		}
		rec, err := x.ToRecord()
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

// readStateJSON reads state --json: the entries and the stated hash (nil if
// the export has none).
func readStateJSON(r io.Reader) ([]Entry, []byte, error) {
	dec := json.NewDecoder(r)
	var x journaljson.State
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
		key, val, ver, err := x.Keys[i].Decode()
		if err != nil {
			return nil, nil, fmt.Errorf("oracle: state --json, key #%d: %w", i+1, err)
		}
		state = append(state, Entry{Key: key, Value: val, Version: ver})
	}
	return state, hash, nil
}
