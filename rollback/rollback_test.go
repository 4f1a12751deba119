package rollback_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/testproc"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// TestMain lets the test binary run as a child process (testproc roles).
func TestMain(m *testing.M) { testproc.Main(m) }

const instance = "A"

// The crash failpoints of a rollback, in the order it reaches them.
var rollbackFailpoints = []string{
	"rollback-after-intent",
	"rollback-after-lost",
	"rollback-mid-undo",
	"rollback-before-truncate",
	"rollback-after-truncate",
	"rollback-after-epoch",
}

func config(dir string) testproc.Config {
	// Small segments, so that the rollback truncates back across segment
	// files; background checkpoints off, so that the only checkpoints are
	// the fixture's.
	return testproc.Config{Dir: dir, ID: instance, CheckpointEvery: -1, SegmentSize: 4096}
}

func open(t *testing.T, dir string) *liege.DB {
	t.Helper()
	return testproc.Open(t, config(dir).Options())
}

// fixture is a closed instance directory to roll back, built once per test
// and copied for each case (HLCs come from the wall clock, so two builds
// would differ). It holds a checkpoint below the target and one above it,
// and records after both.
type fixture struct {
	base     string
	recs     []journal.Record // the base journal
	target   uint64
	head     uint64
	ckptLow  uint64 // checkpoint below the target: kept
	ckptHigh uint64 // checkpoint above the target: removed by the rollback
}

func newFixture(t *testing.T) *fixture { return newFixtureScaled(t, 1) }

// newFixtureScaled is newFixture with scale times the records after the
// first checkpoint: at 10, the rollback spans several of the chunks the
// undo reads ahead in (undoahead.go).
func newFixtureScaled(t *testing.T, scale int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{base: filepath.Join(t.TempDir(), "base")}
	db := open(t, f.base)
	workload := func(seed uint64, n int) {
		t.Helper()
		if _, err := testproc.Workload(ctx, db, seed, n); err != nil {
			t.Fatal(err)
		}
	}
	lastPos := func() uint64 {
		t.Helper()
		st, err := db.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.LastPos
	}
	workload(1, 40)
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	f.ckptLow = lastPos()
	workload(2, 60*scale)
	f.target = f.ckptLow + 15
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	f.ckptHigh = lastPos()
	workload(3, 15*scale)
	f.head = lastPos()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if f.ckptHigh <= f.target || f.head <= f.ckptHigh {
		t.Fatalf("fixture: target %d, checkpoints at %d and %d, head %d", f.target, f.ckptLow, f.ckptHigh, f.head)
	}
	if got := checkpointPositions(t, f.base); !slices.Equal(got, []uint64{f.ckptLow, f.ckptHigh}) {
		t.Fatalf("fixture checkpoints at %v, want %d and %d", got, f.ckptLow, f.ckptHigh)
	}
	var res *journal.ScanResult
	var err error
	f.recs, res, err = testproc.Records(f.base)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Segments) < 3 {
		t.Fatalf("fixture journal has %d segments, want several", len(res.Segments))
	}
	return f
}

// copy returns a fresh copy of the base directory.
func (f *fixture) copy(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	testproc.CopyDir(t, f.base, dir)
	return dir
}

func checkpointPositions(t *testing.T, dir string) []uint64 {
	t.Helper()
	files, err := checkpoint.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, c := range files {
		out = append(out, c.Pos)
	}
	return out
}

// outcome is what a finished rollback left: compared between an
// uninterrupted rollback and one resumed after a crash.
type outcome struct {
	hash   [32]byte
	status status
	frames [][]byte // the whole journal after the rollback
	lost   *rollback.LostFile
	ckpts  []uint64
}

// observe reads the outcome of a rollback of the closed instance in dir.
func (f *fixture) observe(t *testing.T, dir string, hash [32]byte, st status) outcome {
	t.Helper()
	o := outcome{hash: hash, status: st, ckpts: checkpointPositions(t, dir)}
	_, err := journal.Scan(filepath.Join(dir, journal.WalDir), func(e journal.Entry) error {
		o.frames = append(o.frames, bytes.Clone(e.Frame))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, rollback.LostFileName(instance, st.Epoch, f.target, f.head))
	if o.lost, err = rollback.ReadLostFile(path); err != nil {
		t.Fatalf("lost transaction file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, rollback.IntentFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the rollback intent is still there (%v)", err)
	}
	return o
}

// status is the part of liege.Status a rollback decides (not the clock).
type status struct {
	Epoch, LastPos, Durable, HighOSeq, PeerWatermark uint64
	Keys                                             int
}

// state returns the hash and status of an open instance.
func state(t *testing.T, db *liege.DB) ([32]byte, status) {
	t.Helper()
	h, err := db.Hash(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h, status{Epoch: st.Epoch, LastPos: st.LastPos, Durable: st.Durable, HighOSeq: st.HighOSeq,
		PeerWatermark: st.PeerWatermark, Keys: st.Keys}
}

// reference rolls a copy of the base back online, uninterrupted, and
// checks it against the state recovered by reopening it and the state of
// replaying positions 1..target-1 into a fresh store.
func (f *fixture) reference(t *testing.T) outcome {
	t.Helper()
	ctx := context.Background()
	dir := f.copy(t, "reference")
	db := open(t, dir)
	res, err := db.RollbackTo(ctx, f.target, "test")
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if res.From != f.target || res.To != f.head || res.Records != f.head-f.target+1 || res.Epoch != 1 {
		t.Fatalf("rollback result %+v, want positions %d..%d rolled off into epoch 1", res, f.target, f.head)
	}
	hOnline, stOnline := state(t, db)
	if stOnline.LastPos != f.target || stOnline.Epoch != 1 {
		t.Fatalf("after the rollback: status %+v, want last position %d (the epoch record) and epoch 1", stOnline, f.target)
	}
	if want := testproc.Replay(f.recs, f.target-1).Hash(); hOnline != want {
		t.Fatalf("online rollback state %x differs from replaying positions 1..%d into a fresh store (%x)", hOnline, f.target-1, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	if db.Recovery.Rollback != nil {
		t.Fatalf("reopening after a finished rollback resumed one: %+v", db.Recovery.Rollback)
	}
	hOffline, stOffline := state(t, db)
	if hOffline != hOnline || stOffline != stOnline {
		t.Fatalf("state recovered after the rollback (hash %x, %+v) differs from the online state (%x, %+v)", hOffline, stOffline, hOnline, stOnline)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	o := f.observe(t, dir, hOnline, stOnline)
	if !slices.Equal(o.ckpts, []uint64{f.ckptLow}) {
		t.Fatalf("checkpoints after the rollback: %v, want only %d (the one above the target removed)", o.ckpts, f.ckptLow)
	}
	if n := uint64(len(o.lost.Records)); n != f.head-f.target+1 {
		t.Fatalf("lost file holds %d records, want %d", n, f.head-f.target+1)
	}
	for i, r := range o.lost.Records {
		if want := f.recs[f.target-1+uint64(i)]; !reflect.DeepEqual(r, want) {
			t.Fatalf("lost record %d is %+v, want the rolled-off record %+v", i, r, want)
		}
	}
	testproc.Verify(t, dir, instance)
	return o
}

// compare checks that a rollback resumed after a crash ended exactly like
// the uninterrupted one.
func compare(t *testing.T, got, want outcome) {
	t.Helper()
	if got.hash != want.hash {
		t.Errorf("state hash %x, want %x", got.hash, want.hash)
	}
	if got.status != want.status {
		t.Errorf("status %+v, want %+v", got.status, want.status)
	}
	if len(got.frames) != len(want.frames) {
		t.Errorf("journal has %d records, want %d", len(got.frames), len(want.frames))
	}
	for i := range min(len(got.frames), len(want.frames)) {
		if !bytes.Equal(got.frames[i], want.frames[i]) {
			t.Errorf("journal position %d differs from the uninterrupted rollback's", i+1)
		}
	}
	gh, wh := got.lost.Header, want.lost.Header
	gh.Created, wh.Created = 0, 0
	if gh != wh {
		t.Errorf("lost file header %+v, want %+v", gh, wh)
	}
	if !reflect.DeepEqual(got.lost.Records, want.lost.Records) {
		t.Errorf("lost file records differ from the uninterrupted rollback's")
	}
	if !slices.Equal(got.ckpts, want.ckpts) {
		t.Errorf("checkpoints at %v, want %v", got.ckpts, want.ckpts)
	}
}

// checkCrashed checks what a child killed at a failpoint left, as proof
// that it died where the failpoint is.
func (f *fixture) checkCrashed(t *testing.T, dir, fp string) {
	t.Helper()
	in, err := rollback.ReadIntent(dir)
	if err != nil {
		t.Fatalf("no rollback intent after a crash at %s: %v", fp, err)
	}
	if in.Target != f.target || in.Head != f.head || in.NewEpoch != 1 {
		t.Fatalf("intent %+v, want target %d, head %d, epoch 1", in, f.target, f.head)
	}
	_, lostErr := os.Stat(filepath.Join(dir, in.LostFile))
	recs, _, err := testproc.Records(dir)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1].Pos
	ckpts := checkpointPositions(t, dir)
	wantLost, wantLast, wantCkpts := true, f.head, []uint64{f.ckptLow, f.ckptHigh}
	switch fp {
	case "rollback-after-intent":
		wantLost = false
	case "rollback-after-lost", "rollback-mid-undo":
	case "rollback-before-truncate":
		wantCkpts = wantCkpts[:1]
	case "rollback-after-truncate":
		wantLast, wantCkpts = f.target-1, wantCkpts[:1]
	case "rollback-after-epoch":
		wantLast, wantCkpts = f.target, wantCkpts[:1]
	}
	if (lostErr == nil) != wantLost || last != wantLast || !slices.Equal(ckpts, wantCkpts) {
		t.Fatalf("after a crash at %s: lost file present %v, journal ends at %d, checkpoints %v; want %v, %d, %v",
			fp, lostErr == nil, last, ckpts, wantLost, wantLast, wantCkpts)
	}
}

// reopen opens a crashed copy, which must finish the rollback, and checks
// it against the reference; then a second open must not roll back again,
// and the next transaction gets a fresh OSeq.
func (f *fixture) reopen(t *testing.T, dir string, ref outcome) {
	t.Helper()
	ctx := context.Background()
	db := open(t, dir)
	if db.Recovery.Rollback == nil {
		t.Fatalf("open did not finish the interrupted rollback")
	}
	h, st := state(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	compare(t, f.observe(t, dir, h, st), ref)
	testproc.Verify(t, dir, instance)
	if t.Failed() {
		t.FailNow()
	}

	db = open(t, dir)
	if db.Recovery.Rollback != nil {
		t.Fatalf("second open rolled back again: %+v", db.Recovery.Rollback)
	}
	if h2, st2 := state(t, db); h2 != h || st2 != st {
		t.Fatalf("second open: hash %x, status %+v; want %x, %+v", h2, st2, h, st)
	}
	checkFreshOSeq(t, ctx, db, ref.lost)
}

// checkFreshOSeq commits a transaction and checks that its OSeq is above
// every OSeq rolled off into lost.
func checkFreshOSeq(t *testing.T, ctx context.Context, db *liege.DB, lost *rollback.LostFile) {
	t.Helper()
	var high uint64
	for _, r := range lost.Records {
		if r.Kind.IsTxn() && r.Origin == instance {
			high = max(high, r.OSeq)
		}
	}
	if high == 0 {
		t.Fatalf("no own transaction was rolled off")
	}
	res, err := db.Call(ctx, "put", testproc.PutArgs{Name: "after", N: 1, Val: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.TxID.OSeq <= high {
		t.Fatalf("transaction after the rollback got OSeq %d, but OSeqs up to %d were rolled off: an OSeq is reused", res.TxID.OSeq, high)
	}
}

// TestRollbackCrashAtEachStep kills a rollback (a child process) at each of
// its steps and checks that the next open finishes it exactly as an
// uninterrupted rollback ends: same state, epoch, journal, lost transaction
// file and checkpoints, no intent left, and never a second rollback.
func TestRollbackCrashAtEachStep(t *testing.T) {
	for _, scale := range []int{1, 10} {
		t.Run(fmt.Sprint("scale ", scale), func(t *testing.T) { crashAtEachStep(t, scale) })
	}
}

// crashAtEachStep is TestRollbackCrashAtEachStep on a fixture of scale
// (at 10 the undo reads ahead, beside the lost file's write).
func crashAtEachStep(t *testing.T, scale int) {
	f := newFixtureScaled(t, scale)
	if n := f.head - f.target + 1; scale > 1 && n < 2*256 {
		t.Fatalf("the rollback spans %d records: not the chunks of reading ahead", n)
	}
	ref := f.reference(t)
	for _, fp := range rollbackFailpoints {
		t.Run(fp, func(t *testing.T) {
			dir := f.copy(t, "crash")
			cfg := config(dir)
			cfg.Role, cfg.Target = testproc.RoleRollback, f.target
			child := testproc.Start(t, cfg, fp+"=crash")
			if out := child.FinishKilled(); len(out) != 0 {
				t.Fatalf("child printed %q before the crash", out)
			}
			f.checkCrashed(t, dir, fp)
			f.reopen(t, dir, ref)
		})
	}
}

// TestRollbackCrashDuringResume crashes a rollback, then crashes again
// while the next open resumes it (the resumption reaches the steps from
// the truncation on), and checks that a third open still ends like the
// uninterrupted rollback.
func TestRollbackCrashDuringResume(t *testing.T) {
	f := newFixture(t)
	ref := f.reference(t)
	for _, fps := range [][2]string{
		{"rollback-after-intent", "rollback-before-truncate"},
		{"rollback-after-lost", "rollback-after-truncate"},
		{"rollback-mid-undo", "rollback-after-epoch"},
		{"rollback-before-truncate", "rollback-after-truncate"},
		{"rollback-after-truncate", "rollback-after-epoch"},
	} {
		t.Run(fps[0]+"/"+fps[1], func(t *testing.T) {
			dir := f.copy(t, "crash")
			cfg := config(dir)
			cfg.Role, cfg.Target = testproc.RoleRollback, f.target
			testproc.Start(t, cfg, fps[0]+"=crash").FinishKilled()
			cfg.Role = testproc.RoleOpen
			if out := testproc.Start(t, cfg, fps[1]+"=crash").FinishKilled(); len(out) != 0 {
				t.Fatalf("recovering child printed %q before the crash", out)
			}
			f.checkCrashed(t, dir, fps[1])
			f.reopen(t, dir, ref)
		})
	}
}

// TestRollbackOnlineEqualsRecovered checks an uninterrupted online
// rollback against the state recovered by reopening and the state of
// replaying positions 1..target-1 into a fresh store (reference does the
// checks), then rolls back a second time, across the first rollback's
// epoch record, and checks the same again.
func TestRollbackOnlineEqualsRecovered(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.reference(t)

	dir := f.copy(t, "twice")
	db := open(t, dir)
	if _, err := db.RollbackTo(ctx, f.target, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := testproc.Workload(ctx, db, 4, 30); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := testproc.Workload(ctx, db, 5, 10); err != nil {
		t.Fatal(err)
	}
	second := f.target - 5 // before the first rollback's epoch record
	res, err := db.RollbackTo(ctx, second, "second")
	if err != nil {
		t.Fatal(err)
	}
	if res.Epoch != 2 {
		t.Fatalf("second rollback gave epoch %d, want 2", res.Epoch)
	}
	h, st := state(t, db)
	if want := testproc.Replay(f.recs, second-1).Hash(); h != want {
		t.Fatalf("state after the second rollback %x differs from replaying positions 1..%d (%x)", h, second-1, want)
	}
	lost, err := rollback.ReadLostFile(res.LostFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(lost.Records) == 0 || lost.Records[len(lost.Records)-1].Pos != res.To || lost.Header.Epoch != 2 || lost.Header.PrevEpoch != 1 {
		t.Fatalf("second lost file: header %+v with %d records", lost.Header, len(lost.Records))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	if h2, st2 := state(t, db); h2 != h || st2 != st {
		t.Fatalf("reopened after two rollbacks: %x %+v, want %x %+v", h2, st2, h, st)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	testproc.Verify(t, dir, instance)
}

// TestRollbackBadTarget checks that targets outside 2..last are refused
// with ErrBadTarget and change nothing.
func TestRollbackBadTarget(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := f.copy(t, "bad")
	db := open(t, dir)
	h, st := state(t, db)
	for _, target := range []uint64{0, 1, f.head + 1, f.head + 100} {
		if _, err := db.RollbackTo(ctx, target, "bad"); !errors.Is(err, liege.ErrBadTarget) {
			t.Errorf("RollbackTo(%d) with the journal at 1..%d returned %v, want ErrBadTarget", target, f.head, err)
		}
	}
	if h2, st2 := state(t, db); h2 != h || st2 != st {
		t.Fatalf("refused rollbacks changed the instance: %x %+v, then %x %+v", h, st, h2, st2)
	}
	if _, err := os.Stat(filepath.Join(dir, rollback.IntentFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused rollback left an intent (%v)", err)
	}
	if ents, err := os.ReadDir(filepath.Join(dir, rollback.LostDir)); err == nil && len(ents) > 0 {
		t.Fatalf("a refused rollback left lost transaction files: %v", ents)
	}
	// The last record itself is a valid target.
	if _, err := db.RollbackTo(ctx, f.head, "last"); err != nil {
		t.Fatalf("RollbackTo(last) = %v", err)
	}
}

// TestRollbackNeverReusesOSeq checks that the OSeqs of rolled-off own
// transactions are never handed out again: online right after the
// rollback, and after reopening (where the clock of OSeqs comes from the
// epoch record or a checkpoint, not from the rolled-off records).
func TestRollbackNeverReusesOSeq(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := f.copy(t, "oseq")
	db := open(t, dir)
	res, err := db.RollbackTo(ctx, f.target, "test")
	if err != nil {
		t.Fatal(err)
	}
	lost, err := rollback.ReadLostFile(res.LostFile)
	if err != nil {
		t.Fatal(err)
	}
	if lost.Header.From != f.target || lost.Header.To != f.head || lost.Header.Instance != instance {
		t.Fatalf("lost file header %+v", lost.Header)
	}
	checkFreshOSeq(t, ctx, db, lost)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen from the journal alone (the checkpoint below the target holds
	// a smaller HighOSeq).
	dir2 := f.copy(t, "oseq-reopen")
	db = open(t, dir2)
	if _, err := db.RollbackTo(ctx, f.target, "test"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir2)
	checkFreshOSeq(t, ctx, db, lost)
	// And from a checkpoint taken after the rollback.
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir2)
	if !strings.Contains(db.Recovery.Checkpoint, "checkpoint-") || db.Recovery.CheckpointPos <= f.target {
		t.Fatalf("expected recovery from the checkpoint after the rollback, got %+v", db.Recovery)
	}
	checkFreshOSeq(t, ctx, db, lost)
}

// TestRollbackDuringExplicitCheckpoint runs db.Checkpoint and RollbackTo
// concurrently, the checkpoint's snapshot first (taken at the head, which
// the rollback then rolls off), and checks that no checkpoint of rolled-off
// state survives the rollback: the instance must reopen to the state the
// rollback left. The state is made big so that writing the checkpoint
// outlasts the rollback.
//
// The two calls are queued behind a procedure that holds the executor, the
// checkpoint first; the scheduler could still queue them the other way
// round (the goroutines are only given time to block, there is nothing to
// wait on), in which case the test cannot fail: it never fails spuriously.
func TestRollbackDuringExplicitCheckpoint(t *testing.T) {
	ctx := context.Background()
	for iter := range 2 {
		dir := filepath.Join(t.TempDir(), "ckpt")
		db := open(t, dir)
		entered, gate := make(chan struct{}), make(chan struct{})
		err := liege.Register(db, liege.Procedure[int, int]{
			Name: "hold",
			Run: func(tx *liege.Tx, _ int) (int, error) {
				close(entered)
				<-gate
				tx.Set(liege.K("held"), 1)
				return 1, nil
			},
			Correct: func(*liege.Tx, int, int, int) (any, error) { return nil, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		for from := int64(0); from < 20_000; from += 4000 {
			if _, err := db.Call(ctx, "pad", testproc.PadArgs{From: from, N: 4000, Size: 100}); err != nil {
				t.Fatal(err)
			}
		}
		_, before := state(t, db)
		target := before.LastPos // the last pad record; "hold" commits after it

		held := make(chan error, 1)
		go func() { _, err := db.Call(ctx, "hold", 0); held <- err }()
		<-entered // the executor is busy until gate closes
		ckpt := make(chan error, 1)
		go func() { ckpt <- db.Checkpoint(ctx) }()
		for range 100 {
			runtime.Gosched() // let Checkpoint queue its snapshot first
		}
		rb := make(chan error, 1)
		go func() { _, err := db.RollbackTo(ctx, target, "race"); rb <- err }()
		for range 100 {
			runtime.Gosched()
		}
		close(gate)
		for _, c := range []chan error{held, rb, ckpt} {
			if err := <-c; err != nil {
				t.Fatal(err)
			}
		}
		h, st := state(t, db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for _, c := range checkpointPositions(t, dir) {
			if c > st.LastPos {
				t.Errorf("iteration %d: checkpoint at position %d survived a rollback to %d (the journal ends at %d): it holds rolled-off state", iter, c, target, st.LastPos)
			}
		}
		db2, err := liege.Open(config(dir).Options())
		if err != nil {
			t.Fatalf("iteration %d: reopening after the rollback: %v", iter, err)
		}
		h2, st2 := state(t, db2)
		db2.Close()
		if h2 != h || st2 != st {
			t.Fatalf("iteration %d: reopened to %x %+v, but the rollback left %x %+v (loaded %s)", iter, h2, st2, h, st, db2.Recovery.Checkpoint)
		}
	}
}

// engineDecision is what the engine decides at its next open of the closed
// instance in dir (rollback.Resume's Observe and Decide), without going on.
func engineDecision(t *testing.T, dir string) (rollback.Decision, error) {
	t.Helper()
	lock, err := journal.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	disk, err := rollback.Observe(dir, j)
	if err != nil {
		t.Fatal(err)
	}
	return rollback.Decide(disk)
}

// TestRollbackDecisionEngineAndInspectAgree crashes a rollback (a child
// process) at each step and checks that the engine's decision at its next
// open and internal/inspect's read-only recovery name the same phase and
// next step, the phase the step's on-disk state is in; that the engine
// then finishes the rollback like the uninterrupted one; and that both
// refuse, with ErrCannotResume, a truncated journal whose lost transaction
// file is gone.
func TestRollbackDecisionEngineAndInspectAgree(t *testing.T) {
	f := newFixture(t)
	ref := f.reference(t)
	check := func(t *testing.T, dir string, want rollback.Phase) {
		t.Helper()
		eng, err := engineDecision(t, dir)
		if err != nil {
			t.Fatalf("engine: %v", err)
		}
		rec, err := inspect.Recover(dir)
		if err != nil {
			t.Fatalf("inspect: %v", err)
		}
		if eng != rec.Rollback {
			t.Fatalf("the engine decides %+v, inspect %+v", eng, rec.Rollback)
		}
		if step, _ := want.Next(); eng.Phase != want || eng.Next != step {
			t.Fatalf("decision %+v, want phase %v, next step %v", eng, want, step)
		}
		if rec.Last != eng.Last {
			t.Fatalf("inspect recovers the state at position %d, the decision says %d", rec.Last, eng.Last)
		}
	}
	// The online rollback passes through PhaseLost and PhaseUndone too, but
	// on disk those look like PhaseIntent (the undo is in memory), and a
	// resumption saves the lost transaction file again.
	for _, c := range []struct {
		fp   string
		want rollback.Phase
	}{
		{"rollback-after-intent", rollback.PhaseIntent},
		{"rollback-after-lost", rollback.PhaseIntent},
		{"rollback-mid-undo", rollback.PhaseIntent},
		{"rollback-before-truncate", rollback.PhaseIntent},
		{"rollback-after-truncate", rollback.PhaseTruncated},
		{"rollback-after-epoch", rollback.PhaseEpoch},
	} {
		t.Run(c.fp, func(t *testing.T) {
			dir := f.copy(t, "crash")
			cfg := config(dir)
			cfg.Role, cfg.Target = testproc.RoleRollback, f.target
			testproc.Start(t, cfg, c.fp+"=crash").FinishKilled()
			f.checkCrashed(t, dir, c.fp)
			check(t, dir, c.want)
			f.reopen(t, dir, ref)
		})
	}
	t.Run("no-rollback", func(t *testing.T) {
		check(t, f.copy(t, "none"), rollback.PhaseDone)
	})
	t.Run("truncated-without-lost-file", func(t *testing.T) {
		dir := f.copy(t, "nolost")
		cfg := config(dir)
		cfg.Role, cfg.Target = testproc.RoleRollback, f.target
		testproc.Start(t, cfg, "rollback-after-truncate=crash").FinishKilled()
		f.checkCrashed(t, dir, "rollback-after-truncate")
		in, err := rollback.ReadIntent(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, in.LostFile)); err != nil {
			t.Fatal(err)
		}
		_, engErr := engineDecision(t, dir)
		_, inspErr := inspect.Recover(dir)
		db, openErr := liege.Open(config(dir).Options())
		if openErr == nil {
			db.Close()
		}
		for what, err := range map[string]error{"engine decision": engErr, "inspect": inspErr, "open": openErr} {
			if !errors.Is(err, rollback.ErrCannotResume) || !strings.Contains(err.Error(), in.LostFile) {
				t.Errorf("%s: %v; want ErrCannotResume naming %s", what, err, in.LostFile)
			}
		}
	})
}
