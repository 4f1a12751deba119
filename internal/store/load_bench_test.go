package store

import (
	"fmt"
	"sync"
	"testing"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// ticketRecords returns n ticket-like records in journal order: each sets
// a seat and a customer's claim on it, 100-byte values.
func ticketRecords(n int) []journal.Record {
	events := []string{"gala", "opera", "derby", "final"}
	val := make([]byte, 100)
	recs := make([]journal.Record, n)
	for i := range recs {
		s := int64(i)
		recs[i] = journal.Record{Pos: uint64(i + 1), Kind: journal.KindLocal, HLC: uint64(i + 1), Origin: "A", Writes: []journal.Write{
			{Op: journal.OpSet, Key: tuple.Pack("seat", events[s%4], s), Value: val},
			{Op: journal.OpSet, Key: tuple.Pack("owner", fmt.Sprint("customer-", 100000+(s*7919)%4096), s), Value: val},
		}}
	}
	return recs
}

// BenchmarkReplayApply and BenchmarkReplayRuns build the state of b.N
// ticket records: one Apply a record, or runs of 512 records on two
// goroutines loaded at once. ns/op is per record.
func BenchmarkReplayApply(b *testing.B) {
	recs := ticketRecords(b.N)
	s := New()
	b.ResetTimer()
	for i := range recs {
		s.Apply(&recs[i])
	}
}

func BenchmarkReplayRuns(b *testing.B) {
	recs := ticketRecords(b.N)
	s := New()
	b.ResetTimer()
	const workers, chunk = 2, 512
	l := NewLoader(s, (len(recs)+chunk-1)/chunk)
	ws := make([]*LoadWorker, workers)
	var wg sync.WaitGroup
	for w := range workers {
		ws[w] = l.Worker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := w * chunk; c < len(recs); c += workers * chunk {
				for i := c; i < min(c+chunk, len(recs)); i++ {
					ws[w].Apply(c/chunk, &recs[i])
				}
				ws[w].EndChunk()
			}
		}()
	}
	wg.Wait()
	l.Finish(ws...)
	if s.Len() != 2*len(recs) {
		b.Fatal(s.Len())
	}
}
