package liege_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/testproc"
	"github.com/liege-db/liege/journal"
)

// TestRetentionSoak commits a few hundred thousand records (a tenth under
// -race) with small segments, frequent checkpoints and a small keep floor,
// in rounds that each end with SIGKILL: the journal directory stays
// bounded while the journal's front is truncated under load, and every
// restart recovers every acknowledged transaction. After the first round
// an operator rolls the newest transactions back; at the end every TxID
// ever assigned answers its fate (retain_soak_fate_test.go).
func TestRetentionSoak(t *testing.T) {
	const (
		segment = 64 << 10
		keep    = 256 << 10
		every   = 2000
		rounds  = 3
		// bound is what the journal directory may hold: the keep floor, the
		// records since the checkpoint before the newest (two intervals of
		// about 200 bytes a record, with room to spare), a segment being
		// written and one cut short. The run writes some 50 MB of journal.
		bound = keep + 2*every*250 + 4*segment
	)
	perRound := 80_000
	if raceOn || testing.Short() {
		perRound = 8_000
	}
	dir := t.TempDir()
	acked := map[int64]bool{}
	var rolled map[journal.TxID]bool
	var maxJournal int64
	for round := 1; round <= rounds; round++ {
		cfg := testproc.Config{Role: testproc.RoleCommit, Dir: dir, ID: "A", CheckpointEvery: every, SegmentSize: segment,
			JournalKeep: keep, Workers: 32, FirstID: int64(round) * 1_000_000, Limit: 999_999}
		child := testproc.Start(t, cfg, "")
		for n := 0; n < perRound; n++ {
			line, ok := child.Line()
			if !ok {
				child.Finish()
				t.Fatalf("round %d: the child stopped after %d acknowledgements; its stderr:\n%s", round, n, child.Stderr())
			}
			addAck(t, acked, line, cfg)
			if n%1000 == 0 {
				maxJournal = max(maxJournal, dirSize(t, filepath.Join(dir, journal.WalDir)))
			}
		}
		child.Kill()
		for _, line := range child.FinishKilled() {
			addAck(t, acked, line, cfg)
		}
		size := dirSize(t, filepath.Join(dir, journal.WalDir))
		maxJournal = max(maxJournal, size)
		ckpts, err := checkpoint.List(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d acknowledged in all; journal directory %d bytes (largest seen %d, bound %d); %d checkpoints",
			round, len(acked), size, maxJournal, bound, len(ckpts))
		if maxJournal > bound {
			t.Fatalf("round %d: the journal directory reached %d bytes, over the bound of %d: retention does not keep it bounded", round, maxJournal, bound)
		}
		if len(ckpts) > 3 {
			t.Fatalf("round %d: %d checkpoint files: they are not pruned", round, len(ckpts))
		}
		// Every acknowledged pair is there after the kill, none half.
		db := testproc.Open(t, cfg.Options())
		if db.Recovery.Checkpoint == "" {
			t.Fatalf("round %d: recovery loaded no checkpoint", round)
		}
		d, err := testproc.DumpPairs(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		for id := range acked {
			if d.A[id] != testproc.PairValue(id) || d.B[id] != testproc.PairValue(id) {
				t.Fatalf("round %d: acknowledged id %d lost after the kill: a=%d b=%d", round, id, d.A[id], d.B[id])
			}
		}
		for id, a := range d.A {
			if d.B[id] != a {
				t.Fatalf("round %d: id %d is half there", round, id)
			}
		}
		if round == 1 {
			rolled = soakRollBack(t, db, acked, 50)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "journal-front")); err != nil {
		t.Fatalf("the journal's front was never truncated: %v", err)
	}
	db := testproc.Open(t, testproc.Config{Dir: dir, ID: "A", JournalKeep: keep}.Options())
	n := checkEveryFate(t, db, rolled)
	t.Logf("every TxID answered its fate; %d of them without their journal record", n)
	if n < perRound {
		t.Fatalf("only %d TxIDs were answered without their journal record: retention removed too little for the check to mean anything", n)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}
