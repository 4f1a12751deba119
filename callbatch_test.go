package liege

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// batchArgs is the argument of the CallBatch tests' procedure "put": set
// key K to V, or fail with Fail.
type batchArgs struct {
	K, V, Fail string
}

// openBatchTest is an instance with procedure "put" and a frame limit of
// limit bytes.
func openBatchTest(t *testing.T, limit int) *DB {
	t.Helper()
	db, err := Open(Options{Dir: t.TempDir(), ID: "A", CheckpointEvery: -1, MaxFrame: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = Register(db, Procedure[batchArgs, string]{
		Name: "put",
		Run: func(tx *Tx, a batchArgs) (string, error) {
			if a.Fail != "" {
				return "", errors.New(a.Fail)
			}
			tx.Set(K("b", a.K), a.V)
			return "ok:" + a.K, nil
		},
		Correct: func(*Tx, batchArgs, string, string) (any, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestCallBatch: every call of a batch has its own outcome, in its own
// place: the committed ones are durable once CallBatch returns and hold
// their result, and a refused or failed call (unknown procedure, wrong
// argument type, procedure error, a transaction too large for a frame)
// has the error CallWith gives it and commits nothing, the others
// committing all the same.
func TestCallBatch(t *testing.T) {
	const limit = 64 << 10
	db := openBatchTest(t, limit)
	ctx := context.Background()
	calls := []BatchCall{
		{Proc: "put", Args: batchArgs{K: "a", V: "1"}},
		{Proc: "put", Args: &batchArgs{K: "big", V: strings.Repeat("v", 100<<10)}},
		{Proc: "nope", Args: batchArgs{}},
		{Proc: "put", Args: "not batchArgs"},
		{Proc: "put", Args: batchArgs{K: "c", Fail: "no c today"}},
		{Proc: "put", Args: &batchArgs{K: "d", V: "4"}, Options: CallOptions{IdempotencyKey: "d-1"}},
	}
	db.CallBatch(ctx, calls)
	for i, k := range map[int]string{0: "a", 5: "d"} {
		c := calls[i]
		if c.Err != nil || c.Result.ReadOnly() || c.Result.TxID.Origin != "A" {
			t.Fatalf("calls[%d]: %+v, %v; want committed", i, c.Result, c.Err)
		}
		var got string
		if err := c.Result.Decode(&got); err != nil || got != "ok:"+k {
			t.Fatalf("calls[%d]: result %q, %v", i, got, err)
		}
	}
	if calls[0].Result.Pos == calls[5].Result.Pos || calls[0].Result.TxID == calls[5].Result.TxID {
		t.Fatalf("two calls share a position or a TxID: %+v, %+v", calls[0].Result, calls[5].Result)
	}
	var big *TxnTooLargeError
	if !errors.As(calls[1].Err, &big) || big.Limit != limit || big.Size <= limit {
		t.Fatalf("the oversized call: %v (%T), want a *TxnTooLargeError over %d", calls[1].Err, calls[1].Err, limit)
	}
	if !errors.Is(calls[2].Err, ErrUnknownProcedure) {
		t.Fatalf("unknown procedure: %v, want ErrUnknownProcedure", calls[2].Err)
	}
	if !errors.Is(calls[3].Err, ErrBadArgs) {
		t.Fatalf("arguments of another type: %v, want ErrBadArgs", calls[3].Err)
	}
	if calls[4].Err == nil || calls[4].Err.Error() != "no c today" {
		t.Fatalf("procedure error: %v, want the procedure's error", calls[4].Err)
	}
	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastPos != max(calls[0].Result.Pos, calls[5].Result.Pos) || st.Durable != st.LastPos {
		t.Fatalf("after the batch: last %d, durable %d; want both at the batch's last commit (%d, %d)",
			st.LastPos, st.Durable, calls[0].Result.Pos, calls[5].Result.Pos)
	}
	for k, want := range map[string]bool{"a": true, "big": false, "c": false, "d": true} {
		if _, ok, err := db.Get(ctx, K("b", k)); err != nil || ok != want {
			t.Fatalf("key %s: found %v, %v; want found %v", k, ok, err, want)
		}
	}
	// The keyed call's retry, alone or in a batch, returns its first outcome.
	again := []BatchCall{{Proc: "put", Args: batchArgs{K: "d", V: "4"}, Options: CallOptions{IdempotencyKey: "d-1"}}}
	db.CallBatch(ctx, again)
	if again[0].Err != nil || again[0].Result.TxID != calls[5].Result.TxID {
		t.Fatalf("retry of d-1 in a batch: %+v, %v; want its first outcome %v", again[0].Result, again[0].Err, calls[5].Result.TxID)
	}
	// An empty batch does nothing; a closed instance fails every call.
	db.CallBatch(ctx, nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	closed := []BatchCall{{Proc: "put", Args: batchArgs{K: "e"}}, {Proc: "put", Args: batchArgs{K: "f"}}}
	db.CallBatch(ctx, closed)
	for i, c := range closed {
		if !errors.Is(c.Err, ErrClosed) {
			t.Fatalf("closed instance: calls[%d]: %v, want ErrClosed", i, c.Err)
		}
	}
}

// TestTokenCoversAnsweredCalls: Token, read without a round trip to the
// executor, covers every call answered before it is called, alone or in
// a batch; once the instance is closed it returns ErrClosed.
func TestTokenCoversAnsweredCalls(t *testing.T) {
	db := openBatchTest(t, 0)
	ctx := context.Background()
	for i := range 50 {
		res, err := db.Call(ctx, "put", batchArgs{K: "k", V: "v"})
		if err != nil {
			t.Fatal(err)
		}
		calls := []BatchCall{{Proc: "put", Args: batchArgs{K: "a"}}, {Proc: "put", Args: batchArgs{K: "b"}}}
		db.CallBatch(ctx, calls)
		tok, err := db.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []uint64{res.TxID.OSeq, calls[0].Result.TxID.OSeq, calls[1].Result.TxID.OSeq} {
			if tok["A"] < id {
				t.Fatalf("round %d: Token %v after calls up to A/%d were answered", i, tok, id)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if tok, err := db.Token(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Token of a closed instance: %v, %v; want ErrClosed", tok, err)
	}
}
