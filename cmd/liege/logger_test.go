package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// TestJSONLogDurations checks that the JSON log writes durations as
// strings like "30s", at the top level, in groups and in a logger's
// attributes, and leaves other values alone.
func TestJSONLogDurations(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.With("timeout", 30*time.Second).Info("shutting down",
		"took", 1500*time.Microsecond, slog.Group("replay", "duration", 2*time.Minute, "records", 7), "n", 3)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("the log line %q is not JSON: %v", buf.String(), err)
	}
	replay, _ := rec["replay"].(map[string]any)
	for _, c := range []struct {
		got, want any
		what      string
	}{
		{rec["timeout"], "30s", "timeout"},
		{rec["took"], "1.5ms", "took"},
		{replay["duration"], "2m0s", "replay.duration"},
		{replay["records"], 7.0, "replay.records"},
		{rec["n"], 3.0, "n"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v (line %s)", c.what, c.got, c.want, buf.String())
		}
	}
}
