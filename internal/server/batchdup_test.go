package server

import (
	"fmt"
	"testing"
)

// TestBatchRepeatedKey: calls of one batch that share an idempotency key
// run once, the first in the batch's order: a later exact repeat (the same
// procedure and arguments, whatever their JSON spelling) answers the
// first's outcome, and one with another procedure or other arguments is
// refused with 422 idempotency_key_reused; neither runs. Over many
// batches, so that no scheduling lets a later call run first.
func TestBatchRepeatedKey(t *testing.T) {
	e := newEnv(t, Options{})
	const rounds = 20
	for i := range rounds {
		k := fmt.Sprintf("k%d", i)
		ans := e.batchAnswer(e.batch(`{"calls": [
			{"proc": "deposit", "args": {"acct": "alice", "amount": 5}, "idempotency_key": "` + k + `"},
			{"proc": "deposit", "args": {"amount":5,"acct":"alice"}, "idempotency_key": "` + k + `"},
			{"proc": "deposit", "args": {"acct": "alice", "amount": 6}, "idempotency_key": "` + k + `"},
			{"proc": "withdraw", "args": {"acct": "alice", "amount": 5}, "idempotency_key": "` + k + `"},
			{"proc": "withdraw", "args": {"acct": "carol", "amount": 1}, "idempotency_key": "` + k + `-w"},
			{"proc": "withdraw", "args": {"acct": "carol", "amount": 1}, "idempotency_key": "` + k + `-w"},
			{"proc": "deposit", "args": {"acct": "bob", "amount": 1}}
		]}`))
		r := ans.Results
		if len(r) != 7 {
			t.Fatalf("round %d: %d results for 7 calls", i, len(r))
		}
		if r[0].Status != 200 || r[1].Status != 200 || r[0].TxID == nil || r[1].TxID == nil || *r[0].TxID != *r[1].TxID {
			t.Fatalf("round %d: the call and its exact repeat answered %+v and %+v: want 200 with one TxID", i, r[0], r[1])
		}
		for _, j := range []int{2, 3} {
			if r[j].Status != 422 || r[j].Error == nil || r[j].Error.Code != CodeIdempotencyKeyReused {
				t.Fatalf("round %d: calls[%d], the key with other arguments or another procedure, answered %+v: want 422 %s", i, j, r[j], CodeIdempotencyKeyReused)
			}
		}
		if r[4].Status != 422 || r[4].Error.Code != CodeProcedureError || r[5].Status != 422 || r[5].Error.Message != r[4].Error.Message {
			t.Fatalf("round %d: a failed call and its repeat answered %+v and %+v: want the same procedure_error", i, r[4], r[5])
		}
		if r[6].Status != 200 {
			t.Fatalf("round %d: the call without a key answered %+v", i, r[6])
		}
		if got := e.balance("alice"); got != int64(5*(i+1)) {
			t.Fatalf("round %d: alice has %d: want %d (each batch deposits 5 once)", i, got, 5*(i+1))
		}
	}
	// A later request with the key answers the batch's first outcome.
	again := e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 5}}`, "Idempotency-Key", "k0"), 200)
	if again.body["txid"] == nil {
		t.Fatalf("retry of k0: %s", again)
	}
	if got := e.balance("alice"); got != 5*rounds {
		t.Fatalf("alice has %d after a retry: want %d", got, 5*rounds)
	}
}
