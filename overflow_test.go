package liege

import (
	"errors"
	"math"
	"testing"
)

func TestAddInt64(t *testing.T) {
	for _, c := range []struct {
		a, b, sum int64
		ok        bool
	}{
		{1, 2, 3, true},
		{math.MaxInt64, 0, math.MaxInt64, true},
		{math.MaxInt64, 1, 0, false},
		{math.MinInt64, -1, 0, false},
		{math.MinInt64, math.MaxInt64, -1, true},
		{math.MaxInt64, math.MaxInt64, 0, false},
		{math.MinInt64, math.MinInt64, 0, false},
		{-5, 3, -2, true},
	} {
		sum, ok := AddInt64(c.a, c.b)
		if sum != c.sum || ok != c.ok {
			t.Errorf("AddInt64(%d, %d) = %d, %v; want %d, %v", c.a, c.b, sum, ok, c.sum, c.ok)
		}
	}
}

// Adds within one transaction whose running sum stays in range but whose
// journaled delta would not are refused as well: the delta is what a peer
// adds to its own value.
func TestTxAddRefusesDeltaOverflow(t *testing.T) {
	db := openTest(t)
	k := K("n")
	commit(t, db, func(tx *Tx) error { tx.Add(k, math.MinInt64+1); return nil })
	db.testBodies["twice"] = func(tx *Tx) error {
		tx.Add(k, math.MaxInt64) // value 0, delta MaxInt64
		tx.Add(k, math.MaxInt64) // value MaxInt64, delta would be 2*MaxInt64
		return nil
	}
	if _, err := db.Call(t.Context(), "run", "twice"); !errors.Is(err, ErrOverflow) {
		t.Fatalf("two adds of MaxInt64 from MinInt64+1: got %v, want ErrOverflow", err)
	}
}
