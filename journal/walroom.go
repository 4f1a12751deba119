package journal

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/tidwall/wal"
)

// tidwall/wal keeps the entries of the tail segment in one in-memory buffer
// (segment.ebuf), beside their positions (segment.epos), and grows both by
// append: Go grows a large slice by a quarter at a time, so a 4 MiB
// segment is allocated about five times over (20 MiB), each copy into
// fresh pages, a page fault for every 4 KiB of them. That was 19% of the
// CPU of `liege bench replicate --callers 256` (growslice under
// appendBinaryEntry) and half the bytes allocated per committed
// transaction of `liege bench commit` (3,162 of them; 1,601 once the
// buffers have room). wal has no option to size them, so walLog gives
// the tail's buffers room for a whole segment itself (reserveTail), once
// the tail holds roomFrom bytes: through the layout of wal's unexported
// structs, found by name and type with reflect at the first use and
// checked (tailLayout). If wal's layout is not the one expected (a new
// version), walLog leaves the buffers alone: it works as before, only
// slower, and TestWALTailLayout fails, so an upgrade is noticed.
//
// Why this is safe with wal's own code: wal only ever appends to the
// tail's buffers (writeBatch) or replaces them whole (a cycle creates a
// new segment; the truncations reload the segment from its file), all
// under walLog.mu, which reserveTail holds too; and its readers (Read,
// under walLog.readMu, which reserveTail takes while it swaps the
// buffers) only read them. The entries already handed out by Read point
// into the old buffer, which stays as it was (the entries are
// immutable).

// roomFrom is how much of a segment the tail must hold before its buffers
// get room for the whole segment: small journals (tests, tools) never pay
// for a segment's worth of memory, and the appends up to it are cheap.
const roomFrom = 64 << 10

// roomSlack is the room past the segment size: wal cycles once the tail
// reaches the segment size, so its last entry ends past it by up to that
// entry's size. A larger entry grows the buffer once, as before.
const roomSlack = 16 << 10

// tailLayout is where the tail segment's buffers are in a wal.Log.
type tailLayout struct {
	segments uintptr      // offset of Log.segments ([]*segment)
	ebuf     uintptr      // offset of segment.ebuf ([]byte)
	epos     uintptr      // offset of segment.epos ([]bpos)
	eposType reflect.Type // []bpos
	err      error        // the layout is not the expected one: why
}

var walTail = sync.OnceValue(findTailLayout)

// findTailLayout finds the fields reserveTail uses in wal's structs and
// checks their types: Log.segments a slice of pointers to structs, the
// struct's ebuf a []byte, its epos a slice of two-int structs.
func findTailLayout() *tailLayout {
	fail := func(format string, args ...any) *tailLayout {
		return &tailLayout{err: fmt.Errorf("tidwall/wal's layout is not the one journal knows (v1.2.1): "+format, args...)}
	}
	logT := reflect.TypeFor[wal.Log]()
	segs, ok := logT.FieldByName("segments")
	if !ok || segs.Type.Kind() != reflect.Slice || segs.Type.Elem().Kind() != reflect.Pointer ||
		segs.Type.Elem().Elem().Kind() != reflect.Struct {
		return fail("no field segments of type []*segment in wal.Log")
	}
	segT := segs.Type.Elem().Elem()
	ebuf, ok := segT.FieldByName("ebuf")
	if !ok || ebuf.Type != reflect.TypeFor[[]byte]() {
		return fail("no field ebuf of type []byte in wal's %s", segT.Name())
	}
	epos, ok := segT.FieldByName("epos")
	if !ok || epos.Type.Kind() != reflect.Slice || epos.Type.Elem().Kind() != reflect.Struct ||
		epos.Type.Elem().NumField() != 2 || epos.Type.Elem().Field(0).Type.Kind() != reflect.Int ||
		epos.Type.Elem().Field(1).Type.Kind() != reflect.Int {
		return fail("no field epos of type []struct{pos, end int} in wal's %s", segT.Name())
	}
	return &tailLayout{segments: segs.Offset, ebuf: ebuf.Offset, epos: epos.Offset, eposType: epos.Type}
}

// tail returns pointers to the tail segment's ebuf and epos in log, or
// nils when the log has no segment. The caller holds walLog.mu.
func (lay *tailLayout) tail(log *wal.Log) (ebuf *[]byte, epos unsafe.Pointer) {
	// A []*segment has the layout of a []unsafe.Pointer.
	segs := *(*[]unsafe.Pointer)(unsafe.Add(unsafe.Pointer(log), lay.segments))
	if len(segs) == 0 {
		return nil, nil
	}
	s := segs[len(segs)-1]
	return (*[]byte)(unsafe.Add(s, lay.ebuf)), unsafe.Add(s, lay.epos)
}

// reserveTail gives the tail segment's buffers room for the rest of the
// segment, when they have not the room yet and the tail either holds
// roomFrom bytes (or an eighth of a segment smaller than eight times
// that), or is a segment wal has just started, empty, with the rest of a
// batch to come (Write): then entrySize, the batch's mean, sizes the
// positions, else the entries seen so far do. Only a journal that has
// filled a segment pays for an empty one's room. The caller holds l.mu.
// It reports whether it did.
func (l *walLog) reserveTail(entrySize int) bool {
	lay := walTail()
	if lay.err != nil {
		return false
	}
	ebuf, eposp := lay.tail(l.log)
	if ebuf == nil {
		return false
	}
	n, want := len(*ebuf), l.segMax+roomSlack
	if n >= l.segMax || cap(*ebuf) >= want {
		return false
	}
	epos := reflect.NewAt(lay.eposType, eposp).Elem()
	entries := epos.Len()
	switch {
	case n == 0 && entries == 0 && entrySize > 0:
	case n >= min(roomFrom, l.segMax/8) && entries > 0:
		entrySize = n / entries
	default:
		return false
	}
	// As many positions as entries of that size fill the segment, and an
	// eighth more.
	wantPos := entries + (want-n)/max(1, entrySize)*9/8
	nb := make([]byte, n, want)
	copy(nb, *ebuf)
	np := reflect.MakeSlice(lay.eposType, entries, max(wantPos, epos.Cap()))
	reflect.Copy(np, epos)
	l.readMu.Lock()
	*ebuf = nb
	epos.Set(np)
	l.readMu.Unlock()
	return true
}
