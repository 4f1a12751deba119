// Package apptest holds what the sample applications' tests share: an
// instance with the application registered, and calls that fail the test
// with the procedure and its arguments named.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/liege-db/liege"
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
