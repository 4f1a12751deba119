package link

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"testing"
)

// TestRefusedFrameIsLogged: the reason a connection is closed is logged.
func TestRefusedFrameIsLogged(t *testing.T) {
	log, sink := newLogSink()
	a, b := Pipe("A", "B", MemOptions{Logger: log})
	defer func() { _ = a.Close() }()
	defer func() { _ = b.Close() }()
	if err := a.sendRaw([]byte{0, 0, 0, 1, 0xc1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Recv(testCtx(t)); err == nil {
		t.Fatal("garbage received")
	}
	sink.wait(t, "closing the connection", "remote=mem:A", "err=frame of 1 bytes from mem:A refused")
}

// faultyRun sends a hello and n heartbeats through a pipe with faults and
// returns the watermarks B received, in order.
func faultyRun(t *testing.T, seed uint64, n int) []uint64 {
	t.Helper()
	a, b := Pipe("A", "B", MemOptions{Logger: quiet, Drop: 0.1, Duplicate: 0.1, Reorder: 0.1, Rand: rand.New(rand.NewPCG(seed, 0))})
	defer func() { _ = b.Close() }()
	ctx := testCtx(t)
	if err := a.Send(ctx, hello("A")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if err := a.Send(ctx, heartbeat("A", uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil { // releases a frame held back for reordering
		t.Fatal(err)
	}
	if f := mustRecv(t, b); f.Kind != KindHello {
		t.Fatalf("first frame %v, want the hello, which faults spare", f.Kind)
	}
	var got []uint64
	for {
		f, err := b.Recv(ctx)
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f.Watermark)
	}
}

func TestMemFaultsReproduce(t *testing.T) {
	const n = 1000
	run := faultyRun(t, 1, n)
	if again := faultyRun(t, 1, n); !reflect.DeepEqual(run, again) {
		t.Fatal("the same seed gave different runs")
	}
	if other := faultyRun(t, 2, n); reflect.DeepEqual(run, other) {
		t.Fatal("different seeds gave the same run")
	}
	seen := map[uint64]int{}
	reordered := 0
	for i, w := range run {
		seen[w]++
		if i > 0 && w < run[i-1] {
			reordered++
		}
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	dropped := n - len(seen)
	// Each fault has probability 0.1 over 1000 frames.
	for name, c := range map[string]int{"dropped": dropped, "duplicated": dups, "reordered": reordered} {
		if c < 50 || c > 150 {
			t.Errorf("%d frames %s, want about 100", c, name)
		}
	}
}

func TestMemPartition(t *testing.T) {
	a, b := Pipe("A", "B", MemOptions{Logger: quiet})
	defer func() { _ = a.Close() }()
	defer func() { _ = b.Close() }()
	shake(t, a, b)
	ctx := testCtx(t)
	a.Partition(true)
	for _, f := range []*Frame{heartbeat("A", 1), heartbeat("A", 2)} {
		if err := a.Send(ctx, f); err != nil {
			t.Fatalf("send into a partition: %v", err)
		}
	}
	b.Partition(false)
	if err := a.Send(ctx, heartbeat("A", 3)); err != nil {
		t.Fatal(err)
	}
	if f := mustRecv(t, b); f.Watermark != 3 {
		t.Fatalf("after the partition got watermark %d, want 3 (1 and 2 lost)", f.Watermark)
	}
}

func TestMemCut(t *testing.T) {
	a, b := Pipe("A", "B", MemOptions{Logger: quiet})
	defer func() { _ = a.Close() }()
	defer func() { _ = b.Close() }()
	shake(t, a, b)
	if err := a.Send(testCtx(t), heartbeat("A", 1)); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := a.Recv(context.Background())
		got <- err
	}()
	a.Cut()
	if err := <-got; !errors.Is(err, ErrBroken) {
		t.Fatalf("recv blocked at the cut: got %v, want ErrBroken", err)
	}
	if _, err := b.Recv(testCtx(t)); !errors.Is(err, ErrBroken) {
		t.Fatalf("recv with a frame in flight at the cut: got %v, want ErrBroken", err)
	}
	if err := b.Send(testCtx(t), heartbeat("B", 1)); !errors.Is(err, ErrBroken) {
		t.Fatalf("send after the cut: got %v, want ErrBroken", err)
	}
}

func TestMemNetwork(t *testing.T) {
	n := NewMemNetwork(MemOptions{Logger: quiet})
	l, err := n.Listen("B")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	if _, err := n.Listen("B"); err == nil {
		t.Fatal("two listeners as B")
	}
	if l.Addr() != "mem:B" {
		t.Fatalf("Addr %q", l.Addr())
	}
	ctx := testCtx(t)
	if _, err := n.Dialer("A", "C").Dial(ctx); err == nil || !strings.Contains(err.Error(), "no instance listens as C") {
		t.Fatalf("dial to no one: got %v", err)
	}

	dial := func() (Conn, Conn) {
		t.Helper()
		a, err := n.Dialer("A", "B").Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if a.RemoteAddr() != "mem:B" || b.RemoteAddr() != "mem:A" {
			t.Fatalf("RemoteAddr %q, %q", a.RemoteAddr(), b.RemoteAddr())
		}
		return a, b
	}
	a, b := dial()
	shake(t, a, b)

	n.Partition("B", "A", true)
	if _, err := n.Dialer("A", "B").Dial(ctx); err == nil || !strings.Contains(err.Error(), "partitioned") {
		t.Fatalf("dial across a partition: got %v", err)
	}
	if err := a.Send(ctx, heartbeat("A", 1)); err != nil {
		t.Fatal(err)
	}
	n.Partition("A", "B", false)
	if err := a.Send(ctx, heartbeat("A", 2)); err != nil {
		t.Fatal(err)
	}
	if f := mustRecv(t, b); f.Watermark != 2 {
		t.Fatalf("got watermark %d, want 2 (1 was sent into the partition)", f.Watermark)
	}

	a2, b2 := dial()
	n.Cut("A", "B")
	for _, c := range []Conn{a, b, a2, b2} {
		if _, err := c.Recv(ctx); !errors.Is(err, ErrBroken) {
			t.Fatalf("recv after Cut: got %v, want ErrBroken", err)
		}
		_ = c.Close()
	}
	n.mu.Lock()
	left := len(n.pipes)
	n.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d connections still tracked after all were cut", left)
	}

	// A connection waiting in the backlog when the listener closes is
	// closed.
	a3, err := n.Dialer("A", "B").Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if _, err := a3.Recv(ctx); err != io.EOF {
		t.Fatalf("recv on a connection never accepted: got %v, want io.EOF", err)
	}
	if _, err := n.Dialer("A", "B").Dial(ctx); err == nil {
		t.Fatal("dial to a closed listener")
	}
	_ = a3.Close()
	if _, err := a3.Recv(ctx); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("recv after Close: %v", err)
	}
}

func TestMemOptionsChecked(t *testing.T) {
	for name, o := range map[string]MemOptions{
		"no rand":          {Drop: 0.5},
		"probability over": {Reorder: 1.5, Rand: rand.New(rand.NewPCG(1, 1))},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Pipe took %+v", name, o)
				}
			}()
			Pipe("A", "B", o)
		}()
	}
}
