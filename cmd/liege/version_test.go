package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// TestVersion checks that --version names every field of the build, with
// the values this source tree has.
func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-v"} {
		out, _ := mustRun(t, "", flag)
		for _, want := range []string{
			"module: ",
			"revision: ",
			"go: " + runtime.Version() + "\n",
			fmt.Sprintf("journal format: %d\n", journal.FrameVersion),
			fmt.Sprintf("protocol: %d\n", link.ProtocolVersion),
		} {
			if !strings.Contains(out, want) {
				t.Errorf("liege %s: stdout lacks %q:\n%s", flag, want, out)
			}
		}
	}
	wantFail(t, "", []string{"no-such-command"}, `unknown command "no-such-command"`, "liege --help")
}
