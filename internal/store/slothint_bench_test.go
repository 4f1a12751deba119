package store

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// BenchmarkPeerWrites is the store's part of applying the peer records of
// `liege bench replicate` (engine.applyPeer): each op is one ticket record,
// a new seat key of one of 4 events and a new owner key of one of 4096
// customers, both with a rising seat number, written into a tree that
// already holds 200k such keys, after a local record of the seat number
// before (both instances draw from one counter), written the same way in
// both runs. "none" searches each key from
// the root; "slot" starts each write from the path of the key the same
// write of the last record took (engine.Instance.peerHints). cpu-ns/op is
// the benchmark thread's CPU time (ns/op on a shared machine is mostly the
// wait for a core); GOGC=off keeps the collector's assists out of it.
//
//	GOGC=off go test ./internal/store -run '^$' -bench PeerWrites -benchtime 300000x -count 4
func BenchmarkPeerWrites(b *testing.B) {
	events := [...]string{"gala", "opera", "derby", "final"}
	keys := func(seat int64) (seatKey, ownerKey []byte) {
		return tuple.Pack("seat", events[seat%4], seat), tuple.Pack("owner", "customer-"+string(rune('a'+seat*7919%4096%26)), seat*7919%4096, seat)
	}
	val := make([]byte, 100)
	for _, slot := range []bool{false, true} {
		name := "none"
		if slot {
			name = "slot"
		}
		b.Run(name, func(b *testing.B) {
			s := New()
			ver := journal.Version{HLC: 1, Origin: "A"}
			const preset = 100_000
			for i := range int64(preset) {
				sk, ok := keys(i)
				s.Set(sk, val, ver)
				s.Set(ok, val, ver)
			}
			// Each op: the local record's writes (from the root in both
			// runs), then the peer's, one seat number up.
			ks := make([][4][]byte, b.N)
			for i := range ks {
				ls, lo := keys(preset + 2*int64(i))
				ps, po := keys(preset + 2*int64(i) + 1)
				ks[i] = [4][]byte{ls, lo, ps, po}
			}
			var hints [2]Hint
			runtime.LockOSThread() // threadCPU
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU(b)
			for i := range ks {
				s.Swap(ks[i][0], val, ver)
				s.Swap(ks[i][1], val, ver)
				for j, k := range ks[i][2:] {
					if slot {
						s.SwapHint(k, val, ver, &hints[j])
					} else {
						s.Swap(k, val, ver)
					}
				}
			}
			b.ReportMetric(float64((threadCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// threadCPU is the CPU time the calling thread has used: the benchmark's
// goroutine alone (it does not block), not the time it waited for a core.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
