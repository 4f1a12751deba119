package link

import (
	"context"
	"testing"
)

// BenchmarkFrames streams Txn frames of 400-byte records one way and
// reports frames/s: one sender, one receiver, as replication runs.
func BenchmarkFrames(b *testing.B) {
	for _, name := range []string{"tcp", "tls", "mem"} {
		b.Run(name, func(b *testing.B) {
			a, c := connect(b, transports()[name])
			shake(b, a, c)
			f := txn("A", 1, 400)
			b.SetBytes(int64(len(mustEncode(b, f))))
			b.ReportAllocs()
			ctx := context.Background()
			done := make(chan error, 1)
			b.ResetTimer()
			go func() {
				for range b.N {
					if _, err := c.Recv(ctx); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for range b.N {
				if err := a.Send(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	f := txn("A", 1, 400)
	c := newFrameCodec()
	var buf []byte
	var got Frame
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = c.appendFrame(buf[:0], f); err != nil {
			b.Fatal(err)
		}
		if err := c.decode(buf[headerLen:], &got, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionFrames is the stream as a replication session drives
// it: a cancellable context on both sides, the sender writing batches of
// 64 frames with SendBatch, the receiver one Recv per frame.
func BenchmarkSessionFrames(b *testing.B) {
	a, c := connect(b, transports()["tcp"])
	shake(b, a, c)
	f := txn("A", 1, 400)
	batch := make([]*Frame, 64)
	for i := range batch {
		batch[i] = f
	}
	b.SetBytes(int64(len(mustEncode(b, f))))
	b.ReportAllocs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := c.Recv(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for n := 0; n < b.N; n += len(batch) {
		if err := a.(BatchSender).SendBatch(ctx, batch[:min(len(batch), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
