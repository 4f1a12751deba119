package liege_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/testproc"
)

// TestMain lets the test binary run as a child process (testproc roles):
// the crash tests re-execute it and kill it.
func TestMain(m *testing.M) { testproc.Main(m) }

// crashSeed returns the seed of a crash test: LIEGE_CRASH_SEED if set (to
// replay a failure), else a random one. It is logged either way, and each
// round's seed (derived from it) too.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("LIEGE_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LIEGE_CRASH_SEED=%q: %v", s, err)
		}
		return n
	}
	return rand.Uint64() >> 1
}

type crashPlan struct {
	rounds          int
	checkpointEvery int
	segmentSize     int
	minAcks, maxAck int
	// padKeys filler keys of 100 bytes are written before the first round,
	// so that every checkpoint takes a while to write.
	padKeys int64
}

// TestCrashWhileCommitting kills an instance with SIGKILL while 32 clients
// commit, in several rounds on the same directory (each round recovers the
// journal the previous one recovered), with small segments so that the
// journal cycles segment files under load.
func TestCrashWhileCommitting(t *testing.T) {
	runCrashRounds(t, crashPlan{rounds: 3, checkpointEvery: -1, segmentSize: 32 << 10, minAcks: 200, maxAck: 1500})
}

// TestCrashWhileCheckpointing is TestCrashWhileCommitting with a checkpoint
// every 200 records, so that background checkpoints run all the time and
// the kill lands in or around them (a state of filler keys makes each
// checkpoint take a while); recovery starts from the newest checkpoint that
// was completed.
func TestCrashWhileCheckpointing(t *testing.T) {
	runCrashRounds(t, crashPlan{rounds: 3, checkpointEvery: 200, segmentSize: 256 << 10, minAcks: 400, maxAck: 1500, padKeys: 5_000})
}

func runCrashRounds(t *testing.T, p crashPlan) {
	seed := crashSeed(t)
	t.Logf("seed %d (set LIEGE_CRASH_SEED=%d to repeat)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	acked := map[int64]bool{} // over all rounds
	var padTxns uint64
	if p.padKeys > 0 {
		cfg := testproc.Config{Dir: dir, ID: "A", CheckpointEvery: p.checkpointEvery, SegmentSize: p.segmentSize}
		db := testproc.Open(t, cfg.Options())
		for from := int64(0); from < p.padKeys; from += 2000 {
			if _, err := db.Call(context.Background(), "pad", testproc.PadArgs{From: from, N: min(2000, p.padKeys-from), Size: 100}); err != nil {
				t.Fatal(err)
			}
			padTxns++
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for round := 1; round <= p.rounds; round++ {
		roundSeed := r.Uint64()
		k := p.minAcks + rand.New(rand.NewPCG(roundSeed, 0)).IntN(p.maxAck-p.minAcks+1)
		cfg := testproc.Config{
			Role: testproc.RoleCommit, Dir: dir, ID: "A",
			CheckpointEvery: p.checkpointEvery, SegmentSize: p.segmentSize,
			Workers: 32, FirstID: int64(round) * 1_000_000, Limit: 999_999,
		}
		t.Logf("round %d: seed %d: kill after %d acknowledgements", round, roundSeed, k)
		child := testproc.Start(t, cfg, "")
		n := 0
		for n < k {
			line, ok := child.Line()
			if !ok {
				child.Finish()
				t.Fatalf("round %d: the child stopped after %d acknowledgements; its stderr:\n%s", round, n, child.Stderr())
			}
			addAck(t, acked, line, cfg)
			n++
		}
		child.Kill()
		// Every line written before the child died was written after its
		// call was acknowledged: those count too.
		for _, line := range child.FinishKilled() {
			addAck(t, acked, line, cfg)
			n++
		}
		tmps, _ := filepath.Glob(filepath.Join(dir, checkpoint.Dir, "*.tmp"))
		t.Logf("round %d: %d acknowledgements before the kill; checkpoint files being written when killed: %d", round, n, len(tmps))
		checkRecovered(t, cfg, acked, padTxns, round, p.checkpointEvery > 0)
	}
}

func addAck(t *testing.T, acked map[int64]bool, line string, cfg testproc.Config) {
	t.Helper()
	s, ok := strings.CutPrefix(line, "ACK ")
	id, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || id <= cfg.FirstID || id > cfg.FirstID+cfg.Limit {
		t.Fatalf("unexpected line from the child: %q", line)
	}
	if acked[id] {
		t.Fatalf("id %d acknowledged twice", id)
	}
	acked[id] = true
}

// checkRecovered reopens the killed instance and checks that every
// acknowledged transaction is there, that no transaction is half there,
// that the state recovered from checkpoint and journal is the state the
// whole journal replays to, and that the closed directory verifies.
func checkRecovered(t *testing.T, cfg testproc.Config, acked map[int64]bool, otherTxns uint64, round int, wantCheckpoint bool) {
	t.Helper()
	ctx := context.Background()
	db := testproc.Open(t, cfg.Options())
	rec := db.Recovery
	t.Logf("round %d: recovered from checkpoint %q (position %d), replayed %d records; torn tail: %q",
		round, rec.Checkpoint, rec.CheckpointPos, rec.Replayed, rec.TornTail)
	if wantCheckpoint && round > 1 && rec.Checkpoint == "" {
		t.Errorf("round %d: no checkpoint loaded, but the previous round closed the instance cleanly with checkpoints on", round)
	}
	if rec.Rollback != nil {
		t.Errorf("round %d: recovery finished a rollback nobody started: %+v", round, rec.Rollback)
	}
	d, err := testproc.DumpPairs(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id := range acked {
		a, okA := d.A[id]
		b, okB := d.B[id]
		if !okA || !okB || a != testproc.PairValue(id) || b != testproc.PairValue(id) {
			if missing < 10 {
				t.Errorf("round %d: acknowledged id %d: a=%d (%v) b=%d (%v), want both %d", round, id, a, okA, b, okB, testproc.PairValue(id))
			}
			missing++
		}
	}
	half := 0
	for id, a := range d.A {
		if b, ok := d.B[id]; !ok || a != b || a != testproc.PairValue(id) {
			half++
			t.Errorf("round %d: id %d is half there or wrong: a=%d, b=%d (%v)", round, id, a, b, ok)
		}
	}
	for id := range d.B {
		if _, ok := d.A[id]; !ok {
			half++
			t.Errorf("round %d: id %d has its b key but not its a key", round, id)
		}
	}
	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every committed transaction (but the filler) is one pair with its own
	// OSeq.
	if st.HighOSeq != otherTxns+uint64(len(d.A)) {
		t.Errorf("round %d: HighOSeq %d, but %d pairs and %d other transactions are there", round, st.HighOSeq, len(d.A), otherTxns)
	}
	t.Logf("round %d: %d pairs present, %d acknowledged so far, %d missing, %d half there; last position %d",
		round, len(d.A), len(acked), missing, half, st.LastPos)
	h, err := db.Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if replayed := testproc.ReplayDir(t, cfg.Dir).Hash(); replayed != h {
		t.Errorf("round %d: recovered state hash %x, but replaying the whole journal gives %x", round, h, replayed)
	}
	testproc.Verify(t, cfg.Dir, cfg.ID)
	if t.Failed() {
		t.FailNow()
	}
}
