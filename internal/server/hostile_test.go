package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/failpoint"
)

// A string that is not valid UTF-8 text, in a procedure's arguments or in
// a key, is refused with 400 naming where it is: encoding/json would have
// stored it as U+FFFD without a word.
func TestInvalidUTF8IsRefused(t *testing.T) {
	e := newEnv(t, Options{})
	for name, body := range map[string]string{
		"raw byte":       "{\"args\": {\"acct\": \"al\xffce\", \"amount\": 5}}",
		"lone surrogate": `{"args": {"acct": "al\ud800ce", "amount": 5}}`,
		"truncated rune": "{\"args\": {\"acct\": \"al\xc3\", \"amount\": 5}}",
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			e.mustErr(e.call("deposit", body), 400, CodeBadArgs, "args.acct", "UTF-8")
		})
	}
	e.t = t
	e.mustErr(e.call("deposit", "{\"args\": {\"acct\": \"a\", \"amount\": 5}, \"min_token\": \"\xfe\"}"), 400, CodeBadRequest, "min_token")
	if st := e.status(); num(t, st["oseq"]) != 0 {
		t.Fatalf("a refused call committed: oseq %v", st["oseq"])
	}

	// Text is taken as sent, U+FFFD included when the client means it.
	e.must(e.call("deposit", `{"args": {"acct": "h\u00e9llo \ufffd", "amount": 5}}`), 200)
	e.must(e.call("deposit", "{\"args\": {\"acct\": \"h\u00e9llo \uFFFD\", \"amount\": 5}}"), 200)
	if got := e.balance("héllo \uFFFD"); got != 10 {
		t.Fatalf("balance of the text key: %d, want 10", got)
	}

	e.mustErr(e.do("GET", "/v1/key?k="+url.QueryEscape("[\"acct\",\"\xff\"]"), ""), 400, CodeBadRequest, "query parameter k", "[1]", "UTF-8")
	e.mustErr(e.do("GET", "/v1/keys?prefix="+url.QueryEscape(`["\udfff"]`), ""), 400, CodeBadRequest, "query parameter prefix", "[0]")
}

func TestInvalidTextPaths(t *testing.T) {
	for _, c := range []struct {
		in, path string
	}{
		{"\"\xff\"", "the value"},
		{"{\"a\": [1, \"ok\", {\"b\": \"\xff\"}]}", "a[2].b"},
		{"{\"a b\": \"\xff\"}", `["a b"]`},
		{"{\"\xff\": 1}", "[\"\\ufffd\"] (a member's name)"},
		{`{"x": {"y": 1}, "z": ["\ud800"]}`, "z[0]"},
	} {
		got, bad := invalidText([]byte(c.in))
		if !bad || got != c.path {
			t.Errorf("invalidText(%q) = %q, %v; want %q, true", c.in, got, bad, c.path)
		}
	}
	for _, ok := range []string{`{"a": "\ud83d\ude00", "b": "\ufffd"}`, "[\"\uFFFD\", 1, null, true]", `{"a":`, ``} {
		if got, bad := invalidText([]byte(ok)); bad {
			t.Errorf("invalidText(%q) = %q, true; want false", ok, got)
		}
	}
}

// Once the journal fails (an fsync error, as with a full disk), /healthz
// answers 503 and /readyz says why the instance takes no calls.
func TestHealthAfterJournalFailure(t *testing.T) {
	e := newEnv(t, Options{AuthToken: "secret"})
	e.must(e.call("deposit", `{"args": {"acct": "a", "amount": 1}}`, "Authorization", "Bearer secret"), 200)
	e.must(e.get("/healthz"), 200)
	ready := e.must(e.get("/readyz"), 200)
	if ready.body["ready"] != true || len(ready.body["reasons"].([]any)) != 0 {
		t.Fatalf("healthy instance: /readyz %v", ready)
	}

	t.Cleanup(failpoint.Reset)
	failpoint.Set("journal-before-sync", "error", 1)
	e.mustErr(e.call("deposit", `{"args": {"acct": "a", "amount": 1}}`, "Authorization", "Bearer secret"), 503, CodeUnavailable, "journal")
	failpoint.Reset()

	h := e.must(e.get("/healthz"), 503)
	if h.body["status"] != "failed" || !strings.Contains(h.raw, failpoint.ErrInjected.Error()) {
		t.Fatalf("/healthz after the journal failed: %v", h)
	}
	r := e.must(e.get("/readyz"), 503)
	j, _ := r.body["journal"].(map[string]any)
	reasons, _ := r.body["reasons"].([]any)
	if r.body["ready"] != false || j["ok"] != false || len(reasons) != 1 || !strings.Contains(fmt.Sprint(reasons[0]), "journal failed") {
		t.Fatalf("/readyz after the journal failed: %v", r)
	}
}
