package main

import (
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/hlc"
)

// The tests of liege serve's --merge and --clock-skew flags.

func TestServeRefusesBadMergeAndClockSkew(t *testing.T) {
	d := t.TempDir()
	for _, tc := range []struct {
		env  []string
		args []string
		want []string
	}{
		{nil, []string{"--merge", "bogus"}, []string{`--merge must be path`, `or lww`, `not "bogus"`}},
		{[]string{"LIEGE_MERGE=LWW"}, nil, []string{`--merge must be path`, `or lww`, `not "LWW"`}},
		{nil, []string{"--clock-skew", "soon"}, []string{"clock-skew"}},
		{nil, []string{"--route", "buy"}, []string{"--route", "want procedure=local|liege|auto"}},
		{[]string{"LIEGE_ROUTE=buy=fast"}, nil, []string{`route for "buy"`, "want local, liege or auto"}},
		{nil, []string{"--app", "ticketing", "--route", "by=auto"}, []string{`serves no procedure "by"`}},
	} {
		args := append([]string{"serve", "--dir", d, "--id", "A", "--http", "127.0.0.1:0"}, tc.args...)
		p := launch(t, tc.env, args...)
		if code := p.wait(30 * time.Second); code == 0 {
			t.Errorf("liege %v (env %v) exited 0", args, tc.env)
		}
		for _, w := range tc.want {
			if !strings.Contains(p.output.String(), w) {
				t.Errorf("liege %v (env %v): output lacks %q:\n%s", args, tc.env, w, p.output)
			}
		}
	}
}

// keyValue returns GET /v1/key's value of ("kv", k) (nil if absent).
func keyValue(s *served, k string) any {
	s.t.Helper()
	code, m := s.request("GET", "/v1/key?k="+url.QueryEscape(fmt.Sprintf(`["kv",%q]`, k)), "")
	if code != 200 {
		s.t.Fatalf("GET /v1/key %s: %d %v", k, code, m)
	}
	return m["value"]
}

func callSet(s *served, k, v string) {
	s.t.Helper()
	code, m := s.request("POST", "/v1/call/set", fmt.Sprintf(`{"args":{"key":%q,"value":%q}}`, k, v))
	if code != 200 {
		s.t.Fatalf("set %s: %d %v", k, code, m)
	}
}

// A clock skewed beyond --max-clock-offset is refused at the handshake,
// and the skew moves the engine's timestamps too.
func TestServeClockSkewRefusedAtHandshake(t *testing.T) {
	a, b := newPairProcs(t, "--cluster", "t")
	a.args = append(a.args, "--clock-skew", "5s")
	a.start(t)
	b.start(t)

	// The engine's clock: A's transactions are stamped 5s ahead.
	code, m := a.s.request("POST", "/v1/call/set", `{"args":{"key":"x","value":"v"}}`)
	if code != 200 {
		t.Fatalf("set on A: %d %v", code, m)
	}
	f, _ := m["hlc"].(float64)
	if ahead := time.Until(hlc.Timestamp(uint64(f)).Physical()); ahead < 4*time.Second || ahead > 6*time.Second {
		t.Fatalf("A's transaction is stamped %v ahead of the wall clock, want about 5s (answer %v)", ahead, m)
	}

	// The handshake's wall clock: the link is refused for the offset.
	deadline := time.Now().Add(30 * time.Second)
	for {
		la, lb := statusLink(a.s), statusLink(b.s)
		if la["connected"] == true || lb["connected"] == true {
			t.Fatalf("the pair connected with a 5s clock skew: A %v, B %v", la, lb)
		}
		ra, _ := la["refused"].(string)
		rb, _ := lb["refused"].(string)
		if strings.Contains(ra, "wall clocks differ") || strings.Contains(rb, "wall clocks differ") {
			t.Logf("refused: A %q, B %q", ra, rb)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no clock-offset refusal in 30s: A %v, B %v", la, lb)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := a.s.output.String(); !strings.Contains(out, "clock is skewed") {
		t.Errorf("A does not log its skew:\n%s", out)
	}
}

// A pair in --merge lww exchanges conflicting sets made while it was apart
// and converges on the newer one, without the vassal rolling back (the
// path protocol would roll the vassal's set back and reconcile it).
func TestServeMergeLWWPair(t *testing.T) {
	a, b := newPairProcs(t, "--cluster", "t", "--merge", "lww")

	// A alone: its sets, then it stops.
	a.start(t)
	callSet(a.s, "shared", "from A")
	callSet(a.s, "a-only", "A")
	if err := a.s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.s.wait(60 * time.Second); code != 0 {
		t.Fatalf("A exited %d", code)
	}
	// B alone, later: its set of the shared key is the newer one.
	b.start(t)
	callSet(b.s, "shared", "from B")
	callSet(b.s, "b-only", "B")
	// Together.
	a.start(t)
	waitIdle(t, a, b)

	for _, p := range []*pairProc{a, b} {
		for k, want := range map[string]string{"shared": "from B", "a-only": "A", "b-only": "B"} {
			if got := keyValue(p.s, k); got != want {
				t.Errorf("%s: %s = %v, want %q", p.dir, k, got, want)
			}
		}
		code, st := p.s.request("GET", "/status", "")
		if code != 200 || st["epoch"] != float64(0) {
			t.Errorf("%s: /status %d %v: want epoch 0 (lww never rolls back)", p.dir, code, st)
		}
		if out := p.s.output.String(); !strings.Contains(out, "merge=lww") {
			t.Errorf("%s: the serving log line does not say merge=lww:\n%s", p.dir, out)
		}
	}
}
