package engine_test

import (
	"testing"

	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/replicate/link"
)

// TestDurableOutsideStepIsWork: an own record made durable by a flush
// outside a Step is work for the next Step, which reports it to the Node
// and ships it. Without that (engine durableUnreported, commit 6aceb1a;
// liege inject --sim --seed 7557 on e222d51) HasWork said nothing was due
// and the record did not ship until another call, frame or tick came.
func TestDurableOutsideStepIsWork(t *testing.T) {
	_, a, _ := connectedPair(t)
	a.in.Outbox()
	c := a.written(sim.Op{Op: "set", K: "k", V: "a"})
	if err := a.in.FlushOutsideStep(); err != nil {
		t.Fatal(err)
	}
	if !c.Done || a.in.Durable() < c.Result.Pos {
		t.Fatalf("the flush did not make the call durable: done %v, durable %d, pos %d", c.Done, a.in.Durable(), c.Result.Pos)
	}
	if !a.in.HasWork() {
		t.Fatal("an own record durable but not reported to the Node is no work: it would not ship until something else came")
	}
	for a.in.Step() {
	}
	frames, _ := a.in.Outbox()
	for _, f := range frames {
		if f.Kind == link.KindTxn {
			return
		}
	}
	t.Fatalf("the durable own record was not shipped by the next Steps: %d frames", len(frames))
}
