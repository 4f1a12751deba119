package liege

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/internal/hlc"
	"github.com/liege-db/liege/journal"
)

// ErrStreamReset is returned by OwnCursor.Next when a rollback reused
// journal positions the cursor was reading: open a new cursor after the
// peer's watermark.
var ErrStreamReset = errors.New("the journal was rolled back under the stream; resume after the peer's watermark")

// OwnCursor reads this instance's own transactions from its journal in OSeq
// order, once durable, for the peer's stream (DESIGN.md sections 3 and 5).
// It is used by one goroutine.
type OwnCursor struct {
	db    *DB
	pos   uint64 // next position to read
	prev  uint64 // OSeq of the previous own transaction in the journal
	after uint64 // skip own transactions up to this OSeq
	gen   uint64
	dec   *journal.Decoder
	rec   journal.Record
}

// OwnTxn is one own transaction read by an OwnCursor.
type OwnTxn struct {
	// Frame is the record as the journal frames it (checksum included);
	// valid until the next call to Next.
	Frame []byte
	// Record is the decoded record; valid until the next call to Next.
	Record *journal.Record
	// Prev is the OSeq of the own transaction before it in the journal, 0
	// if none.
	Prev uint64
	// Epoch is this instance's epoch when the record was read.
	Epoch uint64
}

// OwnCursor returns a cursor that reads own transactions with an OSeq above
// after (the peer's watermark).
func (db *DB) OwnCursor(ctx context.Context, after uint64) (*OwnCursor, error) {
	c := &OwnCursor{db: db, after: after, dec: journal.NewDecoder()}
	err := db.control(ctx, func() {
		c.gen = db.gen.Load()
		c.pos = db.j.First()
		es := db.index.byOrigin[db.opts.ID]
		// The newest own transaction at or below after that the index
		// knows: start right after it. (Without one, read from the front.)
		i := sort.Search(len(es), func(i int) bool { return es[i].oseq > after })
		if i > 0 {
			c.pos, c.prev = es[i-1].pos+1, es[i-1].oseq
		}
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Next returns the next durable own transaction, or ok false when there is
// none yet (wait on DurableChanged). It returns ErrStreamReset after a
// rollback.
func (c *OwnCursor) Next() (t OwnTxn, ok bool, err error) {
	db := c.db
	for {
		if db.gen.Load() != c.gen {
			return t, false, ErrStreamReset
		}
		if c.pos > db.j.Durable() {
			return t, false, nil
		}
		f, err := db.j.Read(c.pos)
		if err != nil {
			if db.gen.Load() != c.gen {
				return t, false, ErrStreamReset
			}
			return t, false, fmt.Errorf("stream: read journal position %d: %w", c.pos, err)
		}
		epoch := db.pub.epoch.Load()
		if db.gen.Load() != c.gen {
			return t, false, ErrStreamReset
		}
		c.rec.Reset()
		if err := c.dec.DecodeFrame(f, &c.rec); err != nil {
			return t, false, fmt.Errorf("stream: decode journal position %d: %w", c.pos, err)
		}
		c.pos++
		r := &c.rec
		if !r.Kind.IsOwn() || r.Origin != db.opts.ID {
			continue
		}
		prev := c.prev
		c.prev = r.OSeq
		if r.OSeq <= c.after {
			continue
		}
		return OwnTxn{Frame: f, Record: r, Prev: prev, Epoch: epoch}, true, nil
	}
}

// OwnCommitTimeAfter returns the commit time (its HLC's physical time) of
// the oldest durable own transaction with an OSeq above after, and false if
// the journal holds none. With the peer's watermark as after, that is the
// oldest transaction the peer has not reported applied: the outgoing
// replication lag is its age. Own transactions older than the index's
// window (DESIGN.md's idempotency window after a restart) are not found;
// the oldest indexed one stands for them.
func (db *DB) OwnCommitTimeAfter(ctx context.Context, after uint64) (time.Time, bool, error) {
	var at time.Time
	var found bool
	var rerr error
	err := db.control(ctx, func() {
		es := db.index.byOrigin[db.opts.ID]
		i := sort.Search(len(es), func(i int) bool { return es[i].oseq > after })
		if i == len(es) || es[i].pos > db.j.Durable() {
			return // none, or not durable yet (not sent yet, and younger than an fsync)
		}
		f, err := db.j.Read(es[i].pos)
		if err != nil {
			rerr = fmt.Errorf("read own transaction at journal position %d: %w", es[i].pos, err)
			return
		}
		var r journal.Record
		if err := journal.NewDecoder().DecodeFrame(f, &r); err != nil {
			rerr = fmt.Errorf("decode own transaction at journal position %d: %w", es[i].pos, err)
			return
		}
		at, found = hlc.Timestamp(r.HLC).Physical(), true
	})
	return at, found, errors.Join(err, rerr)
}

// DurableChanged returns a channel closed when more of the journal is
// durable, or the journal was rolled back. Take it before calling Next, so
// that no change is missed.
func (db *DB) DurableChanged() <-chan struct{} {
	db.durMu.Lock()
	defer db.durMu.Unlock()
	if db.durCh == nil {
		db.durCh = make(chan struct{})
	}
	return db.durCh
}

func (db *DB) notifyDurable() {
	db.durMu.Lock()
	if db.durCh != nil {
		close(db.durCh)
		db.durCh = nil
	}
	db.durMu.Unlock()
}

// publish copies the executor's replication state for other goroutines.
func (db *DB) publish() {
	db.pub.peerWatermark.Store(db.peerWatermark)
	db.pub.lastOwn.Store(db.lastOwn)
	db.pub.epoch.Store(db.epoch)
	if db.window != nil {
		db.pub.window.Store(int64(db.window.Len()))
	}
}

// recoverReplication rebuilds what replication keeps in memory (recovery
// only): the role, the window and the reconciliation logs.
func (db *DB) recoverReplication() error {
	if db.window == nil {
		return nil
	}
	if want := db.opts.Role; want != "" && want != db.Role() {
		if want != RoleLiege && want != RoleVassal {
			return fmt.Errorf("open instance: role %q: want %q or %q", want, RoleLiege, RoleVassal)
		}
		// The operator's choice wins over the journal's; it is journaled.
		if _, err := db.setRoleLocked(want); err != nil {
			return err
		}
		if err := db.j.Flush(); err != nil {
			return err
		}
	}
	if db.Role() == "" {
		return fmt.Errorf("open instance %s: a replicated instance needs a role (Options.Role %q or %q)", db.opts.ID, RoleLiege, RoleVassal)
	}
	if err := db.rebuildWindow(); err != nil {
		return err
	}
	return db.loadRecon()
}

// rebuildWindow fills the window from the journal's tail: the own
// transactions after the PeerSeen of the newest peer transaction applied
// (the prune point; see package detect), and finds lastOwn.
func (db *DB) rebuildWindow() error {
	d := journal.NewDecoder()
	var r journal.Record
	var own []*detect.Txn
	var prune uint64
	seenPeer, lastOwnSet := false, false
	for p := db.lastPos; p >= db.j.First() && p > 0; p-- {
		f, err := db.j.Read(p)
		if err == nil {
			r.Reset()
			err = d.DecodeFrame(f, &r)
		}
		if err != nil {
			return fmt.Errorf("rebuild the conflict window: journal position %d: %w", p, err)
		}
		if !r.Kind.IsTxn() {
			continue
		}
		if r.Origin != db.opts.ID {
			if !seenPeer {
				seenPeer, prune = true, r.PeerSeen
			}
			continue
		}
		if !lastOwnSet {
			db.lastOwn, lastOwnSet = r.OSeq, true
		}
		if seenPeer && r.OSeq <= prune {
			break
		}
		own = append(own, detect.FromRecord(&r))
	}
	for i := len(own) - 1; i >= 0; i-- {
		db.window.Add(own[i])
	}
	return nil
}

// findLastOwn returns the OSeq of the newest own transaction in the journal.
func (db *DB) findLastOwn() (uint64, error) {
	if es := db.index.byOrigin[db.opts.ID]; len(es) > 0 {
		return es[len(es)-1].oseq, nil
	}
	d := journal.NewDecoder()
	var r journal.Record
	for p := db.lastPos; p >= db.j.First() && p > 0; p-- {
		f, err := db.j.Read(p)
		if err == nil {
			r.Reset()
			err = d.DecodeFrame(f, &r)
		}
		if err != nil {
			return 0, fmt.Errorf("journal position %d: %w", p, err)
		}
		if r.Kind.IsTxn() && r.Origin == db.opts.ID {
			return r.OSeq, nil
		}
	}
	return 0, nil
}
