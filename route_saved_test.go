package liege

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openRouted opens dir with "measured" routed auto by the operator alone
// (it starts local) and registers it.
func openRouted(t *testing.T, dir string, log *slog.Logger) *DB {
	t.Helper()
	db, err := Open(Options{Dir: dir, ID: "A", CheckpointEvery: -1, Routes: []string{"measured=auto"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	err = Register(db, Procedure[string, string]{Name: "measured",
		Run:     func(*Tx, string) (string, error) { return "ok", nil },
		Correct: func(*Tx, string, string, string) (any, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func forwarding(db *DB, name string) bool {
	for _, r := range db.Routes() {
		if r.Proc == name {
			return r.Forwarding
		}
	}
	return false
}

// TestRouteMetersSurviveRestart: what auto routing measured is in the
// directory after Close and comes back at the next Open, so a procedure
// that conflicts goes on forwarding; a file that cannot be read is logged
// and routing starts afresh.
func TestRouteMetersSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	db := openRouted(t, dir, nil)
	db.rt.mu.Lock()
	for i := 0; i < 10; i++ {
		db.rt.r.Committed("measured", "")
		db.rt.r.Conflict("measured", "")
	}
	db.rt.mu.Unlock()
	if !forwarding(db, "measured") {
		t.Fatal("measured does not forward after its conflicts")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openRouted(t, dir, nil)
	if !forwarding(db, "measured") {
		t.Fatalf("after a restart measured forwards no more: its meters were not kept (%s)", routesFile)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, routesFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	db = openRouted(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
	defer db.Close()
	if forwarding(db, "measured") {
		t.Fatal("measured forwards from an unreadable routes file")
	}
	if !strings.Contains(logs.String(), "auto routing starts afresh") {
		t.Fatalf("an unreadable routes file was not logged: %s", logs.String())
	}
}
