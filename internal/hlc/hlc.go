package hlc

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// LogicalBits is the width of a Timestamp's logical counter.
	LogicalBits = 16
	// MaxPhysicalMillis is the largest physical part a Timestamp can hold,
	// in milliseconds since the Unix epoch (a date in the year 10889).
	MaxPhysicalMillis = 1<<(64-LogicalBits) - 1
	// DefaultMaxOffset is the maximum clock offset New uses when given 0.
	DefaultMaxOffset = 500 * time.Millisecond

	logicalMask = 1<<LogicalBits - 1
	// timeLayout is RFC 3339 with exactly three fractional digits.
	timeLayout = "2006-01-02T15:04:05.000Z07:00"
)

// Timestamp is a hybrid logical clock reading: milliseconds since the Unix
// epoch in the high 48 bits and a logical counter in the low 16 bits.
// Timestamps compare as integers.
type Timestamp uint64

// Make returns the timestamp with physical part ms (milliseconds since the
// Unix epoch) and the given logical counter. It panics if ms is outside
// [0, MaxPhysicalMillis], which no real clock reading is.
func Make(ms int64, logical uint16) Timestamp {
	if ms < 0 || ms > MaxPhysicalMillis {
		panic(fmt.Sprintf("hlc: physical time %d ms is outside [0, %d]", ms, int64(MaxPhysicalMillis)))
	}
	return Timestamp(uint64(ms)<<LogicalBits | uint64(logical))
}

// fromMillis is Make with ms clamped into range, for physical clock
// readings.
func fromMillis(ms int64) Timestamp {
	return Make(min(max(ms, 0), MaxPhysicalMillis), 0)
}

// Millis returns the physical part in milliseconds since the Unix epoch.
func (t Timestamp) Millis() int64 { return int64(t >> LogicalBits) }

// Physical returns the physical part as a UTC time.
func (t Timestamp) Physical() time.Time { return time.UnixMilli(t.Millis()).UTC() }

// Logical returns the logical counter.
func (t Timestamp) Logical() uint16 { return uint16(t & logicalMask) }

// String formats t as its physical part in RFC 3339 with milliseconds in
// UTC, a plus sign and the logical counter: 2026-11-21T16:18:02.123Z+3.
func (t Timestamp) String() string {
	return t.Physical().Format(timeLayout) + "+" + strconv.Itoa(int(t.Logical()))
}

// Parse parses the form produced by Timestamp.String.
func Parse(s string) (Timestamp, error) {
	i := strings.LastIndexByte(s, '+')
	if i < 0 {
		return 0, fmt.Errorf("hlc: timestamp %q lacks the +logical suffix", s)
	}
	p, err := time.Parse(timeLayout, s[:i])
	if err != nil {
		return 0, fmt.Errorf("hlc: timestamp %q: %w", s, err)
	}
	l, err := strconv.ParseUint(s[i+1:], 10, LogicalBits)
	if err != nil {
		return 0, fmt.Errorf("hlc: timestamp %q: bad logical counter: %w", s, err)
	}
	ms := p.UnixMilli()
	if ms < 0 || ms > MaxPhysicalMillis {
		return 0, fmt.Errorf("hlc: timestamp %q is outside the representable range", s)
	}
	return Make(ms, uint16(l)), nil
}

// PhysicalClock reads physical time; a Clock's is injectable for tests.
type PhysicalClock func() time.Time

// Clock is a hybrid logical clock. It is safe for concurrent use.
type Clock struct {
	phys      PhysicalClock
	maxOffset time.Duration
	last      atomic.Uint64 // the greatest timestamp issued, observed or restored
}

// New returns a clock reading physical time from phys (time.Now if nil)
// that refuses peer timestamps more than maxOffset ahead of it
// (DefaultMaxOffset if maxOffset <= 0).
func New(phys PhysicalClock, maxOffset time.Duration) *Clock {
	if phys == nil {
		phys = time.Now
	}
	if maxOffset <= 0 {
		maxOffset = DefaultMaxOffset
	}
	return &Clock{phys: phys, maxOffset: maxOffset}
}

// MaxOffset returns the bound Observe enforces.
func (c *Clock) MaxOffset() time.Duration { return c.maxOffset }

// physicalNow returns the physical clock reading with a zero logical part.
// Readings before 1970 count as the epoch.
func (c *Clock) physicalNow() Timestamp { return fromMillis(c.phys().UnixMilli()) }

// Now returns the timestamp of a local event: max(physical now, Last()+1).
// It is strictly greater than every timestamp returned by an earlier Now,
// accepted by an earlier Observe or passed to an earlier Restore.
//
// When more than 65535 events fall within one millisecond (or while the
// clock runs ahead of physical time) the logical counter carries into the
// physical part, as Last()+1 is a plain 64-bit increment; the clock then
// runs slightly ahead of physical time until physical time catches up.
//
// Now panics if Last() is the greatest possible Timestamp, which can only
// happen if such a timestamp was restored or observed.
func (c *Clock) Now() Timestamp {
	now := uint64(c.physicalNow())
	for {
		last := c.last.Load()
		if last == math.MaxUint64 {
			panic("hlc: timestamp space exhausted: the clock was advanced to the greatest possible timestamp")
		}
		next := max(now, last+1)
		if c.last.CompareAndSwap(last, next) {
			return Timestamp(next)
		}
	}
}

// Last returns the greatest timestamp issued by Now, accepted by Observe
// or passed to Restore (0 if none).
func (c *Clock) Last() Timestamp { return Timestamp(c.last.Load()) }

// Observe merges a timestamp received from a peer: afterwards Last() >= ts,
// so every later Now is after ts. If ts is ahead of local physical time by
// more than MaxOffset, Observe leaves the clock unchanged and returns an
// *OffsetError: accepting it would drag this clock, and everything it talks
// to, that far ahead of real time.
func (c *Clock) Observe(ts Timestamp) error {
	now := c.physicalNow()
	if off := millisToDuration(ts.Millis() - now.Millis()); off > c.maxOffset {
		return &OffsetError{Remote: ts, Local: now, Offset: off, Max: c.maxOffset}
	}
	c.advance(ts)
	return nil
}

// millisToDuration converts milliseconds to a Duration, saturating instead
// of overflowing (the physical parts of two timestamps can differ by more
// than a Duration holds).
func millisToDuration(ms int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > limit:
		return math.MaxInt64
	case ms < -limit:
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// Restore advances the clock to at least ts without any bound check, for
// recovery: pass the greatest timestamp found in durable state so that new
// timestamps follow everything already committed even if the physical clock
// went backwards across a restart.
func (c *Clock) Restore(ts Timestamp) { c.advance(ts) }

// advance sets last = max(last, ts).
func (c *Clock) advance(ts Timestamp) {
	for {
		last := c.last.Load()
		if uint64(ts) <= last || c.last.CompareAndSwap(last, uint64(ts)) {
			return
		}
	}
}

// OffsetError reports a peer whose clock differs from the local clock by
// more than the allowed maximum offset.
type OffsetError struct {
	Remote Timestamp     // the peer's timestamp or clock reading
	Local  Timestamp     // the local physical clock reading it was compared to
	Offset time.Duration // Remote - Local: positive if the peer is ahead
	Max    time.Duration // the bound that was exceeded
}

func (e *OffsetError) Error() string {
	dir, off := "ahead of", e.Offset
	if off < 0 {
		dir, off = "behind", -max(off, -math.MaxInt64)
	}
	return fmt.Sprintf("hlc: peer clock is %s ours by %v (peer %v, local %v), beyond the maximum clock offset of %v; "+
		"fix clock synchronization (NTP) on the nodes or raise --max-clock-offset",
		dir, off, e.Remote, e.Local, e.Max)
}

// CheckOffset returns an *OffsetError if remote and local clock readings
// differ by more than maxOffset in either direction (DefaultMaxOffset if
// maxOffset <= 0), for checking a peer's clock at a handshake.
func CheckOffset(local, remote time.Time, maxOffset time.Duration) error {
	if maxOffset <= 0 {
		maxOffset = DefaultMaxOffset
	}
	off := remote.Sub(local) // saturates rather than overflowing
	if off > maxOffset || off < -maxOffset {
		return &OffsetError{
			Remote: fromMillis(remote.UnixMilli()),
			Local:  fromMillis(local.UnixMilli()),
			Offset: off,
			Max:    maxOffset,
		}
	}
	return nil
}
