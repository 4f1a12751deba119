package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/store"
)

// seedFile collects the peer's checkpoint in a file of the instance
// directory while it arrives, and decodes it from there streaming: a large
// state is in memory once (the store it fills), not twice. A crash leaves
// the file behind as a *.tmp, which Open removes.
type seedFile struct {
	f    *os.File
	path string
	n    int64
	err  error // the first write error: the checkpoint is refused at Done
}

// seedFileName is the file's name in the instance directory.
const seedFileName = "seed-from-peer.tmp"

func (s *seedFile) write(dir string, chunk []byte) {
	if s.err != nil {
		return
	}
	if s.f == nil {
		s.path = filepath.Join(dir, seedFileName)
		s.f, s.err = os.Create(s.path)
		if s.err != nil {
			return
		}
	}
	var n int
	n, s.err = s.f.Write(chunk)
	s.n += int64(n)
}

// decode decodes the complete checkpoint, received from peer.
func (s *seedFile) decode(peer string) (checkpoint.Meta, *store.Store, error) {
	if s.err != nil {
		return checkpoint.Meta{}, nil, fmt.Errorf("save the checkpoint %s sent in %s: %w", peer, s.path, s.err)
	}
	if s.f == nil {
		return checkpoint.Meta{}, nil, fmt.Errorf("the checkpoint %s sent is empty", peer)
	}
	if err := s.f.Close(); err != nil {
		return checkpoint.Meta{}, nil, fmt.Errorf("save the checkpoint %s sent in %s: %w", peer, s.path, err)
	}
	s.f = nil
	meta, st, err := checkpoint.DecodeFile(s.path)
	if err != nil {
		return meta, nil, fmt.Errorf("the checkpoint %s sent: %w", peer, err)
	}
	return meta, st, nil
}

// drop forgets the checkpoint received so far and removes its file.
func (s *seedFile) drop() {
	if s.f != nil {
		s.f.Close()
	}
	if s.path != "" {
		os.Remove(s.path)
	}
	*s = seedFile{}
}
