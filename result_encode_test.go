package liege

import (
	"bytes"
	"testing"

	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
)

// TestRunnerEncodesResults checks the result bytes the runner hands the
// engine, for a result type encoded without the reflective encoder and
// for one encoded with it: both as journal.Marshal encodes them.
func TestRunnerEncodesResults(t *testing.T) {
	type pair struct{ A, B string }
	reg := NewRegistry()
	words := []string{"sold", "taken"}
	if err := Register(reg, Procedure[int, string]{
		Name:    "word",
		Run:     func(tx *Tx, i int) (string, error) { return words[i], nil },
		Correct: func(*Tx, int, string, string) (any, error) { return nil, nil },
	}); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, Procedure[int, pair]{
		Name:    "pair",
		Run:     func(tx *Tx, i int) (pair, error) { return pair{words[i], words[1-i]}, nil },
		Correct: func(*Tx, int, pair, pair) (any, error) { return pair{"x", "y"}, nil },
	}); err != nil {
		t.Fatal(err)
	}
	rn, st := reg.Runner(), store.New()
	for _, tc := range []struct {
		proc string
		want any
	}{{"word", "taken"}, {"pair", pair{"taken", "sold"}}} {
		eff, err := rn.Run(st, hlc.Timestamp(1), "A", tc.proc, 1, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.proc, err)
		}
		want, err := journal.Marshal(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(eff.Result, want) {
			t.Errorf("%s: result %x, want %x", tc.proc, eff.Result, want)
		}
	}
	told, _ := journal.Marshal(pair{"a", "b"})
	eff, err := rn.Correct(st, hlc.Timestamp(2), "A", "pair", mustMarshal(t, 0), told, told)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustMarshal(t, pair{"x", "y"}); !bytes.Equal(eff.Result, want) {
		t.Errorf("correction result %x, want %x", eff.Result, want)
	}
}

// TestRunnerResultNotBoxed checks that a procedure's string result is
// encoded without a heap allocation of its own (it used to be boxed into
// an interface on every call).
func TestRunnerResultNotBoxed(t *testing.T) {
	reg := NewRegistry()
	words := []string{"sold", "taken"}
	if err := Register(reg, Procedure[int, string]{
		Name:    "word",
		Run:     func(tx *Tx, i int) (string, error) { return words[i%2], nil },
		Correct: func(*Tx, int, string, string) (any, error) { return nil, nil },
	}); err != nil {
		t.Fatal(err)
	}
	rn, st := reg.Runner(), store.New()
	var args any = 1
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := rn.Run(st, hlc.Timestamp(1), "A", "word", args, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a read-only call with a string result allocates %v times in the runner, want 0", allocs)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := journal.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
