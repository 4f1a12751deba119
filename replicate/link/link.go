package link

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Conn is one connection between two instances. Every implementation
// (TCP, in-memory) behaves as written here; conformance_test.go holds them
// to it.
//
// Frames: what Send writes, the peer's Recv returns, in order, each once,
// unless the connection breaks first (frames in flight are then lost) or
// faults are injected on purpose (in-memory link only). Every frame is
// encoded and decoded, so both implementations refuse the same frames.
// The first frame each side sends must be a Hello; the first frame Recv
// returns is the peer's Hello.
//
// Identity: PeerID is the peer's instance id. With TLS it comes from the
// peer's verified certificate and is known before any frame; otherwise it
// is what the peer's Hello says, and "" until Recv has returned that Hello.
// Recv refuses a frame whose From is not the PeerID.
//
// Cancellation: when ctx ends before Send or Recv completes (also when it
// has already ended at the call), the call returns an error wrapping
// ctx.Err() and the connection is closed: a frame may have been half
// written or half read.
//
// Errors from Recv, after which the connection is unusable:
//   - io.EOF: the peer closed the connection in order, after every frame it
//     sent before closing was returned. The caller closes its side.
//   - *FrameError: the peer sent a frame over the size limit, one that does
//     not decode, or one that breaks the rules above. The reason is logged
//     and the connection is closed.
//   - an error wrapping net.ErrClosed: Close was called (or an earlier
//     error closed the connection).
//   - an error wrapping ctx.Err(): see Cancellation.
//   - anything else: the connection broke (a reset, a cut; for the
//     in-memory link, an error wrapping ErrBroken).
//
// Send returns nil once the frame is handed to the network (not once the
// peer has it); an error wrapping ErrFrameTooLarge, leaving the connection
// usable, for a frame whose body is over the limit; an error for a frame
// Decode would refuse; and otherwise an error as Recv does, except that a
// peer's close shows as a broken connection, possibly only after a few
// more Sends have succeeded.
//
// Concurrency: one goroutine may Send while another Recvs. Close, PeerID
// and RemoteAddr may be called from any goroutine.
type Conn interface {
	// Send writes one frame. It blocks while the peer is not reading and
	// the buffers between them are full.
	Send(ctx context.Context, f *Frame) error
	// Recv returns the next frame.
	Recv(ctx context.Context) (*Frame, error)
	// Close closes the connection and unblocks Send and Recv, which then
	// return errors wrapping net.ErrClosed. Only the first call does
	// anything; later calls return nil.
	Close() error
	// PeerID returns the peer's instance id, "" while it is not known.
	PeerID() string
	// RemoteAddr returns the peer's network address, for logs.
	RemoteAddr() string
}

// BatchSender is implemented by a Conn that writes several frames with
// fewer system calls than one Send each. SendBatch is Send for each frame
// in order: on an error the frames before the one that failed may have
// been handed to the network, and the connection is unusable as after a
// failed Send.
type BatchSender interface {
	SendBatch(ctx context.Context, frames []*Frame) error
}

// BufferedRecv is implemented by a Conn that can tell whether its next
// Recv returns at once, from bytes already received: a reader then takes
// the run of frames that arrived together and hands them on as one.
type BufferedRecv interface {
	// Buffered reports whether the whole next frame is received: Recv
	// returns it (or refuses it) without waiting on the network. Only the
	// goroutine that calls Recv may call it.
	Buffered() bool
}

// Dialer opens connections to one peer.
type Dialer interface {
	// Dial connects (and, with TLS, completes the handshake, verifying the
	// peer's certificate). No frame has been exchanged yet.
	Dial(ctx context.Context) (Conn, error)
}

// Listener accepts connections from peers.
type Listener interface {
	// Accept returns the next connection that completed its handshake.
	// Connections refused during the handshake are logged, not returned.
	// After Close it returns an error wrapping net.ErrClosed; when ctx ends,
	// ctx.Err() (the listener stays open).
	Accept(ctx context.Context) (Conn, error)
	// Close stops listening and closes connections not yet accepted.
	// Connections already accepted stay open.
	Close() error
	// Addr returns the address peers dial.
	Addr() string
}

// Errors of the link.
var (
	// ErrFrameTooLarge is wrapped by a FrameError (received) or the error
	// Send returns (sent) for a frame body over the size limit.
	ErrFrameTooLarge = errors.New("frame over the size limit")
	// ErrPeerIdentity is returned when a peer is not who it must be: its
	// certificate does not name the expected instance, or its frames name
	// another sender than its certificate or its Hello.
	ErrPeerIdentity = errors.New("peer identity mismatch")
	// ErrBroken is wrapped by the in-memory link's errors once the
	// connection is cut, or for a Send after the peer closed.
	ErrBroken = errors.New("link broken")
)

// FrameError is Recv's error for a frame the link refused. The connection
// is closed after it.
type FrameError struct {
	// Peer is the peer's instance id, or its address when not yet known.
	Peer string
	// Size is the body length the frame's header claimed.
	Size int64
	// Limit is the largest body the connection accepts (MaxFrame).
	Limit int
	// Err is ErrFrameTooLarge, or why the frame was refused.
	Err error
}

func (e *FrameError) Error() string {
	if errors.Is(e.Err, ErrFrameTooLarge) {
		return fmt.Sprintf("frame from %s: %d bytes is over the limit of %d bytes (MaxFrame)", e.Peer, e.Size, e.Limit)
	}
	return fmt.Sprintf("frame of %d bytes from %s refused: %v", e.Size, e.Peer, e.Err)
}

func (e *FrameError) Unwrap() error { return e.Err }

// endpoint is what both implementations share: framing, the size limit,
// and the peer's identity.
type endpoint struct {
	maxFrame int
	log      *slog.Logger
	remote   string
	// expect is the instance id the peer must have, "" for any.
	expect string

	peerMu sync.Mutex
	peer   string // guarded by peerMu

	// Used by the sending goroutine only.
	sendCodec *frameCodec
	wire      []byte
	sentHello bool

	// Used by the receiving goroutine only.
	recvCodec *frameCodec
	gotHello  bool
	frames    []Frame // the next frames accept decodes into (frameSlab)
}

// frameSlab is how many frames accept allocates at once: a Frame is 216
// bytes with pointers, one per received frame, most of them a stream's
// Txn frames the receiver drops once applied. A slab lives while any of
// its frames does, and each keeps its decoded bytes: only bodies up to
// frameSlabMax bytes take a slot, so that a slab keeps at most a few
// hundred KiB alive past their use.
const (
	frameSlab    = 32
	frameSlabMax = 8 << 10
)

// init sets up e; peer is the id from the peer's certificate, if any.
func (e *endpoint) init(maxFrame int, log *slog.Logger, remote, expect, peer string) {
	e.maxFrame, e.log, e.remote, e.expect, e.peer = maxFrame, log, remote, expect, peer
	e.sendCodec, e.recvCodec = newFrameCodec(), newFrameCodec()
}

// PeerID returns the peer's instance id, "" while it is not known.
func (e *endpoint) PeerID() string {
	e.peerMu.Lock()
	defer e.peerMu.Unlock()
	return e.peer
}

// RemoteAddr returns the peer's address.
func (e *endpoint) RemoteAddr() string { return e.remote }

// frame returns f's wire form in a buffer reused by the next call.
func (e *endpoint) frame(f *Frame) ([]byte, error) {
	b, err := e.appendWire(e.wire[:0], f)
	if err != nil {
		return nil, err
	}
	if cap(b) <= 1<<20 { // do not keep a large frame's buffer alive
		e.wire = b
	}
	return b, nil
}

// appendWire appends f's wire form to dst; on an error dst is returned
// as it was.
func (e *endpoint) appendWire(dst []byte, f *Frame) ([]byte, error) {
	if !e.sentHello && f.Kind != KindHello {
		return dst, fmt.Errorf("send %v frame: the first frame on a connection must be a hello", f.Kind)
	}
	start := len(dst)
	b, err := e.sendCodec.appendFrame(dst, f)
	if err != nil {
		return dst, fmt.Errorf("send: %w", err)
	}
	if n := len(b) - start - headerLen; n > e.maxFrame {
		return b[:start], fmt.Errorf("send %v frame: %d bytes is over the limit of %d bytes (MaxFrame): %w",
			f.Kind, n, e.maxFrame, ErrFrameTooLarge)
	}
	e.sentHello = true
	return b, nil
}

// bodyLen reads a frame header and refuses a length over the limit, before
// anything is allocated for the body.
func (e *endpoint) bodyLen(hdr []byte) (int, *FrameError) {
	n := binary.BigEndian.Uint32(hdr)
	if int64(n) > int64(e.maxFrame) {
		return 0, e.frameError(int64(n), ErrFrameTooLarge)
	}
	return int(n), nil
}

// accept decodes a frame body and checks it against the rules of Conn.
// With owned, the frame may keep slices of body, which the caller then
// never writes again.
func (e *endpoint) accept(body []byte, owned bool) (*Frame, *FrameError) {
	var f *Frame
	if len(body) <= frameSlabMax {
		if len(e.frames) == 0 {
			e.frames = make([]Frame, frameSlab)
		}
		f, e.frames = &e.frames[0], e.frames[1:]
	} else {
		f = new(Frame)
	}
	if err := e.recvCodec.decode(body, f, owned); err != nil {
		return nil, e.frameError(int64(len(body)), err)
	}
	if !e.gotHello && f.Kind != KindHello {
		return nil, e.frameError(int64(len(body)), fmt.Errorf("the first frame is a %v, not a hello", f.Kind))
	}
	e.peerMu.Lock()
	defer e.peerMu.Unlock()
	switch {
	case e.peer != "" && f.From != e.peer:
		return nil, e.frameErrorLocked(int64(len(body)), fmt.Errorf("%w: %v frame from %q on the link to %q",
			ErrPeerIdentity, f.Kind, f.From, e.peer))
	case e.expect != "" && f.From != e.expect:
		return nil, e.frameErrorLocked(int64(len(body)), fmt.Errorf("%w: hello from %q, but the peer was expected to be %q (ExpectPeerID)",
			ErrPeerIdentity, f.From, e.expect))
	}
	e.peer = f.From
	e.gotHello = true
	return f, nil
}

func (e *endpoint) frameError(size int64, err error) *FrameError {
	e.peerMu.Lock()
	defer e.peerMu.Unlock()
	return e.frameErrorLocked(size, err)
}

func (e *endpoint) frameErrorLocked(size int64, err error) *FrameError {
	peer := e.peer
	if peer == "" {
		peer = e.remote
	}
	return &FrameError{Peer: peer, Size: size, Limit: e.maxFrame, Err: err}
}

// logRefused logs why a connection is being closed over a frame.
func (e *endpoint) logRefused(fe *FrameError) {
	e.log.Warn("link: closing the connection over a refused frame",
		"remote", e.remote, "peer", fe.Peer, "err", fe)
}
