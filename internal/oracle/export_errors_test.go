package oracle_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

func readCaseFile(t *testing.T, name, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exportCaseDir, name, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Malformed exports are refused with an error naming what is wrong.
func TestFromExportRefuses(t *testing.T) {
	insp := readCaseFile(t, "good", "A.inspect.jsonl")
	state := readCaseFile(t, "good", "A.state.json")
	once := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("no %s in the export", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	for _, tc := range []struct {
		name, insp, state, want string
	}{
		{"key and key_hex disagree", once(insp, `"key":["k","x"],"key_hex":"1e6b00011e780001","op"`, `"key":["k","y"],"key_hex":"1e6b00011e780001","op"`), state, `the tuple ["k","y"] encodes to`},
		{"txid and origin disagree", once(insp, `"txid":"A/1"`, `"txid":"A/9"`), state, `txid "A/9" disagrees`},
		{"unknown kind", once(insp, `"kind":"reprocess"`, `"kind":"redo"`), state, `unknown record kind "redo"`},
		{"unknown op", once(insp, `"op":"set"`, `"op":"put"`), state, `unknown op "put"`},
		{"add without delta", once(insp, `"delta":5`, `"delta":null`), state, "an add without a delta"},
		{"no pos", once(insp, `{"pos":3,`, `{`), state, `record 3: no "pos"`},
		{"out of order", once(insp, `{"pos":3,`, `{"pos":2,`), state, "position 2 after position 2"},
		{"malformed subject", once(insp, `"subject":"B/2"`, `"subject":"B"`), state, "subject: malformed TxID"},
		{"not JSON", insp + "{\n", state, "record 6"},
		{"hash mismatch", insp, once(state, `"value":2`, `"value":3`), "hashes to"},
		{"bad hash", insp, once(state, `"hash":"b1`, `"hash":"zz`), "not 64 hex digits"},
		{"two states", insp, state + state, "more than one value"},
		{"no state", insp, "", "no object"},
		{"state key without version", insp, once(state, `,"version":{"hlc":1000,"origin":"A"}`, ``), "key #1: no version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oracle.FromExport("A", strings.NewReader(tc.insp), strings.NewReader(tc.state))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("FromExport: %v; want an error saying %q", err, tc.want)
			}
			if tc.name == "hash mismatch" && !errors.Is(err, oracle.ErrNotExact) {
				t.Errorf("%v does not wrap ErrNotExact", err)
			}
		})
	}
}

// A hand-made export may leave out what is implied: hex forms (the tuple
// is encoded), the hash, the fields of bookkeeping; keys that are not
// tuples come from their hex, non-UTF-8 tuple strings from base64, and
// undecodable values from their msgpack hex.
func TestFromExportHandMade(t *testing.T) {
	insp := `{"pos":1,"kind":"open","instance":"A"}
{"pos":2,"kind":"local","txid":"A/1","hlc":7,"reads":[{"key":["t",{"base64":"/wA="},-3],"version":null}],` +
		`"ranges":[{"lo":["t"],"hi":null,"hi_hex":"1e740002","lo_inclusive":true},{"lo":null,"hi":null,"lo_hex":"","hi_hex":""}],` +
		`"writes":[{"key":null,"key_hex":"ff01","op":"set","value":{"undecodable":"x","msgpack_hex":"c1"}},` +
		`{"key":["t","n"],"op":"add","value":-1,"delta":-1,"before":null,"before_version":null},` +
		`{"key":["t","v"],"op":"set","value":null,"before":null,"before_version":{"hlc":3,"origin":"A"}}]}
`
	state := `{"keys":[{"key":["t","n"],"value":-1,"version":{"hlc":7,"origin":"A"}},` +
		`{"key":["t","v"],"value":null,"version":{"hlc":7,"origin":"A"}},{"key_hex":"ff01","value":{"msgpack_hex":"c1","undecodable":"x"},"version":{"hlc":7,"origin":"A"}}]}`
	in, err := oracle.FromExport("", strings.NewReader(insp), strings.NewReader(state))
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != "A" || len(in.Records) != 2 || len(in.State) != 3 {
		t.Fatalf("%+v", in)
	}
	r := in.Records[1]
	if r.TxID() != (journal.TxID{Origin: "A", OSeq: 1}) || r.HLC != 7 {
		t.Errorf("record %+v", r)
	}
	if !bytes.Equal(r.Reads[0].Key, tuple.Pack("t", "\xff\x00", int64(-3))) || !r.Reads[0].Version.IsZero() {
		t.Errorf("read %+v", r.Reads[0])
	}
	if g := r.Ranges[0]; !bytes.Equal(g.Lo, tuple.Pack("t")) || !bytes.Equal(g.Hi, tuple.PrefixEnd(tuple.Pack("t"))) || !g.LoInclusive {
		t.Errorf("range %+v (prefix end %x)", g, tuple.PrefixEnd(tuple.Pack("t")))
	}
	if g := r.Ranges[1]; g.Lo != nil || g.Hi != nil {
		t.Errorf("unbounded range %+v", g)
	}
	w := r.Writes
	if !bytes.Equal(w[0].Key, []byte{0xff, 0x01}) || !bytes.Equal(w[0].Value, []byte{0xc1}) || w[0].Before != nil {
		t.Errorf("write 0 %+v", w[0])
	}
	if w[1].Op != journal.OpAdd || w[1].Delta != -1 || !bytes.Equal(w[1].Value, oracle.AppendInt(nil, -1)) {
		t.Errorf("write 1 %+v", w[1])
	}
	// A set of nil stores msgpack nil; a before-image with a version is
	// present, nil or not.
	if !bytes.Equal(w[2].Value, []byte{0xc0}) || !bytes.Equal(w[2].Before, []byte{0xc0}) {
		t.Errorf("write 2 %+v", w[2])
	}
	if !bytes.Equal(in.State[0].Value, oracle.AppendInt(nil, -1)) || !bytes.Equal(in.State[1].Value, []byte{0xc0}) || !bytes.Equal(in.State[2].Value, []byte{0xc1}) {
		t.Errorf("state %+v", in.State)
	}
}
