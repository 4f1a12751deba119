package engine

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/liege-db/liege/internal/checkpoint"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
	"github.com/liege-db/liege/rollback"
)

// Roles (DESIGN.md section 1).
const (
	RoleLiege  = replicate.RoleLiege
	RoleVassal = replicate.RoleVassal
)

// ErrWrongID: the directory or journal belongs to another instance.
var ErrWrongID = errors.New("instance directory belongs to another instance")

// RecoveryInfo says what Open found and did.
type RecoveryInfo struct {
	Checkpoint    string // the checkpoint loaded, if any
	CheckpointPos uint64
	Replayed      uint64 // journal records replayed after it
	// ReplayDuration is Open's recovery, from the repair of the journal's
	// tail to the end of replay; liege.Open adds the open of the file log
	// before it (the check of every frame), so that it is the wait of a
	// restart.
	ReplayDuration time.Duration
	TornTail       string // the torn tail repaired, if any
	Rollback       *rollback.Result
	Skipped        []error // checkpoints that did not load
	// RoleIgnored is the operator's role (Config.Role) when the journal's
	// role, adopted in a later reign, won over it.
	RoleIgnored string
}

// Instance is one instance: engine state, journal and protocol Node. Only
// its driver touches it (package doc).
type Instance struct {
	cfg   Config
	log   *slog.Logger
	w     *wal
	enc   *journal.Encoder
	dec   *journal.Decoder
	clock *hlc.Clock
	st    *store.Store

	epoch, highOSeq, peerWatermark uint64
	lastPos, durable               uint64
	answered                       uint64 // calls answered so far (Answered)
	index                          *txnIndex
	indexFrom                      uint64
	idem                           *idemCache
	idemF                          *idemFile        // idemfile.go
	lostTx                         lostIndex        // lostindex.go
	recon                          []*reconcile.Log // a vassal's reconciliation logs not yet complete
	reconPending                   int
	role                           string
	reign                          uint64
	quiesced                       bool
	sinceCkpt                      int
	ckptOut                        bool
	ckptDone                       uint64 // a checkpoint written, to mark in the journal
	awaitPeer                      string // why calls wait for the peer (losttail.go)
	awaitingSeed                   bool   // awaitPeer: the Node waits for the peer's checkpoint
	txst                           *txnStatus
	fatal                          error
	closed                         bool
	peerWrites                     []journal.Write
	peerRec                        journal.Record
	ret                            retainer // retain.go
	seed                           seeder   // seed.go

	// peerHints is the path of each write slot's last key (applypeer.go).
	peerHints [swapLimit]store.Hint

	queue   []*Call // submitted, not run
	waiting []*Call // run, answered once durable (position order)
	lastOp  uint8   // opWrite after a Write: Sync comes next

	// Replication (nil node: a lone instance).
	node       *replicate.Node
	ownPending []ownMark         // own records appended (OwnCommitted), not yet OwnDurable
	durRec     journal.Record    // reportDurable's OwnDurable argument, refilled
	peerDur    uint64            // the peer watermark last reported PeerApplied
	peerSync   peerMark          // the peer watermark the fsync in flight makes durable (syncer.go)
	peerSynced peerMark          // and the one the last pipelined fsync made durable
	reconQ     []*journal.Record // the Node's reconciliation records to run
	reconRun   int               // reconciliation records run since other work had a turn (reconTurn)
	reconTally reconTally        // the outcomes of the reconciliation records run since reconQ was last empty
	inbox      []*link.Frame     // a Seed frame, and the frames after it, waiting for own commits to be durable
	rb         *rollback.Stepper // an outstanding rollback
	rbReq      *replicate.Rollback
	// After a vassal's rollback, calls wait until the liege's stream has
	// brought back what the rollback took (catchup.go).
	catchUpTo    uint64 // the liege OSeq to have applied again; 0: no wait
	catchUpTicks int    // ticks left before the calls go on anyway
	// rolledOffRole is the newest role record a rollback finished at
	// start-up rolled off, or why its lost file did not read back
	// (readRecoveredRollback).
	rolledOffRole struct {
		role  string
		reign uint64
		err   error
	}
	out        []*link.Frame
	disconnect string

	// reconComplete holds the logs whose every subject came back, until
	// the records that brought them back are durable (at pos): only then
	// is a log marked done on disk.
	reconComplete []completeLog

	fwd forwardState // call forwarding (forward.go)

	Recovery RecoveryInfo
}

const (
	opNone uint8 = iota
	opWrite
)

func open(cfg Config) (*Instance, error) {
	switch {
	case cfg.ID == "" || cfg.Dir == "":
		return nil, errors.New("engine: Config.ID and Config.Dir are required")
	case cfg.Log == nil || cfg.Runner == nil || cfg.Now == nil:
		return nil, errors.New("engine: Config.Log, Config.Runner and Config.Now are required")
	case cfg.PeerID != "" && cfg.PeerID == cfg.ID:
		return nil, fmt.Errorf("open instance: the peer id is this instance's own id %q; the peer needs another", cfg.ID)
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = 500_000
	}
	if cfg.JournalKeep == 0 {
		cfg.JournalKeep = DefaultJournalKeep
	}
	if cfg.SideKeep == 0 {
		cfg.SideKeep = DefaultSideKeep
	}
	if cfg.IdempotencyWindow == 0 {
		cfg.IdempotencyWindow = 100_000
	}
	if cfg.IdempotencyKeep == 0 {
		cfg.IdempotencyKeep = DefaultIdempotencyKeep
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = link.DefaultMaxFrame
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1024
	}
	if cfg.MaxClockOffset <= 0 {
		cfg.MaxClockOffset = DefaultMaxClockOffset
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	in := &Instance{
		cfg: cfg, log: cfg.Logger.With("instance", cfg.ID),
		enc: journal.NewEncoder(), dec: journal.NewDecoder(),
		clock: hlc.New(hlc.PhysicalClock(cfg.Now), cfg.MaxClockOffset),
		index: newTxnIndex(), idem: newIdemCache(max(cfg.IdempotencyWindow, 0)),
	}
	if err := in.recover(); err != nil {
		cfg.Log.Close()
		return nil, err
	}
	return in, nil
}

func (in *Instance) recover() error {
	t0 := in.cfg.Now()
	rep, err := journal.RepairLogTail(in.cfg.Log)
	if err != nil {
		return err
	}
	if rep != nil {
		in.Recovery.TornTail = rep.String()
		in.log.Warn("repaired torn journal tail (never acknowledged)", "position", rep.Pos, "bytes", rep.Bytes, "cause", rep.Err)
		in.awaitPeerAfterCut(rep)
	}
	in.awaitPeerAsked() // losttail.go
	if in.w, err = openWAL(in.cfg.Log); err != nil {
		return err
	}
	in.w.async, in.w.now, in.w.onSynced = in.cfg.Syncer, in.cfg.Now, in.cfg.Hooks.Synced
	fr, err := in.recoverFront()
	if err != nil {
		return err
	}
	if fr != nil {
		// The role records may have gone with the front; later ones win.
		in.role, in.reign = fr.Role, fr.Reign
	}
	s, err := rollback.ResumeStepper(in.cfg.Dir, in.w, in.enc, in.cfg.Now)
	if err != nil {
		return err
	}
	if s != nil {
		for !s.Done() {
			if err := s.Step(); err != nil {
				return err
			}
		}
		in.Recovery.Rollback = s.Result()
		in.log.Warn("finished an interrupted rollback", "from", s.Result().From, "to", s.Result().To, "epoch", s.Result().Epoch)
	}
	last := in.w.next - 1
	files, err := checkpoint.List(in.cfg.Dir)
	if err != nil {
		return err
	}
	if n := len(files); n > 0 && files[n-1].Pos > last {
		return fmt.Errorf("checkpoint %s holds the state at position %d but the journal of %s ends at %d: %w; "+
			"restore the journal, or remove that checkpoint to accept the loss, then open again", files[n-1].Path, files[n-1].Pos, in.cfg.Dir, last, ErrLostAcked)
	}
	if err := in.openTxnStatus(); err != nil {
		return err
	}
	if err := in.readRecoveredRollback(); err != nil {
		return err
	}
	if err := in.openIdem(); err != nil {
		return err
	}
	meta, st, path, skipped, err := checkpoint.LoadNewest(in.cfg.Dir, last)
	if err != nil {
		return err
	}
	in.Recovery.Skipped = skipped
	from := uint64(1)
	if st != nil {
		if meta.Instance != in.cfg.ID {
			return fmt.Errorf("%w: checkpoint %s is of instance %q, not %q", ErrWrongID, path, meta.Instance, in.cfg.ID)
		}
		in.st = st
		in.epoch, in.highOSeq, in.peerWatermark = meta.Epoch, meta.HighOSeq, meta.PeerWatermark
		in.clock.Restore(hlc.Timestamp(meta.HLC))
		in.Recovery.Checkpoint, in.Recovery.CheckpointPos = path, meta.Pos
		from = meta.Pos + 1
	} else {
		in.st = store.New()
	}
	first := in.w.first
	if from < first {
		return fmt.Errorf("journal of %s starts at position %d but the newest checkpoint holds only up to %d: records are missing", in.cfg.Dir, first, from-1)
	}
	// Index a window of records before the checkpoint too (idempotency
	// keys come from their file, idemfile.go, and the journal after its
	// mark); a replicated instance reads its whole
	// journal, for its role and reign and the Node's own records.
	in.indexFrom = from
	if w := uint64(max(in.cfg.IdempotencyWindow, 0)); w > 0 && from > first {
		in.indexFrom = max(first, from-min(from-1, w))
	}
	scanFrom := in.indexFrom
	if in.cfg.PeerID != "" {
		scanFrom = first
	}
	scanFrom = min(scanFrom, max(first, in.txst.mark+1)) // the TxID index catches up
	idemMark := in.idemMarkPos()
	if in.idemF != nil {
		scanFrom = min(scanFrom, max(first, idemMark+1)) // so do the idempotency keys
	}
	var own []*journal.Record
	var n uint64
	// With workers, they reduce the records to the state's final writes,
	// and the state is loaded at once at the end (store.Loader).
	var ld *store.Loader
	var lws []*store.LoadWorker
	if scanFrom == 0 {
		scanFrom = 1
	}
	if w := in.cfg.ReplayWorkers; w > 0 {
		// Room for the chunks of small records; chunks of large ones,
		// cut short by their bytes, make the Loader grow.
		ld = store.NewLoader(in.st, replayChunks(scanFrom, last))
		for range w {
			lws = append(lws, ld.Worker())
		}
	}
	each := func(r *journal.Record) error {
		p := r.Pos
		if p >= in.indexFrom {
			in.index.add(r)
		}
		if p > idemMark {
			in.rememberKey(r)
		}
		in.txst.add(r)
		switch r.Kind {
		case journal.KindRole:
			in.role, in.reign = r.Role, max(r.Reign, 1)
		case journal.KindEpoch:
			if p < from {
				// A rollback before the checkpoint removed own records.
				own = trimOwn(own, p)
			}
		}
		if in.cfg.PeerID != "" && r.Kind.IsOwn() && r.Origin == in.cfg.ID {
			if ld != nil {
				// replayParallel decodes into records it uses again, their
				// byte strings aliasing the journal's files read.
				r = r.Clone()
			}
			own = append(own, r)
		}
		if p >= from {
			if err := in.replayRecord(r, ld == nil); err != nil {
				return err
			}
			n++
		}
		return nil
	}
	if last >= in.indexFrom {
		// Every record from indexFrom may be a transaction of either
		// instance: room for an even share of them each, so that the
		// room made never passes the records (an origin with more than
		// its share grows from there as before).
		origins := []string{in.cfg.ID}
		if in.cfg.PeerID != "" {
			origins = append(origins, in.cfg.PeerID)
		}
		in.index.reserve((last-in.indexFrom+1)/uint64(len(origins)), origins...)
	}
	if ld != nil {
		load := func(w, c int, recs []journal.Record) {
			for i := range recs {
				if r := &recs[i]; r.Pos >= from && r.Kind.IsTxn() {
					lws[w].Apply(c, r)
				}
			}
			lws[w].EndChunk()
		}
		// The log's frames were checked when it was opened (those it
		// holds: the wal's buffers hold none yet).
		checked := min(journal.CheckedThrough(in.w.log), in.w.logged)
		if _, err := replayParallel(in.w.ReadRangeBuffered, len(lws), scanFrom, last, checked, each, load); err != nil {
			return err
		}
		ld.Finish(lws...)
	} else {
		for p := scanFrom; p <= last; p++ {
			r, err := in.readRecord(p)
			if err != nil {
				return fmt.Errorf("replay journal position %d: %w", p, err)
			}
			if r.Pos != p {
				return fmt.Errorf("replay journal position %d: record claims position %d", p, r.Pos)
			}
			if err := each(r); err != nil {
				return err
			}
		}
	}
	in.index.trim()
	if err := in.loadLostIndex(); err != nil {
		return err
	}
	in.Recovery.Replayed = n
	in.highOSeq = max(in.highOSeq, in.ret.basePrev)
	in.lastPos, in.durable = last, last
	in.sinceCkpt = int(n)
	if last == 0 {
		if err := in.appendMeta(&journal.Record{Kind: journal.KindOpen, Instance: in.cfg.ID}); err != nil {
			return err
		}
		if err := in.flush(); err != nil {
			return err
		}
	}
	if in.cfg.PeerID != "" {
		if err := in.recoverReplication(own); err != nil {
			return err
		}
	}
	in.Recovery.ReplayDuration = in.cfg.Now().Sub(t0)
	in.noteBytes() // retain.go: the keep floor counts bytes from here
	in.removeTempFiles()
	return nil
}

// trimOwn drops the own records at position pos or later.
func trimOwn(own []*journal.Record, pos uint64) []*journal.Record {
	i := len(own)
	for i > 0 && own[i-1].Pos >= pos {
		i--
	}
	return own[:i]
}

// recoverReplication settles the role and reign, loads the reconciliation
// logs and builds the Node.
func (in *Instance) recoverReplication(own []*journal.Record) error {
	if err := in.restoreRolledOffRole(); err != nil {
		return err
	}
	if want := in.cfg.Role; want != "" && want != in.role {
		if want != RoleLiege && want != RoleVassal {
			return fmt.Errorf("open instance: role %q: want %q or %q", want, RoleLiege, RoleVassal)
		}
		if in.role != "" && in.reign > 1 {
			// The protocol moved this instance to its role in a later
			// reign (a promote, a switchover, a reign adopted from the
			// peer): the usual start-up flag must not undo that.
			in.Recovery.RoleIgnored = want
			in.log.Warn("the journal's role wins over the start-up role: it was set by the protocol in a later reign (use liege promote or switchover to change it)",
				"journal_role", in.role, "reign", in.reign, "start_role", want)
		} else {
			if err := in.journalRole(want, max(in.reign, 1)); err != nil {
				return err
			}
		}
	}
	if in.role == "" {
		return fmt.Errorf("open instance %s: a replicated instance needs a role (%q or %q)", in.cfg.ID, RoleLiege, RoleVassal)
	}
	in.reign = max(in.reign, 1)
	if err := in.loadRecon(); err != nil {
		return err
	}
	if in.cfg.Cluster == "" {
		return nil // the Node comes with Attach
	}
	return in.newNode(own)
}

// Attach names the cluster and sets the Node's tick settings (the ID,
// PeerID, Cluster, MaxClockOffset and Holds of nc are filled in). It
// builds the Node if there is none yet, or builds it afresh from the
// journal if the cluster changed. A replicated instance opened without a
// Config.Cluster has no Node until Attach.
func (in *Instance) Attach(cluster string, nc replicate.NodeConfig) error {
	if in.cfg.PeerID == "" {
		return ErrNotReplicated
	}
	if cluster == "" {
		return errors.New("engine: Attach needs a cluster name")
	}
	nc.Holds, in.cfg.Node.Holds = nil, nil
	if in.node != nil && cluster == in.cfg.Cluster && fmt.Sprint(nc) == fmt.Sprint(in.cfg.Node) {
		return nil
	}
	in.cfg.Cluster, in.cfg.Node = cluster, nc
	return in.rebuildNode()
}

// newNode builds the Node from the journal's state.
func (in *Instance) newNode(own []*journal.Record) error {
	var pending []*journal.Record
	for _, l := range in.recon {
		for _, r := range l.Pending() {
			r := r
			pending = append(pending, &r)
		}
	}
	nc := in.cfg.Node
	nc.ID, nc.PeerID, nc.Cluster, nc.MaxClockOffset = in.cfg.ID, in.cfg.PeerID, in.cfg.Cluster, in.cfg.MaxClockOffset
	nc.Holds = in.holds
	nc.NoCheck = in.cfg.LWW
	if nc.FrameBudget <= 0 {
		nc.FrameBudget = frameBudget(in.cfg.MaxFrame)
	}
	if nc.MaxUnsent <= 0 {
		nc.MaxUnsent = replicate.DefaultMaxUnsent // its drivers say what they wrote (Outbox, Written)
	}
	n, err := replicate.NewNode(nc, replicate.NodeState{Role: in.role, Reign: in.reign, Epoch: in.epoch,
		Watermark: in.peerWatermark, Own: own, BasePrev: in.ret.basePrev, Pending: pending, Empty: in.empty()})
	if err != nil {
		return err
	}
	in.node, in.peerDur, in.ownPending = n, in.peerWatermark, nil
	return nil
}

// holds is the Node's Config.Holds: the journal holds subject, as itself
// or as the subject of a reprocess or correction.
func (in *Instance) holds(subject journal.TxID) bool {
	if _, ok := in.index.subjects[subject]; ok {
		return true
	}
	return in.index.find(subject) != 0 || in.index.dropped(subject)
}

// readRecoveredRollback reads, once, the lost transaction file of a
// rollback finished at this start-up, for what the running path does
// after a rollback and this start-up must redo: record in the TxID index
// what it rolled off (the own TxIDs, which res.Own has only when this
// start-up ran the undo; the peer's records; the subjects of reprocesses
// and corrections), and keep the newest role record it rolled off for
// restoreRolledOffRole. The mark of the index stays: the journal before
// the rollback's target is read back into it next.
func (in *Instance) readRecoveredRollback() error {
	res := in.Recovery.Rollback
	if res == nil {
		return nil
	}
	lf, err := rollback.ReadLostFile(res.LostFile)
	if err != nil {
		in.rolledOffRole.err = err // fatal only to a replicated instance (restoreRolledOffRole)
		in.log.Warn("the TxID index records only the own transactions this start-up's rollback undid: its lost transaction file does not read back",
			"file", res.LostFile, "err", err)
		if len(res.Own) == 0 {
			return nil
		}
		return in.txst.rolledBack(in.txst.mark, res.Own, nil)
	}
	own := res.Own
	var recs []*journal.Record
	for i := range lf.Records {
		r := &lf.Records[i]
		switch {
		case r.Kind == journal.KindRole:
			in.rolledOffRole.role, in.rolledOffRole.reign = r.Role, r.Reign
		case r.Kind.IsTxn():
			recs = append(recs, r)
			if len(res.Own) == 0 && r.Origin == in.cfg.ID {
				own = append(own, r.TxID())
			}
		}
	}
	if len(own) == 0 && len(recs) == 0 {
		return nil
	}
	return in.txst.rolledBack(in.txst.mark, own, recs)
}

// restoreRolledOffRole journals again the role and reign that a rollback
// finished at this start-up rolled off with the journal after its target
// (readRecoveredRollback), when they are newer than what the journal left
// says. The running instance does the same after such a rollback
// (afterRollback); one interrupted before that restarted in the older
// reign, a liege for a while beside the real one (found in simulator seed
// 19; TestRoleRestoredAtStartUpSeed pins the case). The
// newest role record rolled off is the role the instance held: reigns only
// go up, and a role is journaled before it is taken.
func (in *Instance) restoreRolledOffRole() error {
	if in.Recovery.Rollback == nil {
		return nil
	}
	r := in.rolledOffRole
	if r.err != nil {
		return fmt.Errorf("read back the lost transaction file of the rollback finished at start-up: %w", r.err)
	}
	if r.role == "" || r.reign < in.reign || r.reign == in.reign && in.role != "" {
		return nil
	}
	in.log.Warn("the rollback finished at start-up had rolled off the instance's newest role: journaling it again",
		"role", r.role, "reign", r.reign, "journal_role", in.role, "journal_reign", in.reign)
	return in.journalRole(r.role, r.reign)
}

// journalRole journals role in reign durably.
func (in *Instance) journalRole(role string, reign uint64) error {
	if err := in.appendMeta(&journal.Record{Kind: journal.KindRole, Role: role, Reign: reign}); err != nil {
		return err
	}
	if err := in.flush(); err != nil {
		return err
	}
	in.role, in.reign = role, reign
	return nil
}

// replayRecord applies one journal record during recovery; its writes
// only if state (the replay's workers apply them, otherwise).
func (in *Instance) replayRecord(r *journal.Record, state bool) error {
	switch r.Kind {
	case journal.KindOpen:
		if r.Instance != in.cfg.ID {
			return fmt.Errorf("%w: %s holds the journal of instance %q; open it with that id or use another directory", ErrWrongID, in.cfg.Dir, r.Instance)
		}
		in.highOSeq = max(in.highOSeq, r.HighOSeq)
	case journal.KindRole:
		in.highOSeq = max(in.highOSeq, r.HighOSeq) // a TakeBack journals a role record
	case journal.KindEpoch:
		in.epoch = r.Epoch
		in.clock.Restore(hlc.Timestamp(r.HLC))
		in.highOSeq = max(in.highOSeq, r.HighOSeq)
		if r.Rollback != nil {
			in.peerWatermark = r.Rollback.PeerWatermark
		}
	}
	if !r.Kind.IsTxn() {
		return nil
	}
	if state {
		in.st.Apply(r)
	}
	in.clock.Restore(hlc.Timestamp(r.HLC))
	if r.Origin == in.cfg.ID {
		in.highOSeq = max(in.highOSeq, r.OSeq)
	} else {
		in.peerWatermark = max(in.peerWatermark, r.OSeq)
	}
	return nil
}

// rememberKey remembers a transaction record's idempotency key at
// start-up: an own call's, or a peer's (a forwarded call, or a client that
// changed sites). A later record with the key (used again once it
// expired) wins over the file's.
func (in *Instance) rememberKey(r *journal.Record) {
	if r.IdempotencyKey != "" && r.Kind.IsTxn() {
		in.idem.replace(r.IdempotencyKey, idemOutcome{txid: r.TxID(), pos: r.Pos, hlc: r.HLC, raw: bytes.Clone(r.Result), sum: in.idem.sum(r.Proc, r.Args)})
	}
}

// loadLostIndex reads the TxIDs of the own transactions in the lost
// transaction files, for Locate.
func (in *Instance) loadLostIndex() error {
	files, err := filepath.Glob(filepath.Join(in.cfg.Dir, rollback.LostDir, "*.ltf"))
	if err != nil {
		return err
	}
	for _, f := range files {
		lf, err := rollback.ReadLostFile(f)
		if err != nil {
			in.log.Warn("unreadable lost transaction file", "file", f, "error", err)
			continue
		}
		var ids []journal.TxID
		for i := range lf.Records {
			if r := &lf.Records[i]; r.Kind.IsTxn() && r.Origin == in.cfg.ID {
				ids = append(ids, r.TxID())
			}
		}
		in.lostTx.add(f, ids)
	}
	return nil
}

// removeTempFiles deletes the temporary files a crash can leave behind.
func (in *Instance) removeTempFiles() {
	for _, d := range []string{".", checkpoint.Dir, rollback.LostDir, reconcile.Dir} {
		tmps, _ := filepath.Glob(filepath.Join(in.cfg.Dir, d, "*.tmp"))
		for _, t := range tmps {
			if err := os.Remove(t); err == nil {
				in.log.Info("removed a temporary file left by a crash", "file", t)
			}
		}
	}
}

// loadRecon loads the reconciliation logs and rebuilds the ones a crash
// kept from being saved.
func (in *Instance) loadRecon() error {
	logs, err := reconcile.Load(in.cfg.Dir)
	if err != nil {
		return err
	}
	have := map[uint64]bool{}
	for _, l := range logs {
		have[l.Epoch] = true
		in.resolveBack(l)
		if !l.Complete() {
			in.recon = append(in.recon, l)
		} else if err := l.Save(in.cfg.Dir); err != nil {
			return err
		}
	}
	files, err := filepath.Glob(filepath.Join(in.cfg.Dir, rollback.LostDir, "lost-"+in.cfg.ID+"-e*.ltf"))
	if err != nil {
		return err
	}
	for _, f := range files {
		var epoch uint64
		base := strings.TrimPrefix(filepath.Base(f), "lost-"+in.cfg.ID+"-e")
		if _, err := fmt.Sscanf(base, "%d-", &epoch); err != nil || have[epoch] || reconcile.Done(in.cfg.Dir, epoch) {
			continue
		}
		if _, err := in.buildRecon(f, nil, nil); err != nil {
			return fmt.Errorf("rebuild the reconciliation log of %s: %w", f, err)
		}
		in.log.Warn("rebuilt a reconciliation log a crash kept from being saved", "lost_file", f)
	}
	in.countRecon()
	return nil
}

// resolveBack marks in l the subjects the journal's index has back.
func (in *Instance) resolveBack(l *reconcile.Log) {
	for i := range l.Entries {
		if s := l.Entries[i].Subject(); !l.Entries[i].Done {
			if _, back := in.index.subjects[s]; back {
				l.Resolve(s)
			}
		}
	}
}

// buildRecon builds and saves the reconciliation log of a lost transaction
// file: lf, its content when the caller has read it already (the log
// shares its records), or nil to read it here.
func (in *Instance) buildRecon(lostFile string, lf *rollback.LostFile, conflicting map[journal.TxID]bool) (*reconcile.Log, error) {
	if lf == nil {
		var err error
		if lf, err = rollback.ReadLostFile(lostFile); err != nil {
			return nil, err
		}
	}
	rel, err := filepath.Rel(in.cfg.Dir, lostFile)
	if err != nil {
		rel = lostFile
	}
	l := reconcile.Build(lf, rel, in.cfg.ID, conflicting)
	in.resolveBack(l)
	if err := l.Save(in.cfg.Dir); err != nil {
		return nil, err
	}
	if !l.Complete() {
		in.recon = append(in.recon, l)
		in.countRecon()
	}
	return l, nil
}

// resolveRecon marks the subject of a reprocess or correction as come back,
// in every log that holds it: an own transaction's log, and a later one
// holding the peer's reprocess or correction of it that a rollback here
// rolled off again (reconcile.Build).
func (in *Instance) resolveRecon(subject journal.TxID) {
	if subject.IsZero() || len(in.recon) == 0 {
		return
	}
	resolved := false
	for i := 0; i < len(in.recon); i++ {
		l := in.recon[i]
		if !l.Resolve(subject) {
			continue
		}
		resolved = true
		if l.PendingCount() == 0 {
			// The record that brought the last subject back (a peer
			// reprocess applied, or the liege's own after a promote) is
			// only appended: marking the log done now would lose every
			// subject in it if a crash took that record.
			in.reconComplete = append(in.reconComplete, completeLog{log: l, pos: in.lastPos})
			in.recon = append(in.recon[:i], in.recon[i+1:]...)
			i--
		}
	}
	if resolved {
		in.reconPending-- // subjects are counted once (countRecon)
	}
}

type completeLog struct {
	log *reconcile.Log
	pos uint64 // the log is done once this position is durable
}

// saveCompleteRecon marks done on disk the complete reconciliation logs
// whose subjects are back durably.
func (in *Instance) saveCompleteRecon() {
	i := 0
	for ; i < len(in.reconComplete) && in.reconComplete[i].pos <= in.durable; i++ {
		l := in.reconComplete[i].log
		if err := l.Save(in.cfg.Dir); err != nil {
			in.log.Error("could not remove a complete reconciliation log", "epoch", l.Epoch, "error", err)
		}
		in.log.Info("reconciliation complete: every rolled-off transaction came back", "epoch", l.Epoch, "lost_file", l.LostFile)
	}
	n := copy(in.reconComplete, in.reconComplete[i:])
	clear(in.reconComplete[n:])
	in.reconComplete = in.reconComplete[:n]
}

// countRecon counts the subjects still pending in the logs: once each,
// though a subject may be pending in two (see resolveRecon).
func (in *Instance) countRecon() {
	subjects := map[journal.TxID]bool{}
	for _, l := range in.recon {
		for i := range l.Entries {
			if e := &l.Entries[i]; !e.Done {
				subjects[e.Subject()] = true
			}
		}
	}
	in.reconPending = len(subjects)
}

// appendMeta journals a non-transaction record.
func (in *Instance) appendMeta(r *journal.Record) error {
	r.Pos = in.lastPos + 1
	r.Epoch = in.epoch
	if r.HighOSeq == 0 {
		r.HighOSeq = in.highOSeq
	}
	f, err := in.enc.Frame(r)
	if err != nil {
		return err
	}
	if err := in.w.Append(r.Pos, f); err != nil {
		return err
	}
	in.lastPos = r.Pos
	return nil
}

// readRecord decodes the record at pos.
func (in *Instance) readRecord(pos uint64) (*journal.Record, error) {
	f, err := in.w.Read(pos)
	if err != nil {
		return nil, err
	}
	r := new(journal.Record)
	if err := journal.NewDecoder().DecodeFrame(f, r); err != nil {
		return nil, fmt.Errorf("journal position %d: %w", pos, err)
	}
	return r, nil
}

func (in *Instance) records(from uint64, fn func(*journal.Record) error) error {
	for p := max(from, in.w.first); p <= in.lastPos; p++ {
		r, err := in.readRecord(p)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (in *Instance) locate(id journal.TxID) (uint64, string) {
	if p, ok := in.index.subjects[id]; ok {
		return p, ""
	}
	if p := in.index.find(id); p != 0 {
		return p, ""
	}
	return 0, in.lostTx.find(id)
}
