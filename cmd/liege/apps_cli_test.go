package main

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The application commands (`liege ticketing ...`, `liege atm ...`)
// against a running `liege serve --app ticketing` / `--app atm`.

func TestCLITicketing(t *testing.T) {
	s := startServe(t, nil, "--dir", t.TempDir(), "--id", "A", "--app", "ticketing")
	run := func(args ...string) string {
		t.Helper()
		out, _ := mustRun(t, "", append([]string{"ticketing", args[0], "--addr", s.url}, args[1:]...)...)
		return out
	}
	fail := func(args []string, wants ...string) {
		t.Helper()
		wantFail(t, "", append([]string{"ticketing", args[0], "--addr", s.url}, args[1:]...), wants...)
	}
	want := func(got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}

	want(run("create-event", "gala", "A:2x4", "B:1x2"), "created: event gala with A (2 rows of 4 seats), B (1 row of 2 seats): 10 seats\n")
	want(run("create-event", "gala", "A:2x4"), "exists: event gala exists already, and nothing was changed; `liege ticketing availability gala` shows it\n")

	out, errOut := mustRun(t, "", "ticketing", "buy", "--addr", s.url, "gala", "A", "1", "3", "ann")
	want(out, "sold: ticket gala/A/1/3/ann, seat A row 1 seat 3\n")
	if !strings.Contains(errOut, "committed as A/") || !strings.Contains(errOut, "session token: A:") {
		t.Errorf("stderr of buy: %q", errOut)
	}
	match(t, run("buy", "gala", "A", "1", "3", "bob"), "^taken: seat A row 1 seat 3 of gala is sold already, and nothing was bought; `liege ticketing buy-best gala A bob` buys the best free seat\n$")
	want(run("buy-best", "gala", "B", "bob"), "sold: ticket gala/B/1/1/bob, seat B row 1 seat 1\n")
	want(run("buy-best", "gala", "B", "cy"), "sold: ticket gala/B/1/2/cy, seat B row 1 seat 2\n")
	match(t, run("buy-best", "gala", "B", "dee"), "^sold out: section B of gala has no free seat")

	match(t, run("availability", "gala"), `^gala: 7 of 10 seats free\n\s+A\s+rows 1-2 of seats 1-4\s+7 of 8 free\n\s+B\s+rows 1-1 of seats 1-2\s+0 of 2 free\n$`)
	match(t, run("tickets", "ann"), `^gala/A/1/3/ann\s+seat A row 1 seat 3 of gala\s+valid\n$`)
	want(run("tickets", "zed"), "customer zed has no tickets\n")

	want(run("refund", "gala/A/1/3/ann"), "refunded: ticket gala/A/1/3/ann; its seat is free again unless another owner holds it\n")
	want(run("refund", "gala/A/1/3/ann"), "already refunded: ticket gala/A/1/3/ann was refunded before, and nothing was changed\n")
	match(t, run("refund", "gala/A/1/9/ann"), "^unknown ticket: .*`liege ticketing tickets ann` lists")
	match(t, run("tickets", "ann"), `^gala/A/1/3/ann\s+seat A row 1 seat 3 of gala\s+refunded\n$`)

	want(run("queue"), "the customer-service queue is empty\n")
	match(t, run("resolve", "12-0"), "^unknown item: the queue has no item 12-0")

	// --json prints the instance's answer.
	var raw struct {
		TxID   string `json:"txid"`
		Result struct {
			Outcome string `json:"outcome"`
			Ticket  string `json:"ticket"`
		} `json:"result"`
	}
	out = run("buy", "--json", "gala", "A", "2", "4", "eve")
	if err := json.Unmarshal([]byte(out), &raw); err != nil || raw.TxID == "" || raw.Result.Outcome != "sold" || raw.Result.Ticket != "gala/A/2/4/eve" {
		t.Fatalf("buy --json: %q (%v)", out, err)
	}

	// Errors say what to do.
	fail([]string{"buy", "gala", "A", "1", "12", "ann"},
		"seat 12 in row 1 of section A does not exist (it has rows 1 to 2 of seats 1 to 4); `liege ticketing availability gala` lists the seats")
	fail([]string{"buy", "gala", "Z", "1", "1", "ann"}, "event gala has no section Z; `liege ticketing availability gala` lists its sections")
	fail([]string{"buy-best", "gala", "Z", "ann"}, "event gala has no section Z")
	fail([]string{"buy", "opera", "A", "1", "1", "ann"}, "there is no event opera: create it with `liege ticketing create-event opera SECTION:ROWSxSEATS...`")
	fail([]string{"availability", "opera"}, "there is no event opera")
	fail([]string{"buy", "gala", "A", "one", "1", "ann"}, `ROW "one" is not a positive whole number; usage: liege ticketing buy [flags] EVENT SECTION ROW SEAT CUSTOMER`)
	fail([]string{"buy", "gala", "A", "1"}, "3 arguments given; usage: liege ticketing buy [flags] EVENT SECTION ROW SEAT CUSTOMER")
	fail([]string{"create-event", "gala2", "A:10"}, `section "A:10"`, "NAME:ROWSxSEATS, e.g. stalls:20x30")

	// Flags may follow the arguments, as the README writes them.
	out, _ = mustRun(t, "", "ticketing", "buy-best", "gala", "A", "fay", "--addr", s.url)
	match(t, out, "^sold: ticket gala/A/[0-9]+/[0-9]+/fay, seat A row")
	out, _ = mustRun(t, "", "ticketing", "buy", "gala", "A", "2", "3", "gus", "--json", "--addr="+s.url)
	if err := json.Unmarshal([]byte(out), &raw); err != nil || raw.Result.Outcome != "sold" || raw.Result.Ticket != "gala/A/2/3/gus" {
		t.Fatalf("buy ... --json: %q (%v)", out, err)
	}
}

func TestCLIATM(t *testing.T) {
	s := startServe(t, nil, "--dir", t.TempDir(), "--id", "A", "--app", "atm")
	run := func(args ...string) string {
		t.Helper()
		out, _ := mustRun(t, "", append([]string{"atm", args[0], "--addr", s.url}, args[1:]...)...)
		return out
	}
	want := func(got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	}

	want(run("open", "--withdrawal-fee", "1", "--overdraft-fee", "25", "ann", "100"), "opened: account ann with 100 (fees: withdrawal 1, overdraft 25)\n")
	want(run("open", "bob", "0"), "opened: account bob with 0 (fees: withdrawal 0, overdraft 0)\n")
	match(t, run("open", "ann", "5"), "^exists: account ann is open already")
	want(run("deposit", "ann", "20"), "deposited 20 into ann\n")
	want(run("withdraw", "ann", "80"), "dispensed 80\n")
	want(run("withdraw", "ann", "39"), "denied: balance 39 does not cover 39 and the withdrawal fee of 1\n")
	want(run("withdraw", "bob", "80"), "denied: balance 0 does not cover 80\n")
	want(run("transfer", "ann", "bob", "30"), "transferred 30 from ann to bob\n")
	want(run("transfer", "ann", "bob", "30"), "insufficient: the balance 9 of ann does not cover 30, and nothing moved\n")
	want(run("balance", "ann"), "ann: balance 9, open\n")
	want(run("balance", "bob"), "bob: balance 30, open\n")

	out := run("statement", "ann")
	for _, w := range []string{"open", "deposit", "withdrawal", "withdrawal-fee", "transfer-out", "to bob", "-80", "balance"} {
		if !strings.Contains(out, w) {
			t.Errorf("statement lacks %q:\n%s", w, out)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 6 || !strings.HasSuffix(lines[5], " 9") {
		t.Errorf("statement: want 5 entries and the balance 9:\n%s", out)
	}
	if lines := strings.Split(strings.TrimSpace(run("statement", "--limit", "2", "ann")), "\n"); len(lines) != 2 {
		t.Errorf("statement --limit 2: %q", lines)
	}

	var raw struct {
		ReadOnly bool `json:"read_only"`
		Result   struct {
			Balance int64  `json:"balance"`
			Status  string `json:"status"`
		} `json:"result"`
	}
	if out := run("balance", "--json", "ann"); json.Unmarshal([]byte(out), &raw) != nil || !raw.ReadOnly || raw.Result.Balance != 9 {
		t.Fatalf("balance --json: %q", out)
	}

	wantFail(t, "", []string{"atm", "withdraw", "--addr", s.url, "zed", "5"}, "there is no account zed: open it with `liege atm open zed OPENING`")
	wantFail(t, "", []string{"atm", "withdraw", "--addr", s.url, "ann", "-5"}, `AMOUNT "-5" is not a positive whole number; usage: liege atm withdraw [flags] ACCOUNT AMOUNT`)
	wantFail(t, "", []string{"atm", "transfer", "--addr", s.url, "ann", "ann", "5"}, "FROM and TO are the same account ann")

	// An instance serving another application.
	wantFail(t, "", []string{"ticketing", "queue", "--addr", s.url},
		"the instance at "+s.url+" serves app atm, not ticketing", "start it with --app ticketing")
}

func TestCLIAppsOtherApp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := l.Addr().String()
	l.Close()
	wantFail(t, "", []string{"atm", "balance", "--addr", nobody, "--retries", "0", "ann"},
		"no liege instance at "+nobody+": start one with `liege serve --dir DIR --id A --app atm` or pass --addr")

	addr, tok := kvServer(t)
	wantFail(t, "", []string{"atm", "balance", "--addr", addr, "--token-file", tok, "ann"},
		"the instance at "+addr+" serves app kv, not atm (it has no procedure balance); start it with --app atm")
	wantFail(t, "", []string{"ticketing", "availability", "--addr", addr, "--token-file", tok, "gala"},
		"serves app kv, not ticketing", "--app ticketing")
}

func TestCLIAppsHelp(t *testing.T) {
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"ticketing", "--help"}, []string{"create-event", "buy-best", "availability", "queue", "resolve", "liege ticketing buy gala stalls 3 12 ann", "--app ticketing"}},
		{[]string{"ticketing", "buy", "--help"}, []string{"liege ticketing buy [flags] EVENT SECTION ROW SEAT CUSTOMER", "liege ticketing buy gala stalls 3 12 ann", "taken", "--addr", "--json"}},
		{[]string{"ticketing", "create-event", "--help"}, []string{"stalls:20x30", "rows 1 to 20"}},
		{[]string{"atm", "--help"}, []string{"open", "deposit", "withdraw", "transfer", "balance", "statement", "liege atm withdraw ann 80", "--app atm"}},
		{[]string{"atm", "withdraw", "--help"}, []string{"liege atm withdraw [flags] ACCOUNT AMOUNT", "denied: balance 20 does not cover 80"}},
		{[]string{"atm", "open", "--help"}, []string{"--withdrawal-fee", "--overdraft-fee"}},
	} {
		out, _ := mustRun(t, "", c.args...)
		for _, w := range c.wants {
			if !strings.Contains(out, w) {
				t.Errorf("liege %s lacks %q:\n%s", strings.Join(c.args, " "), w, out)
			}
		}
	}
}

// TestCLITicketingDoubleSaleQueue sells one seat at a liege and, while it
// is out of reach, at its vassal; once they reconnect, the vassal's sale is
// corrected, and `liege ticketing queue` shows the double sale, which a
// refund and `resolve` clear.
func TestCLITicketingDoubleSaleQueue(t *testing.T) {
	a, b := newPairProcs(t, "--cluster", "t")
	for _, p := range []*pairProc{a, b} {
		for i, arg := range p.args {
			if arg == "--app" {
				p.args[i+1] = "ticketing"
			}
		}
	}
	a.start(t)
	b.start(t)
	tk := func(s *served, args ...string) string {
		t.Helper()
		out, _ := mustRun(t, "", append([]string{"ticketing", args[0], "--addr", s.url}, args[1:]...)...)
		return out
	}
	tk(a.s, "create-event", "gala", "A:1x4")
	waitIdle(t, a, b)

	// The vassal, restarted dialing a port where nobody listens, sells
	// seat A/1/3 to bob; the liege sells it to ann meanwhile.
	stop := func(p *pairProc) {
		t.Helper()
		if err := p.s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.s.wait(60 * time.Second); code != 0 {
			t.Fatalf("liege serve %s exited %d", p.dir, code)
		}
	}
	stop(b)
	cut := &pairProc{dir: b.dir, args: slices.Clone(b.args)}
	cut.args[slices.Index(cut.args, "--peer")+1] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cut.start(t)
	match(t, tk(cut.s, "buy", "gala", "A", "1", "3", "bob"), "^sold: ticket gala/A/1/3/bob")
	stop(cut)
	match(t, tk(a.s, "buy", "gala", "A", "1", "3", "ann"), "^sold: ticket gala/A/1/3/ann")
	b.start(t)
	waitIdle(t, a, b)

	for _, p := range []*pairProc{a, b} {
		out := tk(p.s, "queue")
		for _, w := range []string{"double-sale, seat A row 1 seat 3 of gala", "ticket gala/A/1/3/ann of ann", "ticket gala/A/1/3/bob of bob", "when done: liege ticketing resolve "} {
			if !strings.Contains(out, w) {
				t.Errorf("queue on %s lacks %q:\n%s", p.dir, w, out)
			}
		}
		txn, _ := mustRun(t, "", "txn", "--addr", p.s.url, "B/1")
		match(t, txn, "^B/1: rolled back, and re-executing it gave a different result, so the liege ran its correction")
	}
	out := tk(b.s, "queue")
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	match(t, tk(a.s, "resolve", id), "^still double-booked: ")
	match(t, tk(a.s, "refund", "gala/A/1/3/bob"), "^refunded: ")
	match(t, tk(a.s, "resolve", id), "^resolved: item "+id+" left the queue\n$")
	match(t, tk(a.s, "queue"), "^the customer-service queue is empty\n$")
}
