package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liege-db/liege/apps"
	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/pairtest"
	"github.com/liege-db/liege/journal"
)

// pairProc is one `liege serve` of a replicated pair.
type pairProc struct {
	dir  string
	args []string
	s    *served
}

func (p *pairProc) start(t *testing.T) {
	t.Helper()
	p.s = startServe(t, nil, p.args...)
}

// newPairProcs sets up (without starting) a liege A listening for its peer
// and a vassal B dialing it, serving apps/kv, with extra flags for both.
func newPairProcs(t *testing.T, extra ...string) (a, b *pairProc) {
	peerAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a = &pairProc{dir: filepath.Join(t.TempDir(), "A")}
	b = &pairProc{dir: filepath.Join(t.TempDir(), "B")}
	a.args = append([]string{"--dir", a.dir, "--id", "A", "--app", "kv", "--role", "liege", "--peer-id", "B",
		"--listen-peer", peerAddr, "--plaintext-peer"}, extra...)
	b.args = append([]string{"--dir", b.dir, "--id", "B", "--app", "kv", "--role", "vassal", "--peer-id", "A",
		"--peer", peerAddr, "--plaintext-peer"}, extra...)
	return a, b
}

// statusLink returns /status's link object.
func statusLink(s *served) map[string]any {
	code, m := s.request("GET", "/status", "")
	if code != 200 {
		s.t.Fatalf("/status: %d %v", code, m)
	}
	l, _ := m["link"].(map[string]any)
	return l
}

// waitIdle polls both instances' /status until both links are idle.
func waitIdle(t *testing.T, ps ...*pairProc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		idle := true
		var last []map[string]any
		for _, p := range ps {
			l := statusLink(p.s)
			last = append(last, l)
			if l == nil || l["idle"] != true {
				idle = false
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pair did not go idle in 60s: %v", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplicatedServeProcesses runs a liege and a vassal as `liege serve`
// child processes on loopback, puts load on both through the HTTP API,
// SIGKILLs the vassal mid-stream and restarts it from its journal, and
// checks that they converge and that every acknowledged transaction is
// accounted for.
func TestReplicatedServeProcesses(t *testing.T) {
	a, b := newPairProcs(t, "--cluster", "t")
	a.start(t)
	b.start(t)
	waitIdle(t, a, b)

	var mu sync.Mutex
	var acked []journal.TxID
	load := func(p *pairProc, seed uint64, n int) {
		rng := rand.New(rand.NewPCG(seed, 1))
		for i := 0; i < n; i++ {
			var proc, body string
			k := fmt.Sprintf("k%d", rng.IntN(8))
			switch rng.IntN(3) {
			case 0:
				proc, body = "set", fmt.Sprintf(`{"args":{"key":%q,"value":"v%d"}}`, k, i)
			case 1:
				proc, body = "add", fmt.Sprintf(`{"args":{"key":"n-%s","delta":%d}}`, k, 1+rng.IntN(5))
			default:
				proc, body = "get", fmt.Sprintf(`{"args":{"key":%q}}`, k)
			}
			code, m, err := p.s.tryRequest("POST", "/v1/call/"+proc, body)
			if err != nil {
				continue // the process was killed under the request
			}
			if code == 200 {
				if s, _ := m["txid"].(string); s != "" {
					id, err := journal.ParseTxID(s)
					if err != nil {
						t.Errorf("answer %v: %v", m, err)
						continue
					}
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); load(a, 1, 300) }()
	go func() {
		defer wg.Done()
		load(b, 2, 150)
		_ = b.s.cmd.Process.Signal(syscall.SIGKILL)
		<-b.s.exited
	}()
	wg.Wait()
	b.start(t)
	wg.Add(1)
	go func() { defer wg.Done(); load(b, 3, 150) }()
	load(a, 4, 100)
	wg.Wait()
	waitIdle(t, a, b)

	states := map[string]bool{}
	for _, id := range acked {
		for _, p := range []*pairProc{a, b} {
			code, m := p.s.request("GET", "/v1/txn/"+id.String(), "")
			st, _ := m["state"].(string)
			if code != 200 || (st != "committed" && st != "reprocessed" && st != "corrected") {
				t.Fatalf("GET /v1/txn/%s on %s: %d %v: an acknowledged transaction is not in the path", id, p.dir, code, m)
			}
			states[st] = true
		}
	}
	t.Logf("%d acknowledged transactions; states seen: %v", len(acked), states)

	for _, p := range []*pairProc{a, b} {
		if err := p.s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.s.wait(60 * time.Second); code != 0 {
			t.Fatalf("liege serve %s exited %d:\n%s", p.dir, code, p.s.output)
		}
	}
	ha, hb := stateHash(t, a.dir), stateHash(t, b.dir)
	if ha != hb {
		t.Fatalf("state hashes differ: A %s, B %s", ha, hb)
	}
	checkOracle(t, a, b, acked)
}

// checkOracle checks DESIGN.md section 11, with apps/kv's invariant, on the
// stopped directories of a and b.
func checkOracle(t *testing.T, a, b *pairProc, acked []journal.TxID) {
	t.Helper()
	ia, err := oracle.Load(a.dir)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := oracle.Load(b.dir)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := apps.Lookup("kv")
	rep, err := oracle.Check(ia, ib, oracle.Options{Acked: acked, Invariant: pairtest.Invariant(app.Check)})
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	t.Logf("oracle: %d transactions in the path, checks %v", rep.PathLength, rep.Checks)
}

// stateHash recovers a stopped directory's state as journalctl state does
// and returns its hash.
func stateHash(t *testing.T, dir string) string {
	t.Helper()
	rec, err := inspect.Recover(dir)
	if err != nil {
		t.Fatalf("recover %s: %v", dir, err)
	}
	return fmt.Sprintf("%x", rec.Store.Hash())
}

// TestSwitchoverCommand swaps the roles of two serving processes with
// liege switchover, then checks a conflict now rolls back the old liege.
func TestSwitchoverCommand(t *testing.T) {
	a, b := newPairProcs(t)
	a.start(t)
	b.start(t)
	a.s.request("POST", "/v1/call/set", `{"args":{"key":"x","value":"1"}}`)
	waitIdle(t, a, b)
	out, _ := mustRun(t, "", "switchover", "--addr", a.s.url, "--peer-addr", b.s.url)
	if !strings.Contains(out, "switchover done: B is the liege, A the vassal") {
		t.Fatalf("switchover printed:\n%s", out)
	}
	waitIdle(t, a, b)
	for p, want := range map[*pairProc]string{a: "vassal", b: "liege"} {
		if _, m := p.s.request("GET", "/status", ""); m["role"] != want {
			t.Errorf("%s is %v after the switchover, want %s", p.dir, m["role"], want)
		}
	}
	if code, m := a.s.request("POST", "/v1/call/set", `{"args":{"key":"y","value":"2"}}`); code != 200 {
		t.Fatalf("the new vassal does not take calls after the switchover: %d %v", code, m)
	}
	waitIdle(t, a, b)
}

// TestCrashMidRollbackAndMidReconciliation SIGKILLs the vassal in the
// middle of its first rollback (failpoint rollback-mid-undo) and the liege
// right after it journals its second reconciliation (failpoint
// reconcile-after-commit), restarts each from its journal, and checks the
// pair converges with every acknowledged transaction in the path once.
func TestCrashMidRollbackAndMidReconciliation(t *testing.T) {
	a, b := newPairProcs(t)
	a.s = startServe(t, []string{"LIEGE_FAILPOINTS=reconcile-after-commit=crash@2"}, a.args...)
	b.s = startServe(t, []string{"LIEGE_FAILPOINTS=rollback-mid-undo=crash"}, b.args...)

	var mu sync.Mutex
	var acked []journal.TxID
	crashed := map[string]bool{}
	load := func(p *pairProc, name string, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 7))
		for i := 0; i < 400; i++ {
			select {
			case <-p.s.exited:
				mu.Lock()
				crashed[name] = true
				mu.Unlock()
				p.start(t) // from its journal, without the failpoint
			default:
			}
			k := fmt.Sprintf("k%d", rng.IntN(4))
			body := fmt.Sprintf(`{"args":{"key":%q,"value":"%s%d"}}`, k, name, i)
			proc := "set"
			if rng.IntN(2) == 0 {
				proc, body = "transfer", fmt.Sprintf(`{"args":{"from":%q,"to":"k%d","amount":0}}`, k, rng.IntN(4))
			}
			if code, m, err := p.s.tryRequest("POST", "/v1/call/"+proc, body); err == nil && code == 200 {
				if id, err := journal.ParseTxID(fmt.Sprint(m["txid"])); err == nil {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); load(a, "A", 1) }()
	go func() { defer wg.Done(); load(b, "B", 2) }()
	wg.Wait()
	for _, p := range []*pairProc{a, b} {
		select {
		case <-p.s.exited:
			p.start(t)
		default:
		}
	}
	waitIdle(t, a, b)
	if !crashed["B"] {
		t.Errorf("the vassal never crashed mid-rollback: the load provoked no rollback")
	}
	for _, p := range []*pairProc{a, b} {
		if err := p.s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.s.wait(60 * time.Second); code != 0 {
			t.Fatalf("liege serve %s exited %d", p.dir, code)
		}
	}
	checkOracle(t, a, b, acked)
	t.Logf("%d acknowledged; crashed: %v", len(acked), crashed)
}
