package kv_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/kv"
)

// An add whose sum does not fit in 64 bits is a procedure error that
// commits nothing; the balance keeps its value instead of wrapping.
func TestAddRefusesOverflow(t *testing.T) {
	db := open(t)
	if r, _ := word(t, db, kv.ProcAdd, kv.AddArgs{Key: "alice", Delta: math.MaxInt64}); r != kv.ResultOK {
		t.Fatalf("first add: %q", r)
	}
	before := lastPos(t, db)
	_, err := db.Call(context.Background(), kv.ProcAdd, kv.AddArgs{Key: "alice", Delta: 1})
	if !errors.Is(err, liege.ErrOverflow) {
		t.Fatalf("add 1 to MaxInt64: got %v, want an error wrapping liege.ErrOverflow", err)
	}
	if got := balanceOf(t, db, "alice"); got != math.MaxInt64 {
		t.Fatalf("balance after the refused add: %d, want %d", got, int64(math.MaxInt64))
	}
	if after := lastPos(t, db); after != before {
		t.Fatalf("the refused add committed: last position %d -> %d", before, after)
	}
}

// A transfer into a balance that would overflow is refused too, and moves
// nothing out of the payer.
func TestTransferRefusesOverflow(t *testing.T) {
	db := open(t)
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "rich", Delta: math.MaxInt64})
	word(t, db, kv.ProcAdd, kv.AddArgs{Key: "payer", Delta: 10})
	_, err := db.Call(context.Background(), kv.ProcTransfer, kv.TransferArgs{From: "payer", To: "rich", Amount: 5})
	if !errors.Is(err, liege.ErrOverflow) {
		t.Fatalf("transfer into MaxInt64: got %v, want an error wrapping liege.ErrOverflow", err)
	}
	if got := balanceOf(t, db, "payer"); got != 10 {
		t.Fatalf("payer's balance after the refused transfer: %d, want 10", got)
	}
}
