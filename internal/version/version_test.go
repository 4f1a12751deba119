package version

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "github.com/liege-db/liege", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := fromBuildInfo(bi)
	want := Info{Module: "v1.2.3", Revision: "0123abcd", Modified: true, Go: "go1.99.1",
		JournalFormat: journal.FrameVersion, Protocol: link.ProtocolVersion}
	if got != want {
		t.Fatalf("fromBuildInfo = %+v, want %+v", got, want)
	}
	s := got.String()
	for _, line := range []string{"module: v1.2.3\n", "revision: 0123abcd (modified)\n", "go: go1.99.1\n", "journal format: 1\n", fmt.Sprintf("protocol: %d\n", link.ProtocolVersion)} {
		if !strings.Contains(s, line) {
			t.Errorf("String() lacks %q:\n%s", line, s)
		}
	}
}

func TestFromNoBuildInfo(t *testing.T) {
	got := fromBuildInfo(nil)
	if got.Module != "unknown" || got.Revision != "" || got.Go == "" || got.Protocol != link.ProtocolVersion {
		t.Fatalf("fromBuildInfo(nil) = %+v", got)
	}
	if !strings.Contains(got.String(), "revision: unknown (built without VCS information)") {
		t.Errorf("String() = %q, want the unknown revision explained", got.String())
	}
}

func TestLabel(t *testing.T) {
	for _, c := range []struct {
		in   Info
		want string
	}{
		{Info{Module: "(devel)"}, "devel"},
		{Info{Module: "unknown"}, "devel"},
		{Info{Module: "v1.2.0", Revision: "3f1c2a9e04b1aa77"}, "v1.2.0+3f1c2a9e04b1"},
		{Info{Module: "(devel)", Revision: "abc"}, "devel+abc"},
	} {
		if got := c.in.Label(); got != c.want {
			t.Errorf("%+v.Label() = %q, want %q", c.in, got, c.want)
		}
	}
}
