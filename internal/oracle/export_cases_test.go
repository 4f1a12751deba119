package oracle_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/tuple"
)

// exportCaseDir holds the hand-made exports: one directory per case, with
// A.inspect.jsonl, A.state.json, B.inspect.jsonl, B.state.json (the
// formats of journalctl inspect --json and state --json) and calls.jsonl
// (a call log).
//
// The good case: the liege A and the vassal B; A/1 sets ("k", "x"), B/1
// sets ("k", "y"), A/2 reads both, ranges over [("k", "a"), ("k", "zz"))
// and adds 5 to ("n"); B/2 (acknowledged) was rolled back at B and
// reprocessed by A as A/3, which sets ("k", "z"). Each other case breaks
// one item of the oracle.
const exportCaseDir = "testdata/export"

// nonNegativeN is the tiny invariant of the cases: the counter ("n") is
// never negative.
func nonNegativeN(state []oracle.Entry) []string {
	for _, e := range state {
		if bytes.Equal(e.Key, tuple.Pack("n")) {
			if n, ok := oracle.DecodeInt(e.Value); !ok || n < 0 {
				return []string{fmt.Sprintf("counter %s is %d, below zero", tuple.Format(e.Key), n)}
			}
		}
	}
	return nil
}

func loadExportCase(t *testing.T, name string) (a, b oracle.Instance, log *oracle.CallLog) {
	t.Helper()
	dir := filepath.Join(exportCaseDir, name)
	open := func(file string) *os.File {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	var err error
	if a, err = oracle.FromExport("A", open("A.inspect.jsonl"), open("A.state.json")); err != nil {
		t.Fatalf("FromExport A: %v", err)
	}
	if b, err = oracle.FromExport("B", open("B.inspect.jsonl"), open("B.state.json")); err != nil {
		t.Fatalf("FromExport B: %v", err)
	}
	if log, err = oracle.ParseCallLog(open("calls.jsonl")); err != nil {
		t.Fatalf("ParseCallLog: %v", err)
	}
	return a, b, log
}

func TestExportCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		item int      // 0: passes
		want []string // in the message
	}{
		{"good", 0, nil},
		{"missing_txid", 1, []string{"A/2", "held only by A", "not by B"}},
		{"different_value", 1, []string{`("k", "y")`, "differs", "value 2", "value 3"}},
		{"stale_read", 2, []string{"A/2", `read key ("k", "x")`, "version (900, A)", "replay has it at version (1000, A) written by A/1"}},
		{"phantom", 2, []string{"A/2", `("k", "y")`, "phantom", "written by B/1"}},
		{"acked_missing", 3, []string{"acknowledged B/7 is not in the path"}},
		{"acked_twice", 3, []string{"acknowledged B/1 is in the path 2 times", "as itself", "as the subject of reprocess A/3"}},
		{"invariant", 4, []string{"1 invariant violation", `counter ("n") is -5`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, log := loadExportCase(t, tc.name)
			o := log.Options()
			o.Invariant = nonNegativeN
			rep, err := oracle.Check(a, b, o)
			if tc.item == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if rep.PathLength != 4 || rep.Acked != 4 || rep.Keys != 4 || len(rep.Checks) != 11 {
					t.Errorf("report %+v: want a path of 4, 4 acked, 4 keys, every check", rep)
				}
				if err := log.CheckCalls(a, b); err != nil {
					t.Errorf("CheckCalls: %v", err)
				}
				return
			}
			v := oracle.AsViolation(err)
			if v == nil {
				t.Fatalf("Check = %v, want a violation of item %d", err, tc.item)
			}
			if v.Item != tc.item {
				t.Errorf("item %d, want %d: %s", v.Item, tc.item, v.Msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(v.Msg, w) {
					t.Errorf("message %q does not say %q", v.Msg, w)
				}
			}
		})
	}
}

// The good case's exports, parsed field by field.
func TestExportCaseGoodParsed(t *testing.T) {
	a, b, log := loadExportCase(t, "good")
	if a.ID != "A" || b.ID != "B" || len(a.Records) != 5 || len(b.Records) != 6 {
		t.Fatalf("A %q with %d records, B %q with %d", a.ID, len(a.Records), b.ID, len(b.Records))
	}
	r := a.Records[3] // A/2
	if r.TxID().String() != "A/2" || r.HLC != 1200 || r.PeerSeen != 1 || r.Proc != "tally" ||
		len(r.Reads) != 2 || r.Reads[1].Version.Origin != "B" || r.Reads[1].Version.HLC != 1100 ||
		len(r.Ranges) != 1 || !bytes.Equal(r.Ranges[0].Hi, tuple.Pack("k", "zz")) || !r.Ranges[0].LoInclusive || r.Ranges[0].HiInclusive ||
		len(r.Writes) != 1 || r.Writes[0].Delta != 5 || !bytes.Equal(r.Writes[0].Value, oracle.AppendInt(nil, 5)) || r.Writes[0].Before != nil {
		t.Errorf("A/2 parsed as %+v", r)
	}
	if s := a.Records[4].Subject.String(); s != "B/2" || a.Records[4].Kind.String() != "reprocess" {
		t.Errorf("A/3: %v with subject %s", a.Records[4].Kind, s)
	}
	if e := b.Records[4]; e.Kind.String() != "epoch" || e.Rollback == nil || e.Rollback.PeerWatermark != 2 || e.Epoch != 1 {
		t.Errorf("B's epoch record parsed as %+v", e)
	}
	if a.Records[1].IdempotencyKey != "c-1" || b.Records[1].IdempotencyKey != "" {
		t.Errorf("idempotency keys %q and %q", a.Records[1].IdempotencyKey, b.Records[1].IdempotencyKey)
	}
	// The stated hash was checked: it is the state's.
	if h := oracle.StateHash(a.State); fmt.Sprintf("%x", h) != "b18206d6380ea002cfb66ba0b1a451b6ddd1fa3af0dc42a9d2a49cf8215c00b2" {
		t.Errorf("hash %x", h)
	}
	if !slices.Equal(txidStrings(log.Acked), []string{"A/1", "B/1", "A/2", "B/2"}) || log.Unnamed != 1 || log.Failed != 1 || len(log.Maybe) != 0 {
		t.Errorf("call log %+v", log)
	}
	// The unanswered call's idempotency key is in no journal: it did not
	// commit, or its record was rolled off.
	if named, unresolved := log.Resolve(a, b); len(named) != 0 || unresolved != 1 {
		t.Errorf("Resolve: %v, %d unresolved", named, unresolved)
	}
}

func txidStrings[T fmt.Stringer](ids []T) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
