package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// TestTxnTooLargeForTheStream: a transaction whose record would not fit
// one replication frame (Config.MaxFrame) is refused at commit, naming its
// size and the limit; nothing of it is applied or journaled, no OSeq is
// spent, and the pair goes on replicating.
func TestTxnTooLargeForTheStream(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	b := newNode(t, c, "B", "A", engine.RoleVassal)
	const limit = 16 << 10
	for _, n := range []*node{a, b} {
		n.cfg.MaxFrame = limit
		n.restart()
		n.in.LinkUp()
	}
	pump(t, c, a, b)
	before := a.call(sim.Op{Op: "set", K: "x", V: "small"}).Result
	last := a.in.LastPos()

	big := a.submit(sim.Op{Op: "set", K: "x", V: strings.Repeat("v", limit)})
	var tl *engine.TxnTooLargeError
	if !errors.As(big.Err, &tl) || !errors.Is(big.Err, engine.ErrTxnTooLarge) {
		t.Fatalf("a transaction over the frame limit: err %v, TxID %v; want a *TxnTooLargeError", big.Err, big.Result.TxID)
	}
	if tl.Limit != limit || tl.Size <= limit || tl.Size > 3*limit {
		t.Fatalf("the error says size %d and limit %d; want a size over the limit of %d", tl.Size, tl.Limit, limit)
	}
	for _, w := range []string{"frame", "--max-frame", "nothing was committed"} {
		if !strings.Contains(big.Err.Error(), w) {
			t.Errorf("the error %q does not say %q", big.Err, w)
		}
	}
	if got := a.in.LastPos(); got != last {
		t.Fatalf("the refused transaction moved the journal from %d to %d", last, got)
	}
	// Near the limit still commits (the value travels twice, as an
	// argument and as the write); the OSeq follows the last one committed.
	fits := a.call(sim.Op{Op: "set", K: "y", V: strings.Repeat("w", limit/2-1024)}).Result
	if fits.TxID.OSeq != before.TxID.OSeq+1 {
		t.Fatalf("the next transaction is %v after %v: the refused one spent an OSeq", fits.TxID, before.TxID)
	}
	get := a.call(sim.Op{Op: "get", K: "x"})
	if !strings.Contains(string(get.Result.Raw), "small") {
		t.Fatalf("x after the refused transaction reads %q: want the value before it", get.Result.Raw)
	}
	pump(t, c, a, b)
	if pos, _ := b.in.Locate(fits.TxID); pos == 0 {
		t.Fatalf("the vassal did not apply %v: the stream stopped", fits.TxID)
	}

	// At the edge: the largest transaction accepted fits its link frame,
	// and the first refused is a few bytes larger (the check counts the
	// frame's counters at their widest, 9 bytes each).
	var lastFit int
	for v := limit/2 - 400; ; v++ {
		cl := a.submit(sim.Op{Op: "set", K: fmt.Sprint("z", v), V: strings.Repeat("e", v)}) // a new key: no before-image
		if cl.Err != nil {
			if !errors.As(cl.Err, &tl) {
				t.Fatal(cl.Err)
			}
			if tl.Size <= limit || tl.Size > lastFit+40 {
				t.Fatalf("refused a frame of %d bytes (limit %d) after accepting one of %d", tl.Size, limit, lastFit)
			}
			break
		}
		r, err := a.in.ReadRecord(cl.Result.Pos)
		if err != nil {
			t.Fatal(err)
		}
		jf, err := journal.NewEncoder().Frame(r)
		if err != nil {
			t.Fatal(err)
		}
		st := a.in.Status()
		wire, err := link.Encode(nil, &link.Frame{Kind: link.KindTxn, Cluster: a.cfg.Cluster, From: "A", Epoch: st.Epoch, Reign: st.Reign, Prev: r.OSeq - 1, Record: jf})
		if err != nil {
			t.Fatal(err)
		}
		if lastFit = len(wire) - 4; lastFit > limit {
			t.Fatalf("accepted a transaction whose frame is %d bytes, over the limit of %d", lastFit, limit)
		}
		if v > limit/2+400 {
			t.Fatalf("values up to %d bytes were accepted under a frame limit of %d", v, limit)
		}
	}
	pump(t, c, a, b)
}
