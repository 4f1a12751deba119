package sim

import (
	"flag"
	"os"
	"testing"
)

var traceSeed = flag.Uint64("trace.seed", 0, "")

func TestTraceSeed(t *testing.T) {
	if *traceSeed == 0 {
		t.Skip()
	}
	r := Run(Options{Seed: *traceSeed, Trace: os.Stdout})
	t.Logf("%v", r.Failure)
}
