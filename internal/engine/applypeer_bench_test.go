//go:build unix

package engine_test

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// BenchmarkApplyPeer is the receiving side of replication, per peer
// record: a vassal handed the liege's Txn frames (Deliver) and stepped
// until idle, i.e. the Node's Step (decode, check) and the engine's
// applyPeer (before-images, journal append on a MemLog, store). The
// records are those of the ticket transaction of `liege bench replicate`:
// read an absent seat, set it and an owner key, ~100-byte values. The
// liege commits them, and takes the acknowledgements, off the clock.
// Besides ns/op it reports cpu-ns/op, the process's CPU time (all threads:
// the garbage collector too) over the timed parts, which moves less than
// wall time on a shared machine.
//
//	go test ./internal/engine -run '^$' -bench ApplyPeer -benchmem -count 5
func BenchmarkApplyPeer(b *testing.B) {
	a, v := openBenchPair(b)
	val := strings.Repeat(".", 100)
	const chunk = 256
	shipped := 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done)
		for i := range n {
			seat := done + i
			args := sim.OpsArgs{Ops: []sim.Op{
				{Op: "get", K: fmt.Sprintf("seat/%d", seat)},
				{Op: "set", K: fmt.Sprintf("seat/%d", seat), V: "owner=c" + val},
				{Op: "set", K: fmt.Sprintf("owner/c/%d", seat), V: "event=gala" + val},
			}}
			ab, err := journal.Marshal(args)
			if err != nil {
				b.Fatal(err)
			}
			a.Submit(&engine.Call{Proc: "ops", Args: args, ArgBytes: ab})
		}
		for a.Step() {
		}
		frames, disc := a.Outbox()
		if disc != "" {
			b.Fatalf("the liege closes the link: %s", disc)
		}
		for _, f := range frames {
			if f.Kind == link.KindTxn {
				shipped++
			}
		}
		b.StartTimer()
		cpu0 := processCPU(b)
		for _, f := range frames {
			if err := v.Deliver(f); err != nil {
				b.Fatalf("the vassal refused a %v frame: %v", f.Kind, err)
			}
		}
		for v.Step() {
		}
		cpu += processCPU(b) - cpu0
		b.StopTimer()
		exchange(b, v, a)
		done += n
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if shipped != b.N {
		b.Fatalf("the liege shipped %d Txn frames for %d transactions: the timed part did not apply one record per op", shipped, b.N)
	}
	if a.Hash() != v.Hash() {
		b.Fatal("the vassal's state differs from the liege's after applying its records")
	}
}

func openBenchInstance(b *testing.B, c *clock, id, peer, role string) *engine.Instance {
	b.Helper()
	reg := liege.NewRegistry()
	if err := sim.RegisterOps(reg); err != nil {
		b.Fatal(err)
	}
	in, err := engine.Open(engine.Config{
		ID: id, PeerID: peer, Cluster: "bench", Role: role, Dir: b.TempDir(), Runner: reg.Runner(), Now: c.now,
		Log: journal.NewMemLog(), CheckpointEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Node: replicate.NodeConfig{HeartbeatTicks: 1},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close() })
	return in
}

// exchange steps from until idle and delivers its frames to to.
func exchange(b *testing.B, from, to *engine.Instance) {
	b.Helper()
	for from.Step() {
	}
	frames, disc := from.Outbox()
	if disc != "" {
		b.Fatalf("an instance closes the link: %s", disc)
	}
	for _, f := range frames {
		if err := to.Deliver(f); err != nil {
			b.Fatalf("refused a %v frame: %v", f.Kind, err)
		}
	}
	for to.Step() {
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplicatedTxn is one replicated transaction of `liege bench
// replicate` in full but for the journal files and the link: the liege
// runs and commits the ticket transaction (its Node takes the own record,
// ships it once durable), the vassal checks and applies it, the liege takes
// the acknowledgement; on MemLogs, frames handed over in memory. Everything
// is timed but making the calls' arguments: cpu-ns/op is the CPU time of
// both instances per transaction (the garbage collector too), the part of
// the CPU per replicated transaction that is not the journal's files or
// the link's syscalls.
//
//	go test ./internal/engine -run '^$' -bench ReplicatedTxn -benchmem -count 5
func BenchmarkReplicatedTxn(b *testing.B) {
	a, v := openBenchPair(b)
	val := strings.Repeat(".", 100)
	const chunk = 256
	calls := make([]engine.Call, chunk)
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(chunk, b.N-done)
		for i := range n {
			seat := done + i
			args := sim.OpsArgs{Ops: []sim.Op{
				{Op: "get", K: "seat/" + strconv.Itoa(seat)},
				{Op: "set", K: "seat/" + strconv.Itoa(seat), V: "owner=c" + val},
				{Op: "set", K: "owner/c/" + strconv.Itoa(seat), V: "event=gala" + val},
			}}
			ab, err := journal.Marshal(args)
			if err != nil {
				b.Fatal(err)
			}
			calls[i] = engine.Call{Proc: "ops", Args: args, ArgBytes: ab}
		}
		b.StartTimer()
		cpu0 := processCPU(b)
		for i := range n {
			a.Submit(&calls[i])
		}
		exchange(b, a, v)
		exchange(b, v, a)
		cpu += processCPU(b) - cpu0
		for i := range n {
			if !calls[i].Done || calls[i].Err != nil {
				b.Fatalf("call %d: done %v, error %v", done+i, calls[i].Done, calls[i].Err)
			}
		}
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if a.Hash() != v.Hash() {
		b.Fatal("the vassal's state differs from the liege's after applying its records")
	}
}

// openBenchPair opens a liege A and a vassal B on MemLogs, links them and
// lets them exchange until both have settled their first rounds.
func openBenchPair(b *testing.B) (a, v *engine.Instance) {
	c := &clock{ms: time.Now().UnixMilli()}
	a = openBenchInstance(b, c, "A", "B", engine.RoleLiege)
	v = openBenchInstance(b, c, "B", "A", engine.RoleVassal)
	a.LinkUp()
	v.LinkUp()
	for range 10 {
		exchange(b, a, v)
		exchange(b, v, a)
		c.ms += 100
		a.Tick()
		v.Tick()
	}
	return a, v
}
