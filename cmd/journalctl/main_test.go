package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/internal/inspect/inspecttest"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// bin is the journalctl binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "journalctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "journalctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build journalctl: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// journalctl runs the binary with args; stdin is a pipe (not a terminal).
func journalctl(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader("")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run journalctl %v: %v", args, err)
	}
	return res
}

// ok runs journalctl and fails the test unless it exits with status 0.
func ok(t *testing.T, args ...string) result {
	t.Helper()
	r := journalctl(t, args...)
	if r.code != 0 {
		t.Fatalf("journalctl %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// fails runs journalctl, wants exit status code and stderr containing
// every one of want.
func fails(t *testing.T, code int, want []string, args ...string) result {
	t.Helper()
	r := journalctl(t, args...)
	if r.code != code {
		t.Errorf("journalctl %s: want exit status %d, got %v", strings.Join(args, " "), code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("journalctl %s: stderr lacks %q: %v", strings.Join(args, " "), w, r)
		}
	}
	return r
}

func build(t *testing.T) *inspecttest.Fixture {
	t.Helper()
	return inspecttest.Build(t, t.TempDir())
}

// jsonLines parses one JSON object per line, keeping numbers exact.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		objs = append(objs, parseJSON(t, line))
	}
	return objs
}

func parseJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value on a line: %s", s)
	}
	return m
}

// normalize turns json.Numbers into int64 (or uint64) for comparisons.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return n
		}
		return string(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// want compares a JSON value (after normalize) with a Go value written in
// the same form.
func want(t *testing.T, what string, got, expected any) {
	t.Helper()
	if g := normalize(got); !reflect.DeepEqual(g, expected) {
		t.Errorf("%s = %#v, want %#v", what, g, expected)
	}
}

func hexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }

func keyHex(elems ...any) string { return hex.EncodeToString(tuple.Pack(elems...)) }

// recordFields are the fields every record line of inspect --json and
// lost --json has.
var recordFields = []string{"pos", "epoch", "kind", "txid", "origin", "oseq", "hlc", "hlc_time", "peer_seen", "proc", "args", "result",
	"subject", "reads", "ranges", "writes", "instance", "role", "high_oseq", "rollback", "checkpoint"}

func checkRecordFields(t *testing.T, rec map[string]any) {
	t.Helper()
	for _, f := range recordFields {
		if _, ok := rec[f]; !ok {
			t.Errorf("record %v lacks field %q", rec["pos"], f)
		}
	}
}

func TestInspectTable(t *testing.T) {
	f := build(t)
	r := ok(t, "inspect", f.Dir)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 9 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "POS  EPOCH  KIND") || lines[8] != "(7 records)" {
		t.Fatalf("want a header, 7 rows and a count:\n%s", r.stdout)
	}
	for i, w := range [][]string{
		{"1", "open", `instance "A"`},
		{"2", "local", "A/1", "book", `{"ok":true,"seat":12}`, `set ("seat", "gala", 12)`, `add ("sold", "gala")`, `get ("seat", "gala", 12)`},
		{"3", "A/2", "book"},
		{"4", "A/3", "book"},
		{"5", "A/4", "cancel", "true", `delete ("seat", "gala", 13)`},
		{"6", "A/5", "count", `range prefix ("seat", "gala")`},
		{"7", "A/6", "book", `set ("seat", "opera", 1)`},
	} {
		row := lines[i+1]
		if !strings.HasPrefix(strings.TrimSpace(row), w[0]+" ") {
			t.Errorf("row %d does not start with its position: %s", i+1, row)
		}
		for _, s := range w[1:] {
			if !strings.Contains(row, s) {
				t.Errorf("row %d lacks %q: %s", i+1, s, row)
			}
		}
	}
}

func TestInspectJSON(t *testing.T) {
	f := build(t)
	recs := jsonLines(t, ok(t, "inspect", f.Dir, "--json").stdout)
	if len(recs) != 7 {
		t.Fatalf("want 7 records, got %d", len(recs))
	}
	for i, rec := range recs {
		checkRecordFields(t, rec)
		want(t, "pos", rec["pos"], int64(i+1))
	}
	hlcOf := func(pos int) any { return normalize(recs[pos-1]["hlc"]) }

	open := recs[0]
	want(t, "open kind", open["kind"], "open")
	want(t, "open txid", open["txid"], nil)
	want(t, "open instance", open["instance"], "A")
	want(t, "open writes", open["writes"], []any{})

	book := recs[1]
	want(t, "kind", book["kind"], "local")
	want(t, "txid", book["txid"], "A/1")
	want(t, "origin", book["origin"], "A")
	want(t, "oseq", book["oseq"], int64(1))
	want(t, "proc", book["proc"], "book")
	want(t, "args", book["args"], map[string]any{"Show": "gala", "Seat": int64(12), "Name": "alice"})
	want(t, "result", book["result"], map[string]any{"ok": true, "seat": int64(12)})
	want(t, "subject", book["subject"], nil)
	if ts, _ := book["hlc_time"].(string); !strings.HasSuffix(ts, "+0") && !strings.Contains(ts, "Z+") {
		t.Errorf("hlc_time = %q", ts)
	}
	want(t, "book reads", book["reads"], []any{
		map[string]any{"key": []any{"seat", "gala", int64(12)}, "key_hex": keyHex("seat", "gala", 12), "version": nil},
	})
	want(t, "book writes", book["writes"], []any{
		map[string]any{"key": []any{"seat", "gala", int64(12)}, "key_hex": keyHex("seat", "gala", 12), "op": "set",
			"value": "alice", "delta": nil, "before": nil, "before_version": nil, "value_hex": "a5616c696365"},
		map[string]any{"key": []any{"sold", "gala"}, "key_hex": keyHex("sold", "gala"), "op": "add",
			"value": int64(1), "delta": int64(1), "before": nil, "before_version": nil, "value_hex": "01"},
	})

	// The second add saw the first one's value and version.
	w := normalize(recs[2]["writes"]).([]any)[1].(map[string]any)
	want(t, "second add before", w["before"], int64(1))
	want(t, "second add before_version", w["before_version"], map[string]any{"hlc": hlcOf(2), "origin": "A"})
	want(t, "second add value", w["value"], int64(2))

	cancel := recs[4]
	want(t, "cancel result", cancel["result"], true)
	want(t, "cancel args", cancel["args"], map[string]any{"Show": "gala", "Seat": int64(13)})
	want(t, "cancel delete", normalize(cancel["writes"]).([]any)[0], map[string]any{
		"key": []any{"seat", "gala", int64(13)}, "key_hex": keyHex("seat", "gala", 13), "op": "delete",
		"value": nil, "delta": nil, "before": "bob", "before_version": map[string]any{"hlc": hlcOf(3), "origin": "A"},
		"before_hex": "a3626f62"})
	want(t, "cancel add delta", normalize(cancel["writes"]).([]any)[1].(map[string]any)["delta"], int64(-1))

	count := recs[5]
	want(t, "count result", count["result"], int64(2))
	prefix := tuple.Pack("seat", "gala")
	want(t, "count ranges", count["ranges"], []any{map[string]any{
		"lo": []any{"seat", "gala"}, "hi": nil, // the prefix end is not a tuple
		"lo_hex": hex.EncodeToString(prefix), "hi_hex": hex.EncodeToString(tuple.PrefixEnd(prefix)),
		"lo_inclusive": true, "hi_inclusive": false,
	}})
	want(t, "count reads", count["reads"], []any{
		map[string]any{"key": []any{"seat", "gala", int64(12)}, "key_hex": keyHex("seat", "gala", 12), "version": map[string]any{"hlc": hlcOf(2), "origin": "A"}},
		map[string]any{"key": []any{"seat", "gala", int64(14)}, "key_hex": keyHex("seat", "gala", 14), "version": map[string]any{"hlc": hlcOf(4), "origin": "A"}},
		map[string]any{"key": []any{"note", "gala"}, "key_hex": keyHex("note", "gala"), "version": nil},
	})
}

// positions runs inspect --json with args and returns the positions
// printed.
func positions(t *testing.T, args ...string) []int64 {
	t.Helper()
	out := []int64{}
	for _, rec := range jsonLines(t, ok(t, args...).stdout) {
		out = append(out, normalize(rec["pos"]).(int64))
	}
	return out
}

func TestInspectFilters(t *testing.T) {
	f := build(t)
	for _, c := range []struct {
		args []string
		want []int64
	}{
		{[]string{"--from", "3", "--to", "5"}, []int64{3, 4, 5}},
		{[]string{"--from", "6"}, []int64{6, 7}},
		{[]string{"--to", "2"}, []int64{1, 2}},
		{[]string{"--txid", "A/4"}, []int64{5}},
		{[]string{"--txid", "A/99"}, []int64{}},
		{[]string{"--key", `["seat","gala"]`}, []int64{2, 3, 4, 5, 6}},
		{[]string{"--key", `["seat","gala",13]`}, []int64{3, 5, 6}}, // 6 ranged over it
		{[]string{"--key", `["sold"]`}, []int64{2, 3, 4, 5, 7}},
		{[]string{"--key", `["note","gala"]`}, []int64{6}}, // read while absent
		{[]string{"--key", `["seat","opera",2]`}, []int64{}},
		{[]string{"--origin", "A"}, []int64{2, 3, 4, 5, 6, 7}},
		{[]string{"--origin", "B"}, []int64{}},
		{[]string{"--kind", "open"}, []int64{1}},
		{[]string{"--kind", "local"}, []int64{2, 3, 4, 5, 6, 7}},
		{[]string{"--kind", "open,local"}, []int64{1, 2, 3, 4, 5, 6, 7}},
		{[]string{"--key", `["seat","gala"]`, "--from", "4", "--kind", "local"}, []int64{4, 5, 6}},
	} {
		args := append([]string{"inspect", f.Dir, "--json"}, c.args...)
		if got := positions(t, args...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("inspect %v: positions %v, want %v", c.args, got, c.want)
		}
	}
	// Flags may come before the directory too.
	if got := positions(t, "inspect", "--json", "--from", "7", f.Dir); !reflect.DeepEqual(got, []int64{7}) {
		t.Errorf("flags before the directory: positions %v, want [7]", got)
	}
}

// synthetic writes a journal with every record kind of a replicated
// instance: peer transactions from B, a reprocess standing for B/2, a role
// change.
func synthetic(t *testing.T) string {
	dir := t.TempDir()
	repro := journal.Record{Kind: journal.KindReprocess, Origin: "A", OSeq: 2, HLC: 300, Proc: "book",
		Args: inspecttest.Packed(t, "x"), Result: inspecttest.Packed(t, []any{"a", 1}), Subject: journal.TxID{Origin: "B", OSeq: 2}}
	peer := func(oseq, hlc uint64) journal.Record {
		return journal.Record{Kind: journal.KindPeer, Origin: "B", OSeq: oseq, HLC: hlc, PeerSeen: 1, Proc: "book",
			Args: inspecttest.Packed(t, map[string]any{"n": 1}), Result: inspecttest.Packed(t, nil)}
	}
	recs := []journal.Record{
		{Kind: journal.KindOpen, Instance: "A"},
		{Kind: journal.KindLocal, Origin: "A", OSeq: 1, HLC: 100, Proc: "book", Args: inspecttest.Packed(t, 1), Result: inspecttest.Packed(t, "\xff\x00bin")},
		peer(1, 150),
		peer(2, 200),
		repro,
		{Kind: journal.KindRole, Role: "liege"},
	}
	for i := range recs {
		recs[i].Pos = uint64(i + 1)
	}
	inspecttest.WriteJournal(t, dir, recs)
	return dir
}

func TestInspectReplicatedKinds(t *testing.T) {
	dir := synthetic(t)
	for _, c := range []struct {
		args []string
		want []int64
	}{
		{[]string{"--txid", "B/2"}, []int64{4, 5}}, // the peer record and the reprocess standing for it
		{[]string{"--origin", "B"}, []int64{3, 4}},
		{[]string{"--kind", "peer,reprocess"}, []int64{3, 4, 5}},
		{[]string{"--kind", "role"}, []int64{6}},
	} {
		if got := positions(t, append([]string{"inspect", dir, "--json"}, c.args...)...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("inspect %v: positions %v, want %v", c.args, got, c.want)
		}
	}
	recs := jsonLines(t, ok(t, "inspect", dir, "--json").stdout)
	want(t, "local result (not UTF-8)", recs[1]["result"], map[string]any{"base64": "/wBiaW4="})
	want(t, "peer peer_seen", recs[2]["peer_seen"], int64(1))
	want(t, "reprocess subject", recs[4]["subject"], "B/2")
	want(t, "reprocess result", recs[4]["result"], []any{"a", int64(1)})
	want(t, "role", recs[5]["role"], "liege")

	table := ok(t, "inspect", dir).stdout
	for _, s := range []string{"reprocess", "for B/2", "role liege", "peer", "B/1"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
}

// --key takes a key as inspect prints it, {"base64": ...} elements (strings
// that are not UTF-8) included, and values keep their bytes in value_hex
// and before_hex.
func TestInspectKeyNotUTF8(t *testing.T) {
	dir := t.TempDir()
	bad := tuple.Pack("seat", "gala\xff", int64(1))
	good := tuple.Pack("seat", "gala", int64(1))
	recs := []journal.Record{
		{Kind: journal.KindOpen, Instance: "A"},
		{Kind: journal.KindLocal, Origin: "A", OSeq: 1, HLC: 100, Proc: "book", Args: inspecttest.Packed(t, 1), Result: inspecttest.Packed(t, nil),
			Writes: []journal.Write{{Key: bad, Op: journal.OpSet, Value: inspecttest.Packed(t, []byte{0xff, 0xfe})}}},
		{Kind: journal.KindLocal, Origin: "A", OSeq: 2, HLC: 200, Proc: "book", Args: inspecttest.Packed(t, 1), Result: inspecttest.Packed(t, nil),
			Writes: []journal.Write{{Key: good, Op: journal.OpSet, Value: inspecttest.Packed(t, "x")}}},
	}
	for i := range recs {
		recs[i].Pos = uint64(i + 1)
	}
	inspecttest.WriteJournal(t, dir, recs)
	all := jsonLines(t, ok(t, "inspect", dir, "--json").stdout)
	w := all[1]["writes"].([]any)[0].(map[string]any)
	printed, err := json.Marshal(w["key"])
	if err != nil {
		t.Fatal(err)
	}
	want(t, "key of the non-UTF-8 write", string(printed), `["seat",{"base64":"Z2FsYf8="},1]`)
	want(t, "value_hex of the non-UTF-8 write", w["value_hex"], "c402fffe")
	if got := positions(t, "inspect", dir, "--json", "--key", string(printed)); !reflect.DeepEqual(got, []int64{2}) {
		t.Errorf("inspect --key %s: positions %v, want [2]", printed, got)
	}
	if got := positions(t, "inspect", dir, "--json", "--key", `["seat",{"base64":"Z2FsYQ=="}]`); !reflect.DeepEqual(got, []int64{3}) {
		t.Errorf("inspect --key with a base64 element of UTF-8 bytes: positions %v, want [3]", got)
	}
	fails(t, 2, []string{`{"base64": ...}`}, "inspect", dir, "--key", `["seat",{"hex":"ff"}]`)
}

func TestInspectUsageErrors(t *testing.T) {
	f := build(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "x"}, `--from "x" is not a journal position`},
		{[]string{"--to", "0"}, `--to "0" is not a journal position`},
		{[]string{"--from", "5", "--to", "3"}, "--from 5 is after --to 3"},
		{[]string{"--key", "seat"}, "write the key prefix as a JSON array"},
		{[]string{"--key", `["seat",1.5]`}, "element 1: 1.5 is not an integer"},
		{[]string{"--txid", "A"}, "malformed TxID"},
		{[]string{"--kind", "bogus"}, `unknown record kind "bogus"`},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
	} {
		fails(t, 2, []string{c.want, "journalctl inspect --help"}, append([]string{"inspect", f.Dir}, c.args...)...)
	}
	fails(t, 2, []string{"inspect needs one argument, DIR"}, "inspect")
	fails(t, 2, []string{"inspect takes one argument, DIR"}, "inspect", f.Dir, f.Dir)
}

func TestStateMatchesEngine(t *testing.T) {
	f := build(t)
	r := ok(t, "state", f.Dir, "--json")
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("state --json printed more than one line:\n%s", r.stdout)
	}
	st := parseJSON(t, r.stdout)
	if len(st) != 2 {
		t.Errorf("state --json has fields other than hash and keys: %v", st)
	}

	db := inspecttest.Open(t, f.Dir)
	h, err := db.Hash(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	want(t, "hash", st["hash"], hex.EncodeToString(h[:]))

	hlcs := map[int64]any{}
	for _, rec := range jsonLines(t, ok(t, "inspect", f.Dir, "--json").stdout) {
		hlcs[normalize(rec["pos"]).(int64)] = normalize(rec["hlc"])
	}
	entry := func(value any, pos int64, elems ...any) map[string]any {
		key := make([]any, len(elems))
		for i, e := range elems {
			if n, ok := e.(int); ok {
				e = int64(n)
			}
			key[i] = e
		}
		packed, err := journal.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"key": key, "key_hex": keyHex(elems...), "value": value,
			"version": map[string]any{"hlc": hlcs[pos], "origin": "A"}, "value_hex": hex.EncodeToString(packed)}
	}
	want(t, "keys", st["keys"], []any{
		entry(int64(2), 6, "count", "gala"),
		entry("alice", 2, "seat", "gala", 12),
		entry("carol", 4, "seat", "gala", 14),
		entry("dave", 7, "seat", "opera", 1),
		entry(int64(2), 5, "sold", "gala"),
		entry(int64(1), 7, "sold", "opera"),
	})

	table := ok(t, "state", f.Dir).stdout
	for _, s := range []string{`("seat", "gala", 12) = "alice"`, `("sold", "gala") = 2`, "origin A", "hash: " + hex.EncodeToString(h[:])} {
		if !strings.Contains(table, s) {
			t.Errorf("state table lacks %q:\n%s", s, table)
		}
	}
}

func TestVerify(t *testing.T) {
	f := build(t)
	r := ok(t, "verify", f.Dir)
	if !strings.HasSuffix(r.stdout, "\nOK\n") || !strings.Contains(r.stdout, "checked: 1 segment, 7 frames: checksums ok") {
		t.Errorf("healthy verify:\n%s", r.stdout)
	}

	damaged := build(t)
	e := inspecttest.FlipFrameByte(t, damaged.Dir, 4)
	r = journalctl(t, "verify", damaged.Dir)
	where := fmt.Sprintf("problem: position 4 (file %s, byte offset %d): journal damaged: frame checksum mismatch", e.File, e.Offset)
	if r.code != 1 || !strings.Contains(r.stdout, where) || !strings.HasSuffix(r.stdout, "1 problem\n") {
		t.Errorf("verify of a damaged journal: want status 1 and %q; %v", where, r)
	}

	torn := build(t)
	seg := inspecttest.TruncateTail(t, torn.Dir, 3)
	r = journalctl(t, "verify", torn.Dir)
	where = fmt.Sprintf("problem: position 7 (file %s, byte offset ", seg)
	if r.code != 1 || !strings.Contains(r.stdout, where) || !strings.Contains(r.stdout, "torn tail at position 7") ||
		!strings.Contains(r.stdout, "never acknowledged and will be truncated at next open") || !strings.HasSuffix(r.stdout, "2 problems\n") {
		t.Errorf("verify of a torn tail: %v", r)
	}
}

func TestRollbackAndLost(t *testing.T) {
	f := build(t)
	r := ok(t, "rollback", f.Dir, "--to", "5", "--yes", "--reason", "test rollback")
	for _, s := range []string{
		"will roll off 3 records, positions 5..7, 3 of them own transactions (0 peer); they are saved to a lost transaction file",
		"rolled off 3 records, positions 5..7; the instance is now in epoch 1",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("rollback output lacks %q:\n%s", s, r.stdout)
		}
	}
	_, lost, found := strings.Cut(r.stdout, "lost transaction file: ")
	lost = strings.TrimSpace(lost)
	if !found || filepath.Dir(lost) != filepath.Join(f.Dir, "lost") {
		t.Fatalf("rollback did not name the lost transaction file:\n%s", r.stdout)
	}

	st := parseJSON(t, ok(t, "state", f.Dir, "--json").stdout)
	want(t, "hash after the rollback", st["hash"], hexHash(f.Hashes[4]))
	if r := ok(t, "verify", f.Dir); !strings.HasSuffix(r.stdout, "\nOK\n") {
		t.Errorf("verify after the rollback:\n%s", r.stdout)
	}
	epoch := jsonLines(t, ok(t, "inspect", f.Dir, "--json", "--kind", "epoch").stdout)
	if len(epoch) != 1 {
		t.Fatalf("want one epoch record, got %v", epoch)
	}
	want(t, "epoch record", map[string]any{"pos": epoch[0]["pos"], "epoch": epoch[0]["epoch"], "rollback": epoch[0]["rollback"]}, map[string]any{
		"pos": int64(5), "epoch": int64(1), "rollback": map[string]any{"from": int64(5), "to": int64(7), "reason": "test rollback",
			"lost_file": filepath.Join("lost", filepath.Base(lost)), "records": int64(3), "peer_watermark": int64(0)}})

	table := ok(t, "lost", lost).stdout
	for _, s := range []string{`instance:  "A"`, "epoch:     1 (the rollback ended epoch 0)", "reason:    test rollback",
		"positions: 5..7 (3 records)", "A/4", "cancel", "A/5", "count", "A/6", "(3 records)"} {
		if !strings.Contains(table, s) {
			t.Errorf("lost table lacks %q:\n%s", s, table)
		}
	}
	lines := jsonLines(t, ok(t, "lost", lost, "--json").stdout)
	if len(lines) != 4 {
		t.Fatalf("lost --json: want a header and 3 records, got %d lines", len(lines))
	}
	hdr := lines[0]
	if ms, _ := hdr["created_unix_ms"].(json.Number); ms == "" || hdr["created"] == "" {
		t.Errorf("lost header lacks its creation time: %v", hdr)
	}
	delete(hdr, "created")
	delete(hdr, "created_unix_ms")
	want(t, "lost header", hdr, map[string]any{"file": lost, "instance": "A", "epoch": int64(1), "prev_epoch": int64(0),
		"reason": "test rollback", "from": int64(5), "to": int64(7), "records": int64(3)})
	for i, rec := range lines[1:] {
		checkRecordFields(t, rec)
		want(t, "lost record pos", rec["pos"], int64(5+i))
		want(t, "lost record txid", rec["txid"], fmt.Sprintf("A/%d", 4+i))
	}
	want(t, "lost cancel before", normalize(lines[1]["writes"]).([]any)[0].(map[string]any)["before"], "bob")

	// A damaged lost transaction file: the records before the damage are
	// printed, and the damage is an error.
	data, err := os.ReadFile(lost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lost, data[:len(data)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	r = fails(t, 1, []string{"record for position 7 at byte", "truncated", "the 2 records before it were printed"}, "lost", lost, "--json")
	if n := len(jsonLines(t, r.stdout)); n != 3 {
		t.Errorf("lost --json of a damaged file printed %d lines, want the header and 2 records", n)
	}
}

func TestRollbackErrors(t *testing.T) {
	f := build(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "missing --to: give the first position to roll off"},
		{[]string{"--to", "abc"}, 2, `--to "abc" is not a journal position: give a number`},
		{[]string{"--to", "-3"}, 2, `--to "-3" is not a journal position`},
		{[]string{"--to", "0", "--yes"}, 2, "--to 0 is outside the valid range 2..7"},
		{[]string{"--to", "1", "--yes"}, 2, "--to 1 is outside the valid range 2..7 (position 1 opens the journal"},
		{[]string{"--to", "8", "--yes"}, 2, "--to 8 is outside the valid range 2..7"},
		{[]string{"--to", "3"}, 1, "refusing to roll back without confirmation: stdin is not a terminal; pass --yes to confirm"},
	} {
		fails(t, c.code, []string{c.want}, append([]string{"rollback", f.Dir}, c.args...)...)
	}
	// Nothing was changed.
	st := parseJSON(t, ok(t, "state", f.Dir, "--json").stdout)
	want(t, "hash", st["hash"], hexHash(f.Hashes[7]))
	if _, err := os.Stat(filepath.Join(f.Dir, "lost")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused rollback wrote a lost transaction file (%v)", err)
	}

	// An interrupted rollback must be finished by the engine first.
	db := inspecttest.Open(t, f.Dir)
	failpoint.Set("rollback-after-intent", "error", 1)
	_, err := db.RollbackTo(context.Background(), 6, "test")
	failpoint.Reset()
	if !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("RollbackTo with the failpoint armed: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fails(t, 1, []string{"holds an interrupted rollback of positions 6..7", "start the instance once to finish it"}, "rollback", f.Dir, "--to", "3", "--yes")
	r := ok(t, "state", f.Dir, "--json")
	if !strings.Contains(r.stderr, `an interrupted rollback of positions 6..7 will be finished at next open (it stands at phase "intent"; next step: save the lost transaction file)`) {
		t.Errorf("state does not note the interrupted rollback: %v", r)
	}
	want(t, "hash with a pending rollback", parseJSON(t, r.stdout)["hash"], hexHash(f.Hashes[5]))
}

func TestRunningInstance(t *testing.T) {
	f := build(t)
	db := inspecttest.Open(t, f.Dir)
	inUse := fmt.Sprintf("instance directory %s is in use by pid %d", f.Dir, os.Getpid())
	for _, args := range [][]string{
		{"inspect", f.Dir}, {"inspect", f.Dir, "--json"}, {"verify", f.Dir}, {"state", f.Dir}, {"state", f.Dir, "--json"},
		{"rollback", f.Dir, "--to", "3", "--yes"},
	} {
		fails(t, 1, []string{inUse}, args...)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ok(t, "verify", f.Dir)
}

func TestMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	msg := fmt.Sprintf("instance directory %s does not exist", dir)
	for _, args := range [][]string{
		{"inspect", dir}, {"verify", dir}, {"state", dir}, {"rollback", dir, "--to", "3", "--yes"},
	} {
		fails(t, 1, []string{msg}, args...)
	}
	fails(t, 1, []string{"lost transaction file " + dir + " does not exist"}, "lost", dir)
	fails(t, 1, []string{"is not an instance directory: it has no journal/ subdirectory"}, "verify", t.TempDir())
	notLost := filepath.Join(t.TempDir(), "x.ltf")
	if err := os.WriteFile(notLost, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	fails(t, 1, []string{notLost + ": not a lost transaction file"}, "lost", notLost)
}

func TestDamagedJournal(t *testing.T) {
	f := build(t)
	e := inspecttest.FlipFrameByte(t, f.Dir, 4)
	where := fmt.Sprintf("journal damaged at position 4 (file %s, byte offset %d): frame checksum mismatch", e.File, e.Offset)

	r := fails(t, 1, []string{where, "the records before it were printed"}, "inspect", f.Dir)
	if !strings.Contains(r.stdout, "A/2") || strings.Contains(r.stdout, "A/3") {
		t.Errorf("inspect of a damaged journal should print positions 1..3 only:\n%s", r.stdout)
	}
	fails(t, 1, []string{where}, "state", f.Dir)
	fails(t, 1, []string{where}, "rollback", f.Dir, "--to", "2", "--yes")
}

func TestTornTailNotes(t *testing.T) {
	f := build(t)
	inspecttest.TruncateTail(t, f.Dir, 3)
	r := ok(t, "inspect", f.Dir)
	if !strings.Contains(r.stderr, "torn tail at position 7") || !strings.Contains(r.stdout, "(6 records)") {
		t.Errorf("inspect with a torn tail: %v", r)
	}
	r = ok(t, "state", f.Dir, "--json")
	if !strings.Contains(r.stderr, "torn tail at position 7") {
		t.Errorf("state with a torn tail: %v", r)
	}
	want(t, "hash without the torn record", parseJSON(t, r.stdout)["hash"], hexHash(f.Hashes[6]))
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"inspect", "verify", "state", "rollback", "lost"} {
		r := ok(t, cmd, "--help")
		for _, s := range []string{"Examples:", "journalctl " + cmd + " "} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, s, r.stdout)
			}
		}
	}
	if r := ok(t, "--help"); !strings.Contains(r.stdout, "rollback") {
		t.Errorf("journalctl --help does not list the commands:\n%s", r.stdout)
	}
	fails(t, 2, []string{`unknown command "bogus"`, "journalctl --help"}, "bogus")
}

// TestRunInProcess runs journalctl through run, the way main does, to
// cover the exit status mapping without a subprocess.
func TestRunInProcess(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"journalctl", "inspect"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("run without a directory: status %d, stderr %q", code, errOut.String())
	}
	dir := t.TempDir()
	db, err := liege.Open(liege.Options{Dir: dir, ID: "Z"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"journalctl", "verify", dir}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.Contains(out.String(), `position 1 opens the journal of instance "Z": ok`) {
		t.Errorf("verify of a new instance: status %d\n%s%s", code, out.String(), errOut.String())
	}
}

// roleJournal writes B's journal with the given role: B/1, B/2, then A's
// transaction A/1 saying A had applied B's OSeqs up to 2 (when withLiege),
// then B/3 and B/4: positions 3 and 4 hold what the liege applied.
func roleJournal(t *testing.T, role string, withLiege bool) string {
	t.Helper()
	dir := t.TempDir()
	local := func(oseq uint64) journal.Record {
		return journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: oseq, HLC: 100 * oseq, Proc: "book",
			Args: inspecttest.Packed(t, oseq), Result: inspecttest.Packed(t, "ok")}
	}
	recs := []journal.Record{{Kind: journal.KindOpen, Instance: "B"}, {Kind: journal.KindRole, Role: role}, local(1), local(2)}
	if withLiege {
		recs = append(recs, journal.Record{Kind: journal.KindPeer, Origin: "A", OSeq: 1, HLC: 250, PeerSeen: 2, Proc: "book",
			Args: inspecttest.Packed(t, 0), Result: inspecttest.Packed(t, "ok"), OriginKind: journal.KindLocal})
	}
	recs = append(recs, local(3), local(4))
	for i := range recs {
		recs[i].Pos = uint64(i + 1)
	}
	inspecttest.WriteJournal(t, dir, recs)
	return dir
}

// TestRollbackRoleLimits checks the operator rollback limits of DESIGN.md
// section 3: a liege is refused, a vassal is refused below its first own
// transaction the liege has not applied and allowed from there, and a
// vassal whose journal cannot tell is allowed with a note saying so.
func TestRollbackRoleLimits(t *testing.T) {
	liegeDir := roleJournal(t, "liege", true)
	fails(t, 1, []string{"refusing to roll back " + liegeDir, "the instance is the liege (role record at position 2)", "a liege never rolls back, by hand either",
		"make it the vassal first"}, "rollback", liegeDir, "--to", "6", "--yes")

	vassal := roleJournal(t, "vassal", true)
	for _, to := range []string{"3", "4"} {
		fails(t, 1, []string{"refusing to roll back " + vassal + " to before position " + to,
			`the liege had applied "B"'s own transactions up to OSeq 2 (its transaction at position 5 says so)`,
			"roll back to --to 5 or later"}, "rollback", vassal, "--to", to, "--yes")
	}
	for _, dir := range []string{liegeDir, vassal} {
		if _, err := os.Stat(filepath.Join(dir, "lost")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused rollback of %s wrote a lost transaction file (%v)", dir, err)
		}
		if pos := positions(t, "inspect", dir, "--json"); len(pos) != 7 || pos[6] != 7 {
			t.Errorf("a refused rollback changed the journal of %s: positions %v, want 1..7", dir, pos)
		}
	}

	r := ok(t, "rollback", vassal, "--to", "5", "--yes")
	for _, s := range []string{`up to OSeq 2 (its transaction at position 5 says so); none of them is rolled off`,
		"will roll off 3 records, positions 5..7, 2 of them own transactions (1 peer)", "the instance is now in epoch 1"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("rollback output lacks %q:\n%s", s, r.stdout)
		}
	}

	unknown := roleJournal(t, "vassal", false)
	r = ok(t, "rollback", unknown, "--to", "3", "--yes")
	for _, s := range []string{"its journal holds no transaction of its liege, so it cannot tell which of its own transactions the liege has applied",
		"will roll off 4 records, positions 3..6", "the instance is now in epoch 1"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("rollback output lacks %q:\n%s", s, r.stdout)
		}
	}
}
