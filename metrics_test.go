package liege_test

import (
	"context"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/metricstest"
	"github.com/liege-db/liege/replicate"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsAtStart checks the engine's on-call metrics right after Open,
// before any event: every labelled counter has its series at zero, the
// gauges of the journal, the checkpoint and the epoch exist, and
// liege_reign is the Node's reign, one higher after a promote.
func TestMetricsAtStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	t0 := time.Now()
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", PeerID: "B", Role: liege.RoleVassal, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := metricstest.Gather(t, reg)

	conflicts := s.With("liege_conflicts_total")
	if len(conflicts) != 11 {
		t.Errorf("liege_conflicts_total has %d series at start, want 11 (update/C3 and use, mirror_use × C1 C2 C5 C7 C8): %v", len(conflicts), conflicts)
	}
	for _, k := range []string{`liege_conflicts_total{case="C3",check="update"}`, `liege_conflicts_total{case="C1",check="use"}`,
		`liege_conflicts_total{case="C8",check="mirror_use"}`} {
		if v, ok := s[k]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 from start-up", k, v, ok)
		}
	}
	for _, o := range []string{"caught_up", "budget", "link_down", "closed"} {
		w := s.With("liege_rollback_call_waits_total", `outcome="`+o+`"`)
		for k, v := range w {
			if v != 0 {
				t.Errorf("%s = %v at start-up, want 0", k, v)
			}
		}
		if len(w) != 1 {
			t.Errorf("liege_rollback_call_waits_total{outcome=%q}: %v, want its series from start-up", o, w)
		}
	}
	for k, want := range map[string]float64{
		"liege_epoch":                    0,
		"liege_journal_first_position":   1,
		"liege_last_checkpoint_position": 0,
	} {
		if v, ok := s[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if v := s["liege_journal_disk_bytes"]; v <= 0 {
		t.Errorf("liege_journal_disk_bytes = %v, want the size of the open journal's segment", v)
	}
	if v := s["liege_last_checkpoint_timestamp_seconds"]; v < float64(t0.Unix()) || v > float64(time.Now().Unix()+1) {
		t.Errorf("liege_last_checkpoint_timestamp_seconds = %v, want the start time (%d) before the first checkpoint", v, t0.Unix())
	}

	// A checkpoint moves the timestamp; a role change raises the reign; the
	// journal grows on disk.
	if s["liege_reign"] != 1 {
		t.Errorf("liege_reign = %v, want 1: a replicated instance's first reign, journaled with the start-up --role", s["liege_reign"])
	}
	// A Replicator attaches the protocol's Node; Promote needs it.
	if err := db.Attach("test", replicate.NodeConfig{}); err != nil {
		t.Fatal(err)
	}
	reign := db.ReplStatus().Reign
	before := s["liege_journal_disk_bytes"]
	ctx := context.Background()
	if err := db.Promote(ctx, false); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := metricstest.Gather(t, reg)
	if p, d := s2["liege_last_checkpoint_position"], s2["liege_journal_durable_position"]; p == 0 || p != d {
		t.Errorf("liege_last_checkpoint_position = %v after a checkpoint of the whole journal (durable position %v)", p, d)
	}
	if want := db.ReplStatus().Reign; want != reign+1 || s2["liege_reign"] != float64(want) {
		t.Errorf("liege_reign after a promote = %v, want the next reign %d (the Node says %d)", s2["liege_reign"], reign+1, want)
	}
	if v, at := s2["liege_last_checkpoint_timestamp_seconds"], float64(t1.UnixNano())/1e9; v < at-1e-6 {
		t.Errorf("liege_last_checkpoint_timestamp_seconds = %.6f after a checkpoint begun at %.6f", v, at)
	}
	if s2["liege_journal_disk_bytes"] <= before {
		t.Errorf("liege_journal_disk_bytes did not grow with a role record: %v then %v", before, s2["liege_journal_disk_bytes"])
	}
}

// TestFsyncMetricsSplitTheRound checks the two times of group commit: the
// write and fsync of the batches, timed where they run, and the round from
// their start to the executor taking the outcome, which holds the first.
func TestFsyncMetricsSplitTheRound(t *testing.T) {
	reg := prometheus.NewRegistry()
	db := openWithSet(t, liege.Options{Dir: t.TempDir(), ID: "A", CheckpointEvery: -1, Registerer: reg})
	for i := range 20 {
		if _, err := db.Call(context.Background(), "set", string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	s := metricstest.Gather(t, reg)
	n, io, round := s["liege_fsyncs_total"], s["liege_fsync_seconds_total"], s["liege_fsync_round_seconds_total"]
	if n < 1 || io <= 0 || round < io {
		t.Fatalf("after 20 calls: %v fsyncs, %v s writing and fsyncing, %v s of rounds; want fsyncs, some time, and rounds at least that time", n, io, round)
	}
}

// openWithSet opens a lone instance with opts, closed at the test's end,
// with one procedure: "set" v sets key ("k", v) to v.
func openWithSet(t *testing.T, opts liege.Options) *liege.DB {
	t.Helper()
	db, err := liege.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = liege.Register(db, liege.Procedure[string, string]{Name: "set",
		Run:     func(tx *liege.Tx, v string) (string, error) { tx.Set(liege.K("k", v), v); return v, nil },
		Correct: func(_ *liege.Tx, _ string, _, now string) (any, error) { return now, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
