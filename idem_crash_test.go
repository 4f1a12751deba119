package liege_test

import (
	"context"
	"errors"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/testproc"
)

// TestIdempotencyKeysSurviveRetentionAndKill: a child commits keyed calls
// with small segments, frequent checkpoints and a small keep floor, so
// that retention truncates the journal's front under load, and is killed
// with SIGKILL. Reopened, every acknowledged key answers its first
// outcome without committing again, most of them from records the journal
// no longer holds, and a key with other arguments is refused.
func TestIdempotencyKeysSurviveRetentionAndKill(t *testing.T) {
	acks := 6000
	if raceOn || testing.Short() {
		acks = 3000
	}
	cfg := testproc.Config{Role: testproc.RoleCommit, Dir: t.TempDir(), ID: "A", CheckpointEvery: 500, SegmentSize: 64 << 10,
		JournalKeep: 64 << 10, Workers: 16, FirstID: 1_000_000, Limit: 999_999, Keyed: true}
	child := testproc.Start(t, cfg, "")
	acked := map[int64]bool{}
	for n := 0; n < acks; n++ {
		line, ok := child.Line()
		if !ok {
			child.Finish()
			t.Fatalf("the child stopped after %d acknowledgements; its stderr:\n%s", n, child.Stderr())
		}
		addAck(t, acked, line, cfg)
	}
	child.Kill()
	for _, line := range child.FinishKilled() {
		addAck(t, acked, line, cfg)
	}

	ctx := context.Background()
	db := testproc.Open(t, cfg.Options())
	before, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gone, n := 0, 0
	for id := range acked {
		res, err := db.CallWith(ctx, "pair", testproc.PairArgs{ID: id}, liege.CallOptions{IdempotencyKey: testproc.PairKey(id)})
		if err != nil {
			t.Fatalf("retry of acknowledged call %d: %v", id, err)
		}
		if res.TxID.IsZero() || res.TxID.OSeq > before.HighOSeq {
			t.Fatalf("retry of acknowledged call %d answered %v, not a transaction of the first run (up to A/%d): it committed again", id, res.TxID, before.HighOSeq)
		}
		st, err := db.TxnStatus(ctx, res.TxID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Record == nil {
			gone++
		}
		if n++; n%100 == 0 {
			_, err := db.CallWith(ctx, "pair", testproc.PairArgs{ID: id + 1}, liege.CallOptions{IdempotencyKey: testproc.PairKey(id)})
			if !errors.Is(err, liege.ErrIdempotencyKeyReused) {
				t.Fatalf("the key of call %d with other arguments: %v, want ErrIdempotencyKeyReused", id, err)
			}
		}
	}
	after, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.HighOSeq != before.HighOSeq {
		t.Fatalf("retrying %d acknowledged calls moved the newest OSeq from %d to %d: some committed twice", len(acked), before.HighOSeq, after.HighOSeq)
	}
	t.Logf("%d acknowledged keys answered their first outcome after the kill, %d of them from records retention removed", len(acked), gone)
	if gone < len(acked)/2 {
		t.Fatalf("only %d of %d keys belong to records retention removed: the test does not exercise retention", gone, len(acked))
	}
}
