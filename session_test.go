package liege

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/journal"
	"go.uber.org/goleak"
)

func TestIdempotentCallSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func(every int) *DB {
		db, err := Open(Options{Dir: dir, ID: "A", CheckpointEvery: every})
		if err != nil {
			t.Fatal(err)
		}
		err = Register(db, Procedure[int64, int64]{Name: "inc",
			Run: func(tx *Tx, d int64) (int64, error) {
				v, _ := tx.Get(K("n"))
				n, _ := v.Int()
				tx.Set(K("n"), n+d)
				return n + d, nil
			},
			Correct: func(*Tx, int64, int64, int64) (any, error) { return nil, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open(1) // a checkpoint after every batch: the key must be remembered from before it
	first, err := db.CallWith(ctx, "inc", int64(5), CallOptions{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.CallWith(ctx, "inc", int64(5), CallOptions{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if again.TxID != first.TxID || string(again.Raw) != string(first.Raw) {
		t.Fatalf("retry got %v %x, first %v %x", again.TxID, again.Raw, first.TxID, first.Raw)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(1)
	defer db.Close()
	if db.Recovery.Checkpoint == "" {
		t.Fatal("no checkpoint loaded: the test does not cover the window before a checkpoint")
	}
	retry, err := db.CallWith(ctx, "inc", int64(5), CallOptions{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if retry.TxID != first.TxID {
		t.Fatalf("retry after restart committed again: %v (first %v)", retry.TxID, first.TxID)
	}
	e, _, _ := db.Get(ctx, K("n"))
	if n, _ := e.Value.Int(); n != 5 {
		t.Fatalf("n = %d, want 5 (applied once)", n)
	}
	other, err := db.CallWith(ctx, "inc", int64(1), CallOptions{IdempotencyKey: "k2"})
	if err != nil || other.TxID == first.TxID {
		t.Fatalf("new key: %v %v", other, err)
	}
}

func TestTokenParseAndWait(t *testing.T) {
	tok, err := ParseToken("B:4,A:17")
	if err != nil || tok.String() != "A:17,B:4" {
		t.Fatalf("%v %v", tok, err)
	}
	for _, bad := range []string{"A", "A:x", ":3", "A:1,,"} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
	h := openTest(t)
	seed(t, h, K("t"))
	ctx := context.Background()
	if now, err := h.WaitApplied(ctx, Token{"A": 1}); err != nil || now["A"] != 1 {
		t.Fatalf("covered token: %v %v", now, err)
	}
	// A token naming an OSeq not yet committed waits until it is.
	done := make(chan error, 1)
	go func() {
		_, err := h.WaitApplied(ctx, Token{"A": 2})
		done <- err
	}()
	seed(t, h, K("t2"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := h.WaitApplied(short, Token{"Z": 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unknown origin: %v", err)
	}
}

func TestTxnStatusCommittedAndRolledBack(t *testing.T) {
	h := openTest(t)
	ctx := context.Background()
	a := seed(t, h, K("s", 1))
	b := seed(t, h, K("s", 2))
	st, err := h.TxnStatus(ctx, a.TxID())
	if err != nil || st.State != TxnCommitted || st.Record.Pos != a.Pos {
		t.Fatalf("a: %+v %v", st, err)
	}
	if _, err := h.RollbackTo(ctx, b.Pos, "test"); err != nil {
		t.Fatal(err)
	}
	st, _ = h.TxnStatus(ctx, b.TxID())
	if st.State != TxnRolledBack || st.LostFile == "" {
		t.Fatalf("b after rollback: %+v", st)
	}
	st, _ = h.TxnStatus(ctx, journal.TxID{Origin: "A", OSeq: 999})
	if st.State != TxnUnknown {
		t.Fatalf("unknown: %+v", st)
	}
}

func TestFailedRollbackStopsTheInstanceAndReopenFinishesIt(t *testing.T) {
	ctx := context.Background()
	h := openTest(t)
	h.Close()
	db, err := Open(Options{Dir: h.Dir(), ID: "A", CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	h2 := &harness{DB: db, testBodies: map[string]fn{}}
	if err := Register(db, Procedure[string, string]{Name: "run",
		Run:     func(tx *Tx, n string) (string, error) { return "ok", h2.testBodies[n](tx) },
		Correct: func(*Tx, string, string, string) (any, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	seed(t, h2, K("f", 1))
	b := seed(t, h2, K("f", 2))
	seed(t, h2, K("f", 3))
	failpoint.Set("rollback-after-lost", "error", 1)
	defer failpoint.Reset()
	_, err = db.RollbackTo(ctx, b.Pos, "test")
	var rf *RollbackFailedError
	if !errors.As(err, &rf) {
		t.Fatalf("rollback error = %v", err)
	}
	failpoint.Reset()
	h2.testBodies["more"] = func(tx *Tx) error { tx.Set(K("f", 4), 1); return nil }
	if _, err := db.Call(ctx, "run", "more"); !errors.As(err, &rf) {
		t.Fatalf("call after a failed rollback = %v, want RollbackFailedError", err)
	}
	db.Close()
	db, err = Open(Options{Dir: h.Dir(), ID: "A", CheckpointEvery: -1})
	if err != nil {
		t.Fatalf("reopen after a failed rollback: %v", err)
	}
	defer db.Close()
	if db.Recovery.Rollback == nil || db.Recovery.Rollback.From != b.Pos {
		t.Fatalf("reopen did not finish the rollback: %+v", db.Recovery.Rollback)
	}
	if _, ok, _ := db.Get(ctx, K("f", 2)); ok {
		t.Fatal("rolled-off write still there")
	}
}

func TestCheckpointBeyondJournalEndRefused(t *testing.T) {
	ctx := context.Background()
	h := openTest(t)
	seed(t, h, K("c", 1))
	seed(t, h, K("c", 2))
	if err := h.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	dir := h.Dir()
	h.Close()
	// Lose the last record behind the checkpoint's back.
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.TruncateAfter(j.Next() - 2); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := Open(Options{Dir: dir, ID: "A"}); err == nil || !strings.Contains(err.Error(), "lost acknowledged records") {
		t.Fatalf("open = %v", err)
	}
}

// A call racing with Close, or made after it, is answered ErrClosed or
// committed: never left waiting (the buffered request channel could take a
// call the exited executor would never answer).
func TestCallAfterCloseDoesNotHang(t *testing.T) {
	h := openTest(t)
	h.testBodies["w"] = func(tx *Tx) error { tx.Set(K("w"), 1); return nil }
	ctx := context.Background()
	errs := make(chan error, 64)
	for range 64 {
		go func() {
			_, err := h.Call(ctx, "run", "w")
			errs <- err
		}()
	}
	h.Close()
	for range 64 {
		if err := <-errs; err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("call racing with Close: %v", err)
		}
	}
	for range 100 {
		if _, err := h.Call(ctx, "run", "w"); !errors.Is(err, ErrClosed) {
			t.Fatalf("call after Close: %v", err)
		}
	}
}

// Close stops every goroutine the instance started: executor, journal
// writer, background checkpoints.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	db, err := Open(Options{Dir: t.TempDir(), ID: "A", CheckpointEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{DB: db, testBodies: map[string]fn{}}
	if err := Register(db, Procedure[string, string]{Name: "run",
		Run:     func(tx *Tx, n string) (string, error) { return "ok", h.testBodies[n](tx) },
		Correct: func(*Tx, string, string, string) (any, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		seed(t, h, K("g", i))
	}
	if _, err := db.RollbackTo(context.Background(), 10, "test"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
