package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/enginetest"
	"github.com/liege-db/liege/internal/server"
	"github.com/liege-db/liege/internal/sim"
)

// liege conflicts lists what the pair detected: both sites set one key
// while the link was down.
func TestConflictsCommand(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(id, peer, role string) *liege.DB {
		db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: id, PeerID: peer, Role: role, CheckpointEvery: -1, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := sim.RegisterOps(db); err != nil {
			t.Fatal(err)
		}
		return db
	}
	a, b := open("A", "B", liege.RoleLiege), open("B", "A", liege.RoleVassal)
	l, err := enginetest.Connect(a, b, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Settle(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	l.Down()
	set := func(db *liege.DB, v string) string {
		r, err := db.Call(ctx, "ops", sim.OpsArgs{Ops: []sim.Op{{Op: "set", K: "seat", V: v}}})
		if err != nil {
			t.Fatal(err)
		}
		return r.TxID.String()
	}
	own, theirs := set(a, "ann"), set(b, "bob")
	l.Up()
	if err := l.Settle(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(a, server.Options{Logger: quiet}).Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	out, _ := mustRun(t, "", "conflicts", "--addr", addr)
	for _, s := range []string{"SEQ", theirs, own, "update", "C3", `("k", "seat")`, "reject"} {
		if !strings.Contains(out, s) {
			t.Errorf("liege conflicts lacks %q:\n%s", s, out)
		}
	}
	out, _ = mustRun(t, "", "conflicts", "--addr", addr, "--json")
	var page struct {
		Conflicts []struct {
			Seq      uint64 `json:"seq"`
			Incoming string `json:"incoming"`
			EndedIn  string `json:"ended_in"`
		} `json:"conflicts"`
		More bool `json:"more"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Conflicts) != 1 || page.Conflicts[0].Incoming != theirs ||
		page.Conflicts[0].EndedIn == "" || page.More {
		t.Fatalf("liege conflicts --json: %s (%v)", out, err)
	}
	if out, _ = mustRun(t, "", "conflicts", "--addr", addr, "--since", "1"); !strings.Contains(out, "no conflicts after seq 1") {
		t.Errorf("liege conflicts --since 1: %s", out)
	}
	wantFail(t, "", []string{"conflicts", "--addr", addr, "--limit", "0"}, "--limit")
}
