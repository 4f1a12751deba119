package oracle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/jsonval"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/pairtest"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// ---- running the real journalctl -------------------------------------------

// buildJournalctl builds cmd/journalctl into a temporary directory and
// returns the binary's path. It skips the test in -short mode or without a
// go command.
func buildJournalctl(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds journalctl")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build journalctl: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "journalctl")
	cmd := exec.Command(gocmd, "build", "-o", bin, "github.com/liege-db/liege/cmd/journalctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build journalctl: %v\n%s", err, out)
	}
	return bin
}

// journalctl runs the binary and returns its stdout, failing the test on a
// non-zero exit or anything on stderr (a note about a torn tail or an
// interrupted rollback means the export is not of a cleanly stopped
// instance).
func journalctl(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("journalctl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Fatalf("journalctl %s wrote to stderr:\n%s", strings.Join(args, " "), stderr.Bytes())
	}
	return stdout.Bytes()
}

// exportDir exports the stopped instance in dir with journalctl and reads
// it back with FromExport.
func exportDir(t *testing.T, bin, dir, id string) oracle.Instance {
	t.Helper()
	insp := journalctl(t, bin, "inspect", "--json", dir)
	state := journalctl(t, bin, "state", "--json", dir)
	in, err := oracle.FromExport(id, bytes.NewReader(insp), bytes.NewReader(state))
	if err != nil {
		t.Fatalf("FromExport of %s: %v", dir, err)
	}
	return in
}

// ---- comparing with Load ---------------------------------------------------

// normRecord makes a loaded record comparable with an exported one: empty
// slices are nil, OriginKind (not in the JSON) is zero, and arguments (whose
// JSON form loses str/bin, see FromExport) are compared as the JSON shows
// them.
func normRecord(t *testing.T, r journal.Record) (journal.Record, any) {
	t.Helper()
	if len(r.Reads) == 0 {
		r.Reads = nil
	}
	if len(r.Ranges) == 0 {
		r.Ranges = nil
	}
	if len(r.Writes) == 0 {
		r.Writes = nil
	}
	r.OriginKind = 0
	args, err := jsonval.FromMsgpack(r.Args)
	if err != nil {
		t.Fatalf("args of %v: %v", r.TxID(), err)
	}
	r.Args = nil
	return r, args
}

// sameAsLoaded checks that the exported instance holds exactly what Load
// gives: every record field but OriginKind byte for byte (arguments as
// JSON), and the state byte for byte.
func sameAsLoaded(t *testing.T, exported, loaded oracle.Instance) {
	t.Helper()
	if exported.ID != loaded.ID {
		t.Errorf("exported id %q, loaded %q", exported.ID, loaded.ID)
	}
	// Load keeps transaction records only.
	var txns []journal.Record
	for _, r := range exported.Records {
		if r.Kind.IsTxn() {
			txns = append(txns, r)
		}
	}
	if len(txns) != len(loaded.Records) {
		t.Fatalf("%s: %d transaction records exported, %d loaded", loaded.ID, len(txns), len(loaded.Records))
	}
	for i := range txns {
		x, xa := normRecord(t, txns[i])
		y, ya := normRecord(t, loaded.Records[i])
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s record %d differs:\nexported %+v\nloaded   %+v", loaded.ID, i, x, y)
		}
		if !reflect.DeepEqual(xa, ya) {
			t.Errorf("%s record %d: args %v exported, %v loaded", loaded.ID, i, xa, ya)
		}
	}
	if len(exported.State) != len(loaded.State) {
		t.Fatalf("%s: %d keys exported, %d loaded", loaded.ID, len(exported.State), len(loaded.State))
	}
	for i := range exported.State {
		x, y := exported.State[i], loaded.State[i]
		if !bytes.Equal(x.Key, y.Key) || !bytes.Equal(x.Value, y.Value) || x.Version != y.Version {
			t.Errorf("%s key #%d: exported %s = %x at %v, loaded %s = %x at %v", loaded.ID, i,
				tuple.Format(x.Key), x.Value, x.Version, tuple.Format(y.Key), y.Value, y.Version)
		}
	}
	if oracle.StateHash(exported.State) != oracle.StateHash(loaded.State) {
		t.Errorf("%s: state hashes differ", loaded.ID)
	}
}

// ---- a procedure writing every kind of value -------------------------------

// xArgs is the argument of the procedure "x": operations on keys
// ("x", K, I).
type xArgs struct {
	Ops []xOp
}

// xOp is one operation: "set" V (a value of xValues), "add" N, "del",
// "get", "next", "scan" (all of ("x", ...), at most N keys).
type xOp struct {
	Kind string
	K    string
	I    int64
	V    string
	N    int64
}

type xStruct struct {
	Zed   string
	Alpha int64
	Mid   []string
}

// exactValues are values whose JSON form gives the engine's bytes back.
var exactValues = map[string]any{
	"str":      "hello",
	"utf8":     "héllo ✓",
	"empty":    "",
	"long":     strings.Repeat("long ", 100),
	"binary":   []byte{0xff, 0x00, 0xfe},
	"int":      int64(-70000),
	"min":      int64(math.MinInt64),
	"max":      int64(math.MaxInt64),
	"maxuint":  uint64(math.MaxUint64),
	"bool":     true,
	"nil":      nil,
	"float":    1.5,
	"map":      map[string]any{"b": int64(1), "a": []any{"x", int64(200), false, nil}},
	"struct":   xStruct{Zed: "z", Alpha: -3, Mid: []string{"m"}},
	"nested":   []any{map[string]any{"k": []any{int64(1), "\u00e9"}}},
	"smalluin": uint8(5), // below 128 the uint and int forms agree
}

// lossyValues are values whose JSON form does not give the engine's bytes
// back (see FromExport).
var lossyValues = map[string]any{
	"bytes":      []byte("hi"),
	"uint":       uint64(200),
	"float1":     1.0,
	"float32":    float32(1.5),
	"nonutf8str": "a\xffb",
	"intkeys":    map[int64]string{1: "a"},
	"time":       time.Date(2026, 11, 21, 16, 18, 2, 0, time.UTC),
	"nan":        math.NaN(),
}

func xKey(k string, i int64) liege.Key { return liege.K("x", k, i) }

func runX(tx *liege.Tx, a xArgs) (string, error) {
	for _, op := range a.Ops {
		k := xKey(op.K, op.I)
		switch op.Kind {
		case "set":
			v, ok := exactValues[op.V]
			if !ok {
				if v, ok = lossyValues[op.V]; !ok {
					return "", fmt.Errorf("unknown value %q", op.V)
				}
			}
			tx.Set(k, v)
		case "add":
			tx.Add(k, op.N)
		case "del":
			tx.Delete(k)
		case "get":
			tx.Get(k)
		case "next":
			tx.Next(k)
		case "scan":
			tx.Scan(liege.K("x"), tuple.PrefixEnd(liege.K("x")), liege.ScanOptions{Limit: int(op.N)})
		default:
			return "", fmt.Errorf("unknown op %q", op.Kind)
		}
	}
	return "done", nil
}

func registerX(db *liege.DB) error {
	return liege.Register(db, liege.Procedure[xArgs, string]{
		Name:    "x",
		Run:     runX,
		Correct: func(tx *liege.Tx, a xArgs, _, _ string) (any, error) { return runX(tx, a) },
	})
}

func openX(t *testing.T, dir, id string) *liege.DB {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: dir, ID: id, CheckpointEvery: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := registerX(db); err != nil {
		t.Fatal(err)
	}
	return db
}

func callX(t *testing.T, db *liege.DB, key string, ops ...xOp) journal.TxID {
	t.Helper()
	res, err := db.CallWith(context.Background(), "x", xArgs{Ops: ops}, liege.CallOptions{IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if res.ReadOnly() {
		t.Fatalf("%v committed nothing", ops)
	}
	return res.TxID
}

// ---- round trips -----------------------------------------------------------

// One instance with every exact kind of value, keys with integers and
// non-UTF-8 strings, sets, adds, deletes, scans, reads of absent keys and
// idempotency keys: the export gives back exactly what Load reads, and the
// oracle passes on it.
func TestFromExportOneInstance(t *testing.T) {
	bin := buildJournalctl(t)
	dir := t.TempDir()
	db := openX(t, dir, "A")
	var acked []journal.TxID
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range exactValues {
			if !yield(k) {
				return
			}
		}
	})
	for i, name := range names {
		acked = append(acked, callX(t, db, fmt.Sprintf("k%d", i),
			xOp{Kind: "get", K: "v\xfe\x00" + name, I: int64(-i)},
			xOp{Kind: "set", K: "v\xfe\x00" + name, I: int64(-i), V: name},
			xOp{Kind: "add", K: "n", I: 1 << 40, N: int64(i*1000 - 7000)}))
	}
	acked = append(acked,
		callX(t, db, "", xOp{Kind: "scan"}, xOp{Kind: "del", K: "n", I: 1 << 40}, xOp{Kind: "get", K: "absent"}),
		callX(t, db, "", xOp{Kind: "scan", N: 2}, xOp{Kind: "next", K: "a"}, xOp{Kind: "add", K: "n", I: 1 << 40, N: 3}),
		callX(t, db, "", xOp{Kind: "set", K: "s", V: "str"}, xOp{Kind: "set", K: "s", V: "map"}, xOp{Kind: "add", K: "c", N: -1}),
		callX(t, db, "", xOp{Kind: "del", K: "s"}, xOp{Kind: "del", K: "never"}))
	live, err := db.Hash(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	loaded, err := oracle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	x := exportDir(t, bin, dir, "A")
	sameAsLoaded(t, x, loaded)
	rep, err := oracle.Check(x, loaded, oracle.Options{Acked: acked})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HashA != live || rep.HashB != live || rep.Acked != len(acked) {
		t.Errorf("report %+v; the live hash %x", rep, live)
	}
	// The id comes from the open record when none is given, and a wrong
	// one is refused.
	insp := journalctl(t, bin, "inspect", "--json", dir)
	state := journalctl(t, bin, "state", "--json", dir)
	if in, err := oracle.FromExport("", bytes.NewReader(insp), bytes.NewReader(state)); err != nil || in.ID != "A" {
		t.Errorf("FromExport without an id: id %q, %v", in.ID, err)
	}
	if _, err := oracle.FromExport("B", bytes.NewReader(insp), bytes.NewReader(state)); err == nil || !strings.Contains(err.Error(), `instance "A"`) {
		t.Errorf("FromExport as B of A's journal: %v", err)
	}
	// A filtered inspect is refused: the oracle needs the whole journal.
	part := journalctl(t, bin, "inspect", "--json", "--from", "3", dir)
	if _, err := oracle.FromExport("A", bytes.NewReader(part), bytes.NewReader(state)); err == nil || !strings.Contains(err.Error(), "starts at position 3") {
		t.Errorf("FromExport of inspect --from 3: %v", err)
	}
}

// hexFields matches the value_hex and before_hex fields of journalctl's
// JSON, to make an export as it was before they were added.
var hexFields = regexp.MustCompile(`,"(value|before)_hex":"[0-9a-f]*"`)

// Values whose decoded JSON form loses the engine's bytes: with value_hex
// and before_hex FromExport gives them back exactly; from an export
// without them (older, or hand-made) it says so (ErrNotExact), from the
// state hash, rather than hand the oracle wrong bytes silently.
func TestFromExportLossyValues(t *testing.T) {
	bin := buildJournalctl(t)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range lossyValues {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := openX(t, dir, "A")
			callX(t, db, "", xOp{Kind: "set", K: "v", V: name})
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			insp := journalctl(t, bin, "inspect", "--json", dir)
			state := journalctl(t, bin, "state", "--json", dir)
			exact, err := oracle.FromExport("A", bytes.NewReader(insp), bytes.NewReader(state))
			if err != nil {
				t.Fatalf("FromExport with value_hex: %v, want the values exact", err)
			}
			loaded, err := oracle.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			sameAsLoaded(t, exact, loaded)
			in, err := oracle.FromExport("A", bytes.NewReader(hexFields.ReplaceAll(insp, nil)), bytes.NewReader(hexFields.ReplaceAll(state, nil)))
			if !errors.Is(err, oracle.ErrNotExact) {
				t.Fatalf("FromExport: %v, want ErrNotExact", err)
			}
			if len(in.State) != 1 || len(in.Records) != 2 {
				t.Errorf("the instance is not returned with ErrNotExact: %d keys, %d records", len(in.State), len(in.Records))
			}
		})
	}
}

// putArgs2 is the argument of the pair's procedure "put".
type putArgs2 struct {
	K, V string
}

func registerPut(db liege.Registrar) error {
	return liege.Register(db, liege.Procedure[putArgs2, string]{
		Name: "put",
		Run: func(tx *liege.Tx, a putArgs2) (string, error) {
			old := ""
			if v, ok := tx.Get(liege.K("kv", a.K)); ok {
				old, _ = v.Str()
			}
			tx.Set(liege.K("kv", a.K), a.V)
			tx.Add(liege.K("puts"), 1)
			tx.Scan(liege.K("kv"), tuple.PrefixEnd(liege.K("kv")), liege.ScanOptions{Limit: 1})
			return old, nil
		},
		Correct: func(tx *liege.Tx, a putArgs2, told, now string) (any, error) {
			tx.Set(liege.K("told", a.K), fmt.Sprintf("told %q, replaced %q", told, now))
			return map[string]any{"noted": true}, nil
		},
	})
}

// Two replicated instances with a conflict the liege corrects: both
// exports give back what Load reads, the oracle passes on the exports with
// the acknowledged TxIDs of a call log, and their hashes are Load's.
func TestFromExportPair(t *testing.T) {
	bin := buildJournalctl(t)
	p := pairtest.New(t, registerPut)
	var log bytes.Buffer
	logCall := func(site string, r *liege.Result) {
		id := r.TxID.String()
		if err := oracle.WriteCall(&log, &oracle.Call{Site: site, Proc: "put", SentNs: 1, AnsweredNs: 2, Status: 200, TxID: &id}); err != nil {
			t.Fatal(err)
		}
	}
	logCall("A", p.Call(p.A(), "put", putArgs2{K: "x", V: "a0"}))
	logCall("B", p.Call(p.B(), "put", putArgs2{K: "y", V: "b0"}))
	p.Idle()
	p.Partition(true)
	logCall("A", p.Call(p.A(), "put", putArgs2{K: "x", V: "a1"}))
	logCall("B", p.Call(p.B(), "put", putArgs2{K: "x", V: "b1"}))
	// A call whose answer was lost, and one that failed.
	oracle.WriteCall(&log, &oracle.Call{Site: "B", Proc: "put", SentNs: 3, Error: "context deadline exceeded"})
	oracle.WriteCall(&log, &oracle.Call{Site: "A", Proc: "put", SentNs: 3, AnsweredNs: 4, Status: 400, Error: "bad_args"})
	p.Partition(false)
	p.Idle()
	rep := p.Converged(nil)
	if rep.PathLength < 4 {
		t.Fatalf("path of %d", rep.PathLength)
	}

	dirA, dirB := p.Dirs()
	la, err := oracle.Load(dirA)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := oracle.Load(dirB)
	if err != nil {
		t.Fatal(err)
	}
	xa, xb := exportDir(t, bin, dirA, "A"), exportDir(t, bin, dirB, "B")
	sameAsLoaded(t, xa, la)
	sameAsLoaded(t, xb, lb)
	kinds := map[journal.Kind]int{}
	for _, r := range slices.Concat(xa.Records, xb.Records) {
		kinds[r.Kind]++
	}
	if kinds[journal.KindCorrection] == 0 || kinds[journal.KindPeer] == 0 || kinds[journal.KindEpoch] == 0 {
		t.Errorf("the journals hold %v: want peer records, a correction and a rollback's epoch record", kinds)
	}

	cl, err := oracle.ParseCallLog(&log)
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Acked) != 4 || cl.Unnamed != 1 || cl.Failed != 1 {
		t.Errorf("call log: %d acked, %d unnamed, %d failed; want 4, 1, 1", len(cl.Acked), cl.Unnamed, cl.Failed)
	}
	xrep, err := oracle.Check(xa, xb, cl.Options())
	if err != nil {
		t.Fatal(err)
	}
	if xrep.HashA != rep.HashA || xrep.HashB != rep.HashB || xrep.Acked != 4 || !slices.Equal(xrep.Checks, rep.Checks) {
		t.Errorf("report on the exports %+v, on the loaded %+v", xrep, rep)
	}
	if err := cl.CheckCalls(xa, xb); err != nil {
		t.Errorf("CheckCalls: %v", err)
	}
	// Without the unanswered call, nothing is missing either: every
	// transaction stands for an acknowledged call.
	cl.Calls = slices.DeleteFunc(cl.Calls, func(c oracle.Call) bool { return c.Outcome() == oracle.OutcomeMaybe })
	if err := cl.CheckCalls(xa, xb); err != nil {
		t.Errorf("CheckCalls: %v", err)
	}
	// Without an acknowledged call, its transaction stands for no call.
	cl.Acked = cl.Acked[1:]
	err = cl.CheckCalls(xa, xb)
	if v := oracle.AsViolation(err); v == nil || v.Item != 3 || !strings.Contains(v.Msg, "A/1") {
		t.Errorf("CheckCalls without A/1 acked: %v", err)
	}
}
