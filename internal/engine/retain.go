package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
	"github.com/liege-db/liege/rollback"
)

// Retention (DESIGN.md section 3): the running instance truncates its
// journal's front below what recovery, a rollback and the peer still need,
// and removes old lost transaction files and finished reconciliation logs.
// The decisions are the pure functions RetainBefore and ExpiredSideFiles;
// Instance.retain carries them out.

// Retention defaults.
const (
	// DefaultJournalKeep is Config.JournalKeep's default: 1 GiB of newest
	// journal is never truncated. Assumed moderate load: 50 transactions a
	// second of about 200 journal bytes each is 0.86 GB a day.
	DefaultJournalKeep = 1 << 30
	// DefaultSideKeep is Config.SideKeep's default: lost transaction files
	// and finished reconciliation logs are kept a week.
	DefaultSideKeep = 7 * 24 * time.Hour
	// retainTicks is how many ticks pass between two retention passes
	// besides the one after every checkpoint.
	retainTicks = 64
)

// RetainInput is what decides how far the journal's front may go.
type RetainInput struct {
	// First is the journal's first position; Durable its last durable one.
	First, Durable uint64
	// Checkpoints are the positions of the checkpoints on disk, oldest
	// first.
	Checkpoints []uint64
	// OwnFloor is the position of the first own transaction the peer may
	// still need (not applied by it, or still in its window of checks, or
	// to resend); 0 when there is none.
	OwnFloor uint64
	// KeepFrom is the first position inside the newest Config.JournalKeep
	// bytes: it and every later position stay. 0 means no floor.
	KeepFrom uint64
	// MinAdvance is the fewest positions a truncation removes (a
	// truncation rewrites part of a segment: not worth it for a few).
	MinAdvance uint64
}

// RetainBefore returns the position the journal's front may be truncated
// to now (every position before it removed), or 0 to leave it. It keeps:
//
//   - the newest checkpoint's own position and everything after it, so
//     recovery loads it and replays the journal after it; where a rollback
//     may still remove that checkpoint (it lies at or after OwnFloor, and
//     a rollback removes the checkpoints above its target), the newest
//     checkpoint below OwnFloor instead;
//   - OwnFloor and everything after it: the own transactions the peer may
//     still ask for or check against, and what a vassal's rollback takes
//     off (it starts at an own transaction the liege has not applied);
//   - KeepFrom and after, and every position not yet durable.
//
// With no usable checkpoint nothing is truncated.
func RetainBefore(in RetainInput) uint64 {
	var ckpt uint64
	for i := len(in.Checkpoints) - 1; i >= 0; i-- {
		c := in.Checkpoints[i]
		if c == 0 || c > in.Durable {
			continue
		}
		if in.OwnFloor != 0 && c >= in.OwnFloor {
			continue
		}
		ckpt = c
		break
	}
	if ckpt == 0 {
		return 0
	}
	limit := ckpt
	if in.OwnFloor != 0 {
		limit = min(limit, in.OwnFloor)
	}
	if in.KeepFrom != 0 {
		limit = min(limit, in.KeepFrom)
	}
	if limit <= in.First || limit-in.First < max(in.MinAdvance, 1) {
		return 0
	}
	return limit
}

// byteMark says that cum frame bytes were appended before position pos
// since Open.
type byteMark struct{ pos, cum uint64 }

// KeepFrom returns the first position inside the newest keep bytes, from
// marks (oldest first) and the bytes appended since Open, total: the
// newest mark with at least keep bytes after it. Bytes from before Open are
// not known, so they count as none (the floor errs on keeping more: after
// a restart nothing goes until keep bytes are written). It returns 0 for
// keep <= 0 (no floor) and 1 (nothing goes) when no mark has keep bytes
// after it.
func KeepFrom(marks []byteMark, total uint64, keep int64) uint64 {
	if keep <= 0 {
		return 0
	}
	i := sort.Search(len(marks), func(i int) bool { return total-marks[i].cum < uint64(keep) })
	if i == 0 {
		return 1
	}
	return marks[i-1].pos
}

// SideFile is a lost transaction file or a finished reconciliation log's
// marker, for ExpiredSideFiles.
type SideFile struct {
	Path    string
	ModTime time.Time
	// Epoch is the rollback epoch the file belongs to.
	Epoch uint64
	// Pos is, for a lost transaction file, the journal position of the
	// epoch record that names it (the first position rolled off).
	Pos uint64
	// Lost: a lost transaction file; else a reconciliation done marker.
	Lost bool
}

// ExpiredSideFiles returns the files to remove now, lost transaction files
// first: a lost transaction file older than keep whose reconciliation is
// done (done holds the finished epochs) and not pending, and whose epoch
// record is no longer in the journal (before first: journalctl verify
// checks the file of every epoch record it reads); and a done marker older
// than keep whose lost files are all gone or go now. keep <= 0 keeps
// everything.
func ExpiredSideFiles(files []SideFile, done, pending map[uint64]bool, first uint64, now time.Time, keep time.Duration) []string {
	if keep <= 0 {
		return nil
	}
	old := func(f SideFile) bool { return now.Sub(f.ModTime) > keep }
	staying := map[uint64]bool{} // epochs with a lost file that stays
	var lost, marks []string
	for _, f := range files {
		if !f.Lost {
			continue
		}
		if old(f) && done[f.Epoch] && !pending[f.Epoch] && f.Pos < first {
			lost = append(lost, f.Path)
		} else {
			staying[f.Epoch] = true
		}
	}
	for _, f := range files {
		if !f.Lost && old(f) && !staying[f.Epoch] {
			marks = append(marks, f.Path)
		}
	}
	return append(lost, marks...)
}

// ---- the journal's front file ----

// frontFile names the file that says what the truncated front of the
// journal held that a restart needs.
const frontFile = "journal-front"

// front is what the journal's truncated front held: written (atomically)
// before every truncation, read at Open.
type front struct {
	Instance string
	// First is the journal's first position after the truncation.
	First uint64
	// BasePrev is the OSeq of the last own transaction before First (the
	// Prev of the first one after it), 0 if none.
	BasePrev uint64
	// Role and Reign are the instance's role and reign when it truncated
	// (a role record may be among what went).
	Role  string
	Reign uint64
	// Seeded is set when the state came from the peer's checkpoint.
	Seeded bool
	// PeerWatermark is the highest peer OSeq among the records before
	// First (a rollback to just after the front leaves it), when known:
	// nil in a front file written before it was kept.
	PeerWatermark *uint64 `codec:",omitempty"`
}

func readFront(dir string) (*front, error) {
	b, err := journal.ReadFramedFile(filepath.Join(dir, frontFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (it says where the truncated journal begins; restore it from a backup)", filepath.Join(dir, frontFile), err)
	}
	var f front
	if err := journal.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, frontFile), err)
	}
	return &f, nil
}

func writeFront(dir string, f *front) error {
	b, err := journal.Marshal(f)
	if err != nil {
		return err
	}
	if err := journal.WriteFramedFile(filepath.Join(dir, frontFile), b); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, frontFile), err)
	}
	return nil
}

// ---- carrying it out ----

// retainer is the Instance's retention state.
type retainer struct {
	marks []byteMark
	ticks int
	held  int // HoldRetention calls not yet released
	// basePrev is the OSeq of the last own transaction before the
	// journal's first position (the front file's).
	basePrev uint64
	seeded   bool
	// front is the peer watermark below the journal's first position
	// (frontwm.go), nil when unknown.
	front *rollback.FrontWatermark
}

// noteBytes marks how many bytes were appended before the next position,
// at most one mark per 1/64 of Config.JournalKeep (coarser marks only keep
// more).
func (in *Instance) noteBytes() {
	r := &in.ret
	next, cum := in.w.next, in.w.bytes
	if n := len(r.marks); n > 0 {
		last := r.marks[n-1]
		if last.pos >= next || cum-last.cum < uint64(max(in.cfg.JournalKeep/64, 1)) {
			return
		}
	}
	r.marks = append(r.marks, byteMark{pos: next, cum: cum})
}

// retainTick runs a retention pass every retainTicks ticks.
func (in *Instance) retainTick() {
	in.noteBytes()
	if in.ret.ticks++; in.ret.ticks >= retainTicks {
		in.ret.ticks = 0
		in.retain()
	}
}

// retain truncates the journal's front as far as RetainBefore allows and
// removes expired side files. Errors of the truncation are fatal (the log
// is in an unknown state); those of side files are logged.
func (in *Instance) retain() {
	if in.fatal != nil || in.rb != nil || in.cfg.JournalKeep < 0 || in.ret.held > 0 {
		return
	}
	in.noteBytes()
	in.expireSideFiles()
	files, err := checkpoint.List(in.cfg.Dir)
	if err != nil {
		in.log.Warn("retention: list checkpoints", "error", err)
		return
	}
	ri := RetainInput{First: in.w.first, Durable: in.durable,
		KeepFrom:   KeepFrom(in.ret.marks, in.w.bytes, in.cfg.JournalKeep),
		MinAdvance: uint64(min(256, max(in.cfg.CheckpointEvery/4, 1)))}
	for _, f := range files {
		ri.Checkpoints = append(ri.Checkpoints, f.Pos)
	}
	if in.node != nil {
		if p, ok := in.node.RetainFloor(); ok {
			ri.OwnFloor = p
		}
		// Own records durable but not yet handed to the Node (OwnDurable
		// comes at the next reportDurable) are unknown to RetainFloor, and
		// the peer has applied none of them.
		if len(in.ownPending) > 0 {
			if p := in.ownPending[0].pos; ri.OwnFloor == 0 || p < ri.OwnFloor {
				ri.OwnFloor = p
			}
		}
	}
	to := RetainBefore(ri)
	if to == 0 {
		return
	}
	if err := in.truncateFront(to); err != nil {
		in.fail(err)
	}
}

// truncateFront removes every journal position before to, durably, after
// saving what a restart needs from them in the front file.
func (in *Instance) truncateFront(to uint64) error {
	if len(in.recon) > 0 {
		// A reconciliation log is saved when all of its subjects are
		// back; at start-up the others are found back in the journal
		// (loadRecon). A subject brought back by a record this truncation
		// removes would be pending again after a restart, and reconciled a
		// second time (a promote). Save the logs with what is back now,
		// once the records that brought it back are durable.
		if err := in.flush(); err != nil {
			return err
		}
		for _, l := range in.recon {
			if err := l.Save(in.cfg.Dir); err != nil {
				return fmt.Errorf("save a reconciliation log before truncating the journal: %w", err)
			}
		}
	}
	f := &front{Instance: in.cfg.ID, First: to, BasePrev: in.ret.basePrev, Role: in.role, Reign: in.reign, Seeded: in.ret.seeded}
	if in.node != nil {
		f.BasePrev = in.node.OwnBefore(to)
	}
	fw, err := in.peerWatermarkBelow(to) // frontwm.go
	if err != nil {
		return err
	}
	f.setFrontWatermark(fw)
	if err := writeFront(in.cfg.Dir, f); err != nil {
		return err
	}
	if h := in.cfg.Hooks.Truncating; h != nil {
		h(in.w.first, to)
	}
	if err := in.w.log.TruncateFront(to); err != nil {
		return fmt.Errorf("truncate the journal before position %d: %w", to, err)
	}
	from := in.w.first
	in.w.first, in.ret.basePrev, in.ret.front = to, f.BasePrev, fw
	if in.txst != nil {
		in.index.dropBefore(to) // the durable TxID index answers for them
	}
	i := sort.Search(len(in.ret.marks), func(i int) bool { return in.ret.marks[i].pos > to })
	if i > 1 {
		in.ret.marks = append(in.ret.marks[:0], in.ret.marks[i-1:]...)
	}
	if in.node != nil {
		in.node.Compacted(to)
	}
	in.log.Info("journal front truncated", "from", from, "to", to, "base_prev", f.BasePrev)
	return nil
}

// sideFiles lists the lost transaction files and reconciliation done
// markers of the instance directory.
func (in *Instance) sideFiles() ([]SideFile, map[uint64]bool, error) {
	var out []SideFile
	done := map[uint64]bool{}
	add := func(pattern string, lost bool, epochOf func(base string) (epoch, pos uint64, ok bool)) error {
		paths, err := filepath.Glob(filepath.Join(in.cfg.Dir, pattern))
		if err != nil {
			return err
		}
		for _, p := range paths {
			e, pos, ok := epochOf(filepath.Base(p))
			if !ok {
				continue
			}
			st, err := os.Stat(p)
			if err != nil {
				continue
			}
			out = append(out, SideFile{Path: p, ModTime: st.ModTime(), Epoch: e, Pos: pos, Lost: lost})
			if !lost {
				done[e] = true
			}
		}
		return nil
	}
	lostPrefix := "lost-" + in.cfg.ID + "-e"
	if err := add(filepath.Join(rollback.LostDir, lostPrefix+"*.ltf"), true, func(b string) (uint64, uint64, bool) {
		var e, from uint64 // lost-<id>-e<epoch>-<from>-<to>.ltf (rollback.LostName)
		_, err := fmt.Sscanf(strings.TrimPrefix(b, lostPrefix), "%d-%d-", &e, &from)
		return e, from, err == nil
	}); err != nil {
		return nil, nil, err
	}
	if err := add(filepath.Join(reconcile.Dir, "done-e*"), false, func(b string) (uint64, uint64, bool) {
		var e uint64
		_, err := fmt.Sscanf(strings.TrimPrefix(b, "done-e"), "%d", &e)
		return e, 0, err == nil && !strings.Contains(b, ".")
	}); err != nil {
		return nil, nil, err
	}
	return out, done, nil
}

// expireSideFiles removes the lost transaction files and done markers older
// than Config.SideKeep.
func (in *Instance) expireSideFiles() {
	if in.cfg.SideKeep <= 0 {
		return
	}
	files, done, err := in.sideFiles()
	if err != nil {
		in.log.Warn("retention: list lost transaction files", "error", err)
		return
	}
	pending := map[uint64]bool{}
	for _, l := range in.recon {
		pending[l.Epoch] = true
	}
	for _, p := range ExpiredSideFiles(files, done, pending, in.w.first, in.cfg.Now(), in.cfg.SideKeep) {
		if err := os.Remove(p); err != nil {
			in.log.Warn("retention: remove an expired file", "file", p, "error", err)
			return
		}
		in.lostTx.remove(p)
		in.log.Info("retention: removed an expired file", "file", p, "keep", in.cfg.SideKeep)
	}
}

// recoverFront reads the front file at Open: it finishes a truncation a
// crash interrupted and returns what the truncated front held.
func (in *Instance) recoverFront() (*front, error) {
	f, err := readFront(in.cfg.Dir)
	if err != nil || f == nil {
		return nil, err
	}
	if f.Instance != in.cfg.ID {
		return nil, fmt.Errorf("%w: %s is of instance %q, not %q", ErrWrongID, filepath.Join(in.cfg.Dir, frontFile), f.Instance, in.cfg.ID)
	}
	if first := in.w.first; first < f.First {
		if f.First > in.w.next {
			return nil, fmt.Errorf("%s says the journal begins at position %d, but it ends at %d: the journal lost acknowledged records; restore it from a backup",
				filepath.Join(in.cfg.Dir, frontFile), f.First, in.w.next-1)
		}
		if err := in.w.log.TruncateFront(f.First); err != nil {
			return nil, fmt.Errorf("finish truncating the journal before position %d: %w", f.First, err)
		}
		in.w.first = f.First
		in.log.Info("finished a journal front truncation a crash interrupted", "first", f.First)
	}
	in.ret.basePrev, in.ret.seeded, in.ret.front = f.BasePrev, f.Seeded, f.frontWatermark()
	return f, nil
}

// HoldRetention stops (on) or lets go on (off) the truncation of the
// journal's front and the removal of side files, for a backup copying the
// directory. Calls nest.
func (in *Instance) HoldRetention(on bool) {
	if on {
		in.ret.held++
	} else if in.ret.held > 0 {
		in.ret.held--
	}
}

// retainBelow is the position below which a checkpoint must be kept when
// older ones are pruned: the retain floor (RetainBefore truncates to the
// newest checkpoint below it, and a rollback may remove the newer ones).
// 0 when there is none.
func (in *Instance) retainBelow() uint64 {
	if in.node == nil {
		return 0
	}
	p, _ := in.node.RetainFloor()
	if p != 0 && p <= in.w.first {
		// The floor is the journal's first record (after a restart or a
		// reign change the Node keeps every own transaction): no
		// checkpoint lies below it, and the one at the front is the only
		// one a rollback above the front leaves valid. Keep it (as
		// PruneKeeping's spare below first+1), or two newer checkpoints
		// and a rollback below both leave none for recovery (seed 177 at
		// 1,000 steps: "the newest checkpoint holds only up to 0").
		return in.w.first + 1
	}
	return p
}
