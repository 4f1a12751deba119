package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/sim"
)

// keyed submits a call of ops with an idempotency key and steps until it
// is answered.
func (n *node) keyed(key string, ops ...sim.Op) *engine.Call {
	n.t.Helper()
	c := n.opsCall(ops...)
	c.IdempotencyKey = key
	n.submitAndStep(c)
	return c
}

// TestIdempotencyKeep: within Config.IdempotencyKeep a retry answers the
// first outcome and the key with other arguments is refused, also after a
// restart (the fingerprint is rebuilt from the journal); once the keep
// time has passed the key is free for a new call.
func TestIdempotencyKeep(t *testing.T) {
	c := &clock{ms: time.Now().UnixMilli()}
	a := newNode(t, c, "A", "B", engine.RoleLiege)
	a.cfg.IdempotencyKeep = time.Hour
	a.restart()

	first := a.keyed("k1", sim.Op{Op: "set", K: "x", V: "1"})
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	c.ms += (30 * time.Minute).Milliseconds()
	a.restart()
	if retry := a.keyed("k1", sim.Op{Op: "set", K: "x", V: "1"}); retry.Err != nil || retry.Result.TxID != first.Result.TxID {
		t.Fatalf("retry within the keep time: %v, %v; want the first outcome %v", retry.Err, retry.Result.TxID, first.Result.TxID)
	}
	if other := a.keyed("k1", sim.Op{Op: "set", K: "x", V: "2"}); !errors.Is(other.Err, engine.ErrIdempotencyKeyReused) {
		t.Fatalf("the key with other arguments within the keep time: %v (TxID %v); want ErrIdempotencyKeyReused", other.Err, other.Result.TxID)
	}
	c.ms += (31 * time.Minute).Milliseconds()
	late := a.keyed("k1", sim.Op{Op: "set", K: "x", V: "2"})
	if late.Err != nil || late.Result.TxID == first.Result.TxID || late.Result.TxID.IsZero() {
		t.Fatalf("the key after the keep time: %v, TxID %v; want a new transaction", late.Err, late.Result.TxID)
	}
}
