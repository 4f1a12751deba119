package link

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// transport is one implementation of the link, as the conformance suite
// drives it. Instance "B" listens; instance "A" dials.
type transport struct {
	start func(t testing.TB) setup
	// certIDs says PeerID comes from certificates, before any Hello.
	certIDs bool
}

type setup struct {
	l Listener // B's
	d Dialer   // A's, to l
	// dialRaw connects to l as A without the link's framing, to write
	// arbitrary bytes to the receiver.
	dialRaw func(t testing.TB) rawConn
}

// rawConn writes bytes to a link receiver and sees it close.
type rawConn interface {
	write(b []byte) error
	// waitClosed returns nil once the receiver has closed the connection.
	waitClosed(ctx context.Context) error
	close()
}

func transports() map[string]transport {
	return map[string]transport{
		"tcp": {start: func(t testing.TB) setup {
			l, err := ListenTCP("127.0.0.1:0", Config{Plaintext: true, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			d, err := DialTCP(l.Addr(), Config{Plaintext: true, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			return setup{l, d, func(t testing.TB) rawConn {
				nc, err := net.Dial("tcp", l.Addr())
				if err != nil {
					t.Fatal(err)
				}
				return tcpRaw{nc}
			}}
		}},
		"tls": {start: func(t testing.TB) setup {
			ca := newTestCA(t, "ca")
			l, err := ListenTCP("127.0.0.1:0", Config{TLS: tlsFiles(t, ca, "B", ca, true), ExpectPeerID: "A", Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			tlsA := tlsFiles(t, ca, "A", ca, false)
			d, err := DialTCP(l.Addr(), Config{TLS: tlsA, ExpectPeerID: "B", Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			return setup{l, d, func(t testing.TB) rawConn {
				cfg, err := linkTLS(tlsA, "B", false)
				if err != nil {
					t.Fatal(err)
				}
				tc, err := tls.Dial("tcp", l.Addr(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				return tcpRaw{tc}
			}}
		}, certIDs: true},
		"mem": {start: func(t testing.TB) setup {
			n := NewMemNetwork(MemOptions{Logger: quiet})
			l, err := n.Listen("B")
			if err != nil {
				t.Fatal(err)
			}
			return setup{l, n.Dialer("A", "B"), func(t testing.TB) rawConn {
				c, err := n.Dialer("A", "B").Dial(testCtx(t))
				if err != nil {
					t.Fatal(err)
				}
				return memRaw{c.(*MemConn)}
			}}
		}},
	}
}

type tcpRaw struct{ nc net.Conn }

func (r tcpRaw) write(b []byte) error { _, err := r.nc.Write(b); return err }
func (r tcpRaw) close()               { _ = r.nc.Close() }
func (r tcpRaw) waitClosed(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = r.nc.SetReadDeadline(dl)
	}
	buf := make([]byte, 4096)
	for {
		_, err := r.nc.Read(buf)
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			return err
		default:
			return nil // EOF or reset: closed
		}
	}
}

type memRaw struct{ c *MemConn }

func (r memRaw) write(b []byte) error { return r.c.sendRaw(b) }
func (r memRaw) close()               { _ = r.c.Close() }
func (r memRaw) waitClosed(ctx context.Context) error {
	_, err := r.c.Recv(ctx)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func TestConformance(t *testing.T) {
	for name, tr := range transports() {
		t.Run(name, func(t *testing.T) { runConformance(t, tr) })
	}
}

// connect returns A's and B's ends of a new connection.
func connect(t testing.TB, tr transport) (a, b Conn) {
	t.Helper()
	st := tr.start(t)
	l, d := st.l, st.d
	t.Cleanup(func() { _ = l.Close() })
	ctx := testCtx(t)
	type accepted struct {
		c   Conn
		err error
	}
	acc := make(chan accepted, 1)
	go func() {
		c, err := l.Accept(ctx)
		acc <- accepted{c, err}
	}()
	a, err := d.Dial(ctx)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	r := <-acc
	if r.err != nil {
		t.Fatalf("accept: %v", r.err)
	}
	t.Cleanup(func() { _ = r.c.Close() })
	return a, r.c
}

// connectRaw returns a raw writer as A and B's end of its connection.
func connectRaw(t testing.TB, tr transport) (rawConn, Conn) {
	t.Helper()
	st := tr.start(t)
	l := st.l
	t.Cleanup(func() { _ = l.Close() })
	raw := st.dialRaw(t)
	t.Cleanup(raw.close)
	b, err := l.Accept(testCtx(t))
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return raw, b
}

// shake exchanges Hellos.
func shake(t testing.TB, a, b Conn) {
	t.Helper()
	ctx := testCtx(t)
	for _, s := range []struct {
		from, to Conn
		id       string
	}{{a, b, "A"}, {b, a, "B"}} {
		if err := s.from.Send(ctx, hello(s.id)); err != nil {
			t.Fatalf("send hello from %s: %v", s.id, err)
		}
		f, err := s.to.Recv(ctx)
		if err != nil {
			t.Fatalf("recv hello from %s: %v", s.id, err)
		}
		if !reflect.DeepEqual(f, hello(s.id)) {
			t.Fatalf("hello from %s arrived as %+v", s.id, f)
		}
	}
}

func mustRecv(t testing.TB, c Conn) *Frame {
	t.Helper()
	f, err := c.Recv(testCtx(t))
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return f
}

// recvFrameError expects Recv to refuse a frame, then the connection to be
// closed.
func recvFrameError(t *testing.T, b Conn) *FrameError {
	t.Helper()
	_, err := b.Recv(testCtx(t))
	var fe *FrameError
	if !errors.As(err, &fe) {
		t.Fatalf("recv: got %v, want a *FrameError", err)
	}
	if _, err := b.Recv(testCtx(t)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("recv after a refused frame: got %v, want net.ErrClosed", err)
	}
	return fe
}

// sendUntilBlocked sends 1 MiB frames from c, which no one reads, in a
// goroutine, and returns once Sends have stopped completing (the buffers
// are full), with the channel that gets the error that ends the loop.
func sendUntilBlocked(t *testing.T, ctx context.Context, c Conn) <-chan error {
	t.Helper()
	progress, done := make(chan struct{}, 1), make(chan error, 1)
	go func() {
		f := txn("A", 1, 1<<20)
		for {
			if err := c.Send(ctx, f); err != nil {
				done <- err
				return
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	// Whether a Send is blocked cannot be observed; one that has not
	// completed for 100 ms is. If it is not, the test is weaker, not wrong.
	for {
		select {
		case <-progress:
		case err := <-done:
			t.Fatalf("send failed before blocking: %v", err)
		case <-time.After(100 * time.Millisecond):
			return done
		}
	}
}

func runConformance(t *testing.T, tr transport) {
	t.Run("RoundTrip", func(t *testing.T) {
		a, b := connect(t, tr)
		want := map[bool]string{true: "B", false: ""}[tr.certIDs]
		if got := a.PeerID(); got != want {
			t.Errorf("A's PeerID before hello = %q, want %q", got, want)
		}
		if a.RemoteAddr() == "" || b.RemoteAddr() == "" {
			t.Errorf("RemoteAddr: %q, %q", a.RemoteAddr(), b.RemoteAddr())
		}
		shake(t, a, b)
		if a.PeerID() != "B" || b.PeerID() != "A" {
			t.Errorf("PeerIDs after hello: A sees %q, B sees %q", a.PeerID(), b.PeerID())
		}
		const n = 300
		ctx := testCtx(t)
		errs := make(chan error, 4)
		for _, s := range []struct {
			c  Conn
			id string
		}{{a, "A"}, {b, "B"}} {
			go func() {
				for i := range n {
					f := sample(s.id, i)
					if i == n/2 {
						f = txn(s.id, 9, 1<<20)
					}
					if err := s.c.Send(ctx, f); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for _, r := range []struct {
			c    Conn
			from string
		}{{a, "B"}, {b, "A"}} {
			go func() {
				for i := range n {
					f, err := r.c.Recv(ctx)
					if err != nil {
						errs <- err
						return
					}
					want := sample(r.from, i)
					if i == n/2 {
						want = txn(r.from, 9, 1<<20)
					}
					if !reflect.DeepEqual(f, want) {
						errs <- errors.New("frame " + f.Kind.String() + " from " + f.From + " differs from the one sent")
						return
					}
				}
				errs <- nil
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("SendRefusesWithoutClosing", func(t *testing.T) {
		a, b := connect(t, tr)
		ctx := testCtx(t)
		if err := a.Send(ctx, heartbeat("A", 1)); err == nil {
			t.Fatal("a heartbeat before the hello was sent")
		}
		shake(t, a, b)
		if err := a.Send(ctx, &Frame{Kind: 99, Cluster: testCluster, From: "A"}); err == nil {
			t.Fatal("a frame of kind 99 was sent")
		}
		err := a.Send(ctx, txn("A", 1, DefaultMaxFrame))
		if !errors.Is(err, ErrFrameTooLarge) || !strings.Contains(err.Error(), strconv.Itoa(DefaultMaxFrame)) {
			t.Fatalf("oversized send: got %v, want ErrFrameTooLarge naming the limit", err)
		}
		if err := a.Send(ctx, heartbeat("A", 5)); err != nil {
			t.Fatal(err)
		}
		if f := mustRecv(t, b); !reflect.DeepEqual(f, heartbeat("A", 5)) {
			t.Fatalf("after the refused frames got %+v", f)
		}
	})

	t.Run("CloseUnblocksRecv", func(t *testing.T) {
		a, b := connect(t, tr)
		shake(t, a, b)
		got := make(chan error, 1)
		go func() {
			_, err := b.Recv(context.Background())
			got <- err
		}()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-got; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("recv unblocked by Close: got %v, want net.ErrClosed", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := b.Send(testCtx(t), heartbeat("B", 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("send after Close: got %v, want net.ErrClosed", err)
		}
		if _, err := a.Recv(testCtx(t)); err != io.EOF {
			t.Fatalf("recv after the peer's Close: got %v, want io.EOF", err)
		}
	})

	t.Run("CloseUnblocksSend", func(t *testing.T) {
		a, b := connect(t, tr)
		shake(t, a, b)
		done := sendUntilBlocked(t, context.Background(), a)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("send unblocked by Close: got %v, want net.ErrClosed", err)
		}
	})

	t.Run("CancelUnblocksRecv", func(t *testing.T) {
		a, b := connect(t, tr)
		shake(t, a, b)
		ctx, cancel := context.WithCancel(testCtx(t))
		got := make(chan error, 1)
		go func() {
			_, err := b.Recv(ctx)
			got <- err
		}()
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Fatalf("recv unblocked by cancel: got %v, want context.Canceled", err)
		}
		if _, err := b.Recv(testCtx(t)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("recv after a cancelled recv: got %v, want net.ErrClosed", err)
		}
		if _, err := a.Recv(testCtx(t)); err != io.EOF {
			t.Fatalf("peer's recv: got %v, want io.EOF", err)
		}
	})

	t.Run("CancelledBeforeCall", func(t *testing.T) {
		a, b := connect(t, tr)
		shake(t, a, b)
		ctx, cancel := context.WithCancel(testCtx(t))
		cancel()
		if err := a.Send(ctx, heartbeat("A", 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("send with a cancelled context: got %v", err)
		}
		if err := a.Send(testCtx(t), heartbeat("A", 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("send after a cancelled send: got %v, want net.ErrClosed", err)
		}
	})

	t.Run("CancelUnblocksSend", func(t *testing.T) {
		a, b := connect(t, tr)
		shake(t, a, b)
		ctx, cancel := context.WithCancel(testCtx(t))
		done := sendUntilBlocked(t, ctx, a)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("send unblocked by cancel: got %v, want context.Canceled", err)
		}
		if err := a.Send(testCtx(t), heartbeat("A", 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("send after a cancelled send: got %v, want net.ErrClosed", err)
		}
	})

	t.Run("PeerClose", func(t *testing.T) {
		a, b := connect(t, tr)
		shake(t, a, b)
		ctx := testCtx(t)
		for i := range 3 {
			if err := a.Send(ctx, sample("A", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if f := mustRecv(t, b); !reflect.DeepEqual(f, sample("A", i)) {
				t.Fatalf("frame %d sent before Close arrived as %+v", i, f)
			}
		}
		for range 2 {
			if _, err := b.Recv(ctx); err != io.EOF {
				t.Fatalf("recv after the peer closed: got %v, want io.EOF", err)
			}
		}
		// TCP reports the peer's close to a sender only once the peer's
		// reset arrives: a few Sends may succeed first.
		for {
			err := b.Send(ctx, heartbeat("B", 1))
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				t.Fatalf("send to a closed peer never failed: %v", err)
			}
			break
		}
	})

	t.Run("OversizedFrame", func(t *testing.T) {
		for _, claim := range []uint32{DefaultMaxFrame + 1, 2 << 30} {
			raw, b := connectRaw(t, tr)
			if err := raw.write(binary.BigEndian.AppendUint32(nil, claim)); err != nil {
				t.Fatal(err)
			}
			var err error
			alloc := allocated(func() { _, err = b.Recv(testCtx(t)) })
			var fe *FrameError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFrameTooLarge) || fe.Size != int64(claim) || fe.Limit != DefaultMaxFrame {
				t.Fatalf("claim of %d bytes: got %v, want a *FrameError over the limit", claim, err)
			}
			for _, s := range []string{strconv.Itoa(DefaultMaxFrame), "MaxFrame", strconv.FormatUint(uint64(claim), 10)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %s", err, s)
				}
			}
			if alloc > 16<<20 {
				t.Errorf("refusing a claim of %d bytes allocated %d bytes", claim, alloc)
			}
			if _, err := b.Recv(testCtx(t)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("recv after an oversized frame: got %v, want net.ErrClosed", err)
			}
			if err := raw.waitClosed(testCtx(t)); err != nil {
				t.Fatalf("the sender of an oversized frame did not see the connection close: %v", err)
			}
		}
	})

	t.Run("BadFrames", func(t *testing.T) {
		encoded := func(f *Frame) []byte {
			b, err := Encode(nil, f)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		withHeader := func(body []byte) []byte {
			return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
		}
		kind99 := encoded(hello("A"))
		kind99[headerLen+1] = 99 // the array's first element: Kind
		for name, bytes := range map[string][]byte{
			"garbage":        withHeader([]byte{0xc1, 0xc1, 0xc1}),
			"empty":          withHeader(nil),
			"unknown kind":   kind99,
			"trailing bytes": withHeader(append(encoded(hello("A"))[headerLen:], 0x00)),
			"no hello first": encoded(heartbeat("A", 1)),
			"short array":    withHeader([]byte{0x92, 0x01, 0xa2, 'c', '1'}), // [1, "c1"]: no sender
			"cut short":      withHeader([]byte{0x93, 0x01, 0xa2, 'c', '1'}), // claims 3 elements, holds 2
		} {
			t.Run(name, func(t *testing.T) {
				raw, b := connectRaw(t, tr)
				if err := raw.write(bytes); err != nil {
					t.Fatal(err)
				}
				fe := recvFrameError(t, b)
				if errors.Is(fe, ErrFrameTooLarge) || fe.Limit != DefaultMaxFrame {
					t.Errorf("frame error %+v", fe)
				}
				if err := raw.waitClosed(testCtx(t)); err != nil {
					t.Fatalf("the sender of a bad frame did not see the connection close: %v", err)
				}
			})
		}
	})

	t.Run("Identity", func(t *testing.T) {
		raw, b := connectRaw(t, tr)
		if err := raw.write(mustEncode(t, hello("Z"))); err != nil {
			t.Fatal(err)
		}
		if !tr.certIDs {
			// Without certificates the hello names the peer...
			if f := mustRecv(t, b); f.From != "Z" || b.PeerID() != "Z" {
				t.Fatalf("got %+v, PeerID %q", f, b.PeerID())
			}
			// ...and every later frame must come from it.
			if err := raw.write(mustEncode(t, heartbeat("A", 1))); err != nil {
				t.Fatal(err)
			}
		}
		fe := recvFrameError(t, b)
		if !errors.Is(fe, ErrPeerIdentity) || !strings.Contains(fe.Error(), `"Z"`) {
			t.Fatalf("frame from another sender: got %v, want ErrPeerIdentity naming it", fe)
		}
	})

	t.Run("OtherCluster", func(t *testing.T) {
		a, b := connect(t, tr)
		shake(t, a, b)
		f := heartbeat("A", 3)
		f.Cluster = "c2"
		if err := a.Send(testCtx(t), f); err != nil {
			t.Fatal(err)
		}
		got := mustRecv(t, b)
		err := CheckCluster(got, testCluster)
		if !errors.Is(err, ErrOtherCluster) || !strings.Contains(err.Error(), `"c2"`) || !strings.Contains(err.Error(), `"c1"`) {
			t.Fatalf("CheckCluster: got %v", err)
		}
		if err := CheckCluster(hello("A"), testCluster); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Listener", func(t *testing.T) {
		st := tr.start(t)
		l, d := st.l, st.d
		ctx, cancel := context.WithCancel(testCtx(t))
		cancel()
		if _, err := l.Accept(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("accept with a cancelled context: got %v", err)
		}
		// The listener stays open: a connection is accepted, and stays
		// open after the listener closes.
		acc := make(chan Conn, 1)
		go func() {
			c, _ := l.Accept(testCtx(t))
			acc <- c
		}()
		a, err := d.Dial(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = a.Close() }()
		b := <-acc
		if b == nil {
			t.Fatal("no connection accepted")
		}
		defer func() { _ = b.Close() }()

		got := make(chan error, 1)
		go func() {
			_, err := l.Accept(testCtx(t))
			got <- err
		}()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-got; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept unblocked by Close: got %v, want net.ErrClosed", err)
		}
		if _, err := l.Accept(testCtx(t)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept after Close: got %v, want net.ErrClosed", err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		shake(t, a, b)
	})
}

func mustEncode(t testing.TB, f *Frame) []byte {
	t.Helper()
	b, err := Encode(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocated returns the bytes allocated (by any goroutine) while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
