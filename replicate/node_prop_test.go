package replicate

import (
	"flag"
	"fmt"
	"testing"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
	"pgregory.net/rapid"
)

var traceProps = flag.Bool("node.trace", false, "TestNodePairProperties: print the run's trace on failure")

// traceTester prints the harness's trace before a failure.
type traceTester struct {
	t *rapid.T
	h *harness
}

func (tt traceTester) Fatal(args ...any) { tt.t.Log(tt.h.out.String()); tt.t.Fatal(args...) }
func (tt traceTester) Fatalf(format string, args ...any) {
	tt.t.Log(tt.h.out.String())
	tt.t.Fatalf(format, args...)
}

// TestNodePairProperties runs a liege and a vassal Node (the scripts'
// harness, silent) through random commits, deliveries, lost frames, ticks
// and reconnects, then lets them settle, and checks:
//
//   - both sides agree on every conflicting pair: no pair that either side
//     found conflicting ends in the path with both as themselves, and no two
//     transactions in the path that did not see each other conflict;
//   - the liege never emits a rollback for itself;
//   - the liege never applies a vassal transaction while discarding;
//   - the pair converges (same TxIDs and state; every committed transaction
//     in the path exactly once).
//
// On failure rapid prints the seed and the steps; -rapid.seed=N replays one.
func TestNodePairProperties(t *testing.T) {
	t.Run("one reign", func(t *testing.T) { checkPairProperties(t, false) })
	t.Run("switchover and promote", func(t *testing.T) { checkPairProperties(t, true) })
}

func checkPairProperties(t *testing.T, reigns bool) {
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(rt, nil)
		if *traceProps {
			h.t = traceTester{rt, h}
		} else {
			h.quiet = true
		}
		h.connect()
		keys := []string{"a", "b", "c", "d", "e"}
		pick := func(label string) []string {
			return rapid.SliceOfNDistinct(rapid.SampledFrom(keys), 0, 2, rapid.ID[string]).Draw(rt, label)
		}
		for range rapid.IntRange(1, 60).Draw(rt, "steps") {
			switch op := rapid.IntRange(0, 99).Draw(rt, "op"); {
			case op < 30:
				id := rapid.SampledFrom([]string{"A", "B"}).Draw(rt, "who")
				var o txnOp
				o.read = pick("read")
				if rapid.IntRange(0, 4).Draw(rt, "scan?") == 0 {
					lo := rapid.IntRange(0, 3).Draw(rt, "lo")
					o.scan = [2]string{keys[lo], keys[lo+1]}
				}
				o.set, o.add, o.del = pick("set"), pick("add"), pick("del")
				if len(o.set)+len(o.add)+len(o.del) == 0 {
					o.set = []string{rapid.SampledFrom(keys).Draw(rt, "key")}
				}
				h.inst[id].commit(o, journal.KindLocal, journal.TxID{})
			case op < 75:
				dir := rapid.SampledFrom([]string{"A->B", "B->A"}).Draw(rt, "dir")
				h.deliver(dir, rapid.IntRange(1, 4).Draw(rt, "n"))
			case op < 80:
				dir := rapid.SampledFrom([]string{"A->B", "B->A"}).Draw(rt, "dropdir")
				h.drop(dir, 1)
			case op < 95:
				for _, id := range []string{"A", "B"} {
					h.inst[id].node.Tick()
					h.inst[id].process()
				}
			case op < 97 && reigns:
				// A planned switchover at the liege, or a forced promote of
				// the vassal (the old liege is running: reigns resolve).
				for _, in := range h.inst {
					if in.role == RoleLiege && rapid.Bool().Draw(rt, "switchover") {
						_ = in.node.Switchover()
					} else if in.role == RoleVassal {
						_ = in.node.Promote(true)
					}
					in.process()
				}
			default:
				if h.linkDown {
					h.connect()
				} else {
					h.disconnect("random")
				}
			}
		}
		settleAll(h)
		checkPair(h.t, h)
	})
}

// settleAll reconnects and runs both nodes until they are idle.
func settleAll(h *harness) {
	for round := 0; round < 300; round++ {
		if h.linkDown {
			h.connect()
		}
		h.settle()
		a, b := h.inst["A"].node.Status(), h.inst["B"].node.Status()
		if a.Idle() && b.Idle() && a.LastOwn == b.PeerLast && b.LastOwn == a.PeerLast && round > 2 {
			return
		}
		for _, id := range []string{"A", "B"} {
			h.inst[id].node.Tick()
			h.inst[id].process()
		}
	}
	h.t.Fatalf("the pair is not idle after 300 rounds: A %s; B %s",
		statusString(h.inst["A"].node.Status()), statusString(h.inst["B"].node.Status()))
}

func checkPair(t tester, h *harness) {
	if len(h.liegeRollbacks) > 0 {
		t.Fatalf("the liege asked for a rollback: %v", h.liegeRollbacks)
	}
	if len(h.appliedWhileDiscarding) > 0 {
		t.Fatalf("the liege applied vassal transactions while discarding: %v", h.appliedWhileDiscarding)
	}
	if s := h.check(); s[:9] != "converged" {
		t.Fatal(s)
	}
	a := h.inst["A"]
	inPath := map[journal.TxID]*journal.Record{}
	for _, r := range a.journal {
		if r.Kind.IsTxn() {
			inPath[r.TxID()] = r
		}
	}
	for _, p := range h.flagged {
		if inPath[p[0]] != nil && inPath[p[1]] != nil {
			t.Fatalf("%v and %v were found conflicting, yet both are in the path", p[0], p[1])
		}
	}
	// Two transactions of different origins that did not see each other
	// must not conflict (section 6, the predicate both sides evaluate).
	var la, vb []*journal.Record
	for _, r := range inPath {
		if r.Origin == "A" {
			la = append(la, r)
		} else {
			vb = append(vb, r)
		}
	}
	for _, x := range la {
		for _, y := range vb {
			if x.OSeq > y.PeerSeen && y.OSeq > x.PeerSeen {
				if c, k, ok := detect.Conflict(detect.FromRecord(x), detect.FromRecord(y)); ok {
					t.Fatalf("%v and %v did not see each other and conflict (%v on %q), yet both are in the path: %s",
						x.TxID(), y.TxID(), c, k, fmt.Sprint(h.check()))
				}
			}
		}
	}
}
