package journal

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// MemLog is a Log in memory that models a crash exactly, for tests and
// simulation: it knows which entries were synced, and Crash keeps those and
// a random part of the rest, as a power failure would. Its only randomness
// is the *rand.Rand the caller passes to Crash, and it starts no
// goroutine, so a seeded simulation that drives it is reproducible.
//
// A Journal runs on it with OpenLog:
//
//	l := journal.NewMemLog()
//	j, _ := journal.OpenLog(l, journal.Options{})
//	... append, flush ...
//	after := l.Crash(rng) // j can no longer write: its next write is fatal
//	j.Close()
//	j, err = journal.OpenLog(after, journal.Options{})
type MemLog struct {
	mu      sync.Mutex
	first   uint64   // index of entries[0]
	entries [][]byte // never modified once stored: Read returns them as they are
	synced  uint64   // every index <= synced is durable
	closed  bool     // by Close (Reopen may follow) or by Crash
	crashed bool
	written uint64 // bytes written since NewMemLog, for Journal.Stats
}

var (
	_ Log         = (*MemLog)(nil)
	_ logCounters = (*MemLog)(nil)
)

// NewMemLog returns an empty MemLog (FirstIndex 1).
func NewMemLog() *MemLog { return &MemLog{first: 1} }

func (m *MemLog) last() uint64 { return m.first + uint64(len(m.entries)) - 1 }

func (m *MemLog) check(op string) error {
	if m.closed {
		return fmt.Errorf("%s: memory journal: %w", op, ErrClosed)
	}
	return nil
}

// FirstIndex implements Log.
func (m *MemLog) FirstIndex() (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("journal first index"); err != nil {
		return 0, err
	}
	return m.first, nil
}

// LastIndex implements Log.
func (m *MemLog) LastIndex() (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("journal last index"); err != nil {
		return 0, err
	}
	return m.last(), nil
}

// Write implements Log. It copies the entries.
func (m *MemLog) Write(first uint64, entries [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("write journal batch"); err != nil {
		return err
	}
	if first != m.last()+1 {
		return fmt.Errorf("write journal batch at index %d after index %d: %w", first, m.last(), ErrOutOfOrder)
	}
	for _, e := range entries {
		m.entries = append(m.entries, append([]byte(nil), e...))
		m.written += uint64(len(e))
	}
	return nil
}

// Sync implements Log.
func (m *MemLog) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("fsync journal"); err != nil {
		return err
	}
	m.synced = m.last()
	return nil
}

// Read implements Log.
func (m *MemLog) Read(index uint64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("read journal index %d", index)
	if err := m.check(op); err != nil {
		return nil, err
	}
	if index < m.first || index > m.last() {
		return nil, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return m.entries[index-m.first], nil
}

// TruncateBack implements Log.
func (m *MemLog) TruncateBack(index uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("truncate journal after index %d", index)
	if err := m.check(op); err != nil {
		return err
	}
	if index+1 < m.first || index > m.last() {
		return fmt.Errorf("%s (entries %d..%d): %w", op, m.first, m.last(), ErrOutOfRange)
	}
	// A new slice: entries a reader holds stay as they are, and a later
	// append does not write into the old backing array.
	m.entries = append([][]byte(nil), m.entries[:index+1-m.first]...)
	m.synced = min(m.synced, index)
	return nil
}

// TruncateFront implements Log.
func (m *MemLog) TruncateFront(index uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := fmt.Sprintf("truncate journal before index %d", index)
	if err := m.check(op); err != nil {
		return err
	}
	if index < m.first || index > m.last()+1 {
		return fmt.Errorf("%s (entries %d..%d): %w", op, m.first, m.last(), ErrOutOfRange)
	}
	m.entries = append([][]byte(nil), m.entries[index-m.first:]...)
	m.first = index
	// The new first index is durable, and so is everything before it: a
	// crash never brings back what was cut off, nor moves FirstIndex.
	m.synced = max(m.synced, index-1)
	return nil
}

// Close implements Log: what was written becomes durable, as when a
// process exits cleanly. Reopen gives the log back.
func (m *MemLog) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("close journal"); err != nil {
		return err
	}
	m.synced = m.last()
	m.closed = true
	return nil
}

// Reopen returns the log after a clean Close, as a restarted process finds
// it: everything written. It fails if m is open or crashed.
func (m *MemLog) Reopen() (*MemLog, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed || m.crashed {
		return nil, fmt.Errorf("reopen memory journal: only a closed log can be reopened (closed %v, crashed %v)", m.closed, m.crashed)
	}
	return &MemLog{first: m.first, entries: m.entries, synced: m.synced}, nil
}

// Crash models a power failure now. m stops working (every later call
// returns ErrClosed, so a Journal on it fails at its next write) and the
// returned log holds what a restart finds: every synced entry; then, rng
// deciding, some prefix of the entries written since the last Sync; and
// the last entry of that prefix may be torn, reduced to a strict prefix of
// its bytes (possibly none). OpenLog removes a torn entry. Crashing a
// closed log loses nothing. A log crashes once: crash the one Crash
// returned.
func (m *MemLog) Crash(rng *rand.Rand) *MemLog {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		panic("journal: Crash of a MemLog that already crashed (crash the log its Crash returned)")
	}
	n := int(m.synced + 1 - m.first) // entries that survive for sure (synced >= first-1 always)
	if unsynced := len(m.entries) - n; unsynced > 0 {
		n += rng.IntN(unsynced + 1)
	}
	after := &MemLog{first: m.first, entries: append([][]byte(nil), m.entries[:n]...)}
	after.synced = after.last()
	if i := n - 1; i >= 0 && m.first+uint64(i) > m.synced && len(after.entries[i]) > 0 && rng.IntN(2) == 0 {
		after.entries[i] = after.entries[i][:rng.IntN(len(after.entries[i]))]
	}
	m.closed, m.crashed = true, true
	return after
}

func (m *MemLog) counters() (bytes, segments uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.written, 0
}
