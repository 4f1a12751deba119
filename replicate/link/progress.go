package link

import (
	"io"
	"sync/atomic"
)

// Progress is implemented by connections that can say whether a frame is
// crossing them now and how many bytes they have moved. A frame of tens of
// MiB takes longer to cross than the heartbeats that prove the peer alive;
// a driver that sees its bytes moving does not count that time as the
// peer's silence.
type Progress interface {
	// Transferring reports whether a frame is being sent or received now,
	// and the bytes moved so far in both directions.
	Transferring() (busy bool, moved uint64)
}

var _ Progress = (*tcpConn)(nil)

// writeChunk is the most a frame's write hands the network at once, so
// that its progress shows while it crosses.
const writeChunk = 256 << 10

// progress counts what a tcpConn moves.
type progress struct {
	busy  atomic.Int32  // frames being sent or received
	moved atomic.Uint64 // bytes read and written
}

func (p *progress) Transferring() (bool, uint64) { return p.busy.Load() > 0, p.moved.Load() }

// write writes b in chunks of writeChunk, counting them.
func (c *tcpConn) write(b []byte) error {
	if len(b) > writeChunk {
		c.busy.Add(1)
		defer c.busy.Add(-1)
	}
	for len(b) > 0 {
		n, err := c.nc.Write(b[:min(len(b), writeChunk)])
		c.moved.Add(uint64(n))
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Uint64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(uint64(n))
	return n, err
}
