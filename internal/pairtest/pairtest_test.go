package pairtest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/internal/pairtest"
)

// putArgs are the arguments of the toy procedure "put".
type putArgs struct {
	K string `json:"k"`
	V string `json:"v"`
}

func kvKey(k string) liege.Key { return liege.K("kv", k) }

// register registers "put": it sets ("kv", K) to V and returns the value it
// replaced ("" if none), so a re-execution on other data gives another
// result; its correction records what the caller was told at ("told", K).
func register(db liege.Registrar) error {
	return liege.Register(db, liege.Procedure[putArgs, string]{
		Name: "put",
		Run: func(tx *liege.Tx, a putArgs) (string, error) {
			old := ""
			if v, ok := tx.Get(kvKey(a.K)); ok {
				old, _ = v.Str()
			}
			tx.Set(kvKey(a.K), a.V)
			return old, nil
		},
		Correct: func(tx *liege.Tx, a putArgs, told, now string) (any, error) {
			tx.Set(liege.K("told", a.K), fmt.Sprintf("%s was told it replaced %q; it replaced %q", a.V, told, now))
			return "noted", nil
		},
	})
}

// strings only: every value of the toy state is a string.
func stringsOnly(state []liege.Entry) []string {
	var out []string
	for _, e := range state {
		if _, err := e.Value.Str(); err != nil {
			out = append(out, fmt.Sprintf("%s is not a string", e.Key))
		}
	}
	return out
}

func get(t *testing.T, db *liege.DB, k liege.Key) string {
	t.Helper()
	e, ok, err := db.Get(context.Background(), k)
	if err != nil || !ok {
		t.Fatalf("get %s on %s: found %v, %v", k, db.ID(), ok, err)
	}
	s, err := e.Value.Str()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReplicatesAndReconciles(t *testing.T) {
	p := pairtest.New(t, register)
	p.Call(p.A(), "put", putArgs{K: "x", V: "a0"})
	p.Idle()
	if v := get(t, p.B(), kvKey("x")); v != "a0" {
		t.Fatalf("B has x = %q, want the liege's a0", v)
	}

	p.Partition(true)
	p.Call(p.A(), "put", putArgs{K: "x", V: "a1"})
	b := p.Call(p.B(), "put", putArgs{K: "x", V: "b1"})
	p.Partition(false)
	p.Idle()

	// Both wrote x without seeing the other: the vassal's put is rolled
	// back and reconciled (re-executed, it replaced a1, not a0: corrected).
	for _, db := range []*liege.DB{p.A(), p.B()} {
		if st := p.Status(db, b.TxID); st != liege.TxnCorrected {
			t.Errorf("%s reports the vassal's %v as %s, want corrected", db.ID(), b.TxID, st)
		}
		if told := get(t, db, liege.K("told", "x")); !strings.Contains(told, `told it replaced "a0"; it replaced "a1"`) {
			t.Errorf("%s: the correction recorded %q", db.ID(), told)
		}
	}
	if n := len(p.State(p.A())); n != 2 {
		t.Errorf("the liege holds %d keys, want 2", n)
	}
	if n := len(p.Acked()); n != 3 {
		t.Errorf("%d TxIDs recorded as acknowledged, want 3", n)
	}
	rep := p.Converged(pairtest.Invariant(stringsOnly))
	// The path: A/1, A/2 and the correction standing for B/1.
	if rep.Acked != 3 || rep.PathLength != 3 {
		t.Errorf("report %+v: want 3 acknowledged TxIDs and a path of 3", rep)
	}
}

// fakeT records the failures of a Pair instead of failing the test, and
// ends the goroutine on a fatal one, as testing.T does.
type fakeT struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.msgs) > 0
}

func (f *fakeT) failures() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.msgs, "\n")
}

// inGoroutine runs fn as a test body would run, so that Fatalf may end it.
func inGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// TestConvergedFails checks that Converged can fail: a broken invariant is
// reported as a violation of item 4.
func TestConvergedFails(t *testing.T) {
	ft := &fakeT{TB: t}
	inGoroutine(func() {
		p := pairtest.New(ft, register)
		p.Call(p.A(), "put", putArgs{K: "x", V: "a0"})
		p.Idle()
		p.Converged(func([]oracle.Entry) []string { return []string{"the rule is broken"} })
	})
	if got := ft.failures(); !strings.Contains(got, "the rule is broken") || !strings.Contains(got, "item 4") {
		t.Errorf("Converged with a broken invariant reported %q", got)
	}

	// The same scenario with an invariant that holds passes: the failure
	// above is the invariant's.
	ft = &fakeT{TB: t}
	inGoroutine(func() {
		p := pairtest.New(ft, register)
		p.Call(p.A(), "put", putArgs{K: "x", V: "a0"})
		p.Idle()
		p.Converged(pairtest.Invariant(stringsOnly))
	})
	if got := ft.failures(); got != "" {
		t.Errorf("a converged pair failed: %s", got)
	}
}
