package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
)

// MemOptions configures in-memory links, and the faults they inject. Faults
// act on whole frames, never on a Hello (the handshake of a connection is
// delivered as sent); delays are the caller's, a simulation that decides
// when each side runs.
type MemOptions struct {
	// MaxFrame is the largest frame body sent or accepted, in bytes
	// (DefaultMaxFrame if 0).
	MaxFrame int
	// Buffer is how many bytes of frames may wait, in each direction, for
	// the receiver before Send blocks (4 MiB if 0). A frame larger than
	// Buffer is taken when nothing waits.
	Buffer int
	// Logger receives refused frames (slog.Default() if nil).
	Logger *slog.Logger

	// Drop, Duplicate and Reorder are the probabilities that a frame is
	// lost, delivered twice, or held back and delivered after the next
	// frame in its direction.
	Drop, Duplicate, Reorder float64
	// Rand decides the faults; required if any probability is set. Seed
	// it, and a single-threaded simulation reproduces its runs.
	Rand *rand.Rand
}

// faults draws the message-level faults of MemOptions.
type faults struct {
	mu                 sync.Mutex
	rng                *rand.Rand
	drop, dup, reorder float64
}

// newFaults returns nil for a perfect link. Invalid options are a bug in
// the test or simulation that passes them, so they panic.
func newFaults(o *MemOptions) *faults {
	for _, p := range []float64{o.Drop, o.Duplicate, o.Reorder} {
		if p < 0 || p > 1 {
			panic(fmt.Sprintf("link: MemOptions probability %v is not in [0, 1]", p))
		}
	}
	if o.Drop == 0 && o.Duplicate == 0 && o.Reorder == 0 {
		return nil
	}
	if o.Rand == nil {
		panic("link: MemOptions.Rand is required to inject faults")
	}
	return &faults{rng: o.Rand, drop: o.Drop, dup: o.Duplicate, reorder: o.Reorder}
}

// roll decides one frame's faults. It draws the same number of values
// whatever they decide, so that one decision does not shift the next.
func (f *faults) roll() (drop, dup, hold bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, b, c := f.rng.Float64(), f.rng.Float64(), f.rng.Float64()
	return a < f.drop, b < f.dup, c < f.reorder
}

func (o MemOptions) resolve() MemOptions {
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.Buffer <= 0 {
		o.Buffer = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Pipe returns the two ends of an in-memory connection between instances
// aID and bID (the names are the ends' RemoteAddr; PeerID comes from the
// Hello, as with plaintext TCP).
func Pipe(aID, bID string, opts MemOptions) (*MemConn, *MemConn) {
	opts = opts.resolve()
	return newPipe(aID, bID, &opts, newFaults(&opts), nil)
}

// MemConn is one end of an in-memory connection. It is a Conn; Partition
// and Cut inject faults into the whole connection.
type MemConn struct {
	endpoint
	p    *memPipe
	side int // this end's index in p
}

var _ Conn = (*MemConn)(nil)

// memPipe is the state both ends of an in-memory connection share.
type memPipe struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change
	buffer  int
	faults  *faults // nil for a perfect link
	dirs    [2]memDir
	closed  [2]bool
	cut     bool
	// partitioned loses every frame sent, both ways.
	partitioned bool
	names       [2]string
	onDone      func() // once neither end can be used; may be nil
	done        bool
}

// memDir is one direction: dirs[i] holds the frames end i sent.
type memDir struct {
	frames [][]byte // whole frames, header and body
	bytes  int
	held   []byte // a frame the reorder fault holds back
	eof    bool   // the sending end closed
}

func (d *memDir) push(msg []byte) {
	d.frames = append(d.frames, msg)
	d.bytes += len(msg)
}

func newPipe(a, b string, o *MemOptions, f *faults, onDone func()) (*MemConn, *MemConn) {
	p := &memPipe{changed: make(chan struct{}), buffer: o.Buffer, faults: f, names: [2]string{a, b}, onDone: onDone}
	ends := [2]*MemConn{}
	for i := range ends {
		c := &MemConn{p: p, side: i}
		c.init(o.MaxFrame, o.Logger, "mem:"+p.names[1-i], "", "")
		ends[i] = c
	}
	return ends[0], ends[1]
}

func (p *memPipe) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// wait releases p.mu until p changes or ctx ends.
func (p *memPipe) wait(ctx context.Context) {
	ch := p.changed
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// unlock releases p.mu and, the first time neither end is usable, tells
// the network.
func (p *memPipe) unlock() {
	notify := !p.done && p.onDone != nil && (p.cut || p.closed[0] && p.closed[1])
	if notify {
		p.done = true
	}
	p.mu.Unlock()
	if notify {
		p.onDone()
	}
}

// usable returns why end side cannot send or receive, nil if it can.
func (p *memPipe) usable(ctx context.Context, side int) error {
	switch {
	case p.closed[side]:
		return net.ErrClosed
	case ctx.Err() != nil:
		p.closeLocked(side)
		return ctx.Err()
	case p.cut:
		return fmt.Errorf("connection to %s cut: %w", p.names[1-side], ErrBroken)
	}
	return nil
}

func (p *memPipe) closeLocked(side int) {
	if p.closed[side] {
		return
	}
	p.closed[side] = true
	out := &p.dirs[side]
	if out.held != nil {
		out.push(out.held)
		out.held = nil
	}
	out.eof = true
	p.dirs[1-side] = memDir{eof: p.dirs[1-side].eof} // never to be read
	p.broadcast()
}

// deliver queues msg from end side, applying the faults.
func (p *memPipe) deliver(side int, msg []byte, hello bool) {
	d := &p.dirs[side]
	if p.partitioned {
		return
	}
	if hello || p.faults == nil {
		d.push(msg)
		return
	}
	drop, dup, hold := p.faults.roll()
	switch {
	case drop:
		return
	case hold && d.held == nil:
		d.held = msg
		return
	}
	d.push(msg)
	if dup {
		d.push(msg)
	}
	if d.held != nil {
		d.push(d.held)
		d.held = nil
	}
}

// Send queues the frame for the peer; it blocks while Buffer bytes wait.
func (c *MemConn) Send(ctx context.Context, f *Frame) error {
	p := c.p
	p.mu.Lock()
	err := p.usable(ctx, c.side)
	p.unlock()
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	b, err := c.frame(f)
	if err != nil {
		return err
	}
	return c.queue(ctx, slices.Clone(b), f.Kind == KindHello)
}

// queue waits for room and delivers msg.
func (c *MemConn) queue(ctx context.Context, msg []byte, hello bool) error {
	p := c.p
	p.mu.Lock()
	defer p.unlock()
	for {
		if err := p.usable(ctx, c.side); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if p.closed[1-c.side] {
			return fmt.Errorf("send: %s closed the connection: %w", p.names[1-c.side], ErrBroken)
		}
		d := &p.dirs[c.side]
		if d.bytes == 0 || d.bytes+len(msg) <= p.buffer {
			break
		}
		p.wait(ctx)
	}
	p.deliver(c.side, msg, hello)
	p.broadcast()
	return nil
}

func (c *MemConn) Recv(ctx context.Context) (*Frame, error) {
	p := c.p
	p.mu.Lock()
	var msg []byte
	for {
		if err := p.usable(ctx, c.side); err != nil {
			p.unlock()
			return nil, fmt.Errorf("recv: %w", err)
		}
		in := &p.dirs[1-c.side]
		if len(in.frames) > 0 {
			msg = in.frames[0]
			in.frames[0] = nil
			in.frames = in.frames[1:]
			in.bytes -= len(msg)
			p.broadcast()
			break
		}
		if in.eof {
			p.unlock()
			return nil, io.EOF
		}
		p.wait(ctx)
	}
	p.unlock()
	return c.read(msg)
}

// read checks and decodes one whole frame as the TCP link reads one.
func (c *MemConn) read(msg []byte) (*Frame, error) {
	if len(msg) < headerLen {
		return nil, c.refuse(c.frameError(int64(len(msg)), errors.New("shorter than the frame header")))
	}
	n, fe := c.bodyLen(msg[:headerLen])
	if fe != nil {
		return nil, c.refuse(fe)
	}
	if body := len(msg) - headerLen; body != n {
		return nil, c.refuse(c.frameError(int64(n), fmt.Errorf("header says %d bytes, %d arrived", n, body)))
	}
	f, fe := c.accept(msg[headerLen:], false)
	if fe != nil {
		return nil, c.refuse(fe)
	}
	return f, nil
}

func (c *MemConn) refuse(fe *FrameError) error {
	c.logRefused(fe)
	_ = c.Close()
	return fe
}

func (c *MemConn) Close() error {
	c.p.mu.Lock()
	defer c.p.unlock()
	c.p.closeLocked(c.side)
	return nil
}

// Cut breaks the connection: frames in flight are lost, and every Send and
// Recv at either end returns an error wrapping ErrBroken.
func (c *MemConn) Cut() { c.p.breakLink() }

func (p *memPipe) breakLink() {
	p.mu.Lock()
	defer p.unlock()
	p.cut = true
	p.dirs = [2]memDir{}
	p.broadcast()
}

// Partition loses every frame either end sends while on is true (Sends
// succeed, as they would into a network that went silent).
func (c *MemConn) Partition(on bool) { c.p.partition(on) }

func (p *memPipe) partition(on bool) {
	p.mu.Lock()
	defer p.unlock()
	p.partitioned = on
}

// sendRaw queues bytes as if they were a frame, for tests of the receiver.
func (c *MemConn) sendRaw(msg []byte) error {
	return c.queue(context.Background(), slices.Clone(msg), false)
}

// MemNetwork connects in-memory instances by name, for tests and the
// deterministic simulation.
type MemNetwork struct {
	opts   MemOptions
	faults *faults

	mu          sync.Mutex
	listeners   map[string]*memListener
	partitioned map[[2]string]bool
	pipes       map[*memPipe]struct{}
}

// NewMemNetwork returns a network whose connections all use opts (and share
// its Rand).
func NewMemNetwork(opts MemOptions) *MemNetwork {
	opts = opts.resolve()
	return &MemNetwork{
		opts:        opts,
		faults:      newFaults(&opts),
		listeners:   map[string]*memListener{},
		partitioned: map[[2]string]bool{},
		pipes:       map[*memPipe]struct{}{},
	}
}

// Listen listens as instance name.
func (n *MemNetwork) Listen(name string) (Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[name]; ok {
		return nil, fmt.Errorf("listen as %s: already listening", name)
	}
	l := &memListener{n: n, name: name, backlog: make(chan *MemConn, 16), done: make(chan struct{})}
	n.listeners[name] = l
	return l, nil
}

// Dialer returns a Dialer from instance from to instance to.
func (n *MemNetwork) Dialer(from, to string) Dialer {
	return &memDialer{n: n, from: from, to: to}
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Partition makes instances a and b unreachable to each other while on is
// true: dials fail, and frames on their connections are lost.
func (n *MemNetwork) Partition(a, b string, on bool) {
	n.mu.Lock()
	n.partitioned[pair(a, b)] = on
	n.mu.Unlock()
	for _, p := range n.between(a, b) {
		p.partition(on)
	}
}

// Cut breaks every connection between instances a and b (see MemConn.Cut).
func (n *MemNetwork) Cut(a, b string) {
	for _, p := range n.between(a, b) {
		p.breakLink()
	}
}

// between returns the live connections between a and b. The caller works
// on them without n.mu: a pipe's unlock may take it (onDone).
func (n *MemNetwork) between(a, b string) []*memPipe {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ps []*memPipe
	for p := range n.pipes {
		if pair(p.names[0], p.names[1]) == pair(a, b) {
			ps = append(ps, p)
		}
	}
	return ps
}

type memDialer struct {
	n        *MemNetwork
	from, to string
}

var _ Dialer = (*memDialer)(nil)

func (d *memDialer) Dial(ctx context.Context) (Conn, error) {
	n := d.n
	n.mu.Lock()
	l := n.listeners[d.to]
	switch {
	case l == nil:
		n.mu.Unlock()
		return nil, fmt.Errorf("dial %s from %s: no instance listens as %s", d.to, d.from, d.to)
	case n.partitioned[pair(d.from, d.to)]:
		n.mu.Unlock()
		return nil, fmt.Errorf("dial %s from %s: partitioned", d.to, d.from)
	}
	var p *memPipe
	c, s := newPipe(d.from, d.to, &n.opts, n.faults, func() {
		n.mu.Lock()
		delete(n.pipes, p)
		n.mu.Unlock()
	})
	p = c.p
	n.pipes[p] = struct{}{}
	n.mu.Unlock()

	select {
	case l.backlog <- s:
		if l.isClosed() { // Close may have drained the backlog before s came
			l.drain()
		}
		return c, nil
	case <-l.done:
		_ = c.Close()
		_ = s.Close()
		return nil, fmt.Errorf("dial %s from %s: %w", d.to, d.from, net.ErrClosed)
	case <-ctx.Done():
		_ = c.Close()
		_ = s.Close()
		return nil, fmt.Errorf("dial %s from %s: %w", d.to, d.from, ctx.Err())
	}
}

type memListener struct {
	n       *MemNetwork
	name    string
	backlog chan *MemConn
	done    chan struct{}
	once    sync.Once
}

var _ Listener = (*memListener)(nil)

func (l *memListener) Accept(ctx context.Context) (Conn, error) {
	select {
	case c := <-l.backlog:
		return c, nil
	case <-l.done:
		return nil, fmt.Errorf("accept as %s: %w", l.name, net.ErrClosed)
	case <-ctx.Done():
		return nil, fmt.Errorf("accept as %s: %w", l.name, ctx.Err())
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		l.n.mu.Lock()
		delete(l.n.listeners, l.name)
		l.n.mu.Unlock()
		close(l.done)
		l.drain()
	})
	return nil
}

func (l *memListener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// drain closes the connections no one will accept.
func (l *memListener) drain() {
	for {
		select {
		case c := <-l.backlog:
			_ = c.Close()
		default:
			return
		}
	}
}

func (l *memListener) Addr() string { return "mem:" + l.name }
