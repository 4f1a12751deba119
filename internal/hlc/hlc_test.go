package hlc

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// fakeClock is a settable physical clock, in milliseconds since the epoch.
type fakeClock struct {
	mu sync.Mutex
	ms int64
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.UnixMilli(f.ms)
}

func (f *fakeClock) set(ms int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ms = ms
}

// base is an arbitrary physical time, 2026-11-21T16:18:02.123Z.
const base = 1795277882123

func TestTimestampParts(t *testing.T) {
	ts := Make(base, 3)
	if got := ts.Millis(); got != base {
		t.Errorf("Millis() = %d, want %d", got, int64(base))
	}
	if got := ts.Logical(); got != 3 {
		t.Errorf("Logical() = %d, want 3", got)
	}
	if got, want := ts.Physical(), time.Date(2026, 11, 21, 16, 18, 2, 123e6, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Physical() = %v, want %v", got, want)
	}
	if uint64(ts) != base<<16|3 {
		t.Errorf("Make(%d, 3) = %#x, want %#x", int64(base), uint64(ts), uint64(base<<16|3))
	}
	if !(Make(base, math.MaxUint16) < Make(base+1, 0)) {
		t.Error("a later millisecond does not sort after the greatest logical value")
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		ts   Timestamp
		want string
	}{
		{Make(base, 3), "2026-11-21T16:18:02.123Z+3"},
		{Make(base-123, 0), "2026-11-21T16:18:02.000Z+0"},
		{Make(base, math.MaxUint16), "2026-11-21T16:18:02.123Z+65535"},
		{0, "1970-01-01T00:00:00.000Z+0"},
	}
	for _, tc := range tests {
		if got := tc.ts.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
		back, err := Parse(tc.want)
		if err != nil || back != tc.ts {
			t.Errorf("Parse(%s) = %v, %v; want %v", tc.want, back, err, uint64(tc.ts))
		}
	}
	for _, bad := range []string{"", "2026-11-21T16:18:02.123Z", "2026-11-21T16:18:02Z+1", "2026-11-21T16:18:02.123Z+65536", "2026-11-21T16:18:02.123Z+x", "1969-12-31T23:59:59.999Z+0"} {
		if ts, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, ts)
		}
	}
}

func TestMakePanicsOutOfRange(t *testing.T) {
	for _, ms := range []int64{-1, MaxPhysicalMillis + 1, math.MinInt64} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("Make(%d, 0) did not panic", ms)
				}
			}()
			Make(ms, 0)
		}()
	}
	if got := Make(MaxPhysicalMillis, math.MaxUint16); got != math.MaxUint64 {
		t.Errorf("Make(MaxPhysicalMillis, MaxUint16) = %#x", uint64(got))
	}
}

func TestNowFrozenClock(t *testing.T) {
	phys := &fakeClock{ms: base}
	c := New(phys.now, 0)
	for i := range 5 {
		if got, want := c.Now(), Make(base, uint16(i)); got != want {
			t.Fatalf("Now() #%d = %v, want %v", i, got, want)
		}
	}
	if got, want := c.Last(), Make(base, 4); got != want {
		t.Errorf("Last() = %v, want %v", got, want)
	}
	phys.set(base + 1)
	if got, want := c.Now(), Make(base+1, 0); got != want {
		t.Errorf("after the physical clock moved on, Now() = %v, want %v", got, want)
	}
}

func TestNowClockGoesBackwards(t *testing.T) {
	phys := &fakeClock{ms: base}
	c := New(phys.now, 0)
	first := c.Now()
	phys.set(base - 10000)
	for i := 1; i <= 3; i++ {
		if got, want := c.Now(), first+Timestamp(i); got != want {
			t.Fatalf("Now() with the physical clock behind = %v, want %v", got, want)
		}
	}
	phys.set(-5000) // before the epoch: counts as the epoch
	if got, want := c.Now(), first+4; got != want {
		t.Fatalf("Now() with the physical clock before 1970 = %v, want %v", got, want)
	}
	phys.set(base + 2)
	if got, want := c.Now(), Make(base+2, 0); got != want {
		t.Errorf("Now() after the physical clock caught up = %v, want %v", got, want)
	}
}

func TestLogicalCarry(t *testing.T) {
	phys := &fakeClock{ms: base}
	c := New(phys.now, 0)
	c.Restore(Make(base, math.MaxUint16-1))
	if got, want := c.Now(), Make(base, math.MaxUint16); got != want {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
	if got, want := c.Now(), Make(base+1, 0); got != want {
		t.Fatalf("Now() after the logical counter is exhausted = %v, want %v (carry)", got, want)
	}
	prev := c.Last()
	for range 3 << 16 {
		ts := c.Now()
		if ts <= prev {
			t.Fatalf("Now() = %v after %v", ts, prev)
		}
		prev = ts
	}
	if got, want := prev, Make(base+4, 0); got != want {
		t.Errorf("after 3<<16 more events in one physical millisecond, Last() = %v, want %v", got, want)
	}
}

func TestNowPanicsWhenExhausted(t *testing.T) {
	c := New(func() time.Time { return time.UnixMilli(base) }, 0)
	c.Restore(math.MaxUint64)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "exhausted") {
			t.Errorf("Now() at the greatest timestamp: recovered %v, want an exhaustion panic", r)
		}
	}()
	ts := c.Now()
	t.Errorf("Now() at the greatest timestamp returned %v", ts)
}

func TestObserveAdvances(t *testing.T) {
	phys := &fakeClock{ms: base}
	c := New(phys.now, 0)
	if got := c.MaxOffset(); got != DefaultMaxOffset {
		t.Fatalf("MaxOffset() = %v, want %v", got, DefaultMaxOffset)
	}
	c.Now()
	peer := Make(base+200, 7)
	if err := c.Observe(peer); err != nil {
		t.Fatalf("Observe(%v) = %v", peer, err)
	}
	if got := c.Last(); got != peer {
		t.Fatalf("Last() = %v after Observe(%v)", got, peer)
	}
	if got, want := c.Now(), peer+1; got != want {
		t.Fatalf("Now() after Observe(%v) = %v, want %v", peer, got, want)
	}
	// An older peer timestamp does not move the clock back.
	if err := c.Observe(Make(base-1000, 0)); err != nil {
		t.Fatalf("Observe(old) = %v", err)
	}
	if got, want := c.Last(), peer+1; got != want {
		t.Fatalf("Last() after observing an old timestamp = %v, want %v", got, want)
	}
	// Exactly at the bound is accepted.
	edge := Make(base+DefaultMaxOffset.Milliseconds(), math.MaxUint16)
	if err := c.Observe(edge); err != nil {
		t.Fatalf("Observe(%v) exactly at the bound = %v", edge, err)
	}
	if got := c.Last(); got != edge {
		t.Fatalf("Last() = %v, want %v", got, edge)
	}
}

func TestObserveBeyondBoundRefused(t *testing.T) {
	phys := &fakeClock{ms: base}
	c := New(phys.now, 250*time.Millisecond)
	before := c.Now()
	for _, peer := range []Timestamp{Make(base+251, 0), Make(base+10000, 3), Make(MaxPhysicalMillis, math.MaxUint16)} {
		err := c.Observe(peer)
		var oe *OffsetError
		if !errors.As(err, &oe) {
			t.Fatalf("Observe(%v) = %v, want an *OffsetError", peer, err)
		}
		wantOff := time.Duration(peer.Millis()-base) * time.Millisecond
		if peer.Millis()-base > math.MaxInt64/int64(time.Millisecond) {
			wantOff = math.MaxInt64
		}
		if oe.Remote != peer || oe.Local != Make(base, 0) || oe.Offset != wantOff || oe.Max != 250*time.Millisecond {
			t.Errorf("Observe(%v) error = %+v", peer, *oe)
		}
		msg := err.Error()
		for _, want := range []string{"ahead of", wantOff.String(), "250ms", "clock synchronization", "--max-clock-offset"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
		if got := c.Last(); got != before {
			t.Fatalf("a refused Observe moved Last() from %v to %v", before, got)
		}
	}
	if got, want := c.Now(), before+1; got != want {
		t.Errorf("Now() after refused Observes = %v, want %v", got, want)
	}
	// The bound is against physical time, so it moves with it.
	phys.set(base + 1000)
	if err := c.Observe(Make(base+1251, 0)); err == nil {
		t.Error("Observe 251ms ahead of the advanced physical clock was accepted")
	}
	if err := c.Observe(Make(base+1250, 0)); err != nil {
		t.Errorf("Observe 250ms ahead of the advanced physical clock = %v", err)
	}
}

func TestRestoreHasNoBound(t *testing.T) {
	phys := &fakeClock{ms: base}
	c := New(phys.now, 0)
	far := Make(base+int64(time.Hour/time.Millisecond), 9)
	c.Restore(far)
	if got := c.Last(); got != far {
		t.Fatalf("Last() after Restore(%v) = %v", far, got)
	}
	c.Restore(Make(base, 0))
	if got := c.Last(); got != far {
		t.Fatalf("Restore of an older timestamp moved Last() to %v", got)
	}
	if got, want := c.Now(), far+1; got != want {
		t.Errorf("Now() after Restore = %v, want %v", got, want)
	}
}

func TestNilPhysicalClockUsesTimeNow(t *testing.T) {
	c := New(nil, 0)
	lo := time.Now().UnixMilli()
	ts := c.Now()
	hi := time.Now().UnixMilli()
	if ts.Millis() < lo || ts.Millis() > hi {
		t.Errorf("Now() = %v, want a physical part within [%d, %d]", ts, lo, hi)
	}
}

func TestCheckOffset(t *testing.T) {
	local := time.UnixMilli(base)
	tests := []struct {
		remote  time.Time
		max     time.Duration
		wantErr string
	}{
		{local, 0, ""},
		{local.Add(500 * time.Millisecond), 0, ""},
		{local.Add(-500 * time.Millisecond), 0, ""},
		{local.Add(501 * time.Millisecond), 0, "ahead of ours by 501ms"},
		{local.Add(-501 * time.Millisecond), 0, "behind ours by 501ms"},
		{local.Add(2 * time.Second), 3 * time.Second, ""},
		{local.Add(-4 * time.Second), 3 * time.Second, "behind ours by 4s"},
		{time.Time{}, 0, "behind ours by 2562047h47m16.854775807s"},
	}
	for _, tc := range tests {
		err := CheckOffset(local, tc.remote, tc.max)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("CheckOffset(%v, %v, %v) = %v", local, tc.remote, tc.max, err)
			}
			continue
		}
		var oe *OffsetError
		if !errors.As(err, &oe) {
			t.Errorf("CheckOffset(%v, %v, %v) = %v, want an *OffsetError", local, tc.remote, tc.max, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("CheckOffset error %q does not contain %q", err, tc.wantErr)
		}
		if oe.Local != Make(base, 0) {
			t.Errorf("OffsetError.Local = %v, want %v", oe.Local, Make(base, 0))
		}
		wantMax := tc.max
		if wantMax == 0 {
			wantMax = DefaultMaxOffset
		}
		if oe.Max != wantMax {
			t.Errorf("OffsetError.Max = %v, want %v", oe.Max, wantMax)
		}
	}
}

func TestConcurrentNow(t *testing.T) {
	const goroutines, perGoroutine = 16, 6000 // more than 1<<16 in all, so the counter carries
	for _, name := range []string{"frozen", "real"} {
		t.Run(name, func(t *testing.T) {
			var phys PhysicalClock
			if name == "frozen" {
				phys = func() time.Time { return time.UnixMilli(base) }
			}
			c := New(phys, 0)
			results := make([][]Timestamp, goroutines)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					out := make([]Timestamp, perGoroutine)
					for i := range out {
						out[i] = c.Now()
					}
					results[g] = out
				})
			}
			wg.Wait()
			seen := make(map[Timestamp]int, goroutines*perGoroutine)
			for g, out := range results {
				for i, ts := range out {
					if i > 0 && ts <= out[i-1] {
						t.Fatalf("goroutine %d: Now() = %v after %v", g, ts, out[i-1])
					}
					if other, dup := seen[ts]; dup {
						t.Fatalf("goroutines %d and %d both got %v", other, g, ts)
					}
					seen[ts] = g
				}
			}
			if name == "frozen" {
				if got, want := c.Last(), Make(base, 0)+goroutines*perGoroutine-1; got != want {
					t.Errorf("Last() = %v, want %v", got, want)
				}
			}
		})
	}
}

// TestInterleavingProperty checks that under any interleaving of physical
// clock moves (forwards and backwards), Now, Observe within the bound,
// refused Observes and Restores, every Now is strictly greater than every
// earlier Now, accepted Observe and Restore, and not behind physical time.
func TestInterleavingProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		maxOff := time.Duration(rapid.Int64Range(1, 2000).Draw(rt, "maxOffsetMs")) * time.Millisecond
		phys := &fakeClock{ms: rapid.Int64Range(0, 1<<41).Draw(rt, "startMs")}
		c := New(phys.now, maxOff)
		var floor Timestamp // greatest timestamp a later Now must exceed
		seenAny := false
		ts := func(ms int64) Timestamp {
			return Make(max(ms, 0), rapid.Uint16().Draw(rt, "logical"))
		}
		steps := rapid.IntRange(1, 100).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 4).Draw(rt, "op") {
			case 0: // the physical clock jumps, possibly backwards
				phys.set(max(phys.ms+rapid.Int64Range(-3000, 3000).Draw(rt, "jumpMs"), 0))
			case 1:
				got := c.Now()
				if seenAny && got <= floor {
					rt.Fatalf("Now() = %v, not after %v", got, floor)
				}
				if got.Millis() < phys.ms {
					rt.Fatalf("Now() = %v is behind physical time %d", got, phys.ms)
				}
				if got != c.Last() {
					rt.Fatalf("Last() = %v right after Now() = %v", c.Last(), got)
				}
				floor, seenAny = got, true
			case 2: // a peer within the bound, possibly far behind
				off := rapid.Int64Range(-5000, maxOff.Milliseconds()).Draw(rt, "peerOffsetMs")
				peer := ts(phys.ms + off)
				if err := c.Observe(peer); err != nil {
					rt.Fatalf("Observe(%v) within the bound = %v", peer, err)
				}
				floor, seenAny = max(floor, peer), true
			case 3: // a peer beyond the bound
				off := rapid.Int64Range(maxOff.Milliseconds()+1, 1<<40).Draw(rt, "peerOffsetMs")
				peer := ts(phys.ms + off)
				before := c.Last()
				if err := c.Observe(peer); err == nil {
					rt.Fatalf("Observe(%v) beyond the bound was accepted", peer)
				}
				if c.Last() != before {
					rt.Fatalf("refused Observe moved Last() from %v to %v", before, c.Last())
				}
			case 4:
				r := ts(phys.ms + rapid.Int64Range(-5000, 5000).Draw(rt, "restoreOffsetMs"))
				c.Restore(r)
				floor, seenAny = max(floor, r), true
			}
			if seenAny && c.Last() < floor {
				rt.Fatalf("Last() = %v is behind %v", c.Last(), floor)
			}
		}
	})
}

func BenchmarkNow(b *testing.B) {
	c := New(nil, 0)
	for b.Loop() {
		c.Now()
	}
}
