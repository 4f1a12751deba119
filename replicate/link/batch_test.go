package link

import (
	"errors"
	"reflect"
	"testing"
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
