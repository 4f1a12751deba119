package server

import "testing"

// TestIdempotencyKeyReused: a key used again with other arguments, or for
// another procedure, is refused with 422 idempotency_key_reused and
// commits nothing; the exact retry still answers the first outcome.
func TestIdempotencyKeyReused(t *testing.T) {
	e := newEnv(t, Options{})
	first := e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 10}}`, "Idempotency-Key", "req-1"), 200)
	e.mustErr(e.call("deposit", `{"args": {"acct": "alice", "amount": 11}}`, "Idempotency-Key", "req-1"), 422, CodeIdempotencyKeyReused,
		`key "req-1" was used by transaction T/1`, "give a new call a new key")
	e.mustErr(e.call("withdraw", `{"args": {"acct": "alice", "amount": 10}}`, "Idempotency-Key", "req-1"), 422, CodeIdempotencyKeyReused,
		"another procedure or with other arguments than this withdraw call")
	if got := e.balance("alice"); got != 10 {
		t.Errorf("balance %d after two refused reuses of a key, want 10", got)
	}
	again := e.must(e.call("deposit", `{"args": {"acct": "alice", "amount": 10}}`, "Idempotency-Key", "req-1"), 200)
	if again.body["txid"] != first.body["txid"] {
		t.Errorf("the exact retry answered txid %v, want the first call's %v", again.body["txid"], first.body["txid"])
	}
}
