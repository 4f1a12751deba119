package link

import (
	"errors"
	"reflect"
	"testing"
	"unsafe"
)

// TestSendBatch: SendBatch delivers every frame in order, as Send would,
// across several writes (more than batchWrite bytes), over TCP and TLS; a
// frame over MaxFrame fails the batch after the frames before it went out.
func TestSendBatch(t *testing.T) {
	for _, name := range []string{"tcp", "tls"} {
		tr := transports()[name]
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			s := tr.start(t)
			t.Cleanup(func() { _ = s.l.Close() })
			a, err := s.d.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := s.l.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			bs, ok := a.(BatchSender)
			if !ok {
				t.Fatalf("the %s connection is no BatchSender", name)
			}
			frames := []*Frame{hello("A")}
			for i := range 1500 { // ~600 KiB: three writes
				frames = append(frames, sample("A", i))
			}
			errc := make(chan error, 1)
			go func() { errc <- bs.SendBatch(ctx, frames) }()
			for i, want := range frames {
				got, err := b.Recv(ctx)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("frame %d: got %+v, want %+v", i, got, want)
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}

			big := txn("A", 9, DefaultMaxFrame+1)
			go func() { errc <- bs.SendBatch(ctx, []*Frame{heartbeat("A", 1), big, heartbeat("A", 2)}) }()
			got, err := b.Recv(ctx)
			if err != nil || got.Kind != KindHeartbeat || got.Watermark != 1 {
				t.Fatalf("the frame before the oversized one: got %+v, %v", got, err)
			}
			if err := <-errc; !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("a batch with a frame over MaxFrame: got %v, want ErrFrameTooLarge", err)
			}
		})
	}
}

// TestRecvFramesKeepTheirBytes: over TCP the bodies of small frames are
// carved from shared blocks and their records slice them (not copied). A
// frame received keeps its bytes whatever is received after it: frames of
// sizes around the carving bounds (a block's room, bodySlabMax, the reused
// buffer of larger ones), all held until the last has arrived, then
// compared with what was sent.
func TestRecvFramesKeepTheirBytes(t *testing.T) {
	for _, name := range []string{"tcp", "tls"} {
		tr := transports()[name]
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			a, b := connect(t, tr)
			sizes := []int{1, 400, bodySlabMax - 80, bodySlabMax + 1, 3000, 20 << 10, 100, bodySlab / 2}
			frames := []*Frame{hello("A")}
			for i := range 600 {
				frames = append(frames, txn("A", uint64(i+1), sizes[i%len(sizes)]))
			}
			errc := make(chan error, 1)
			go func() {
				for _, f := range frames {
					if err := a.Send(ctx, f); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			got := make([]*Frame, len(frames))
			for i := range frames {
				var err error
				if got[i], err = b.Recv(ctx); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			for i, want := range frames {
				if !reflect.DeepEqual(got[i], want) {
					t.Fatalf("frame %d (%d-byte record) changed once later frames arrived: got %+v, want %+v", i, len(want.Record), head(got[i].Record), head(want.Record))
				}
			}
		})
	}
}

// TestFastFrameOwnedBody: a frame decoded from a body its caller owns
// slices its record from that body, without a copy; from one it does not,
// from a copy.
func TestFastFrameOwnedBody(t *testing.T) {
	c := newFrameCodec()
	b, err := c.appendFrame(nil, txn("A", 7, 400))
	if err != nil {
		t.Fatal(err)
	}
	body := b[headerLen:]
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	inBody := func(p []byte) bool {
		at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
		return len(p) > 0 && at >= lo && at+uintptr(len(p)) <= lo+uintptr(len(body))
	}
	var owned, copied Frame
	if err := c.decode(body, &owned, true); err != nil {
		t.Fatal(err)
	}
	if !inBody(owned.Record) {
		t.Error("decoded from an owned body, the record is a copy")
	}
	if err := c.decode(body, &copied, false); err != nil {
		t.Fatal(err)
	}
	if inBody(copied.Record) {
		t.Error("decoded from a body the caller keeps, the record aliases it")
	}
	if !reflect.DeepEqual(owned, copied) {
		t.Errorf("owned and copied decodes differ:\n%+v\n%+v", owned, copied)
	}
}
