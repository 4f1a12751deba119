// Package apptest holds what the sample applications' tests share: an
// instance with the application registered, and calls that fail the test
// with the procedure and its arguments named.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/journal"
)

// Open opens a fresh instance called id in a temporary directory, closed
// when the test ends, and registers the application with register.
func Open(t testing.TB, id string, register func(liege.Registrar) error) *liege.DB {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: id, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := register(db); err != nil {
		t.Fatal(err)
	}
	return db
}

// Call calls proc and decodes its result into out, unless out is nil.
func Call(t testing.TB, db *liege.DB, proc string, args, out any) *liege.Result {
	t.Helper()
	res, err := db.Call(context.Background(), proc, args)
	if err != nil {
		t.Fatalf("%s %+v: %v", proc, args, err)
	}
	if out != nil {
		if err := res.Decode(out); err != nil {
			t.Fatalf("%s: decode result: %v", proc, err)
		}
	}
	return res
}

// Word calls a procedure whose result is a string.
func Word(t testing.TB, db *liege.DB, proc string, args any) (string, *liege.Result) {
	t.Helper()
	var s string
	res := Call(t, db, proc, args, &s)
	return s, res
}

// State is every entry of the instance, in key order.
func State(t testing.TB, db *liege.DB) []liege.Entry {
	t.Helper()
	es, err := db.Scan(context.Background(), nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// CheckHolds fails the test if the application's invariant check finds a
// violation in the instance's state.
func CheckHolds(t testing.TB, db *liege.DB, check func([]liege.Entry) []string) {
	t.Helper()
	if v := check(State(t, db)); len(v) > 0 {
		t.Fatalf("Check: %s", strings.Join(v, "\n"))
	}
}

// LastPos is the instance's last journal position.
func LastPos(t testing.TB, db *liege.DB) uint64 {
	t.Helper()
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.LastPos
}

// WantErr calls proc and requires an error containing substr, with
// nothing journaled.
func WantErr(t testing.TB, db *liege.DB, proc string, args any, substr string) {
	t.Helper()
	before := LastPos(t, db)
	_, err := db.Call(context.Background(), proc, args)
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("%s %+v: error %v, want one containing %q", proc, args, err, substr)
	}
	if after := LastPos(t, db); after != before {
		t.Fatalf("%s %+v failed but the journal moved from %d to %d", proc, args, before, after)
	}
}

// RegistersEveryProcedure checks that register registers exactly the
// procedures the application lists, and refuses to register them twice.
func RegistersEveryProcedure(t testing.TB, app string, register func(liege.Registrar) error, procedures []string) {
	t.Helper()
	db := Open(t, "A", register)
	got := db.Procedures()
	slices.Sort(got)
	want := slices.Sorted(slices.Values(procedures))
	if !slices.Equal(got, want) {
		t.Fatalf("registered %v, want %v", got, want)
	}
	if err := register(db); err == nil {
		t.Fatalf("registering %s twice succeeded", app)
	}
}

// Record is a transaction of instance B that was rolled off it: the
// reconciliation log entry the liege re-executes.
func Record(t testing.TB, oseq uint64, proc string, args, told any) *journal.Record {
	t.Helper()
	return &journal.Record{
		Kind: journal.KindLocal, Origin: "B", OSeq: oseq, HLC: 1,
		Proc: proc, Args: MustMarshal(t, args), Result: MustMarshal(t, told),
	}
}

// Reconcile reconciles r at db and requires the outcome want.
func Reconcile(t testing.TB, db *liege.DB, r *journal.Record, want string) *enginetest.Outcome {
	t.Helper()
	out, err := enginetest.Reconcile(context.Background(), db, r)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != want {
		t.Fatalf("reconcile %s %s: %s (re-executed %x, error %v), want %s", r.Proc, r.Args, out.Action, out.Reexecuted, out.ReexecError, want)
	}
	return out
}

// Correction decodes the correcting transaction of a reconciliation.
func Correction[C any](t testing.TB, out *enginetest.Outcome) C {
	t.Helper()
	if out.Result.Kind != journal.KindCorrection {
		t.Fatalf("outcome %+v is not a correction", out)
	}
	var c C
	if err := out.Result.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// MustMarshal is v in msgpack.
func MustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := journal.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
