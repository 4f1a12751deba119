package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unsafe"

	"github.com/liege-db/liege/internal/failpoint"
)

// The Log conformance suite: every test here runs over every Log
// implementation, with one harness each that can open a new log, reopen a
// closed one, and crash an open one.

// logHarness drives the life of one log.
type logHarness interface {
	// open returns the log, new and empty.
	open(t *testing.T) Log
	// reopen opens the log again after Close, as a restarted process.
	reopen(t *testing.T) Log
	// crash models a power failure now and returns the log as a restart
	// finds it, opened. The log open before must not be used again but for
	// Close.
	crash(t *testing.T, rng *rand.Rand) Log
	// repairedAtOpen reports whether the log removed a torn tail when it
	// was opened last (a log that cannot tell returns false).
	repairedAtOpen() bool
}

var logHarnesses = map[string]func(t *testing.T) logHarness{
	"file":   func(t *testing.T) logHarness { return &walHarness{segMax: 512} },
	"memory": func(t *testing.T) logHarness { return &memHarness{} },
}

// forEachLog runs test over every implementation.
func forEachLog(t *testing.T, test func(t *testing.T, h logHarness)) {
	for name, newHarness := range logHarnesses {
		t.Run(name, func(t *testing.T) { test(t, newHarness(t)) })
	}
}

type memHarness struct{ cur *MemLog }

func (h *memHarness) open(*testing.T) Log { h.cur = NewMemLog(); return h.cur }

func (h *memHarness) reopen(t *testing.T) Log {
	l, err := h.cur.Reopen()
	if err != nil {
		t.Fatal(err)
	}
	h.cur = l
	return l
}

func (h *memHarness) crash(_ *testing.T, rng *rand.Rand) Log {
	h.cur = h.cur.Crash(rng)
	return h.cur
}

func (h *memHarness) repairedAtOpen() bool { return false }

// walHarness runs the file log in a new directory per open. It remembers the size of
// every segment file at the last point everything was durable (open, Sync,
// a truncation); a crash keeps those bytes and a random prefix of what was
// written after them, in a copy of the directory.
type walHarness struct {
	dir    string // instance directory; the log is in dir/journal
	segMax int
	cur    *trackedWAL
	synced map[string]int64
}

// trackedWAL is the file log, telling its harness when it is durable.
type trackedWAL struct {
	*walLog
	h *walHarness
}

func (l *trackedWAL) Sync() error {
	err := l.walLog.Sync()
	if err == nil {
		l.h.markSynced()
	}
	return err
}

func (l *trackedWAL) TruncateBack(index uint64) error {
	err := l.walLog.TruncateBack(index)
	if err == nil {
		l.h.markSynced()
	}
	return err
}

func (l *trackedWAL) TruncateFront(index uint64) error {
	err := l.walLog.TruncateFront(index)
	if err == nil {
		l.h.markSynced()
	}
	return err
}

func (h *walHarness) walDir() string { return filepath.Join(h.dir, WalDir) }

func (h *walHarness) markSynced() {
	h.synced = map[string]int64{}
	segs, err := ListSegments(h.walDir())
	if err != nil {
		panic(err)
	}
	for _, s := range segs {
		fi, err := os.Stat(s.Path)
		if err != nil {
			panic(err)
		}
		h.synced[filepath.Base(s.Path)] = fi.Size()
	}
}

func (h *walHarness) openDir(t *testing.T) Log {
	t.Helper()
	l, err := openWAL(h.walDir(), h.segMax)
	if err != nil {
		t.Fatalf("open file log: %v", err)
	}
	h.cur = &trackedWAL{l, h}
	h.markSynced()
	return h.cur
}

func (h *walHarness) open(t *testing.T) Log {
	h.dir = t.TempDir()
	return h.openDir(t)
}

func (h *walHarness) reopen(t *testing.T) Log { return h.openDir(t) }

func (h *walHarness) crash(t *testing.T, rng *rand.Rand) Log {
	t.Helper()
	segs, err := ListSegments(h.walDir())
	if err != nil {
		t.Fatal(err)
	}
	type file struct {
		name string
		data []byte
		base int64
	}
	var files []file
	var unsynced int64
	for _, s := range segs {
		data, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		f := file{name: filepath.Base(s.Path), data: data, base: h.synced[filepath.Base(s.Path)]}
		if f.base > int64(len(data)) {
			t.Fatalf("segment %s holds %d bytes, fewer than the %d synced", f.name, len(data), f.base)
		}
		unsynced += int64(len(data)) - f.base
		files = append(files, f)
	}
	budget := rng.Int64N(unsynced + 1) // unsynced bytes that reach the disk, in order
	crashed := t.TempDir()
	if err := os.Mkdir(filepath.Join(crashed, WalDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		extra := min(int64(len(f.data))-f.base, budget)
		budget -= extra
		_, known := h.synced[f.name]
		if !known && extra == 0 {
			continue // created after the last sync; its creation did not last
		}
		if err := os.WriteFile(filepath.Join(crashed, WalDir, f.name), f.data[:f.base+extra], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.dir = crashed
	return h.openDir(t)
}

func (h *walHarness) repairedAtOpen() bool { return h.cur.repair != nil }

// Helpers over a Log.

func bounds(t *testing.T, l Log) (first, last uint64) {
	t.Helper()
	first, err := l.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	last, err = l.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	return first, last
}

func wantBounds(t *testing.T, l Log, first, last uint64) {
	t.Helper()
	if f, la := bounds(t, l); f != first || la != last {
		t.Fatalf("log holds [%d, %d], want [%d, %d]", f, la, first, last)
	}
}

// entry returns the test entry for index i: a frame of random bytes of a
// random length, some of them longer than a file segment.
func entry(rng *rand.Rand, i uint64) []byte {
	n := 1 + rng.IntN(200)
	if rng.IntN(20) == 0 {
		n = 600 + rng.IntN(600)
	}
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(rng.Uint32())
	}
	b[0] = byte(i)
	return AppendFrame(nil, b)
}

// model is what a log should hold: entries[i] at index first+i.
type model struct {
	first   uint64
	entries [][]byte
	synced  uint64 // every index <= synced is durable
}

func newModel() *model { return &model{first: 1} }

func (m *model) last() uint64 { return m.first + uint64(len(m.entries)) - 1 }

// write writes n entries to l and to the model.
func (m *model) write(t *testing.T, l Log, rng *rand.Rand, n int) {
	t.Helper()
	var batch [][]byte
	for i := range n {
		batch = append(batch, entry(rng, m.last()+1+uint64(i)))
	}
	if err := l.Write(m.last()+1, batch); err != nil {
		t.Fatalf("write %d entries at %d: %v", n, m.last()+1, err)
	}
	for _, e := range batch {
		m.entries = append(m.entries, bytes.Clone(e))
		// The log must not keep the caller's memory.
		for k := range e {
			e[k] ^= 0xff
		}
	}
}

func (m *model) sync(t *testing.T, l Log) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	m.synced = m.last()
}

func (m *model) truncateBack(t *testing.T, l Log, index uint64) {
	t.Helper()
	if err := l.TruncateBack(index); err != nil {
		t.Fatalf("TruncateBack(%d) of [%d, %d]: %v", index, m.first, m.last(), err)
	}
	m.entries = m.entries[:index+1-m.first]
	m.synced = min(m.synced, index)
}

func (m *model) truncateFront(t *testing.T, l Log, index uint64) {
	t.Helper()
	if err := l.TruncateFront(index); err != nil {
		t.Fatalf("TruncateFront(%d) of [%d, %d]: %v", index, m.first, m.last(), err)
	}
	m.entries = m.entries[index-m.first:]
	m.first = index
	m.synced = max(m.synced, index-1)
}

// check checks that l holds exactly the model's entries.
func (m *model) check(t *testing.T, l Log) {
	t.Helper()
	wantBounds(t, l, m.first, m.last())
	for i, want := range m.entries {
		idx := m.first + uint64(i)
		got, err := l.Read(idx)
		if err != nil {
			t.Fatalf("read index %d of [%d, %d]: %v", idx, m.first, m.last(), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("index %d holds %x, want %x", idx, got[:min(8, len(got))], want[:min(8, len(want))])
		}
	}
	for _, idx := range []uint64{m.first - 1, m.last() + 1, m.last() + 2} {
		if _, err := l.Read(idx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("read index %d outside [%d, %d] returned %v, want ErrNotFound", idx, m.first, m.last(), err)
		}
	}
	m.checkRanges(t, l)
}

// checkRanges checks that ReadRange (the file log's own, or Read's for a
// Log without one) reads what Read does: the whole log, runs inside it,
// nothing for an empty range, ErrNotFound past either end, and fn's error.
func (m *model) checkRanges(t *testing.T, l Log) {
	t.Helper()
	_, buffered := l.(BufferedRangeReader)
	if _, ok := l.(*trackedWAL); ok {
		if _, ok := l.(RangeReader); !ok {
			t.Fatal("the file log is not a RangeReader")
		}
		if _, ok := l.(BackwardReader); !ok {
			t.Fatal("the file log is not a BackwardReader")
		}
		if !buffered {
			t.Fatal("the file log is not a BufferedRangeReader")
		}
	}
	n := uint64(len(m.entries))
	ranges := [][2]uint64{{m.first, m.last()}, {m.first + 1, m.last() + 1}}
	if n > 0 {
		ranges = append(ranges, [2]uint64{m.first, m.first}, [2]uint64{m.last(), m.last()},
			[2]uint64{m.first + n/3, m.first + 2*n/3})
	}
	for _, r := range ranges {
		want := r[0]
		err := ReadRange(l, r[0], r[1], func(idx uint64, got []byte) error {
			if idx != want {
				return fmt.Errorf("entry %d after %d", idx, want-1)
			}
			if !bytes.Equal(got, m.entries[idx-m.first]) {
				return fmt.Errorf("index %d holds %x, want %x", idx, got[:min(8, len(got))], m.entries[idx-m.first][:min(8, len(m.entries[idx-m.first]))])
			}
			want++
			return nil
		})
		switch {
		case r[0] > r[1]:
			if err != nil || want != r[0] {
				t.Fatalf("ReadRange(%d, %d) of an empty range: %v after %d entries", r[0], r[1], err, want-r[0])
			}
		case r[1] > m.last():
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("ReadRange(%d, %d) past [%d, %d] returned %v, want ErrNotFound", r[0], r[1], m.first, m.last(), err)
			}
		case err != nil || want != r[1]+1:
			t.Fatalf("ReadRange(%d, %d) of [%d, %d]: %v after %d entries", r[0], r[1], m.first, m.last(), err, want-r[0])
		}
	}
	// ReadRangeBuffered reads the same, each entry in the buffer given as
	// done with the last entry read into it (at the latest, the range's
	// last), which it reads into again when get hands it back.
	var free [][]byte
	get := func() []byte {
		if len(free) == 0 {
			return nil
		}
		b := free[len(free)-1]
		free = free[:len(free)-1]
		return b
	}
	for _, r := range ranges {
		want := r[0]
		var pending [][]byte // entries not yet covered by a done buffer
		dones := 0
		err := ReadRangeBuffered(l, r[0], r[1], get, func(idx uint64, got, done []byte) error {
			if idx != want {
				return fmt.Errorf("entry %d after %d", idx, want-1)
			}
			if !bytes.Equal(got, m.entries[idx-m.first]) {
				return fmt.Errorf("index %d holds %x, want %x", idx, got[:min(8, len(got))], m.entries[idx-m.first][:min(8, len(m.entries[idx-m.first]))])
			}
			want++
			pending = append(pending, got)
			if done == nil {
				if buffered && idx == r[1] {
					return fmt.Errorf("no buffer given with the range's last entry %d", idx)
				}
				return nil
			}
			if !buffered {
				return fmt.Errorf("a Log that is not a BufferedRangeReader gave a buffer")
			}
			lo := uintptr(unsafe.Pointer(unsafe.SliceData(done)))
			for _, e := range pending {
				if p := uintptr(unsafe.Pointer(unsafe.SliceData(e))); len(e) > 0 && (p < lo || p+uintptr(len(e)) > lo+uintptr(len(done))) {
					return fmt.Errorf("index %d's entry is not in the buffer given with index %d", idx+1-uint64(len(pending)), idx)
				}
			}
			pending = pending[:0]
			dones++
			free = append(free, done)
			return nil
		})
		switch {
		case r[0] > r[1]:
			if err != nil || want != r[0] || dones != 0 {
				t.Fatalf("ReadRangeBuffered(%d, %d) of an empty range: %v after %d entries, %d buffers", r[0], r[1], err, want-r[0], dones)
			}
		case r[1] > m.last():
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("ReadRangeBuffered(%d, %d) past [%d, %d] returned %v, want ErrNotFound", r[0], r[1], m.first, m.last(), err)
			}
		case err != nil || want != r[1]+1:
			t.Fatalf("ReadRangeBuffered(%d, %d) of [%d, %d]: %v after %d entries", r[0], r[1], m.first, m.last(), err, want-r[0])
		}
	}
	for _, r := range ranges {
		want := r[1]
		err := ReadBackward(l, r[0], r[1], func(idx uint64, got []byte) error {
			if idx != want {
				return fmt.Errorf("entry %d after %d", idx, want+1)
			}
			if !bytes.Equal(got, m.entries[idx-m.first]) {
				return fmt.Errorf("index %d holds %x, want %x", idx, got[:min(8, len(got))], m.entries[idx-m.first][:min(8, len(m.entries[idx-m.first]))])
			}
			want--
			return nil
		})
		switch {
		case r[0] > r[1]:
			if err != nil || want != r[1] {
				t.Fatalf("ReadBackward(%d, %d) of an empty range: %v after %d entries", r[0], r[1], err, r[1]-want)
			}
		case r[1] > m.last():
			if !errors.Is(err, ErrNotFound) || want != r[1] {
				t.Fatalf("ReadBackward(%d, %d) past [%d, %d] returned %v after %d entries, want ErrNotFound before any", r[0], r[1], m.first, m.last(), err, r[1]-want)
			}
		case err != nil || want != r[0]-1:
			t.Fatalf("ReadBackward(%d, %d) of [%d, %d]: %v after %d entries", r[0], r[1], m.first, m.last(), err, r[1]-want)
		}
	}
	if m.first > 1 {
		if err := ReadRange(l, m.first-1, m.last(), func(uint64, []byte) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ReadRange from %d before [%d, %d] returned %v, want ErrNotFound", m.first-1, m.first, m.last(), err)
		}
		if err := ReadBackward(l, m.first-1, m.last(), func(uint64, []byte) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ReadBackward from %d before [%d, %d] returned %v, want ErrNotFound", m.first-1, m.first, m.last(), err)
		}
	}
	for _, r := range ranges {
		if r[0] > r[1] || r[1] > m.last() {
			continue
		}
		var want []byte
		for idx := r[0]; idx <= r[1]; idx++ {
			want = binary.AppendUvarint(want, uint64(len(m.entries[idx-m.first])))
			want = append(want, m.entries[idx-m.first]...)
		}
		f, err := os.CreateTemp(t.TempDir(), "copy")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("head")
		err = CopyRange(l, r[0], r[1], f)
		f.Close()
		if err != nil {
			t.Fatalf("CopyRange(%d, %d) of [%d, %d]: %v", r[0], r[1], m.first, m.last(), err)
		}
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if want = append([]byte("head"), want...); !bytes.Equal(got, want) {
			t.Fatalf("CopyRange(%d, %d) of [%d, %d] wrote %d bytes, want %d", r[0], r[1], m.first, m.last(), len(got), len(want))
		}
	}
	if err := CopyRange(l, m.first, m.last()+1, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CopyRange past [%d, %d] returned %v, want ErrNotFound", m.first, m.last(), err)
	}
	if n > 0 {
		stop := errors.New("stop")
		calls := 0
		err := ReadRange(l, m.first, m.last(), func(uint64, []byte) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("ReadRange with fn failing at once returned %v after %d calls, want fn's error after 1", err, calls)
		}
		calls = 0
		err = ReadBackward(l, m.first, m.last(), func(uint64, []byte) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("ReadBackward with fn failing at once returned %v after %d calls, want fn's error after 1", err, calls)
		}
	}
}

// checkCrashed checks what a crash left against the model from before it:
// every durable entry, then a prefix of the others, the last of which may
// be a strict prefix of its bytes. It returns how many unsynced entries
// survived and whether the last one is torn.
func (m *model) checkCrashed(t *testing.T, l Log) (kept int, torn bool) {
	t.Helper()
	first, last := bounds(t, l)
	if first != m.first {
		t.Fatalf("after the crash the log starts at %d, want %d", first, m.first)
	}
	if last < m.synced || last > m.last() {
		t.Fatalf("after the crash the log ends at %d, want between the last synced index %d and the last written %d", last, m.synced, m.last())
	}
	for idx := first; idx <= last; idx++ {
		got, err := l.Read(idx)
		if err != nil {
			t.Fatalf("read index %d after the crash: %v", idx, err)
		}
		want := m.entries[idx-m.first]
		switch {
		case bytes.Equal(got, want):
		case idx == last && idx > m.synced && len(got) < len(want) && bytes.HasPrefix(want, got):
			torn = true
		default:
			t.Fatalf("after the crash index %d (synced up to %d) holds %d bytes %x, want %d bytes %x", idx, m.synced, len(got), got[:min(8, len(got))], len(want), want[:min(8, len(want))])
		}
	}
	return int(last - m.synced), torn
}

func TestLogEmpty(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		l := h.open(t)
		defer l.Close()
		wantBounds(t, l, 1, 0)
		for _, idx := range []uint64{0, 1, 2} {
			if _, err := l.Read(idx); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Read(%d) of an empty log returned %v, want ErrNotFound", idx, err)
			}
		}
		if err := l.TruncateBack(0); err != nil {
			t.Fatalf("TruncateBack(FirstIndex-1) of an empty log: %v", err)
		}
		if err := l.TruncateFront(1); err != nil {
			t.Fatalf("TruncateFront(LastIndex+1) of an empty log: %v", err)
		}
		if err := l.TruncateBack(1); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("TruncateBack(1) of an empty log returned %v, want ErrOutOfRange", err)
		}
		if err := l.TruncateFront(2); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("TruncateFront(2) of an empty log returned %v, want ErrOutOfRange", err)
		}
		if err := l.Sync(); err != nil {
			t.Fatalf("sync an empty log: %v", err)
		}
		wantBounds(t, l, 1, 0)
	})
}

func TestLogWriteRead(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		rng := rand.New(rand.NewPCG(1, 2))
		l := h.open(t)
		defer l.Close()
		m := newModel()
		for range 40 {
			m.write(t, l, rng, 1+rng.IntN(6))
			if rng.IntN(2) == 0 {
				m.sync(t, l)
			}
		}
		m.check(t, l)
		last := m.last()
		for _, first := range []uint64{0, 1, last, last + 2} {
			if err := l.Write(first, [][]byte{{1, 2, 3}}); !errors.Is(err, ErrOutOfOrder) {
				t.Fatalf("Write at %d after %d returned %v, want ErrOutOfOrder", first, last, err)
			}
		}
		m.check(t, l)
	})
}

// TestLogReadStaysValid checks that a slice Read returned is not changed
// by later writes and truncations.
func TestLogReadStaysValid(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		rng := rand.New(rand.NewPCG(3, 4))
		l := h.open(t)
		defer l.Close()
		m := newModel()
		m.write(t, l, rng, 30)
		m.sync(t, l)
		type held struct{ got, want []byte }
		var hs []held
		for idx := uint64(1); idx <= 30; idx += 3 {
			got, err := l.Read(idx)
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, held{got, bytes.Clone(got)})
		}
		m.truncateBack(t, l, 20)
		m.write(t, l, rng, 30)
		m.sync(t, l)
		m.truncateFront(t, l, 10)
		m.write(t, l, rng, 5)
		for i, x := range hs {
			if !bytes.Equal(x.got, x.want) {
				t.Fatalf("slice %d read before was changed by later writes and truncations", i)
			}
		}
		m.check(t, l)
	})
}

func TestLogTruncateBack(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		rng := rand.New(rand.NewPCG(5, 6))
		l := h.open(t)
		defer l.Close()
		m := newModel()
		m.write(t, l, rng, 50)
		m.sync(t, l)
		m.truncateFront(t, l, 5)
		for _, idx := range []uint64{3, m.last() + 1} {
			if err := l.TruncateBack(idx); !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("TruncateBack(%d) of [%d, %d] returned %v, want ErrOutOfRange", idx, m.first, m.last(), err)
			}
		}
		m.check(t, l)
		m.truncateBack(t, l, m.last()) // nothing
		m.check(t, l)
		for range 10 {
			m.truncateBack(t, l, m.first+uint64(rng.IntN(len(m.entries))))
			m.check(t, l)
			m.write(t, l, rng, 1+rng.IntN(8))
			if rng.IntN(2) == 0 {
				m.sync(t, l)
			}
			m.check(t, l)
		}
		m.truncateBack(t, l, m.first-1) // everything
		m.check(t, l)
		m.write(t, l, rng, 3)
		m.sync(t, l)
		m.check(t, l)
	})
}

func TestLogTruncateFront(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		rng := rand.New(rand.NewPCG(7, 8))
		l := h.open(t)
		defer l.Close()
		m := newModel()
		m.write(t, l, rng, 50)
		m.sync(t, l)
		m.truncateFront(t, l, m.first) // nothing
		m.check(t, l)
		for range 8 {
			m.truncateFront(t, l, m.first+uint64(rng.IntN(len(m.entries)/2+1)))
			m.check(t, l)
			m.write(t, l, rng, 1+rng.IntN(8))
			m.sync(t, l)
		}
		for _, idx := range []uint64{m.first - 1, m.last() + 2} {
			if err := l.TruncateFront(idx); !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("TruncateFront(%d) of [%d, %d] returned %v, want ErrOutOfRange", idx, m.first, m.last(), err)
			}
		}
		m.truncateFront(t, l, m.last()+1) // everything
		m.check(t, l)
		m.write(t, l, rng, 3)
		m.check(t, l)
	})
}

// TestLogReopen checks that Close keeps everything written, synced or not,
// with both ends, and that a closed log refuses every call.
func TestLogReopen(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		rng := rand.New(rand.NewPCG(9, 10))
		l := h.open(t)
		m := newModel()
		m.write(t, l, rng, 40)
		m.sync(t, l)
		m.truncateFront(t, l, 7)
		m.truncateBack(t, l, 30)
		m.write(t, l, rng, 9) // not synced: Close makes it durable
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		for name, op := range map[string]func() error{
			"FirstIndex":    func() error { _, err := l.FirstIndex(); return err },
			"LastIndex":     func() error { _, err := l.LastIndex(); return err },
			"Read":          func() error { _, err := l.Read(10); return err },
			"Write":         func() error { return l.Write(m.last()+1, [][]byte{{1}}) },
			"Sync":          l.Sync,
			"TruncateBack":  func() error { return l.TruncateBack(20) },
			"TruncateFront": func() error { return l.TruncateFront(8) },
			"Close":         l.Close,
		} {
			if err := op(); !errors.Is(err, ErrClosed) {
				t.Fatalf("%s after Close returned %v, want ErrClosed", name, err)
			}
		}
		l = h.reopen(t)
		defer l.Close()
		m.check(t, l)
		m.write(t, l, rng, 5)
		m.sync(t, l)
		m.check(t, l)
	})
}

// TestLogCrash runs random writes, syncs and truncations, crashes, and
// checks what survives: every synced entry and the ends truncations left,
// then a prefix of the unsynced entries whose last may be torn. Over the
// seeds, some crashes must lose unsynced entries and some keep them.
func TestLogCrash(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		var lost, keptSome, torn int
		for seed := range uint64(60) {
			rng := rand.New(rand.NewPCG(seed, 11))
			l := h.open(t)
			m := newModel()
			for range 3 + rng.IntN(25) {
				switch op := rng.IntN(10); {
				case op < 6:
					m.write(t, l, rng, 1+rng.IntN(5))
				case op < 8:
					m.sync(t, l)
				case op == 8 && len(m.entries) > 0:
					m.truncateBack(t, l, m.first+uint64(rng.IntN(len(m.entries))))
				case op == 9 && len(m.entries) > 0:
					m.truncateFront(t, l, m.first+uint64(rng.IntN(len(m.entries))))
				}
			}
			m.write(t, l, rng, 1+rng.IntN(5)) // something unsynced at the crash
			after := h.crash(t, rng)
			l.Close()
			kept, isTorn := m.checkCrashed(t, after)
			if kept < int(m.last()-m.synced) || isTorn {
				lost++
			}
			if kept > 0 {
				keptSome++
			}
			if isTorn || h.repairedAtOpen() {
				torn++
			}
			// The crashed log works on: writes continue after what survived.
			_, last := bounds(t, after)
			if err := after.Write(last+1, [][]byte{{7, 7}}); err != nil {
				t.Fatalf("seed %d: write after the crash: %v", seed, err)
			}
			if err := after.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if lost == 0 || keptSome == 0 || torn == 0 {
			t.Fatalf("over 60 crashes: %d lost unsynced entries, %d kept some, %d left a torn entry; want each at least once", lost, keptSome, torn)
		}
	})
}

// TestLogConcurrentReads reads while another goroutine writes and syncs
// (run with -race).
func TestLogConcurrentReads(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		l := h.open(t)
		defer l.Close()
		const batches = 200
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range uint64(batches) {
				e := AppendFrame(nil, []byte(fmt.Sprintf("entry %d", i+1)))
				if err := l.Write(i+1, [][]byte{e}); err != nil {
					errs <- err
					return
				}
				if err := l.Sync(); err != nil {
					errs <- err
					return
				}
			}
		}()
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 12))
				for range 500 {
					last, err := l.LastIndex()
					if err != nil {
						errs <- err
						return
					}
					if last == 0 {
						continue
					}
					idx := 1 + rng.Uint64N(last)
					got, err := l.Read(idx)
					if err != nil {
						errs <- fmt.Errorf("read %d of %d: %w", idx, last, err)
						return
					}
					if want := AppendFrame(nil, []byte(fmt.Sprintf("entry %d", idx))); !bytes.Equal(got, want) {
						errs <- fmt.Errorf("index %d holds %q, want %q", idx, got, want)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// Journal-level tests over every Log.

func journalFrame(rng *rand.Rand, pos uint64) []byte { return entry(rng, pos) }

// TestJournalCrashOnLog appends and acknowledges (Flush) some frames, then
// writes more that a failed fsync leaves unsynced, crashes, and opens the
// journal on what survived: every acknowledged frame is there, unchanged;
// a torn tail is cut off and reported; appends continue after it.
func TestJournalCrashOnLog(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		t.Cleanup(failpoint.Reset)
		var repaired, lost int
		for seed := range uint64(40) {
			rng := rand.New(rand.NewPCG(seed, 13))
			failpoint.Reset()
			j, err := OpenLog(h.open(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var frames [][]byte
			var fe *FatalError
			// appendAll appends n frames, or fewer if the journal stops.
			appendAll := func(n int) {
				for range n {
					f := journalFrame(rng, j.Next())
					if err := j.Append(j.Next(), f); errors.As(err, &fe) {
						return
					} else if err != nil {
						t.Fatalf("seed %d: append: %v", seed, err)
					}
					frames = append(frames, f)
				}
			}
			appendAll(1 + rng.IntN(20))
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
			acked := j.Durable()
			// The writer writes what it takes, then fails its fsync.
			failpoint.Set("journal-before-sync", "error", 1)
			appendAll(1 + rng.IntN(5))
			if err := j.Flush(); !errors.As(err, &fe) {
				t.Fatalf("seed %d: Flush with a failing fsync returned %v, want a *FatalError", seed, err)
			}
			failpoint.Reset()
			if j.Durable() != acked {
				t.Fatalf("seed %d: Durable() = %d after a failed fsync, want %d", seed, j.Durable(), acked)
			}
			after := h.crash(t, rng)
			j.Close()

			j, err = OpenLog(after, Options{})
			if err != nil {
				t.Fatalf("seed %d: open after the crash: %v", seed, err)
			}
			if j.Durable() < acked {
				t.Fatalf("seed %d: after the crash the journal ends at %d, but %d was acknowledged", seed, j.Durable(), acked)
			}
			for pos := uint64(1); pos <= j.Durable(); pos++ {
				got, err := j.Read(pos)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, frames[pos-1]) {
					t.Fatalf("seed %d: position %d changed in the crash", seed, pos)
				}
			}
			if j.Repair != nil {
				repaired++
				if j.Repair.Pos != j.Next() || j.Repair.Pos <= acked {
					t.Fatalf("seed %d: Repair at position %d, journal continues at %d, %d acknowledged", seed, j.Repair.Pos, j.Next(), acked)
				}
			}
			if j.Durable() < uint64(len(frames)) {
				lost++
			}
			f := journalFrame(rng, j.Next())
			if err := j.Append(j.Next(), f); err != nil {
				t.Fatal(err)
			}
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
			if got, err := j.Read(j.Durable()); err != nil || !bytes.Equal(got, f) {
				t.Fatalf("seed %d: append after the crash: %v", seed, err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if repaired == 0 || lost == 0 {
			t.Fatalf("over 40 crashes %d repaired a torn tail and %d lost unacknowledged frames; want each at least once", repaired, lost)
		}
	})
}

// TestJournalTruncateOnLog checks TruncateAfter and TruncateBefore through
// a Journal, and that both ends survive a reopen.
func TestJournalTruncateOnLog(t *testing.T) {
	forEachLog(t, func(t *testing.T, h logHarness) {
		rng := rand.New(rand.NewPCG(14, 15))
		j, err := OpenLog(h.open(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var frames [][]byte
		for pos := uint64(1); pos <= 30; pos++ {
			frames = append(frames, journalFrame(rng, pos))
			if err := j.Append(pos, frames[pos-1]); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := j.TruncateBefore(31); err == nil {
			t.Fatalf("TruncateBefore past the durable end succeeded")
		}
		if err := j.TruncateBefore(11); err != nil {
			t.Fatal(err)
		}
		if err := j.TruncateAfter(5); err == nil {
			t.Fatalf("TruncateAfter below the journal's start succeeded")
		}
		if err := j.TruncateAfter(20); err != nil {
			t.Fatal(err)
		}
		if j.First() != 11 || j.Next() != 21 || j.Durable() != 20 {
			t.Fatalf("after truncating both ends First, Next, Durable = %d, %d, %d; want 11, 21, 20", j.First(), j.Next(), j.Durable())
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		j, err = OpenLog(h.reopen(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if j.First() != 11 || j.Next() != 21 {
			t.Fatalf("reopened: First, Next = %d, %d; want 11, 21", j.First(), j.Next())
		}
		for pos := uint64(11); pos <= 20; pos++ {
			got, err := j.Read(pos)
			if err != nil || !bytes.Equal(got, frames[pos-1]) {
				t.Fatalf("position %d after reopening: %v", pos, err)
			}
		}
		if _, err := j.Read(10); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Read(10) below the journal's start returned %v, want ErrNotFound", err)
		}
	})
}

// TestOpenLogRefusesDamage checks that OpenLog refuses, rather than cuts,
// a last entry of another format version and an entry before a torn one
// that does not check either.
func TestOpenLogRefusesDamage(t *testing.T) {
	good := AppendFrame(nil, []byte("payload"))
	otherVersion := bytes.Clone(good)
	otherVersion[0] = FrameVersion + 1
	for name, entries := range map[string][][]byte{
		"other-version-last":   {good, otherVersion},
		"two-bad-entries-last": {good, good[:3], good[:4]},
	} {
		t.Run(name, func(t *testing.T) {
			l := NewMemLog()
			if err := l.Write(1, entries); err != nil {
				t.Fatal(err)
			}
			_, err := OpenLog(l, Options{})
			var de *DamageError
			if !errors.As(err, &de) {
				t.Fatalf("OpenLog returned %v, want a *DamageError", err)
			}
			if !bytes.Contains([]byte(de.Error()), []byte(fmt.Sprintf("position %d", de.Pos))) {
				t.Fatalf("DamageError %q does not name its position", de)
			}
			if _, err := l.LastIndex(); !errors.Is(err, ErrClosed) {
				t.Fatalf("OpenLog did not close the log it refused")
			}
		})
	}
}
