package atm_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/atm"
)

// A withdrawal whose amount plus fee does not fit in 64 bits is refused;
// it used to wrap to a negative need and dispense.
func TestWithdrawRefusesOverflow(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", 100)
	_, err := db.Call(context.Background(), atm.ProcWithdraw, atm.AmountArgs{Account: "alice", Amount: math.MaxInt64})
	if !errors.Is(err, liege.ErrOverflow) {
		t.Fatalf("withdraw MaxInt64: got %v, want an error wrapping liege.ErrOverflow", err)
	}
}

// A deposit that would overflow the balance is refused and leaves it as it
// was.
func TestDepositRefusesOverflow(t *testing.T) {
	db := open(t)
	openAccount(t, db, "alice", math.MaxInt64-1)
	_, err := db.Call(context.Background(), atm.ProcDeposit, atm.AmountArgs{Account: "alice", Amount: 2})
	if !errors.Is(err, liege.ErrOverflow) {
		t.Fatalf("deposit beyond MaxInt64: got %v, want an error wrapping liege.ErrOverflow", err)
	}
}
