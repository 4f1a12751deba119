package inspect_test

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/failpoint"
	"github.com/liege-db/liege/internal/inspect"
	"github.com/liege-db/liege/internal/inspect/inspecttest"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

func build(t *testing.T) *inspecttest.Fixture {
	t.Helper()
	return inspecttest.Build(t, t.TempDir())
}

// mustVerify runs Verify, failing the test if it could not run.
func mustVerify(t *testing.T, dir string) *inspect.VerifyReport {
	t.Helper()
	rep, err := inspect.Verify(dir)
	if err != nil {
		t.Fatalf("Verify(%s): %v", dir, err)
	}
	return rep
}

// wantProblem returns the first problem whose What contains what, failing
// the test if there is none.
func wantProblem(t *testing.T, rep *inspect.VerifyReport, what string) inspect.Problem {
	t.Helper()
	for _, p := range rep.Problems {
		if strings.Contains(p.What, what) {
			return p
		}
	}
	t.Fatalf("no problem says %q; problems:\n%s", what, problems(rep))
	return inspect.Problem{}
}

func problems(rep *inspect.VerifyReport) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func hexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }

func TestVerifyHealthy(t *testing.T) {
	f := build(t)
	rep := mustVerify(t, f.Dir)
	if !rep.OK() {
		t.Fatalf("healthy instance has problems:\n%s", problems(rep))
	}
	if rep.Instance != inspecttest.ID || rep.First != 1 || rep.Last != 7 || rep.Records != 7 || rep.Segments != 1 {
		t.Errorf("report: instance %q, positions %d..%d, %d records, %d segments; want \"A\", 1..7, 7, 1",
			rep.Instance, rep.First, rep.Last, rep.Records, rep.Segments)
	}
	if rep.StateHash != f.Hashes[7] {
		t.Errorf("state hash %s, the engine's is %s", hexHash(rep.StateHash), hexHash(f.Hashes[7]))
	}
	// seat gala 12 and 14, sold gala, count gala, seat opera 1, sold opera
	if rep.Keys != 6 {
		t.Errorf("keys = %d, want 6", rep.Keys)
	}
	checked := strings.Join(rep.Checked, "\n")
	for _, want := range []string{
		"1 segment, 7 frames: checksums ok",
		`position 1 opens the journal of instance "A": ok`,
		"6 own transactions: OSeqs and HLCs strictly increasing, no OSeq reused: ok",
		"(position 7, 6 keys): matches the journal replayed to position 7: ok",
		"no torn tail",
		"no rollback intent pending",
	} {
		if !strings.Contains(checked, want) {
			t.Errorf("Checked lacks %q:\n%s", want, checked)
		}
	}
}

func TestRecordsDecodesEveryRecord(t *testing.T) {
	f := build(t)
	var got []string
	res, err := inspect.Records(f.Dir, func(pos uint64, r *journal.Record) error {
		if r.Pos != pos {
			t.Errorf("record at %d claims position %d", pos, r.Pos)
		}
		got = append(got, r.Kind.String()+" "+r.TxID().String()+" "+r.Proc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"open  ", "local A/1 book", "local A/2 book", "local A/3 book", "local A/4 cancel", "local A/5 count", "local A/6 book"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("records:\n got %q\nwant %q", got, want)
	}
	if res.First != 1 || res.Last != 7 || res.Tail != nil {
		t.Errorf("scan result: %d..%d, tail %v", res.First, res.Last, res.Tail)
	}

	var n int
	if _, err := inspect.RecordsBetween(f.Dir, 3, 5, func(pos uint64, _ *journal.Record) error {
		n++
		if pos < 3 || pos > 5 {
			t.Errorf("RecordsBetween(3, 5) gave position %d", pos)
		}
		return nil
	}); err != nil || n != 3 {
		t.Errorf("RecordsBetween(3, 5): %d records, err %v; want 3", n, err)
	}
}

func TestRecoverHealthy(t *testing.T) {
	f := build(t)
	rec, err := inspect.Recover(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Instance != inspecttest.ID || rec.Last != 7 || rec.Epoch != 0 || rec.TornTail != nil || rec.Intent != nil {
		t.Errorf("recovered instance %q, last %d, epoch %d, tail %v, intent %v", rec.Instance, rec.Last, rec.Epoch, rec.TornTail, rec.Intent)
	}
	if filepath.Base(rec.Checkpoint) != "checkpoint-00000000000000000007" || rec.Replayed != 0 {
		t.Errorf("recovered from checkpoint %q plus %d records; want the checkpoint at 7 plus none", rec.Checkpoint, rec.Replayed)
	}
	if h := rec.Store.Hash(); h != f.Hashes[7] {
		t.Errorf("recovered hash %s, the engine's is %s", hexHash(h), hexHash(f.Hashes[7]))
	}
}

func TestDamagedFrame(t *testing.T) {
	f := build(t)
	e := inspecttest.FlipFrameByte(t, f.Dir, 4)

	rep := mustVerify(t, f.Dir)
	if rep.OK() {
		t.Fatal("Verify found no problem in a damaged journal")
	}
	p := wantProblem(t, rep, "journal damaged")
	if p.Pos != 4 || p.File != e.File || p.Offset != e.Offset {
		t.Errorf("damage reported at position %d, %s offset %d; want 4, %s offset %d", p.Pos, p.File, p.Offset, e.File, e.Offset)
	}
	if s := p.String(); !strings.Contains(s, "position 4") || !strings.Contains(s, e.File) || !strings.Contains(s, "checksum") {
		t.Errorf("problem %q does not name the position, the file and the checksum", s)
	}

	var seen []uint64
	_, err := inspect.Records(f.Dir, func(pos uint64, _ *journal.Record) error {
		seen = append(seen, pos)
		return nil
	})
	var dmg *journal.DamageError
	if !errors.As(err, &dmg) || dmg.Pos != 4 || len(seen) != 3 {
		t.Errorf("Records: saw %v, err %v; want positions 1..3 and damage at 4", seen, err)
	}
	if _, err := inspect.Recover(f.Dir); !errors.As(err, &dmg) || dmg.Pos != 4 {
		t.Errorf("Recover: %v; want damage at position 4", err)
	}
}

func TestTornTail(t *testing.T) {
	f := build(t)
	seg := inspecttest.TruncateTail(t, f.Dir, 3)

	rep := mustVerify(t, f.Dir)
	p := wantProblem(t, rep, "torn tail at position 7")
	if p.Pos != 7 || p.File != seg || !strings.Contains(p.What, "never acknowledged and will be truncated at next open") {
		t.Errorf("torn tail problem: %v", p)
	}
	// The checkpoint Close wrote at 7 is now beyond the journal.
	wantProblem(t, rep, "beyond the journal's last position 6")
	if rep.StateHash != f.Hashes[6] {
		t.Errorf("state hash %s, want the hash after position 6 %s", hexHash(rep.StateHash), hexHash(f.Hashes[6]))
	}

	rec, err := inspect.Recover(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.TornTail == nil || rec.TornTail.Pos != 7 || rec.Last != 6 || rec.Checkpoint != "" {
		t.Errorf("Recover: tail %v, last %d, checkpoint %q; want the tail at 7, last 6, replay from 1", rec.TornTail, rec.Last, rec.Checkpoint)
	}
	if h := rec.Store.Hash(); h != f.Hashes[6] {
		t.Errorf("recovered hash %s, want the hash after position 6 %s", hexHash(h), hexHash(f.Hashes[6]))
	}
}

func TestPendingRollbackIntent(t *testing.T) {
	f := build(t)
	ctx := context.Background()

	db := inspecttest.Open(t, f.Dir)
	failpoint.Set("rollback-after-lost", "error", 1)
	_, err := db.RollbackTo(ctx, 5, "test")
	failpoint.Reset()
	if !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("RollbackTo with the failpoint armed: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	rec, err := inspect.Recover(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Intent == nil || rec.Intent.Target != 5 || rec.Last != 4 || rec.Epoch != 1 {
		t.Fatalf("Recover: intent %+v, last %d, epoch %d; want target 5, last 4, epoch 1", rec.Intent, rec.Last, rec.Epoch)
	}
	if h := rec.Store.Hash(); h != f.Hashes[4] {
		t.Errorf("recovered hash %s, want the hash after position 4 %s", hexHash(h), hexHash(f.Hashes[4]))
	}
	rep := mustVerify(t, f.Dir)
	p := wantProblem(t, rep, "an interrupted rollback of positions 5..7")
	if p.Pos != 5 || p.File != filepath.Join(f.Dir, rollback.IntentFile) || !strings.Contains(p.What, "will be finished at next open") {
		t.Errorf("intent problem: %v", p)
	}
	if len(rep.Problems) != 1 {
		t.Errorf("want only the intent problem, got:\n%s", problems(rep))
	}
	if rep.StateHash != f.Hashes[4] {
		t.Errorf("Verify state hash %s, want the hash after position 4 %s", hexHash(rep.StateHash), hexHash(f.Hashes[4]))
	}

	// The engine finishes the rollback and recovers the state Recover said.
	db = inspecttest.Open(t, f.Dir)
	h, err := db.Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h != rec.Store.Hash() {
		t.Errorf("the engine recovered hash %s, Recover said %s", hexHash(h), hexHash(rec.Store.Hash()))
	}
	// A new own transaction after the rollback gets a fresh OSeq (A/7).
	res, err := db.Call(ctx, "book", inspecttest.BookArgs{Show: "gala", Seat: 20, Name: "erin"})
	if err != nil {
		t.Fatal(err)
	}
	if res.TxID.OSeq != 7 {
		t.Errorf("new transaction after the rollback is %v, want A/7", res.TxID)
	}
	want, err := db.Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, f.Dir)
	if !rep.OK() {
		t.Fatalf("after the finished rollback:\n%s", problems(rep))
	}
	if rep.StateHash != want || rep.Last != 6 {
		t.Errorf("after the finished rollback: last %d hash %s; want 6 and %s", rep.Last, hexHash(rep.StateHash), hexHash(want))
	}
}

// A rollback interrupted after its epoch record was journaled is finished
// but for removing the intent: the state includes the epoch record.
func TestFinishedRollbackIntent(t *testing.T) {
	f := build(t)
	db := inspecttest.Open(t, f.Dir)
	failpoint.Set("rollback-after-epoch", "error", 1)
	_, err := db.RollbackTo(context.Background(), 5, "test")
	failpoint.Reset()
	if !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("RollbackTo with the failpoint armed: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rec, err := inspect.Recover(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Intent == nil || rec.Last != 5 || rec.Epoch != 1 || rec.Store.Hash() != f.Hashes[4] {
		t.Errorf("Recover: intent %v, last %d, epoch %d, hash ok %v; want the intent, last 5 (the epoch record), epoch 1, the state at 4",
			rec.Intent != nil, rec.Last, rec.Epoch, rec.Store.Hash() == f.Hashes[4])
	}
	rep := mustVerify(t, f.Dir)
	p := wantProblem(t, rep, "its epoch record is journaled, so it is finished except for removing this intent")
	if p.Pos != 5 || len(rep.Problems) != 1 {
		t.Errorf("want only the intent problem at position 5, got:\n%s", problems(rep))
	}
}

func TestCheckpointProblems(t *testing.T) {
	f := build(t)
	path := filepath.Join(f.Dir, checkpoint.Dir, "checkpoint-00000000000000000007")

	// A checkpoint whose state differs from the journal.
	meta, st, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Set(liege.K("bogus"), []byte{0x01}, journal.Version{HLC: 1, Origin: "A"})
	if _, err := checkpoint.Write(f.Dir, meta, st.Snapshot()); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, f.Dir)
	p := wantProblem(t, rep, "differs from the journal replayed to position 7")
	if p.Pos != 7 || p.File != path {
		t.Errorf("checkpoint problem at %d in %s, want 7 in %s", p.Pos, p.File, path)
	}

	// A checkpoint that does not load: the engine (and Recover) skip it.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, f.Dir)
	wantProblem(t, rep, "does not load (checksum mismatch)")
	rec, err := inspect.Recover(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.SkippedCheckpoints) != 1 || rec.Checkpoint != "" || rec.Store.Hash() != f.Hashes[7] {
		t.Errorf("Recover with a damaged checkpoint: skipped %v, checkpoint %q, hash ok %v",
			rec.SkippedCheckpoints, rec.Checkpoint, rec.Store.Hash() == f.Hashes[7])
	}
}

func TestMissingLostFile(t *testing.T) {
	f := build(t)
	db := inspecttest.Open(t, f.Dir)
	res, err := db.RollbackTo(context.Background(), 6, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, f.Dir); !rep.OK() {
		t.Fatalf("after a rollback:\n%s", problems(rep))
	}
	if err := os.Remove(res.LostFile); err != nil {
		t.Fatal(err)
	}
	p := wantProblem(t, mustVerify(t, f.Dir), "lost transaction file named by the epoch record at position 6 is missing")
	if p.File != res.LostFile {
		t.Errorf("problem names %s, want %s", p.File, res.LostFile)
	}
}

func TestCannotRun(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for name, fn := range map[string]func(string) error{
		"Verify":  func(d string) error { _, err := inspect.Verify(d); return err },
		"Recover": func(d string) error { _, err := inspect.Recover(d); return err },
		"Records": func(d string) error { _, err := inspect.Records(d, nil); return err },
	} {
		err := fn(missing)
		if !errors.Is(err, fs.ErrNotExist) || err.Error() != "instance directory "+missing+" does not exist" {
			t.Errorf("%s(missing dir): %v", name, err)
		}
		empty := t.TempDir()
		if err := fn(empty); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "is not an instance directory") {
			t.Errorf("%s(dir without journal/): %v", name, err)
		}
	}

	f := build(t)
	db := inspecttest.Open(t, f.Dir)
	_, err := inspect.Verify(f.Dir)
	var inUse *journal.InUseError
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), "in use by pid") {
		t.Errorf("Verify of a running instance: %v", err)
	}
	db.Close()
}

func TestProblemString(t *testing.T) {
	for _, c := range []struct {
		p    inspect.Problem
		want string
	}{
		{inspect.Problem{File: "j/1", Offset: 12, Pos: 3, What: "bad"}, "position 3 (file j/1, byte offset 12): bad"},
		{inspect.Problem{File: "ck", Offset: -1, Pos: 7, What: "bad"}, "position 7 (file ck): bad"},
		{inspect.Problem{File: "intent", Offset: -1, What: "bad"}, "file intent: bad"},
		{inspect.Problem{Offset: -1, What: "bad"}, "bad"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.p, got, c.want)
		}
	}
}

// Synthetic journals: the records a healthy replicated instance holds, and
// the ways a journal can break the invariants Verify checks.

func open(id string) journal.Record { return journal.Record{Kind: journal.KindOpen, Instance: id} }

func txn(kind journal.Kind, origin string, oseq, hlc uint64) journal.Record {
	return journal.Record{Kind: kind, Origin: origin, OSeq: oseq, HLC: hlc, Proc: "p"}
}

// withPos numbers records 1, 2, ... unless a Pos is already set.
func withPos(recs ...journal.Record) []journal.Record {
	for i := range recs {
		if recs[i].Pos == 0 {
			recs[i].Pos = uint64(i + 1)
		}
	}
	return recs
}

func TestVerifySyntheticHealthy(t *testing.T) {
	dir := t.TempDir()
	repro := txn(journal.KindReprocess, "A", 3, 130)
	repro.Subject = journal.TxID{Origin: "B", OSeq: 2}
	inspecttest.WriteJournal(t, dir, withPos(
		open("A"),
		txn(journal.KindLocal, "A", 1, 100),
		txn(journal.KindPeer, "B", 1, 90),
		txn(journal.KindLocal, "A", 2, 120),
		journal.Record{Kind: journal.KindRole, Role: "liege"},
		repro,
		txn(journal.KindPeer, "B", 4, 125),
	))
	rep := mustVerify(t, dir)
	if !rep.OK() {
		t.Fatalf("problems:\n%s", problems(rep))
	}
	checked := strings.Join(rep.Checked, "\n")
	for _, want := range []string{"3 own transactions", "2 peer transactions", "no checkpoints"} {
		if !strings.Contains(checked, want) {
			t.Errorf("Checked lacks %q:\n%s", want, checked)
		}
	}
}

func TestVerifySyntheticProblems(t *testing.T) {
	epoch := journal.Record{Kind: journal.KindEpoch, Epoch: 1, HighOSeq: 5, HLC: 500,
		Rollback: &journal.RollbackInfo{From: 4, To: 6, Records: 3, LostFile: "lost/x.ltf"}}
	after := func(r journal.Record) journal.Record { r.Epoch = 1; return r }
	noSubject := txn(journal.KindCorrection, "A", 2, 200)
	claims := txn(journal.KindLocal, "A", 2, 200)
	claims.Pos = 9
	for _, c := range []struct {
		name string
		recs []journal.Record
		pos  uint64
		what string
	}{
		{"first record not open", withPos(txn(journal.KindLocal, "A", 1, 100)), 1, "not the open record"},
		{"second open record", withPos(open("A"), open("A")), 2, "only position 1 may hold one"},
		{"own OSeq goes back", withPos(open("A"), txn(journal.KindLocal, "A", 2, 100), txn(journal.KindLocal, "A", 1, 200)), 3, "own OSeqs do not increase: A/1 follows A/2 at position 2"},
		{"own HLC goes back", withPos(open("A"), txn(journal.KindLocal, "A", 1, 200), txn(journal.KindLocal, "A", 2, 100)), 3, "own HLCs do not increase"},
		{"peer OSeq goes back", withPos(open("A"), txn(journal.KindPeer, "B", 5, 100), txn(journal.KindPeer, "B", 5, 200)), 3, "peer OSeqs do not increase: B/5 follows B/5 at position 2"},
		{"own record of another origin", withPos(open("A"), txn(journal.KindLocal, "B", 1, 100)), 2, "an own transaction, but its origin is not this instance"},
		{"peer record of this origin", withPos(open("A"), txn(journal.KindPeer, "A", 1, 100)), 2, "is a peer record, but its origin is this instance"},
		{"correction without subject", withPos(open("A"), txn(journal.KindLocal, "A", 1, 100), noSubject), 3, "without a subject"},
		{"wrong position", withPos(open("A"), txn(journal.KindLocal, "A", 1, 100), claims), 3, "claims position 9 but is stored at position 3"},
		{"epoch without epoch record", withPos(open("A"), after(txn(journal.KindLocal, "A", 1, 100))), 2, "the epoch changes from 0 to 1 without an epoch record"},
		{"OSeq reused after a rollback", withPos(open("A"), txn(journal.KindLocal, "A", 1, 100), txn(journal.KindLocal, "A", 2, 110), epoch, after(txn(journal.KindLocal, "A", 3, 600))), 5,
			"A/3 reuses an OSeq: the record at position 4 says OSeqs up to 5 were already assigned"},
		{"HLC not after the rolled-off ones", withPos(open("A"), txn(journal.KindLocal, "A", 1, 100), txn(journal.KindLocal, "A", 2, 110), epoch, after(txn(journal.KindLocal, "A", 6, 300))), 5,
			"the largest HLC rolled off by the rollback recorded at position 4"},
		{"missing lost file", withPos(open("A"), txn(journal.KindLocal, "A", 1, 100), txn(journal.KindLocal, "A", 2, 110), epoch), 4,
			"lost transaction file named by the epoch record at position 4 is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			inspecttest.WriteJournal(t, dir, c.recs)
			rep := mustVerify(t, dir)
			p := wantProblem(t, rep, c.what)
			if p.Pos != c.pos {
				t.Errorf("problem at position %d, want %d: %v", p.Pos, c.pos, p)
			}
		})
	}
}
