package link

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures the TCP link.
type Config struct {
	// MaxFrame is the largest frame body sent or accepted, in bytes
	// (DefaultMaxFrame if 0).
	MaxFrame int
	// TLS holds the certificates and the CA for mutual TLS (see TLSConfig).
	// Both sides must present a certificate from the CA; TLS 1.3 at least.
	TLS *tls.Config
	// Plaintext asks for a link without TLS. It must be set explicitly when
	// TLS is nil, so that a missing flag does not silently mean plaintext.
	Plaintext bool
	// ExpectPeerID, if set, is the instance id the peer must have: its
	// certificate's common name or one of its DNS names (TLS), and the
	// sender of its Hello.
	ExpectPeerID string
	// HandshakeTimeout bounds the TLS handshake (10 s if 0).
	HandshakeTimeout time.Duration
	// Logger receives refused connections and frames (slog.Default() if
	// nil).
	Logger *slog.Logger
}

// ErrPlaintext is returned by ListenTCP and DialTCP for a Config with
// neither TLS nor Plaintext.
var ErrPlaintext = errors.New("refusing a plaintext link: pass TLS settings or ask for plaintext")

// resolve checks c and fills in defaults; the TLS settings returned are
// those of the given side.
func (c Config) resolve(server bool) (Config, error) {
	switch {
	case c.TLS == nil && !c.Plaintext:
		return c, ErrPlaintext
	case c.TLS != nil && c.Plaintext:
		return c, errors.New("both TLS settings and plaintext asked for: choose one")
	case c.MaxFrame < 0 || c.MaxFrame > 1<<30 || c.MaxFrame > 0 && c.MaxFrame < MinMaxFrame:
		return c, fmt.Errorf("MaxFrame %d is out of range: want 0 (default %d) or %d (64 KiB) up to 1 GiB", c.MaxFrame, DefaultMaxFrame, MinMaxFrame)
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TLS != nil {
		t, err := linkTLS(c.TLS, c.ExpectPeerID, server)
		if err != nil {
			return c, err
		}
		c.TLS = t
	}
	return c, nil
}

// handshake completes nc's TLS handshake, if c asks for TLS, and returns
// the connection.
func (c *Config) handshake(ctx context.Context, nc net.Conn, server bool) (Conn, error) {
	if tc, ok := nc.(*net.TCPConn); ok {
		// Frames are written whole, one write each: do not let Nagle hold
		// the last segment of one back.
		if err := tc.SetNoDelay(true); err != nil {
			return nil, fmt.Errorf("set TCP_NODELAY: %w", err)
		}
	}
	remote := nc.RemoteAddr().String()
	if c.TLS == nil {
		return newTCPConn(nc, c, remote, ""), nil
	}
	var tc *tls.Conn
	if server {
		tc = tls.Server(nc, c.TLS)
	} else {
		tc = tls.Client(nc, c.TLS)
	}
	ctx, cancel := context.WithTimeout(ctx, c.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("tls handshake with %s: %w", remote, err)
	}
	id, err := peerIdentity(tc.ConnectionState().PeerCertificates[0], c.ExpectPeerID)
	if err != nil { // verified in the handshake already
		return nil, fmt.Errorf("tls handshake with %s: %w", remote, err)
	}
	return newTCPConn(tc, c, remote, id), nil
}

// DialTCP returns a Dialer for the instance listening at addr.
func DialTCP(addr string, cfg Config) (Dialer, error) {
	cfg, err := cfg.resolve(false)
	if err != nil {
		return nil, err
	}
	return &tcpDialer{addr: addr, cfg: cfg}, nil
}

type tcpDialer struct {
	addr string
	cfg  Config
}

var _ Dialer = (*tcpDialer)(nil)

func (d *tcpDialer) Dial(ctx context.Context) (Conn, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.addr, err)
	}
	c, err := d.cfg.handshake(ctx, nc, false)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// ListenTCP listens at addr ("127.0.0.1:0" picks a port; see Addr).
func ListenTCP(addr string, cfg Config) (Listener, error) {
	cfg, err := cfg.resolve(true)
	if err != nil {
		return nil, err
	}
	nl, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	l := &tcpListener{
		cfg:     cfg,
		nl:      nl,
		conns:   make(chan Conn),
		waiting: Waiting[context.CancelFunc]{Max: maxHandshakes},
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.run()
	return l, nil
}

// maxHandshakes bounds the inbound connections in their handshake or
// waiting for Accept; beyond it the oldest waiting ones are dropped
// (Waiting says which).
const maxHandshakes = 8

type tcpListener struct {
	cfg     Config
	nl      net.Listener
	conns   chan Conn
	mu      sync.Mutex
	waiting Waiting[context.CancelFunc] // guarded by mu
	ctx     context.Context             // ends at Close
	cancel  context.CancelFunc
	once    sync.Once
	wg      sync.WaitGroup
}

var _ Listener = (*tcpListener)(nil)

// run accepts TCP connections and hands each to a handshake goroutine, so
// that a slow or hostile client does not hold up the peer.
func (l *tcpListener) run() {
	defer l.wg.Done()
	for {
		nc, err := l.nl.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			l.cfg.Logger.Warn("link: accept failed", "addr", l.Addr(), "err", err)
			select { // e.g. out of file descriptors: do not spin
			case <-time.After(50 * time.Millisecond):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		remote := nc.RemoteAddr().String()
		ctx, cancel := context.WithCancel(l.ctx)
		l.mu.Lock()
		id, evicted := l.waiting.Admit(Source(remote), cancel)
		l.mu.Unlock()
		if len(evicted) > 0 {
			l.cfg.Logger.Warn("link: dropped the oldest connections waiting for their handshake or for Accept, to make room",
				"remote", remote, "dropped", len(evicted), "limit", maxHandshakes)
		}
		for _, drop := range evicted {
			drop()
		}
		l.wg.Add(1)
		go l.handshake(ctx, cancel, id, nc)
	}
}

// handshake completes nc's handshake and waits for Accept to take it,
// until ctx ends (Close, or the connection was dropped to make room).
func (l *tcpListener) handshake(ctx context.Context, cancel context.CancelFunc, id uint64, nc net.Conn) {
	defer l.wg.Done()
	defer func() {
		cancel()
		l.mu.Lock()
		l.waiting.Remove(id)
		l.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() }) // unblocks a handshake in progress
	c, err := l.cfg.handshake(ctx, nc, true)
	if err != nil {
		_ = nc.Close()
		switch {
		case l.ctx.Err() != nil: // cut short by Close
		case ctx.Err() != nil:
			l.cfg.Logger.Debug("link: dropped a connection still in its handshake to make room", "remote", nc.RemoteAddr().String())
		default:
			l.cfg.Logger.Warn("link: refused a connection", "remote", nc.RemoteAddr().String(), "err", err)
		}
		return
	}
	if !stop() { // dropped as the handshake completed
		_ = c.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-ctx.Done():
		_ = c.Close()
	}
}

func (l *tcpListener) Accept(ctx context.Context) (Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		return nil, fmt.Errorf("accept on %s: %w", l.Addr(), net.ErrClosed)
	case <-ctx.Done():
		return nil, fmt.Errorf("accept on %s: %w", l.Addr(), ctx.Err())
	}
}

func (l *tcpListener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.nl.Close()
		l.wg.Wait()
	})
	return err
}

func (l *tcpListener) Addr() string { return l.nl.Addr().String() }

// tcpConn is a Conn over TCP, or TLS over TCP.
type tcpConn struct {
	endpoint
	progress
	nc     net.Conn
	br     *bufio.Reader
	hdr    [headerLen]byte
	body   []byte // reused for frames from bodySlabMax to 1 MiB
	slab   []byte // the bodies of small frames are carved from it (Recv)
	batch  []byte // SendBatch's buffer, reused
	closed atomic.Bool
	abort  func() // closes the connection, for context.AfterFunc
}

var _ Conn = (*tcpConn)(nil)

// bodySlab is the size of the blocks the bodies of frames up to
// bodySlabMax bytes are carved from. A block lives while any frame (or
// record decoded from it) does; most are a stream's Txn frames, dropped
// once applied, so a block keeps at most its size alive past their use.
const (
	bodySlab    = 64 << 10
	bodySlabMax = 8 << 10
)

func newTCPConn(nc net.Conn, cfg *Config, remote, peer string) *tcpConn {
	c := &tcpConn{nc: nc}
	c.br = bufio.NewReaderSize(countingReader{nc, &c.moved}, 64<<10)
	c.init(cfg.MaxFrame, cfg.Logger, remote, cfg.ExpectPeerID, peer)
	c.abort = func() { _ = c.Close() }
	return c
}

// Send writes the frame, header and body, in one write: the frame is
// assembled in a reused buffer, which is the buffered writer, flushed per
// frame.
func (c *tcpConn) Send(ctx context.Context, f *Frame) error {
	if err := c.begin(ctx); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	b, err := c.frame(f)
	if err != nil {
		return err
	}
	defer c.watch(ctx)()
	if err := c.write(b); err != nil {
		return c.fail("send", ctx, err)
	}
	return nil
}

// batchWrite is how many bytes of frames SendBatch assembles before it
// writes them.
const batchWrite = 256 << 10

var _ BatchSender = (*tcpConn)(nil)

// SendBatch writes frames back to back, assembled in one buffer of up to
// batchWrite bytes per write (a larger frame goes alone): one system call
// for many small frames instead of one each.
func (c *tcpConn) SendBatch(ctx context.Context, frames []*Frame) error {
	if err := c.begin(ctx); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer c.watch(ctx)()
	buf := c.batch[:0]
	for i, f := range frames {
		var err error
		if buf, err = c.appendWire(buf, f); err != nil {
			if werr := c.write(buf); werr != nil {
				return c.fail("send", ctx, werr)
			}
			return err
		}
		if len(buf) >= batchWrite || i == len(frames)-1 {
			if err := c.write(buf); err != nil {
				return c.fail("send", ctx, err)
			}
			buf = buf[:0]
		}
	}
	if cap(buf) <= 2*batchWrite { // do not keep a large frame's buffer alive
		c.batch = buf
	}
	return nil
}

func (c *tcpConn) Recv(ctx context.Context) (*Frame, error) {
	if err := c.begin(ctx); err != nil {
		return nil, fmt.Errorf("recv: %w", err)
	}
	if !c.buffered() {
		// Only a read that may block needs the context watched: a
		// stream's frames mostly arrive many to a read.
		defer c.watch(ctx)()
	}
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		if err == io.EOF && !c.closed.Load() {
			return nil, io.EOF // the peer closed between frames
		}
		return nil, c.fail("recv", ctx, err)
	}
	n, fe := c.bodyLen(c.hdr[:])
	if fe != nil {
		return nil, c.refuse(fe)
	}
	c.busy.Add(1)
	defer c.busy.Add(-1)
	var body []byte
	owned := false // the frame may keep slices of body
	switch {
	case n <= bodySlabMax:
		// Carved from a slab the connection never writes again, so
		// that the frame's byte strings (a Txn frame's record) slice
		// it: one allocation for many frames, and no copy of each
		// body (a fresh one a frame, 3% of the CPU of bench replicate).
		if cap(c.slab)-len(c.slab) < n {
			c.slab = make([]byte, 0, bodySlab)
		}
		l := len(c.slab)
		c.slab = c.slab[:l+n]
		body, owned = c.slab[l:l+n:l+n], true
	case n > 1<<20: // do not keep a large frame's buffer alive
		body, owned = make([]byte, n), true
	case cap(c.body) < n:
		c.body = make([]byte, n)
		body = c.body[:n]
	default:
		body = c.body[:n]
	}
	if _, err := io.ReadFull(c.br, body); err != nil {
		return nil, c.fail("recv", ctx, err)
	}
	f, fe := c.accept(body, owned)
	if fe != nil {
		return nil, c.refuse(fe)
	}
	return f, nil
}

var _ BufferedRecv = (*tcpConn)(nil)

// Buffered implements BufferedRecv.
func (c *tcpConn) Buffered() bool { return c.buffered() }

// buffered reports whether the whole next frame is in the read buffer,
// so that Recv reads it without a system call and cannot block.
func (c *tcpConn) buffered() bool {
	if c.br.Buffered() < headerLen {
		return false
	}
	h, err := c.br.Peek(headerLen)
	return err == nil && uint64(c.br.Buffered()) >= headerLen+uint64(binary.BigEndian.Uint32(h))
}

func (c *tcpConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	return c.nc.Close()
}

// begin returns why Send or Recv cannot start: the connection is closed,
// or ctx has ended (which closes it).
func (c *tcpConn) begin(ctx context.Context) error {
	// The context first: when it ends while a write completes, watch's
	// abort closes the connection behind a Send that still succeeds, and
	// the caller's next Send must hear that its context ended, not only
	// that the connection is closed.
	if err := ctx.Err(); err != nil {
		_ = c.Close()
		return err
	}
	if c.closed.Load() {
		return net.ErrClosed
	}
	return nil
}

// watch closes the connection if ctx ends before the returned stop is
// called: closing is the only way to unblock a read or write in progress.
func (c *tcpConn) watch(ctx context.Context) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, c.abort)
}

// fail closes the connection after a failed read or write and says why it
// failed.
func (c *tcpConn) fail(op string, ctx context.Context, err error) error {
	closedBefore := !c.closed.CompareAndSwap(false, true)
	if !closedBefore {
		_ = c.nc.Close()
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", op, ctx.Err())
	case closedBefore:
		return fmt.Errorf("%s: %w", op, net.ErrClosed)
	}
	return fmt.Errorf("%s %s: %w", op, c.remote, err)
}

// refuse closes the connection over a frame it must not take.
func (c *tcpConn) refuse(fe *FrameError) error {
	c.logRefused(fe)
	_ = c.Close()
	return fe
}
