package store

import (
	"unsafe"

	"github.com/liege-db/liege/journal"
	"github.com/tidwall/btree"
)

// Hint remembers the path of a search of the tree, so that the next search
// of the same key, or a near one, compares a couple of items per node
// instead of binary-searching each: a transaction that reads a key and then
// writes it (the common read-modify-write) descends the tree once in full.
// A Hint is only a guess: a stale or foreign one costs a few comparisons,
// never a wrong answer. The zero Hint is empty.
type Hint = btree.PathHint

// GetHint is Get that starts from h and leaves in it the path to key.
func (s *Store) GetHint(key []byte, h *Hint) (val []byte, ver journal.Version, ok bool) {
	it, ok := s.tr.GetHint(probe(key), h)
	if !ok {
		return nil, journal.Version{}, false
	}
	return s.view(&it)
}

// SwapHint is Swap that starts from h (and updates it).
func (s *Store) SwapHint(key, val []byte, ver journal.Version, h *Hint) (prev []byte, prevVer journal.Version, ok bool) {
	buf := joinKV(key, val)
	it := item{kv: unsafe.String(unsafe.SliceData(buf), len(buf)), klen: uint32(len(key)), origin: s.originID(ver.Origin), hlc: ver.HLC}
	old, replaced := s.tr.SetHint(it, h)
	s.bytes += int64(len(buf))
	if !replaced {
		return nil, journal.Version{}, false
	}
	s.bytes -= int64(len(old.kv))
	return s.view(&old)
}
