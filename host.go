package liege

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// This file is the DB as a replicate.Host: the Replicator's link
// goroutines hand their inputs to the executor here and take the outbox.
// Every decision is the Node's, inside the engine.

var _ replicate.Host = (*DB)(nil)

// Attach implements replicate.Host.
func (db *DB) Attach(cluster string, nc replicate.NodeConfig) error {
	var err error
	if cerr := db.control(context.Background(), func() {
		err = db.in.Attach(cluster, nc)
		db.afterStep()
	}); cerr != nil {
		return cerr
	}
	return err
}

// Link events go to the executor through one queue, in the order the
// Replicator's goroutines hand them in: a frame is never taken after the
// LinkDown of its session, and frames do not wait for one another's turn
// of the executor (the executor takes a run of them at once).
type linkEvent struct {
	kind uint8
	fs   []*link.Frame // evFrames: a run received together, in order
	n    int           // evWritten: Txn frames the writer took
	done chan struct{}
}

const (
	evFrames uint8 = iota
	evUp
	evDown
	evTick
	evWritten
)

// link hands ev to the executor and, if wait, waits until it is taken.
func (db *DB) link(ev linkEvent, wait bool) {
	if wait {
		ev.done = make(chan struct{})
	}
	select {
	case db.linkq <- ev:
	case <-db.quit:
		return
	}
	if wait {
		select {
		case <-ev.done:
		case <-db.stopped:
		}
	}
}

// linkEvent carries out ev (executor only).
func (db *DB) linkEvent(ev linkEvent) {
	switch ev.kind {
	case evFrames:
		// One Node input each, in order; only no call or fsync outcome is
		// taken between two frames of a run.
		for i, f := range ev.fs {
			ev.fs[i] = nil
			if err := db.in.Deliver(f); err != nil {
				db.outMu.Lock()
				db.outDisc = err.Error()
				db.outMu.Unlock()
				select {
				case db.outReady <- struct{}{}:
				default:
				}
			}
		}
	case evUp:
		db.clearOutbox()
		db.in.LinkUp()
	case evDown:
		db.in.LinkDown()
		db.clearOutbox()
	case evTick:
		db.in.Tick()
	case evWritten:
		db.in.Written(ev.n)
	}
	if ev.done != nil {
		close(ev.done)
	}
}

// LinkUp implements replicate.Host.
func (db *DB) LinkUp() { db.link(linkEvent{kind: evUp}, true) }

// LinkDown implements replicate.Host.
func (db *DB) LinkDown() { db.link(linkEvent{kind: evDown}, true) }

func (db *DB) clearOutbox() {
	db.outMu.Lock()
	clear(db.out)
	db.out, db.outDisc = db.out[:0], ""
	db.outMu.Unlock()
}

// Deliver implements replicate.Host. It queues the run fs for the
// executor as one event and returns at once: a frame the Node refuses
// closes the link through the outbox (Outbox returns the reason).
func (db *DB) Deliver(fs []*link.Frame) error {
	db.link(linkEvent{kind: evFrames, fs: fs}, false)
	return nil
}

// Tick implements replicate.Host.
func (db *DB) Tick() { db.link(linkEvent{kind: evTick}, false) }

// Outbox implements replicate.Host. The Txn frames it hands the writer
// are said written to the Node (through the executor), which ships more
// only while few are unwritten (replicate.NodeConfig.MaxUnsent).
func (db *DB) Outbox() ([]*link.Frame, string) {
	db.outMu.Lock()
	out, disc := db.out, db.outDisc
	db.out, db.outDisc = nil, ""
	db.outMu.Unlock()
	if k := engine.TxnFrames(out); k > 0 {
		db.link(linkEvent{kind: evWritten, n: k}, false)
	}
	return out, disc
}

// OutboxReady implements replicate.Host.
func (db *DB) OutboxReady() <-chan struct{} { return db.outReady }

// ReplStatus implements replicate.Host: the Node's status as of the
// executor's last step (zero for a lone instance).
func (db *DB) ReplStatus() replicate.NodeStatus {
	if p := db.pub.node.Load(); p != nil {
		return *p
	}
	return replicate.NodeStatus{}
}

// ReconPending returns how many rolled-off own transactions are not yet
// back from the liege.
func (db *DB) ReconPending() int { return int(db.pub.recon.Load()) }

// Quiesce stops (on) or resumes (off) new transactions by hand: calls fail
// with ErrQuiesced. Reads, peer transactions and reconciliation go on.
func (db *DB) Quiesce(on bool) {
	_ = db.control(context.Background(), func() {
		db.in.Quiesce(on)
		db.afterStep()
	})
}

// Quiesced reports whether the instance is quiesced.
func (db *DB) Quiesced() bool { return db.pub.quiesced.Load() }

// ErrHearsLiege is returned by Promote, unless forced, while the vassal
// still hears from its liege.
var ErrHearsLiege = replicate.ErrHearsLiege

// ErrAwaitingSeed is returned by Promote, forced or not, while the
// instance is empty and waits for its peer's checkpoint.
var ErrAwaitingSeed = replicate.ErrAwaitingSeed

// Promote makes this vassal the liege in the next reign (DESIGN.md section
// 10), durably. Unless force, it refuses with ErrHearsLiege while the
// liege is still heard from; forced or not, with ErrAwaitingSeed while the
// instance, emptied, waits for the peer's checkpoint. The vassal's own
// rolled-off transactions that were waiting for the old liege are
// reconciled by itself, in the background; the old liege, whatever role it
// restarts with, learns the higher reign at the handshake and becomes the
// vassal.
func (db *DB) Promote(ctx context.Context, force bool) error {
	var err error
	if cerr := db.control(ctx, func() {
		err = db.in.Promote(force)
		db.afterStep()
	}); cerr != nil {
		return cerr
	}
	return err
}

// Switchover starts a planned role swap at the liege (DESIGN.md section
// 10): it stops taking new transactions and, once both streams are
// drained, becomes the vassal in the next reign; the peer adopts the liege
// role at the handshake. It returns once this instance is the vassal, or
// ctx ends (the swap then goes on or is abandoned if the link drops).
func (db *DB) Switchover(ctx context.Context) error {
	var err error
	if cerr := db.control(ctx, func() {
		err = db.in.Switchover()
		db.afterStep()
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	return db.waitRole(ctx, RoleVassal, 0)
}

// SetRole moves the instance to role by the protocol: "liege" at a vassal
// promotes it (force as in Promote; a switchover the peer started is
// waited for briefly first), "vassal" at a liege switches over. The role
// already held is no change.
func (db *DB) SetRole(ctx context.Context, role string, force bool) error {
	if role != RoleLiege && role != RoleVassal {
		return fmt.Errorf("role %q: want %q or %q", role, RoleLiege, RoleVassal)
	}
	if db.opts.PeerID == "" {
		return ErrNotReplicated
	}
	if db.Role() == role {
		return nil
	}
	if role == RoleVassal {
		return db.Switchover(ctx)
	}
	err := db.Promote(ctx, force)
	if errors.Is(err, replicate.ErrHearsLiege) {
		// The liege may be handing over (a switchover): it tells us in a
		// moment.
		if db.waitRole(ctx, RoleLiege, time.Second) == nil {
			return nil
		}
	}
	if err != nil && db.Role() == role {
		return nil
	}
	return err
}

// waitRole waits until the instance holds role, for at most d (0: until
// ctx ends).
func (db *DB) waitRole(ctx context.Context, role string, d time.Duration) error {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for db.Role() != role {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("%s is still %s, not %s: %w", db.opts.ID, db.Role(), role, ctx.Err())
		}
	}
	return nil
}

// Engine runs fn on the executor with the engine.Instance, for tests and
// tools inside this module (the type is internal): fn may read it and give
// it inputs (a reconciliation, a Sync); the executor carries on with what
// fn left once it returns.
func (db *DB) Engine(ctx context.Context, fn func(*engine.Instance)) error {
	return db.control(ctx, func() {
		fn(db.in)
		db.afterStep()
	})
}
