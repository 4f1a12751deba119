package liege

import (
	"testing"
	"time"
)

func TestLagIn(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, c := range []struct {
		name                 string
		behind               bool
		delay                time.Duration
		applied, caught, now time.Time
		want                 time.Duration
	}{
		{"caught up", false, 3 * time.Second, at(0), at(0), at(100), 0},
		{"streaming: the apply delay", true, 300 * time.Millisecond, at(99.9), at(10), at(100), 300 * time.Millisecond},
		{"stalled: the time since the last apply", true, 300 * time.Millisecond, at(40), at(10), at(100), 60 * time.Second},
		{"an idle peer's first transaction: not its idle time", true, 0, at(0), at(99.5), at(100), 500 * time.Millisecond},
		{"a clock behind the peer's: never negative", true, -time.Second, at(100), at(100), at(100), 0},
	} {
		if got := lagIn(c.behind, c.delay, c.applied, c.caught, c.now); got != c.want {
			t.Errorf("%s: lagIn = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestLagOut(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	if got := lagOut(time.Time{}, false, now); got != 0 {
		t.Errorf("nothing pending: %v, want 0", got)
	}
	if got := lagOut(now.Add(-7*time.Second), true, now); got != 7*time.Second {
		t.Errorf("one pending 7s old: %v", got)
	}
	if got := lagOut(now.Add(time.Second), true, now); got != 0 {
		t.Errorf("committed by a clock ahead of this one: %v, want 0", got)
	}
}
