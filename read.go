package liege

import (
	"bytes"
	"context"
	"fmt"

	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/journal"
)

// Entry is a key with its value and version, as read outside a
// transaction.
type Entry struct {
	Key     Key
	Value   Value
	Version journal.Version
}

// Get reads one key outside any transaction. Like every answer, it waits
// until everything it may reflect is durable.
func (db *DB) Get(ctx context.Context, key Key) (Entry, bool, error) {
	var e Entry
	var ok bool
	var pos uint64
	err := db.control(ctx, func() {
		var v []byte
		v, e.Version, ok = db.in.Get(key)
		e.Key, e.Value, pos = bytes.Clone(key), bytes.Clone(v), db.in.LastPos()
	})
	if err == nil {
		err = db.waitDurable(ctx, pos)
	}
	return e, ok, err
}

// Scan reads the keys in [lo, hi) (an empty bound is open), at most limit
// of them (0: no limit), outside any transaction.
func (db *DB) Scan(ctx context.Context, lo, hi Key, limit int) ([]Entry, error) {
	var out []Entry
	var pos uint64
	err := db.control(ctx, func() {
		db.in.Scan(lo, func(k, v []byte, ver journal.Version) bool {
			if len(hi) > 0 && bytes.Compare(k, hi) >= 0 {
				return false
			}
			out = append(out, Entry{Key: bytes.Clone(k), Value: bytes.Clone(v), Version: ver})
			return limit == 0 || len(out) < limit
		})
		pos = db.in.LastPos()
	})
	if err == nil {
		err = db.waitDurable(ctx, pos)
	}
	return out, err
}

// Token is a session token: for each origin, the highest OSeq a client has
// seen the effects of. An instance serves a read or call carrying a token
// only once it has applied everything the token names, which gives
// read-your-writes and monotonic reads across both instances.
type Token map[string]uint64

// String formats the token as "A:17,B:4" (origins sorted), the form of
// the HTTP API's tokens (internal/httpapi has the one encoding).
func (t Token) String() string { return httpapi.Token(t).String() }

// ParseToken parses the form Token.String produces. The empty string is the
// empty token.
func ParseToken(s string) (Token, error) {
	t, err := httpapi.ParseToken(s)
	return Token(t), err
}

// Merge returns the larger of t and u at every origin.
func (t Token) Merge(u Token) Token { return Token(httpapi.Token(t).Merge(httpapi.Token(u))) }

// appliedToken is what this instance has applied (executor only).
func (db *DB) appliedToken() Token {
	own, peer := db.in.Applied()
	t := Token{db.opts.ID: own}
	if db.opts.PeerID != "" {
		t[db.opts.PeerID] = peer
	}
	return t
}

// covers reports whether the instance has applied everything t names
// (executor only). An origin it has never heard of is not covered.
func (db *DB) covers(t Token) bool {
	own, peer := db.in.Applied()
	for o, n := range t {
		switch {
		case n == 0:
		case o == db.opts.ID:
			if own < n {
				return false
			}
		case o == db.opts.PeerID:
			if peer < n {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// WaitApplied waits until the instance has applied everything t names, or
// ctx ends. It returns the instance's applied token.
func (db *DB) WaitApplied(ctx context.Context, t Token) (Token, error) {
	for {
		var ok bool
		var now Token
		var ch chan struct{}
		if err := db.control(ctx, func() {
			ok, now = db.covers(t), db.appliedToken()
			if !ok {
				if db.appliedCh == nil {
					db.appliedCh = make(chan struct{})
				}
				ch = db.appliedCh
			}
		}); err != nil {
			return nil, err
		}
		if ok {
			return now, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return now, ctx.Err()
		case <-db.quit:
			return now, ErrClosed
		}
	}
}

// notifyApplied wakes WaitApplied callers (executor only, after commits or
// peer applies).
func (db *DB) notifyApplied() {
	if db.appliedCh != nil {
		close(db.appliedCh)
		db.appliedCh = nil
	}
}

// Token returns the instance's applied token, as the executor published it
// after its last step: it covers every call answered before Token is
// called (the executor publishes before it answers), without a round trip
// to the executor. It returns ErrClosed once the instance is closing.
func (db *DB) Token(ctx context.Context) (Token, error) {
	select {
	case <-db.quit:
		return nil, ErrClosed
	default:
	}
	own, peer := db.pub.applied.load()
	t := Token{db.opts.ID: own}
	if db.opts.PeerID != "" {
		t[db.opts.PeerID] = peer
	}
	return t, nil
}

// TxnState is what an instance knows of a transaction.
type TxnState string

// Transaction states, as GET /v1/txn reports them.
const (
	TxnUnknown     TxnState = "unknown"
	TxnCommitted   TxnState = "committed"   // in this instance's journal as itself
	TxnRolledBack  TxnState = "rolled_back" // rolled off here, pending reconciliation
	TxnReprocessed TxnState = "reprocessed" // re-executed by the liege with the same result
	TxnCorrected   TxnState = "corrected"   // the liege ran its correction instead
)

// TxnStatus describes a transaction's fate on this instance.
type TxnStatus struct {
	TxID  journal.TxID
	State TxnState
	// Record is the transaction's record (its own, or the reprocess or
	// correction that stands for it); nil if unknown or rolled back.
	Record *journal.Record
	// LostFile names the lost transaction file of a rolled-back one.
	LostFile string
	// By is the transaction that stands for a reprocessed or corrected one
	// whose record the journal no longer holds (Record is then nil).
	By journal.TxID
}

// TxnStatus reports what this instance knows of transaction id.
func (db *DB) TxnStatus(ctx context.Context, id journal.TxID) (TxnStatus, error) {
	st := TxnStatus{TxID: id, State: TxnUnknown}
	var pos uint64
	var lost string
	var r *journal.Record
	var rerr error
	var fate string
	for {
		// Locate and read in one turn of the executor (a rollback may
		// take the position away in between), once the record is durable.
		err := db.control(ctx, func() {
			pos, lost = db.in.Locate(id)
			if pos == 0 {
				fate, st.By = db.in.Fate(id)
			}
			r, rerr = nil, nil
			if pos != 0 && pos <= db.in.Durable() {
				r, rerr = db.in.ReadRecord(pos)
			}
		})
		if err != nil {
			return st, err
		}
		if pos == 0 {
			return fateStatus(st, fate, lost), nil
		}
		if r != nil || rerr != nil {
			break
		}
		if err := db.waitDurable(ctx, pos); err != nil {
			return st, err
		}
	}
	if rerr != nil {
		return st, fmt.Errorf("read transaction %s at position %d: %w", id, pos, rerr)
	}
	st.Record = r
	kind := r.Kind
	if kind == journal.KindPeer {
		kind = r.OriginKind
	}
	switch {
	case kind == journal.KindReprocess && r.Subject == id:
		st.State = TxnReprocessed
	case kind == journal.KindCorrection && r.Subject == id:
		st.State = TxnCorrected
	default:
		st.State = TxnCommitted
	}
	return st, nil
}
