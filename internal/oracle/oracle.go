// Package oracle checks the convergence oracle of DESIGN.md section 11 on two
// instances that have stopped (or gone quiescent) after a workload:
//
//  1. both hold the same set of transactions (TxIDs) and the same state
//     (keys, values and versions);
//  2. the path is valid: replaying every transaction once, in (HLC, origin)
//     order, from the empty state, each transaction's recorded reads (point
//     versions and range contents) match the replay, and the replay ends in
//     the instances' state;
//  3. every transaction a client was told committed is in the path exactly
//     once: as itself, or as the subject of one reprocess or correction;
//  4. the application's invariants hold on the final state.
//
// Check runs the items in that order and returns the first violation as a
// *Violation naming the item, the TxIDs, keys (as tuples) and journal
// positions involved. Load reads a stopped instance directory into an
// Instance. The package never imports the engine (package liege), so the
// engine's own tests may use it; integers are decoded and encoded here
// exactly as the engine does (value.go), so the replay's state compares
// byte for byte with the instances'.
package oracle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/liege-db/liege/internal/store"
	"github.com/liege-db/liege/internal/tuple"
	"github.com/liege-db/liege/journal"
)

// Entry is one key of a state.
type Entry struct {
	Key, Value []byte
	Version    journal.Version
}

// Instance is what the oracle needs of one stopped (or quiescent) instance.
type Instance struct {
	// ID is the instance id. When set, Check verifies that the instance's
	// own records (local, reprocess, correction) have it as origin and its
	// peer records do not. It also names the instance in messages.
	ID string
	// Records are the transaction records of its journal (kinds local,
	// peer, reprocess, correction), in position order. Records of other
	// kinds may be included; they are ignored.
	Records []journal.Record
	// State is its final state, sorted by key (each key once).
	State []Entry
}

// Violation names the first broken item of DESIGN.md section 11.
type Violation struct {
	// Item is the item of section 11, 1 to 4.
	Item int
	// Msg says what is broken, naming the TxIDs, keys (as tuples) and
	// journal positions involved.
	Msg string
}

var itemTitles = [...]string{
	1: "both instances hold the same transactions and state",
	2: "the path is valid",
	3: "every acknowledged transaction is in the path exactly once",
	4: "the application's invariants hold",
}

func (v *Violation) Error() string {
	title := ""
	if v.Item > 0 && v.Item < len(itemTitles) {
		title = " (" + itemTitles[v.Item] + ")"
	}
	return fmt.Sprintf("convergence item %d%s violated: %s", v.Item, title, v.Msg)
}

// Options qualify a Check.
type Options struct {
	// Acked are TxIDs a client was told committed: each must be in the path
	// exactly once, as itself or as the subject of one reprocess or
	// correction (item 3).
	Acked []journal.TxID
	// Maybe are TxIDs whose answer was lost (to a kill, a timeout): each is
	// in the path at most once.
	Maybe []journal.TxID
	// Invariant, if set, is the application's rule over the final state
	// (item 4); it returns the violations it finds, none if it holds.
	Invariant func(state []Entry) []string
}

// Report says what a Check examined, so that a caller can prove every check
// ran.
type Report struct {
	// Transactions is the number of transaction records examined, over
	// both instances.
	Transactions int
	// PathLength is the number of distinct transactions (TxIDs) in the
	// path.
	PathLength int
	// Keys is the number of keys of the final state.
	Keys int
	// Acked is the number of distinct acknowledged TxIDs checked.
	Acked int
	// Checks names the checks that ran to completion and passed, in order
	// (see the Check* constants).
	Checks []string
	// HashA and HashB are the state hashes of the two instances, as
	// store.Store.Hash computes them and `journalctl state` prints them.
	HashA, HashB [32]byte
}

// Names of the checks, as listed in Report.Checks.
const (
	CheckTxIDs      = "1:txids"       // both hold the same TxIDs, each once, by the right origin
	CheckState      = "1:state"       // both states are equal
	CheckCopies     = "2:copies"      // every copy of a transaction agrees (HLC, subject, reads, writes)
	CheckOrder      = "2:order"       // (HLC, origin) orders the path strictly
	CheckReplay     = "2:replay"      // every read matches the replay, every write applies
	CheckFinalState = "2:final-state" // the replay ends in the instances' state
	CheckSubjects   = "3:subjects"    // only reprocess and correction records name a subject, never themselves
	CheckAcked      = "3:acked"       // every acked TxID exactly once
	CheckMaybe      = "3:maybe"       // every maybe TxID at most once
	CheckOnce       = "3:once"        // no TxID is the subject of two transactions, or in the path as itself and as a subject
	CheckInvariant  = "4:invariant"   // Options.Invariant returned nothing (only if set)
)

// Check checks items 1 to 4 of DESIGN.md section 11 on instances a and b,
// in that order, and returns the first violation as a *Violation. Any other
// error means the input is malformed (a state not sorted by key). The
// Report is returned in every case, with the checks that passed before the
// violation; on success Report.Checks lists every check that ran.
//
// What each item checks, in order (the Check* constants name the steps):
//
//   - Item 1: every transaction record has a TxID; no journal holds a TxID
//     twice; with Instance.ID set, own records (local, reprocess,
//     correction) have it as origin and peer records do not; every TxID
//     is held by both (the first one held by one side only, scanning a's
//     records then b's in their order, is reported with its kind and
//     position); the states are equal key by key (value bytes and
//     version).
//   - Item 2: each transaction is taken once, from its origin's own record
//     if held, else its peer copy; every other copy must agree on HLC,
//     subject, point reads, range reads and writes (key, op, the value of
//     a set, the delta of an add; before-images and the after-value of an
//     add are the holder's own and are ignored). No two transactions share
//     an (HLC, origin). Replaying in (HLC, origin) order from the empty
//     state, before each transaction applies, each point read's version
//     must be the replay's (zero for an absent key), and each range read
//     must hold no key of the replay that the transaction neither
//     point-read nor writes. Writes apply as the engine's do: a set stores
//     its value at (HLC, origin), a delete removes the key, an add adds
//     its delta to the integer there (absent is 0; anything else that is
//     not an integer is a violation) with the version the larger of the
//     key's and (HLC, origin). The replay's final state must equal the
//     instances' byte for byte.
//   - Item 3: only reprocess and correction records name a subject, and
//     they always do, never themselves; every Acked TxID is in the path
//     exactly once (as itself, or as the subject of one transaction);
//     every Maybe TxID at most once; and, acknowledged or not, no TxID is
//     the subject of two transactions, or in the path both as itself and
//     as a subject (the liege never reprocesses a TxID it holds: DESIGN.md
//     section 9).
//   - Item 4: Options.Invariant, if set, returns nothing for a's state.
//
// Checking an instance against itself is allowed: it checks items 2 to 4
// on its history alone.
func Check(a, b Instance, o Options) (*Report, error) {
	c := &checker{o: o, rep: &Report{}}
	c.inst[0], c.inst[1] = &a, &b
	c.label[0], c.label[1] = a.ID, b.ID
	if c.label[0] == "" {
		c.label[0] = "a"
	}
	if c.label[1] == "" {
		c.label[1] = "b"
	}
	if c.label[0] == c.label[1] {
		c.label[0] += "(a)"
		c.label[1] += "(b)"
	}
	for i, in := range c.inst {
		if err := checkSorted(in.State, c.label[i]); err != nil {
			return c.rep, err
		}
	}
	c.rep.Keys = len(a.State)
	c.rep.HashA, c.rep.HashB = StateHash(a.State), StateHash(b.State)
	steps := []struct {
		name string
		fn   func() *Violation
	}{
		{CheckTxIDs, c.checkTxIDs},
		{CheckState, c.checkState},
		{CheckCopies, c.checkCopies},
		{CheckOrder, c.checkOrder},
		{CheckReplay, c.checkReplay},
		{CheckFinalState, c.checkFinalState},
		{CheckSubjects, c.checkSubjects},
		{CheckAcked, c.checkAcked},
		{CheckMaybe, c.checkMaybe},
		{CheckOnce, c.checkOnce},
		{CheckInvariant, c.checkInvariant},
	}
	for _, s := range steps {
		if s.name == CheckInvariant && o.Invariant == nil {
			continue
		}
		if v := s.fn(); v != nil {
			return c.rep, v
		}
		c.rep.Checks = append(c.rep.Checks, s.name)
	}
	return c.rep, nil
}

// ref is one record of one instance.
type ref struct {
	inst int // 0 or 1
	idx  int // index in Instance.Records
}

// txn is one transaction of the path with every copy of it.
type txn struct {
	id    journal.TxID
	refs  []ref // every record holding it, instance 0's first
	canon ref   // the origin's own record if held, else the first copy
	rec   *journal.Record
	ver   journal.Version
}

type checker struct {
	o     Options
	rep   *Report
	inst  [2]*Instance
	label [2]string

	txns  []*txn // in order of first appearance (instance 0, then 1)
	byID  map[journal.TxID]*txn
	path  []*txn // txns sorted by (HLC, origin)
	byVer map[journal.Version]*txn
	// subjects maps a subject TxID to the transactions naming it.
	subjects map[journal.TxID][]*txn
	replay   *store.Store
}

func (c *checker) rec(r ref) *journal.Record { return &c.inst[r.inst].Records[r.idx] }

// where describes every copy of a transaction: "local at A pos 5, peer at B
// pos 7".
func (c *checker) where(t *txn) string {
	var b strings.Builder
	for i, r := range t.refs {
		if i > 0 {
			b.WriteString(", ")
		}
		c.writeRef(&b, r)
	}
	return b.String()
}

func (c *checker) refString(r ref) string {
	var b strings.Builder
	c.writeRef(&b, r)
	return b.String()
}

func (c *checker) writeRef(b *strings.Builder, r ref) {
	rec := c.rec(r)
	fmt.Fprintf(b, "%v at %s pos %d", rec.Kind, c.label[r.inst], rec.Pos)
}

// txDesc names a transaction with its copies: `A/3 (local at A pos 5, peer
// at B pos 7)`.
func (c *checker) txDesc(t *txn) string {
	return fmt.Sprintf("%v (%s)", t.id, c.where(t))
}

func violation(item int, format string, args ...any) *Violation {
	return &Violation{Item: item, Msg: fmt.Sprintf(format, args...)}
}

// ---- item 1 ----------------------------------------------------------------

func (c *checker) checkTxIDs() *Violation {
	c.byID = make(map[journal.TxID]*txn)
	c.byVer = make(map[journal.Version]*txn)
	var held [2]map[journal.TxID]int // TxID -> index of its record, per instance
	for i, in := range c.inst {
		held[i] = make(map[journal.TxID]int, len(in.Records))
		for j := range in.Records {
			r := &in.Records[j]
			if !r.Kind.IsTxn() {
				continue
			}
			c.rep.Transactions++
			id := r.TxID()
			if r.Origin == "" || r.OSeq == 0 {
				return violation(1, "%s holds a %v record at pos %d without a valid TxID (origin %q, oseq %d)",
					c.label[i], r.Kind, r.Pos, r.Origin, r.OSeq)
			}
			if prev, dup := held[i][id]; dup {
				return violation(1, "%s holds %v twice: %s and %s", c.label[i], id,
					c.refString(ref{i, prev}), c.refString(ref{i, j}))
			}
			held[i][id] = j
			if in.ID != "" {
				if r.Kind.IsOwn() && r.Origin != in.ID {
					return violation(1, "%s holds %v as its own (%s), but its origin is %q, not %s",
						c.label[i], id, c.refString(ref{i, j}), r.Origin, in.ID)
				}
				if r.Kind == journal.KindPeer && r.Origin == in.ID {
					return violation(1, "%s holds its own transaction %v as a peer record (%s)",
						c.label[i], id, c.refString(ref{i, j}))
				}
			}
			t := c.byID[id]
			if t == nil {
				t = &txn{id: id}
				c.byID[id] = t
				c.txns = append(c.txns, t)
				c.byVer[r.Version()] = t // to name writers in messages; rebuilt by checkOrder
			}
			t.refs = append(t.refs, ref{i, j})
		}
	}
	for i := range c.inst {
		other := 1 - i
		for j := range c.inst[i].Records {
			r := &c.inst[i].Records[j]
			if !r.Kind.IsTxn() {
				continue
			}
			if _, ok := held[other][r.TxID()]; !ok {
				return violation(1, "%v is held only by %s (%s), not by %s",
					r.TxID(), c.label[i], c.refString(ref{i, j}), c.label[other])
			}
		}
	}
	c.rep.PathLength = len(c.txns)
	return nil
}

func (c *checker) checkState() *Violation {
	sa, sb := c.inst[0].State, c.inst[1].State
	i, j := 0, 0
	for i < len(sa) || j < len(sb) {
		var cmp int
		switch {
		case i == len(sa):
			cmp = 1
		case j == len(sb):
			cmp = -1
		default:
			cmp = bytes.Compare(sa[i].Key, sb[j].Key)
		}
		switch {
		case cmp < 0:
			return violation(1, "key %s is only in %s's state (value %s, %s); %s does not have it",
				tuple.Format(sa[i].Key), c.label[0], fmtValue(sa[i].Value), c.fmtVer(sa[i].Version), c.label[1])
		case cmp > 0:
			return violation(1, "key %s is only in %s's state (value %s, %s); %s does not have it",
				tuple.Format(sb[j].Key), c.label[1], fmtValue(sb[j].Value), c.fmtVer(sb[j].Version), c.label[0])
		}
		x, y := &sa[i], &sb[j]
		if !bytes.Equal(x.Value, y.Value) || x.Version != y.Version {
			return violation(1, "key %s differs: %s has value %s, %s; %s has value %s, %s",
				tuple.Format(x.Key), c.label[0], fmtValue(x.Value), c.fmtVer(x.Version),
				c.label[1], fmtValue(y.Value), c.fmtVer(y.Version))
		}
		i++
		j++
	}
	return nil
}

// ---- item 2 ----------------------------------------------------------------

func (c *checker) checkCopies() *Violation {
	for _, t := range c.txns {
		t.canon = t.refs[0]
		for _, r := range t.refs {
			if c.rec(r).Kind.IsOwn() {
				t.canon = r
				break
			}
		}
		t.rec = c.rec(t.canon)
		t.ver = t.rec.Version()
		for _, r := range t.refs {
			if r == t.canon {
				continue
			}
			if d := diffCopies(t.rec, c.rec(r)); d != "" {
				return violation(2, "the copies of %v disagree: %s has %s, %s has %s",
					t.id, c.refString(t.canon), d, c.refString(r), diffOther(t.rec, c.rec(r), d))
			}
		}
	}
	return nil
}

// diffCopies compares what every copy of a transaction must share: HLC,
// subject, point reads, range reads and writes (key, op, and the value of a
// set, the delta of an add; not the before-images, nor the after-value of
// an add, which are the holder's own). It returns what differs, described
// as x has it, or "".
func diffCopies(x, y *journal.Record) string {
	switch {
	case x.HLC != y.HLC:
		return fmt.Sprintf("HLC %d", x.HLC)
	case x.Subject != y.Subject:
		return fmt.Sprintf("subject %q", x.Subject.String())
	case len(x.Reads) != len(y.Reads):
		return fmt.Sprintf("%d point reads", len(x.Reads))
	case len(x.Ranges) != len(y.Ranges):
		return fmt.Sprintf("%d range reads", len(x.Ranges))
	case len(x.Writes) != len(y.Writes):
		return fmt.Sprintf("%d writes", len(x.Writes))
	}
	for i := range x.Reads {
		p, q := &x.Reads[i], &y.Reads[i]
		if !bytes.Equal(p.Key, q.Key) || p.Version != q.Version {
			return fmt.Sprintf("point read #%d of %s at %s", i+1, tuple.Format(p.Key), fmtVerPlain(p.Version))
		}
	}
	for i := range x.Ranges {
		p, q := &x.Ranges[i], &y.Ranges[i]
		if !bytes.Equal(p.Lo, q.Lo) || !bytes.Equal(p.Hi, q.Hi) || p.LoInclusive != q.LoInclusive || p.HiInclusive != q.HiInclusive {
			return fmt.Sprintf("range read #%d %s", i+1, fmtRange(p))
		}
	}
	for i := range x.Writes {
		p, q := &x.Writes[i], &y.Writes[i]
		same := bytes.Equal(p.Key, q.Key) && p.Op == q.Op
		if same && p.Op == journal.OpSet {
			same = bytes.Equal(p.Value, q.Value)
		}
		if same && p.Op == journal.OpAdd {
			same = p.Delta == q.Delta
		}
		if !same {
			return fmt.Sprintf("write #%d %s", i+1, fmtWrite(p))
		}
	}
	return ""
}

// diffOther describes y's side of the difference diffCopies found.
func diffOther(x, y *journal.Record, d string) string {
	e := diffCopies(y, x)
	if e == "" {
		return "(no difference?) " + d
	}
	return e
}

func (c *checker) checkOrder() *Violation {
	c.path = slices.Clone(c.txns)
	slices.SortStableFunc(c.path, func(x, y *txn) int {
		switch {
		case x.ver.Less(y.ver):
			return -1
		case y.ver.Less(x.ver):
			return 1
		}
		return 0
	})
	c.byVer = make(map[journal.Version]*txn, len(c.path))
	for i, t := range c.path {
		if i > 0 && c.path[i-1].ver == t.ver {
			p := c.path[i-1]
			return violation(2, "%s and %s have the same (HLC, origin) %s: the path order between them is undefined",
				c.txDesc(p), c.txDesc(t), fmtVerPlain(t.ver))
		}
		c.byVer[t.ver] = t
	}
	return nil
}

func (c *checker) checkReplay() *Violation {
	st := store.New()
	c.replay = st
	var seen, wrote map[string]struct{}
	for n, t := range c.path {
		r := t.rec
		for i := range r.Reads {
			p := &r.Reads[i]
			_, ver, _ := st.Get(p.Key)
			if ver != p.Version {
				return violation(2, "%s, #%d in the path, read key %s at %s, but the replay has it at %s",
					c.txDesc(t), n+1, tuple.Format(p.Key), c.fmtVer(p.Version), c.fmtVer(ver))
			}
		}
		if len(r.Ranges) > 0 {
			seen = keySet(seen, len(r.Reads))
			for i := range r.Reads {
				seen[string(r.Reads[i].Key)] = struct{}{}
			}
			wrote = keySet(wrote, len(r.Writes))
			for i := range r.Writes {
				wrote[string(r.Writes[i].Key)] = struct{}{}
			}
			for i := range r.Ranges {
				rr := &r.Ranges[i]
				if v := c.checkRange(st, t, n, rr, seen, wrote); v != nil {
					return v
				}
			}
		}
		for i := range r.Writes {
			w := &r.Writes[i]
			switch w.Op {
			case journal.OpSet:
				st.Set(w.Key, w.Value, t.ver)
			case journal.OpDelete:
				st.Delete(w.Key)
			case journal.OpAdd:
				cur, ver, ok := st.Get(w.Key)
				var x int64
				if ok {
					var good bool
					if x, good = DecodeInt(cur); !good {
						return violation(2, "%s, #%d in the path, adds %d to key %s, which holds %s (%s) in the replay: not an integer",
							c.txDesc(t), n+1, w.Delta, tuple.Format(w.Key), fmtValue(cur), c.fmtVer(ver))
					}
				}
				st.Set(w.Key, AppendInt(nil, x+w.Delta), ver.Max(t.ver))
			default:
				return violation(2, "%s, #%d in the path, has write #%d to key %s with unknown op %v",
					c.txDesc(t), n+1, i+1, tuple.Format(w.Key), w.Op)
			}
		}
	}
	return nil
}

func keySet(m map[string]struct{}, n int) map[string]struct{} {
	if m == nil {
		return make(map[string]struct{}, n)
	}
	clear(m)
	return m
}

// checkRange reports a key present in the replay inside range rr that t
// neither point-read nor wrote: a phantom t did not see.
func (c *checker) checkRange(st *store.Store, t *txn, n int, rr *journal.RangeRead, seen, wrote map[string]struct{}) *Violation {
	var v *Violation
	st.Ascend(rr.Lo, func(k, val []byte, ver journal.Version) bool {
		if !rr.Contains(k) {
			// Ascend starts at Lo inclusive: skip Lo itself when the range
			// excludes it; past Hi, stop.
			return len(rr.Lo) > 0 && bytes.Equal(k, rr.Lo)
		}
		if _, ok := seen[string(k)]; ok {
			return true
		}
		if _, ok := wrote[string(k)]; ok {
			return true
		}
		v = violation(2, "%s, #%d in the path, read the range %s, which in the replay holds key %s (value %s, %s) that it did not see: a phantom",
			c.txDesc(t), n+1, fmtRange(rr), tuple.Format(k), fmtValue(val), c.fmtVer(ver))
		return false
	})
	return v
}

func (c *checker) checkFinalState() *Violation {
	want := c.inst[0].State
	i := 0
	var v *Violation
	c.replay.Ascend(nil, func(k, val []byte, ver journal.Version) bool {
		if i < len(want) {
			if cmp := bytes.Compare(want[i].Key, k); cmp < 0 {
				e := &want[i]
				v = violation(2, "key %s is in the instances' state (value %s, %s) but not in the replay's final state",
					tuple.Format(e.Key), fmtValue(e.Value), c.fmtVer(e.Version))
				return false
			} else if cmp == 0 {
				e := &want[i]
				i++
				if !bytes.Equal(e.Value, val) || e.Version != ver {
					v = violation(2, "key %s differs between the replay's final state (value %s, %s) and the instances' (value %s, %s)",
						tuple.Format(k), fmtValue(val), c.fmtVer(ver), fmtValue(e.Value), c.fmtVer(e.Version))
					return false
				}
				return true
			}
		}
		v = violation(2, "key %s is in the replay's final state (value %s, %s) but not in the instances' state",
			tuple.Format(k), fmtValue(val), c.fmtVer(ver))
		return false
	})
	if v == nil && i < len(want) {
		e := &want[i]
		v = violation(2, "key %s is in the instances' state (value %s, %s) but not in the replay's final state",
			tuple.Format(e.Key), fmtValue(e.Value), c.fmtVer(e.Version))
	}
	return v
}

// ---- item 3 ----------------------------------------------------------------

func (c *checker) checkSubjects() *Violation {
	c.subjects = make(map[journal.TxID][]*txn)
	for _, t := range c.path {
		r := t.rec
		if r.Kind.IsOwn() {
			hasSubject := r.Kind == journal.KindReprocess || r.Kind == journal.KindCorrection
			if hasSubject && r.Subject.IsZero() {
				return violation(3, "%s is a %v without a subject", c.txDesc(t), r.Kind)
			}
			if !hasSubject && !r.Subject.IsZero() {
				return violation(3, "%s is a %v record but names subject %v", c.txDesc(t), r.Kind, r.Subject)
			}
		}
		if r.Subject.IsZero() {
			continue
		}
		if r.Subject == t.id {
			return violation(3, "%s names itself as its subject", c.txDesc(t))
		}
		c.subjects[r.Subject] = append(c.subjects[r.Subject], t)
	}
	return nil
}

// checkOnce checks that every TxID is in the path at most once, acked or
// not: the subject of at most one transaction, and never both in the path
// as itself and a subject (DESIGN.md section 9: the liege skips a TxID it
// already holds either way).
func (c *checker) checkOnce() *Violation {
	// In path order, so that the first violation is the earliest subject.
	for _, t := range c.path {
		s := t.rec.Subject
		if s.IsZero() {
			continue
		}
		ts := c.subjects[s]
		if len(ts) > 1 && ts[0] == t {
			return violation(3, "%v is the subject of two transactions: %s and %s",
				s, c.txDesc(ts[0]), c.txDesc(ts[1]))
		}
		if self := c.byID[s]; self != nil {
			return violation(3, "%v is in the path both as itself, %s, and as the subject of %s",
				s, c.txDesc(self), c.txDesc(t))
		}
	}
	return nil
}

// occurrences describes how id is in the path: n counts it as itself and as
// a subject.
func (c *checker) occurrences(id journal.TxID) (n int, desc string) {
	var parts []string
	if t := c.byID[id]; t != nil {
		n++
		parts = append(parts, "as itself, "+c.txDesc(t))
	}
	for _, t := range c.subjects[id] {
		n++
		parts = append(parts, fmt.Sprintf("as the subject of %v %s", t.rec.Kind, c.txDesc(t)))
	}
	return n, strings.Join(parts, "; ")
}

func (c *checker) checkAcked() *Violation {
	done := make(map[journal.TxID]struct{}, len(c.o.Acked))
	for _, id := range c.o.Acked {
		if _, dup := done[id]; dup {
			continue
		}
		done[id] = struct{}{}
		n, desc := c.occurrences(id)
		switch {
		case n == 0:
			return violation(3, "acknowledged %v is not in the path: neither as itself nor as the subject of a reprocess or correction", id)
		case n > 1:
			return violation(3, "acknowledged %v is in the path %d times: %s", id, n, desc)
		}
	}
	c.rep.Acked = len(done)
	return nil
}

func (c *checker) checkMaybe() *Violation {
	for _, id := range c.o.Maybe {
		if n, desc := c.occurrences(id); n > 1 {
			return violation(3, "%v (its answer was lost) is in the path %d times: %s", id, n, desc)
		}
	}
	return nil
}

// ---- item 4 ----------------------------------------------------------------

// maxInvariantMsgs bounds how many invariant violations a message lists.
const maxInvariantMsgs = 5

func (c *checker) checkInvariant() *Violation {
	errs := c.o.Invariant(c.inst[0].State)
	if len(errs) == 0 {
		return nil
	}
	shown := errs
	if len(shown) > maxInvariantMsgs {
		shown = shown[:maxInvariantMsgs]
	}
	msg := strings.Join(shown, "; ")
	if len(errs) > len(shown) {
		msg += fmt.Sprintf("; and %d more", len(errs)-len(shown))
	}
	return violation(4, "%d invariant violation(s) on the final state: %s", len(errs), msg)
}

// ---- helpers ---------------------------------------------------------------

func checkSorted(s []Entry, label string) error {
	for i := 1; i < len(s); i++ {
		if bytes.Compare(s[i-1].Key, s[i].Key) >= 0 {
			return fmt.Errorf("oracle: the state of %s is not sorted by key (each key once): entry %d %s is not before entry %d %s",
				label, i-1, tuple.Format(s[i-1].Key), i, tuple.Format(s[i].Key))
		}
	}
	return nil
}

// StoreOf returns a store holding the entries.
func StoreOf(s []Entry) *store.Store {
	st := store.New()
	for i := range s {
		st.Set(s[i].Key, s[i].Value, s[i].Version)
	}
	return st
}

// StateHash returns the state hash of a state: store.Store.Hash of a store
// holding exactly these entries, which is what `journalctl state` prints
// for an instance directory and DB.Hash returns for a live instance.
func StateHash(s []Entry) [32]byte { return StoreOf(s).Hash() }

// fmtVer formats a version and names the path transaction that wrote it.
func (c *checker) fmtVer(v journal.Version) string {
	s := fmtVerPlain(v)
	if t := c.byVer[v]; t != nil && !v.IsZero() {
		s += " written by " + t.id.String()
	}
	return s
}

func fmtVerPlain(v journal.Version) string {
	if v.IsZero() {
		return "version zero (absent)"
	}
	return fmt.Sprintf("version (%d, %s)", v.HLC, v.Origin)
}

func fmtRange(r *journal.RangeRead) string {
	var b strings.Builder
	if len(r.Lo) == 0 {
		b.WriteString("(-inf")
	} else {
		if r.LoInclusive {
			b.WriteByte('[')
		} else {
			b.WriteByte('(')
		}
		b.WriteString(tuple.Format(r.Lo))
	}
	b.WriteString(" .. ")
	if len(r.Hi) == 0 {
		b.WriteString("+inf)")
	} else {
		b.WriteString(tuple.Format(r.Hi))
		if r.HiInclusive {
			b.WriteByte(']')
		} else {
			b.WriteByte(')')
		}
	}
	return b.String()
}

func fmtWrite(w *journal.Write) string {
	switch w.Op {
	case journal.OpSet:
		return fmt.Sprintf("set %s = %s", tuple.Format(w.Key), fmtValue(w.Value))
	case journal.OpAdd:
		return fmt.Sprintf("add %d to %s", w.Delta, tuple.Format(w.Key))
	}
	return fmt.Sprintf("%v %s", w.Op, tuple.Format(w.Key))
}

// maxValueText bounds the length of a value shown in a message.
const maxValueText = 80

// fmtValue shows a msgpack value for a human: an integer or string as such,
// anything else decoded, or in hex if it does not decode.
func fmtValue(v []byte) string {
	var s string
	if n, ok := DecodeInt(v); ok {
		s = strconv.FormatInt(n, 10)
	} else if str, ok := decodeStr(v); ok {
		s = strconv.Quote(str)
	} else {
		var x any
		if err := journal.Unmarshal(v, &x); err == nil {
			s = fmt.Sprintf("%v", x)
		} else {
			s = "0x" + hex.EncodeToString(v)
		}
	}
	if len(s) > maxValueText {
		s = s[:maxValueText] + "..."
	}
	return s
}

// AsViolation returns the *Violation in err's chain, or nil.
func AsViolation(err error) *Violation {
	var v *Violation
	if errors.As(err, &v) {
		return v
	}
	return nil
}
