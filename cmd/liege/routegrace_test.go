package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	liege "github.com/liege-db/liege"
)

// TestServeRouteLinkGrace: --route-link-grace reaches Options as the
// engine reads it: the default is liege.DefaultRouteLinkGrace, 0 means no
// wait (a negative RouteLinkGrace; zero there would mean the default).
func TestServeRouteLinkGrace(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{nil, liege.DefaultRouteLinkGrace},
		{[]string{"--route-link-grace", "3s"}, 3 * time.Second},
		{[]string{"--route-link-grace", "0"}, -1},
	} {
		conf := filepath.Join(t.TempDir(), "empty.conf")
		if err := os.WriteFile(conf, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		set := parseServeArgs(t, append([]string{"--config", conf, "--dir", t.TempDir(), "--id", "A"}, c.args...)...)
		if got := routeLinkGrace(set.routeLinkGrace); got != c.want {
			t.Errorf("serve %v: Options.RouteLinkGrace %v, want %v", c.args, got, c.want)
		}
	}
}
