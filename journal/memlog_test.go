package journal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestMemLogCrashDeterministic checks what a simulator relies on: the same
// log crashed with the same seed leaves the same log, the crashed log
// refuses every call, and a log crashes only once.
func TestMemLogCrashDeterministic(t *testing.T) {
	build := func() *MemLog {
		rng := rand.New(rand.NewPCG(1, 1))
		l := NewMemLog()
		m := newModel()
		m.write(t, l, rng, 10)
		m.sync(t, l)
		m.write(t, l, rng, 10)
		return l
	}
	contents := func(l *MemLog) [][]byte {
		first, last := bounds(t, l)
		var out [][]byte
		for i := first; i <= last; i++ {
			b, err := l.Read(i)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	differ := false
	for seed := range uint64(20) {
		a := build()
		b := build()
		ca := contents(a.Crash(rand.New(rand.NewPCG(seed, 2))))
		cb := contents(b.Crash(rand.New(rand.NewPCG(seed, 2))))
		if len(ca) != len(cb) {
			t.Fatalf("seed %d: two crashes kept %d and %d entries", seed, len(ca), len(cb))
		}
		for i := range ca {
			if !bytes.Equal(ca[i], cb[i]) {
				t.Fatalf("seed %d: two crashes differ at entry %d", seed, i+1)
			}
		}
		if len(ca) != 20 || !bytes.Equal(ca[len(ca)-1], contents(build())[19]) {
			differ = true
		}
		if _, err := a.LastIndex(); !errors.Is(err, ErrClosed) {
			t.Fatalf("a crashed log answered LastIndex with %v, want ErrClosed", err)
		}
		if _, err := a.Reopen(); err == nil {
			t.Fatalf("a crashed log reopened")
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("a second Crash of the same log did not panic")
				}
			}()
			a.Crash(rand.New(rand.NewPCG(seed, 2)))
		}()
	}
	if !differ {
		t.Fatalf("no seed lost or tore an unsynced entry")
	}
	if _, err := NewMemLog().Reopen(); err == nil {
		t.Fatalf("an open log reopened")
	}
}
