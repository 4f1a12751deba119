package store

import "github.com/liege-db/liege/journal"

// Swap is Set that returns what key held before (the value must not be
// modified; ok is false if key was absent): one search of the tree where a
// Get for the before-image and a Set take two.
func (s *Store) Swap(key, val []byte, ver journal.Version) (prev []byte, prevVer journal.Version, ok bool) {
	return s.SwapHint(key, val, ver, nil)
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
