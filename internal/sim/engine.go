package sim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/engine"
	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// The adapter from internal/engine.Instance, the real engine, to the
// simulator's Instance: this file is all it takes. The engine runs the
// "ops" procedure (RegisterOpsAs) from a registry of its own; its side
// files (lost transactions, reconciliation logs, the rollback intent) go in
// Config.Dir, which survives a crash as a disk does.

// OpenEngine opens the real engine on cfg.Log and cfg.Dir (an Opener).
func OpenEngine(cfg Config) (Instance, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("open %s: the engine needs Config.Dir for its side files", cfg.ID)
	}
	reg := liege.NewRegistry()
	register := func(r liege.Registrar) error { return RegisterOpsAs(r, "ops") }
	if cfg.App != nil {
		register = cfg.App.Register
	}
	if err := register(reg); err != nil {
		return nil, err
	}
	now := cfg.Now
	e := &engineInst{}
	// The engine's hooks put its conflicts and rollbacks in the trace.
	hooks := engine.Hooks{
		Verdict: func(v replicate.PeerVerdict) {
			if v.Verdict == replicate.VerdictReject {
				e.rejected = append(e.rejected, v.Txn)
			}
			if len(v.Conflicts) == 0 {
				return
			}
			c := v.Conflicts[0]
			what := c.Check.String() + " with own " + c.Own.String()
			if !c.Subject.IsZero() {
				what = "duplicate subject " + c.Subject.String()
			}
			e.notes = append(e.notes, fmt.Sprintf("%v: %v (%s)", v.Txn, v.Verdict, what))
		},
		RolledBack: func(n uint64) { e.notes = append(e.notes, fmt.Sprintf("rolled back %d records", n)) },
	}
	ecfg := engine.Config{ID: cfg.ID, PeerID: cfg.PeerID, Cluster: cfg.Cluster, Role: cfg.Role,
		Dir: cfg.Dir, Log: cfg.Log, Runner: reg.Runner(), Now: func() time.Time { return time.Unix(0, now()) },
		CheckpointEvery: -1, Node: cfg.Node, Hooks: hooks, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if cfg.Retain {
		e.retain(&ecfg, cfg.Side) // retain.go
	}
	in, err := engine.Open(ecfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.ID, err)
	}
	e.in = in
	return e, nil
}

type engineInst struct {
	in       *engine.Instance
	pending  []pendingCall // submitted, not answered, in order
	notes    []string
	rejected []journal.TxID
	side     *Side // with retention (retain.go)
}

type pendingCall struct {
	c    *engine.Call
	call *Call
}

func (e *engineInst) Submit(c *Call) {
	proc, args := c.Proc, c.Args
	if proc == "" {
		proc, args = "ops", OpsArgs{Ops: c.Ops}
	}
	b, err := journal.Marshal(args)
	if err != nil {
		panic(fmt.Sprintf("sim: encode the arguments of a call: %v", err))
	}
	ec := &engine.Call{Proc: proc, Args: args, ArgBytes: b, Forward: c.Forward}
	e.pending = append(e.pending, pendingCall{c: ec, call: c})
	e.in.Submit(ec)
	e.answer()
}

// answer hands every call the engine answered to its client, in order of
// submission.
func (e *engineInst) answer() {
	e.pending = slices.DeleteFunc(e.pending, func(p pendingCall) bool {
		if !p.c.Done {
			return false
		}
		if p.c.Forward && errors.Is(p.c.Err, engine.ErrNoForward) {
			// Not forwarded (no link, or no liege): the auto route
			// commits it here. The pending entry keeps its place.
			p.c.Forward, p.c.Done, p.c.Err = false, false, nil
			e.notes = append(e.notes, "forward fell back to a local commit")
			e.in.Submit(p.c)
			return false
		}
		if p.call.Done != nil {
			p.call.Done(p.c.Result.TxID, p.c.Err)
		}
		return true
	})
}

func (e *engineInst) Step() (bool, error) {
	worked := e.in.Step()
	e.checkpoint() // retain.go
	e.answer()
	if err := e.in.Status().Fatal; err != nil {
		return worked, err
	}
	return worked, nil
}

func (e *engineInst) LinkUp()   { e.in.LinkUp(); e.answer() }
func (e *engineInst) LinkDown() { e.in.LinkDown(); e.answer() }
func (e *engineInst) Tick()     { e.in.Tick(); e.answer() }

func (e *engineInst) Deliver(f *link.Frame) error {
	err := e.in.Deliver(f)
	e.answer()
	return err
}

func (e *engineInst) Outbox() Out {
	frames, disc := e.in.Outbox()
	out := Out{Disconnect: disc, Frames: make([]link.Frame, len(frames)), Notes: e.notes, Rejected: e.rejected}
	e.notes, e.rejected = nil, nil
	for i, f := range frames {
		// The simulator keeps frames in flight: copy what the engine may
		// reuse.
		g := *f
		g.Record = slices.Clone(f.Record)
		g.Records = make([][]byte, len(f.Records))
		for k, r := range f.Records {
			g.Records[k] = slices.Clone(r)
		}
		out.Frames[i] = g
	}
	return out
}

func (e *engineInst) Promote(force bool) error {
	err := e.in.Promote(force)
	e.answer()
	return err
}

func (e *engineInst) Switchover() error {
	err := e.in.Switchover()
	e.answer()
	return err
}

func (e *engineInst) Status() replicate.NodeStatus { return e.in.Status().Node }

func (e *engineInst) Busy() bool { return e.in.HasWork() }

func (e *engineInst) Export() (oracle.Instance, error) {
	out := oracle.Instance{ID: e.in.Status().ID}
	out.Records = e.archived() // retain.go
	err := e.in.Records(1, func(r *journal.Record) error {
		if r.Kind.IsTxn() {
			out.Records = append(out.Records, *r)
		}
		return nil
	})
	e.in.Scan(nil, func(k, v []byte, ver journal.Version) bool {
		out.State = append(out.State, oracle.Entry{Key: slices.Clone(k), Value: slices.Clone(v), Version: ver})
		return true
	})
	return out, err
}
