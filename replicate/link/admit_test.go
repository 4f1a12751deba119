package link

import (
	"net"
	"slices"
	"testing"
	"time"
)

func TestWaitingPolicy(t *testing.T) {
	w := Waiting[string]{Max: 4, PerSource: 2}
	admit := func(src, v string, wantEvicted ...string) uint64 {
		t.Helper()
		id, ev := w.Admit(src, v)
		if !slices.Equal(ev, wantEvicted) && !(len(ev) == 0 && len(wantEvicted) == 0) {
			t.Fatalf("admit %s from %s: evicted %v, want %v", v, src, ev, wantEvicted)
		}
		return id
	}
	admit("evil", "e1")
	admit("evil", "e2")
	admit("evil", "e3", "e1") // at its share: its own oldest leaves
	admit("good", "g1")
	admit("other", "o1")      // [e2 e3 g1 o1]: full
	admit("good", "g2", "e2") // full: the source holding the most (evil) gives up its oldest
	if w.Len() != 4 {
		t.Fatalf("%d waiting, want 4", w.Len())
	}
	id := admit("third", "t1", "g1") // good holds 2, the most: its oldest leaves
	w.Remove(id)
	w.Remove(id) // twice is harmless
	if w.Len() != 3 {
		t.Fatalf("%d waiting after Remove, want 3", w.Len())
	}
}

// Silent sockets that never start their TLS handshake do not keep a real
// peer out: the oldest waiting ones are dropped to make room, and the
// peer's connection is accepted long before their handshakes would time
// out.
func TestSilentSocketsDoNotStarveTheListener(t *testing.T) {
	ca := newTestCA(t, "ca")
	log, _ := newLogSink()
	l, err := ListenTCP("127.0.0.1:0", Config{TLS: tlsFiles(t, ca, "B", ca, true), Logger: log, HandshakeTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	for range 2 * maxHandshakes {
		c, err := net.Dial("tcp", l.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
	}
	d, err := DialTCP(l.Addr(), Config{TLS: tlsFiles(t, ca, "A", ca, false), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	acc := make(chan Conn, 1)
	go func() {
		c, _ := l.Accept(testCtx(t))
		acc <- c
	}()
	a, err := d.Dial(testCtx(t))
	if err != nil {
		t.Fatalf("the real peer could not connect past %d silent sockets: %v", 2*maxHandshakes, err)
	}
	defer func() { _ = a.Close() }()
	select {
	case b := <-acc:
		if b == nil {
			t.Fatal("accept failed")
		}
		defer func() { _ = b.Close() }()
		shake(t, a, b)
	case <-time.After(20 * time.Second):
		t.Fatal("the real peer's connection was not accepted within 20s (the silent sockets' handshakes last a minute)")
	}
}
