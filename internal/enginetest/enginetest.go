// Package enginetest drives liege.DBs for tests inside this module without
// sockets: Reconcile runs one reconciliation record on an instance's
// engine, and Link replicates two instances in memory through their
// replicate.Host side (the same path the Replicator's goroutines take).
package enginetest

import (
	"context"
	"fmt"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/reconcile"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// Actions of an Outcome, as the tests name them.
const (
	Skipped     = "skipped"
	Reprocessed = "reprocessed"
	Corrected   = "corrected"
)

// Outcome is what reconciling one record did.
type Outcome struct {
	Subject     journal.TxID
	Action      string
	Result      liege.Result
	Reexecuted  []byte
	ReexecError error
}

// Reconcile reconciles r on db (DESIGN.md section 9) as a liege does and
// waits until what it committed is durable.
func Reconcile(ctx context.Context, db *liege.DB, r *journal.Record) (*Outcome, error) {
	var out engine.ReconcileOutcome
	if err := db.Engine(ctx, func(in *engine.Instance) {
		out = in.Reconcile(r)
		in.Sync()
	}); err != nil {
		return nil, err
	}
	if out.Err != nil {
		return nil, out.Err
	}
	o := &Outcome{Subject: out.Subject, Reexecuted: out.Reexecuted, ReexecError: out.ReexecError,
		Result: liege.Result{TxID: out.Result.TxID, HLC: out.Result.HLC, Pos: out.Pos, Raw: out.Result.Raw, Kind: out.Result.Kind}}
	switch out.Action {
	case reconcile.Skip:
		o.Action = Skipped
	case reconcile.Reprocess:
		o.Action = Reprocessed
	case reconcile.Correct:
		o.Action = Corrected
	}
	return o, nil
}

// Link replicates two instances in memory: frames move from one's outbox
// to the other's Deliver on the caller's goroutine.
type Link struct {
	A, B *liege.DB
	up   bool
	// only, if set, is the one side whose transactions are delivered: the
	// other's are dropped (Ship).
	only *liege.DB
}

// Connect attaches a and b to cluster and brings a link up between them.
func Connect(a, b *liege.DB, cluster string) (*Link, error) {
	for _, db := range []*liege.DB{a, b} {
		// Ticks come every millisecond or so while the executors work
		// asynchronously: a long silence timeout keeps a busy instance's
		// link up.
		if err := db.Attach(cluster, replicate.NodeConfig{HeartbeatTicks: 1, SilenceTicks: 5000}); err != nil {
			return nil, err
		}
	}
	l := &Link{A: a, B: b}
	l.Up()
	return l, nil
}

// Up brings the link up (both sides send their Hello).
func (l *Link) Up() {
	if l.up {
		return
	}
	l.up = true
	l.A.LinkUp()
	l.B.LinkUp()
}

// Down takes the link down; frames in flight are lost.
func (l *Link) Down() {
	if !l.up {
		return
	}
	l.up = false
	l.A.LinkDown()
	l.B.LinkDown()
}

// Only delivers only db's transactions from now on (the other side's are
// dropped, as a one-way partition of the stream would); nil ends it.
func (l *Link) Only(db *liege.DB) { l.only = db }

// Move delivers the frames waiting in both outboxes once and reports how
// many moved. A frame the receiver refuses, or a disconnect either side
// asks for, takes the link down (and returns the reason as an error).
func (l *Link) Move() (int, error) {
	n := 0
	for _, d := range [][2]*liege.DB{{l.A, l.B}, {l.B, l.A}} {
		from, to := d[0], d[1]
		frames, disc := from.Outbox()
		if !l.up {
			continue
		}
		for _, f := range frames {
			if l.only != nil && from != l.only && f.Kind == link.KindTxn {
				continue
			}
			n++
			if err := to.Deliver([]*link.Frame{f}); err != nil {
				l.Down()
				return n, fmt.Errorf("%s refused a %v frame of %s: %w", to.ID(), f.Kind, from.ID(), err)
			}
		}
		if disc != "" {
			l.Down()
			return n, fmt.Errorf("%s closed the link: %s", from.ID(), disc)
		}
	}
	return n, nil
}

// Settle ticks both sides and moves frames until both Nodes are idle (and
// stay so for a few ticks), or budget runs out.
func (l *Link) Settle(ctx context.Context, budget time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	quiet := 0
	for {
		moved, err := l.Move()
		if err != nil {
			return err
		}
		_ = moved // heartbeats move every tick: idle is what counts
		if l.A.ReplStatus().Idle() && l.B.ReplStatus().Idle() {
			if quiet++; quiet > 3 {
				return nil
			}
		} else {
			quiet = 0
		}
		l.A.Tick()
		l.B.Tick()
		select {
		case <-ctx.Done():
			return fmt.Errorf("the link did not settle within %v: %s %+v, %s %+v", budget,
				l.A.ID(), l.A.ReplStatus(), l.B.ID(), l.B.ReplStatus())
		case <-time.After(time.Millisecond):
		}
	}
}

// Ship brings the link up, delivers from's transactions to the other side
// (and no transaction the other way) until the other has applied all of
// them or stopped at a conflict, then takes the link down. It returns how
// many it applied.
func (l *Link) Ship(ctx context.Context, from *liege.DB, budget time.Duration) (int, error) {
	to := l.B
	if from == l.B {
		to = l.A
	}
	before := to.ReplStatus().Watermark
	l.only = from
	defer func() { l.only = nil }()
	l.Up()
	defer l.Down()
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	quiet := 0
	for {
		moved, err := l.Move()
		if err != nil {
			return int(to.ReplStatus().Watermark - before), err
		}
		fs, ts := from.ReplStatus(), to.ReplStatus()
		done := fs.Connected && ts.Connected && ts.Watermark >= fs.LastOwn && fs.PeerWM >= fs.LastOwn
		stuck := ts.Connected && (!fs.Discarding.IsZero() || !ts.Discarding.IsZero() || ts.RollingBack || fs.RollingBack)
		if done || stuck && moved == 0 {
			if quiet++; quiet > 3 {
				return int(to.ReplStatus().Watermark - before), nil
			}
		} else {
			quiet = 0
		}
		l.A.Tick()
		l.B.Tick()
		select {
		case <-ctx.Done():
			return int(to.ReplStatus().Watermark - before), fmt.Errorf("shipping from %s did not finish within %v: %+v, %+v", from.ID(), budget, fs, ts)
		case <-time.After(time.Millisecond):
		}
	}
}
