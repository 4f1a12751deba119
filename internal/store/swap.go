package store

import (
	"unsafe"

	"github.com/liege-db/liege/journal"
)

// Swap is Set that returns what key held before (the value must not be
// modified; ok is false if key was absent): one search of the tree where a
// Get for the before-image and a Set take two.
func (s *Store) Swap(key, val []byte, ver journal.Version) (prev []byte, prevVer journal.Version, ok bool) {
	buf := joinKV(key, val)
	it := item{kv: unsafe.String(unsafe.SliceData(buf), len(buf)), klen: uint32(len(key)), origin: s.origins.id(ver.Origin), hlc: ver.HLC}
	old, replaced := s.tr.Set(it)
	s.bytes += int64(len(buf))
	if !replaced {
		return nil, journal.Version{}, false
	}
	s.bytes -= int64(len(old.kv))
	return s.view(&old)
}

// Take is Delete that returns what key held before (the value must not be
// modified; ok is false if key was absent): one search of the tree where a
// Get for the before-image and a Delete take two.
func (s *Store) Take(key []byte) (prev []byte, prevVer journal.Version, ok bool) {
	old, ok := s.tr.Delete(probe(key))
	if !ok {
		return nil, journal.Version{}, false
	}
	s.bytes -= int64(len(old.kv))
	return s.view(&old)
}
