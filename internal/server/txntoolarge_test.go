package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/liege-db/liege"
)

type blobArgs struct {
	Key   string `msgpack:"key" json:"key"`
	Value string `msgpack:"value" json:"value"`
}

// TestTxnTooLarge: a call whose transaction would not fit one replication
// frame is refused with 413 transaction_too_large naming its size and the
// limit, alone and in a batch, and commits nothing; a smaller one commits.
func TestTxnTooLarge(t *testing.T) {
	const limit = 64 << 10
	e := newEnv(t, Options{}, func(o *liege.Options) { o.MaxFrame = limit })
	err := liege.Register(e.db, liege.Procedure[blobArgs, string]{Name: "blob",
		Run: func(tx *liege.Tx, a blobArgs) (string, error) {
			tx.Set(liege.K("blob", a.Key), a.Value)
			return "ok", nil
		}, Correct: noCorrection[blobArgs, string]})
	if err != nil {
		t.Fatal(err)
	}
	body := func(key string, n int) string {
		b, err := json.Marshal(map[string]any{"args": blobArgs{Key: key, Value: strings.Repeat("v", n)}})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	e.must(e.call("blob", body("small", 1000)), 200)
	e.mustErr(e.call("blob", body("big", 100<<10)), 413, CodeTxnTooLarge, "over the limit of 65536 bytes", "--max-frame", "nothing was committed")

	batch := `{"calls": [{"proc": "blob", "args": ` + strings.TrimSuffix(strings.TrimPrefix(body("big", 100<<10), `{"args":`), "}") +
		`}, {"proc": "deposit", "args": {"acct": "alice", "amount": 3}}]}`
	a := e.must(e.do("POST", "/v1/calls", batch), 200)
	results, _ := a.body["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("batch answer %s: want two results", a)
	}
	first, _ := results[0].(map[string]any)
	errBody, _ := first["error"].(map[string]any)
	if num(t, first["status"]) != 413 || errBody["code"] != CodeTxnTooLarge {
		t.Fatalf("the oversized call of a batch answered %v: want status 413 and code %s", first, CodeTxnTooLarge)
	}
	if second, _ := results[1].(map[string]any); num(t, second["status"]) != 200 {
		t.Fatalf("the other call of the batch answered %v: want 200", second)
	}
	if got := e.balance("alice"); got != 3 {
		t.Fatalf("balance %d after the batch, want 3", got)
	}
	st := e.status()
	if n := num(t, st["keys"]); n != 2 {
		t.Fatalf("%d keys after the refused calls: want 2 (the small blob and alice)", n)
	}
}
