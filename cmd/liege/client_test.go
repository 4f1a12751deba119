package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/apps/kv"
	"github.com/liege-db/liege/client"
	"github.com/liege-db/liege/client/clienttest"
	"github.com/liege-db/liege/internal/server"
)

// kvServer serves a fresh instance with kv over HTTP, requiring the bearer
// token in the file it returns.
func kvServer(t *testing.T) (addr, tokenFile string) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := kv.Register(db); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(db, server.Options{App: kv.Name, AuthToken: "s3cret", Logger: quiet}).Handler())
	t.Cleanup(srv.Close)
	tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(srv.URL, "http://"), tokenFile
}

// runCLI runs the liege command line with args and stdin, returning what it
// printed and its error.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter, app.Reader = &out, &errb, strings.NewReader(stdin)
	err = run(app, append([]string{"liege"}, args...))
	return out.String(), errb.String(), err
}

// mustRun runs the command line and fails the test if it fails.
func mustRun(t *testing.T, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, err := runCLI(t, stdin, args...)
	if err != nil {
		t.Fatalf("liege %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

// wantFail runs the command line and checks that it fails saying each of
// wants.
func wantFail(t *testing.T, stdin string, args []string, wants ...string) {
	t.Helper()
	_, _, err := runCLI(t, stdin, args...)
	if err == nil {
		t.Fatalf("liege %s succeeded", strings.Join(args, " "))
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("liege %s: error %q lacks %q", strings.Join(args, " "), err, w)
		}
	}
}

func match(t *testing.T, got, pattern string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(got) {
		t.Fatalf("output %q does not match %s", got, pattern)
	}
}

func TestCLIAgainstServer(t *testing.T) {
	addr, tok := kvServer(t)
	flags := []string{"--addr", addr, "--token-file", tok}
	run := func(stdin, cmd string, args ...string) (string, string) {
		t.Helper()
		return mustRun(t, stdin, append(append([]string{cmd}, flags...), args...)...)
	}

	out, errOut := run("", "call", "add", `{"key":"ann","delta":10}`)
	match(t, out, `^committed A/1 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\+\d+ \(position \d+\): ok\n$`)
	if errOut != "session token: A:1\n" {
		t.Fatalf("stderr %q", errOut)
	}
	argsFile := filepath.Join(t.TempDir(), "args.json")
	if err := os.WriteFile(argsFile, []byte(`{"from":"ann","to":"bob","amount":4}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = run("", "call", "--args-file", argsFile, "transfer")
	match(t, out, `^committed A/2 at \S+ \(position \d+\): ok\n$`)
	out, _ = run(`{"from":"ann","to":"bob","amount":400}`, "call", "transfer", "-")
	if out != "read-only: insufficient\n" {
		t.Fatalf("refused transfer: %q", out)
	}
	out, _ = run(`{"key":"ann"}`, "call", "--args-file", "-", "get")
	if out != "read-only: {\"found\":true,\"value\":6}\n" {
		t.Fatalf("get through call: %q", out)
	}
	out, _ = run("", "call", "--json", "append", `{"key":"l","value":"x"}`)
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil || raw["txid"] != "A/3" || raw["result"] != 1.0 || raw["token"] != "A:3" {
		t.Fatalf("call --json: %q (%v)", out, err)
	}
	// The same idempotency key commits once.
	out1, _ := run("", "call", "--idempotency-key", "order-17", "add", `{"key":"cat","delta":1}`)
	out2, _ := run("", "call", "--idempotency-key", "order-17", "add", `{"key":"cat","delta":1}`)
	if out1 != out2 || !strings.HasPrefix(out1, "committed A/4 ") {
		t.Fatalf("the same idempotency key: %q then %q", out1, out2)
	}

	out, errOut = run("", "get", `["kv","ann"]`)
	match(t, out, `^\["kv","ann"\] = 6 \(written at \S+Z\+\d+ by A\)\n$`)
	// Flags may follow the arguments.
	out, _ = mustRun(t, "", "get", `["kv","ann"]`, "--addr", addr, "--token-file="+tok)
	match(t, out, `^\["kv","ann"\] = 6 \(written`)
	if !strings.HasPrefix(errOut, "session token: A:") {
		t.Fatalf("get stderr %q", errOut)
	}
	out, _ = run("", "get", `["kv","zed"]`)
	if out != `["kv","zed"]: not found`+"\n" {
		t.Fatalf("get of an absent key: %q", out)
	}
	out, _ = run("", "get", "--json", `["kv","l"]`)
	if err := json.Unmarshal([]byte(out), &raw); err != nil || raw["found"] != true {
		t.Fatalf("get --json: %q", out)
	}

	out, errOut = run("", "keys", `["kv"]`)
	if out != "[\"kv\",\"ann\"] = 6\n[\"kv\",\"bob\"] = 4\n[\"kv\",\"cat\"] = 1\n[\"kv\",\"l\"] = [\"x\"]\n" || strings.Contains(errOut, "more remain") {
		t.Fatalf("keys: %q, stderr %q", out, errOut)
	}
	out, errOut = run("", "keys", "--limit", "1")
	if out != "[\"kv\",\"ann\"] = 6\n" || !strings.Contains(errOut, "1 keys shown; more remain") {
		t.Fatalf("keys --limit 1: %q, stderr %q", out, errOut)
	}
	out, errOut = run("", "keys", `["nothing"]`)
	if out != "" || !strings.Contains(errOut, `no keys with the prefix ["nothing"]`) {
		t.Fatalf("keys of an empty prefix: %q, stderr %q", out, errOut)
	}

	out, _ = run("", "txn", "A/2")
	match(t, out, `^A/2: committed \(local record of transfer at position \d+\): ok\n$`)
	out, _ = run("", "txn", "A/99")
	if !strings.HasPrefix(out, "A/99: unknown to this instance") {
		t.Fatalf("txn of an unknown transaction: %q", out)
	}
	out, _ = run("", "txn", "--json", "A/1")
	if err := json.Unmarshal([]byte(out), &raw); err != nil || raw["state"] != "committed" {
		t.Fatalf("txn --json: %q", out)
	}

	out, _ = run("", "status")
	for _, want := range []string{"id  ", " A\n", "app ", " kv\n", "own transactions (oseq)  4\n", "watermarks  ", "A:4\n", "uptime"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q:\n%s", want, out)
		}
	}
	out, _ = run("", "status", "--json")
	if err := json.Unmarshal([]byte(out), &raw); err != nil || raw["id"] != "A" || raw["oseq"] != 4.0 {
		t.Fatalf("status --json: %q", out)
	}

	// Session tokens: a token the instance has reached is served, one it
	// has not is refused with advice.
	run("", "get", "--min-token", "A:4", `["kv","ann"]`)
	wantFail(t, "", append([]string{"get", "--retries", "0", "--min-token", "A:99"}, append(flags, `["kv","ann"]`)...),
		"min_token A:99", "retry later or at the other instance", "--min-token")
	wantFail(t, "", append([]string{"get", "--min-token", "A-4"}, append(flags, `["kv","ann"]`)...), "--min-token: malformed session token")
	// LIEGE_ADDR stands in for --addr, LIEGE_TOKEN_FILE for --token-file.
	t.Setenv("LIEGE_ADDR", addr)
	t.Setenv("LIEGE_TOKEN_FILE", tok)
	out, _ = mustRun(t, "", "get", `["kv","bob"]`)
	if !strings.HasPrefix(out, `["kv","bob"] = 4 `) {
		t.Fatalf("get through the environment: %q", out)
	}
}

func TestCLIErrorsSayWhatToDo(t *testing.T) {
	addr, tok := kvServer(t)
	flags := []string{"--addr", addr, "--token-file", tok}
	with := func(cmd string, args ...string) []string {
		return append(append([]string{cmd}, flags...), args...)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := l.Addr().String()
	l.Close()
	wantFail(t, "", []string{"get", "--addr", nobody, "--retries", "0", `["kv","a"]`},
		"no liege instance at "+nobody+": start one with `liege serve --dir DIR --id A --app kv` or pass --addr")
	wantFail(t, "", []string{"call", "--addr", addr, "add", `{"key":"a","delta":1}`},
		"requires a bearer token: pass --token-file FILE")
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantFail(t, "", []string{"status", "--addr", addr, "--token-file", wrong}, "refused the bearer token in "+wrong)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantFail(t, "", []string{"status", "--addr", addr, "--token-file", empty}, "is empty")
	wantFail(t, "", []string{"status", "--addr", addr, "--token-file", filepath.Join(t.TempDir(), "missing")}, "read the bearer token")

	wantFail(t, "", with("call", "add", `{"key":"a","delta":-1}`),
		"the procedure failed and nothing was committed: add: delta -1 is negative")
	wantFail(t, "", with("call", "bye", `{}`), `unknown procedure "bye"`, "append, delete, get, set, transfer")
	wantFail(t, "", with("call", "add", `{"key":"a","delta":"x"}`), "(bad_args)")
	wantFail(t, "", with("call", "add", `{"key":"a",`), "ARGS-JSON is not valid JSON", `e.g. '{"key":"ann","delta":5}'`)
	wantFail(t, "", with("call", "add", `{} {}`), "more than one JSON value")
	wantFail(t, "  ", with("call", "add", "-"), "the arguments on stdin is empty")
	wantFail(t, "", with("call", "--args-file", "x.json", "add", `{}`), "either as ARGS-JSON or with --args-file")
	wantFail(t, "", with("call", "--args-file", filepath.Join(t.TempDir(), "none.json"), "add"), "read the arguments")
	wantFail(t, "", with("call"), "0 arguments given; usage: liege call [flags] PROC [ARGS-JSON]")
	wantFail(t, "", with("call", "add", `{}`, "extra"), "3 arguments given")
	wantFail(t, "", with("call", "add", `{"key":"a","delta":1}`, "--bogus"), "flag provided but not defined: -bogus")
	wantFail(t, "", with("get", `"kv"`), `KEY-JSON "kv"`, "write it as a JSON array")
	wantFail(t, "", with("get", `["kv",1.5]`), "1.5 is not an integer")
	wantFail(t, "", with("keys", `["kv"]`, `["x"]`), "usage: liege keys [flags] [PREFIX-JSON]")
	wantFail(t, "", with("keys", "--limit", "-1"), "--limit -1")
	wantFail(t, "", with("txn", "A17"), "malformed TxID")
	wantFail(t, "", with("status", "extra"), "1 arguments given")

	// Something that is not a liege instance.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	wantFail(t, "", []string{"status", "--addr", other.URL}, "answered HTTP 404 Not Found, not the liege API")
}

// A call whose answer is lost is retried under its idempotency key and
// commits once.
func TestCLICallRetriesWithoutCommittingTwice(t *testing.T) {
	s := clienttest.New(t)
	s.Inject(clienttest.Fault{Drop: true, AfterServe: true}, clienttest.Fault{Status: 503, Code: client.CodeUnavailable})
	out, _ := mustRun(t, "", "call", "--addr", s.Addr(), "set", `{"key":"x","value":"v"}`)
	if !strings.HasPrefix(out, "committed A/1 at ") || s.Commits() != 1 {
		t.Fatalf("output %q, %d commits", out, s.Commits())
	}
	reqs := s.Requests()
	if len(reqs) < 3 || reqs[0].IdempotencyKey == "" || reqs[len(reqs)-1].IdempotencyKey != reqs[0].IdempotencyKey {
		t.Fatalf("requests %+v", reqs)
	}
	s.Inject(clienttest.Fault{Status: 503, Code: client.CodeUnavailable, Message: "the instance is shutting down"})
	wantFail(t, "", []string{"call", "--addr", s.Addr(), "--retries", "0", "set", `{"key":"x","value":"v"}`},
		"the instance is shutting down (unavailable)")
}

func TestHearsLiegeIsTheOneRefusalWorthWaitingFor(t *testing.T) {
	hears := &client.Error{Status: http.StatusConflict, Code: "bad_request",
		Message: "the liege is still heard from (link up or a recent frame): promote only a vassal whose liege is gone, or force it"}
	if !hearsLiege(fmt.Errorf("set role liege: %w", hears)) {
		t.Error("the vassal's 409 while it hears its liege is not recognised")
	}
	for _, err := range []error{
		&client.Error{Status: http.StatusConflict, Code: "bad_request", Message: "wrong role for this operation"},
		&client.Error{Status: http.StatusServiceUnavailable, Message: "the liege is still heard from"},
		errors.New("the liege is still heard from"),
	} {
		if hearsLiege(err) {
			t.Errorf("hearsLiege(%v) = true: --wait would retry a refusal time does not end", err)
		}
	}
}
