package server

import (
	"testing"

	buildinfo "github.com/liege-db/liege/internal/version"
)

// TestStatusBuild checks that /status carries the build's versions, the
// fields `liege --version` prints.
func TestStatusBuild(t *testing.T) {
	e := newEnv(t, Options{})
	b, ok := e.status()["build"].(map[string]any)
	if !ok {
		t.Fatalf("/status has no build object: %v", e.status())
	}
	want := buildinfo.Get()
	for field, v := range map[string]any{
		"module":         want.Module,
		"revision":       want.Revision,
		"modified":       want.Modified,
		"go":             want.Go,
		"journal_format": float64(want.JournalFormat),
		"protocol":       float64(want.Protocol),
	} {
		got, ok := b[field]
		if !ok {
			t.Errorf("/status build lacks %s: %v", field, b)
			continue
		}
		if g, isNum := got.(interface{ Float64() (float64, error) }); isNum {
			f, _ := g.Float64()
			got = f
		}
		if got != v {
			t.Errorf("/status build.%s = %v (%T), want %v", field, got, got, v)
		}
	}
}
