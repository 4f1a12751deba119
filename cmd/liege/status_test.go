package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liege-db/liege/client"
)

// TestStatusPrintsLink runs `liege status` against an instance whose
// /status has a link and checks that the human output shows each of the
// link's fields, as --json does.
func TestStatusPrintsLink(t *testing.T) {
	const answer = `{"id": "B", "role": "vassal", "app": "kv", "epoch": 3, "last_pos": 40, "durable_pos": 40,
	 "oseq": 7, "peer_watermark": 12, "watermarks": {"A": 12, "B": 7}, "window": 2,
	 "lag": {"transactions": 1, "ms": 15}, "keys": 9, "uptime_s": 61.2,
	 "link": {"connected": true, "peer": "A", "peer_role": "liege", "peer_epoch": 3,
	          "lag_in": 1, "lag_out": 2, "discarding": "B/6", "recon_pending": 1, "reconnects": 4,
	          "refused": "both claim the role liege", "idle": false},
	 "build": {"module": "v1.2.3", "revision": "abc123", "modified": true, "go": "go1.26.8", "journal_format": 1, "protocol": 1}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	out, _ := mustRun(t, "", "status", "--addr", srv.URL)
	for _, want := range []string{
		"link                     connected\n",
		"peer                     A, liege, epoch 3\n",
		"lag in                   1 transaction of the peer's not yet applied here\n",
		"lag out                  2 transactions not yet reported applied by the peer\n",
		"idle                     no\n",
		"discarding               B/6 (a vassal transaction rejected here, awaiting its rollback)\n",
		"refused                  both claim the role liege\n",
		"reconciliation pending   1 rolled-off transaction not yet back from the liege\n",
		"reconnects               4\n",
		"version                  v1.2.3 abc123 (modified), journal format 1, protocol 1\n",
		"lag                      1 transaction, 15 ms\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("liege status lacks %q:\n%s", want, out)
		}
	}
}

// TestLinkRows checks the link lines of a lone instance, of a link never
// connected, and of an idle one.
func TestLinkRows(t *testing.T) {
	rows := func(r [][2]string) map[string]string {
		m := map[string]string{}
		for _, row := range r {
			m[row[0]] = row[1]
		}
		return m
	}
	if got := rows(linkRows(nil)); !strings.HasPrefix(got["link"], "none: a lone instance") || len(got) != 1 {
		t.Errorf("lone instance: %v", got)
	}
	got := rows(linkRows(&client.Link{}))
	if got["link"] != "down" || got["peer"] != "not known yet (never connected)" || got["discarding"] != "nothing" ||
		got["refused"] != "no" || got["idle"] != "no" || got["reconciliation pending"] != "0 rolled-off transactions not yet back from the liege" {
		t.Errorf("never connected: %v", got)
	}
	got = rows(linkRows(&client.Link{Connected: true, Peer: "B", PeerRole: "vassal", Idle: true}))
	if got["link"] != "connected" || got["peer"] != "B, vassal, epoch 0" || !strings.HasPrefix(got["idle"], "yes") {
		t.Errorf("idle link: %v", got)
	}
}
