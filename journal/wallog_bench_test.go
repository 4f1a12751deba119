package journal

import (
	"fmt"
	"testing"
)

// BenchmarkWALWriteBatch measures what the file Log costs per entry to
// write a group-commit batch (128 entries of 405 bytes, the frame of
// `liege bench commit`), without fsyncs, at several segment sizes:
// tidwall/wal keeps the tail segment's entries in one buffer grown by
// append, whose copies and fresh pages are paid per byte written, and
// cycles (fsync, close, create) once a segment is full.
func BenchmarkWALWriteBatch(b *testing.B) {
	const batch, size = 128, 405
	entry := make([]byte, size)
	for i := range entry {
		entry[i] = byte(i)
	}
	entries := make([][]byte, batch)
	for i := range entries {
		entries[i] = entry
	}
	for _, seg := range []int{1 << 20, 4 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("segment=%dMiB", seg>>20), func(b *testing.B) {
			l, err := openWAL(b.TempDir()+"/journal", seg)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(batch * size)
			b.ReportAllocs()
			next := uint64(1)
			for i := 0; i < b.N; i++ {
				if err := l.Write(next, entries); err != nil {
					b.Fatal(err)
				}
				next += batch
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/entry")
		})
	}
}
