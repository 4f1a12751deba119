package journal

// CrashTearingSynced models a power failure on a disk that lied about its
// last fsync: the returned log holds the synced entries only, and the last
// of them torn, cut by n bytes (to a strict prefix, at least one byte
// shorter). Such a record was acknowledged, and may have been shipped to
// the peer, yet a restart cuts it as a torn tail: the case DESIGN.md section
// 3 "never reuse a shipped OSeq" guards against. m stops working, as after
// Crash.
func (m *MemLog) CrashTearingSynced(n int) *MemLog {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		panic("journal: CrashTearingSynced of a MemLog that already crashed")
	}
	keep := int(m.synced + 1 - m.first)
	after := &MemLog{first: m.first, entries: append([][]byte(nil), m.entries[:keep]...)}
	after.synced = after.last()
	if i := keep - 1; i >= 0 && len(after.entries[i]) > 0 {
		e := after.entries[i]
		after.entries[i] = e[:len(e)-min(max(n, 1), len(e))]
	}
	m.closed, m.crashed = true, true
	return after
}
