package engine

import (
	"testing"

	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// TestFrameBudget: the Node's budget for frames of several records and
// checkpoint chunks stays under the link's frame limit with room for the
// frame's own fields, and is never more than a default chunk.
func TestFrameBudget(t *testing.T) {
	for _, c := range []struct{ maxFrame, want int }{
		{0, replicate.DefaultSeedChunk},  // the default limit, 64 MiB
		{-1, replicate.DefaultSeedChunk}, // no limit
		{link.DefaultMaxFrame, replicate.DefaultSeedChunk},
		{64 << 10, 64<<10 - frameSlack},
		{frameSlack, 1}, // a limit this small leaves each record alone in its frame
	} {
		if got := frameBudget(c.maxFrame); got != c.want {
			t.Errorf("frameBudget(%d) = %d, want %d", c.maxFrame, got, c.want)
		}
	}
}
