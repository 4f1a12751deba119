package detect

import "bytes"

// The window evaluates Conflict on its candidates from order keys (see
// okey) kept with each own transaction and computed once per incoming
// one, rather than from the keys: an order key decides equality, order and
// range membership for keys of at most 15 bytes, and longer keys, rare,
// fall back to the bytes. So a candidate costs the cache misses of its
// entry and its arrays, not those of its Txn, its slices and its keys.
// conflict returns exactly what Conflict returns, the same key slice
// included; the property tests hold it to that.

// fkey is a key with its order key.
type fkey struct {
	ok  okey
	key []byte
}

// short reports whether the key of order key o has at most 15 bytes, so
// that o stands for it exactly.
func (o okey) short() bool { return byte(o.lo) < 16 }

// equal reports whether a and b are the same key.
func (a *fkey) equal(b *fkey) bool {
	return a.ok == b.ok && (a.ok.short() || bytes.Equal(a.key, b.key))
}

// less reports whether a's key is below b's.
func (a *fkey) less(b *fkey) bool {
	if a.ok != b.ok {
		return a.ok.less(b.ok) // order keys are monotone
	}
	return !a.ok.short() && bytes.Compare(a.key, b.key) < 0
}

// fastTxn is what conflict needs of a transaction, own or incoming: its
// keys with their order keys, in one array (an own transaction's usually
// inline in its entry: one allocation, adjacent cache lines).
type fastTxn struct {
	txn    *Txn
	hlc    uint64
	origin string
	// keys holds the writes, then the point reads, then two per range read
	// (the span's bounds, key nil; an empty range has hi < lo).
	keys     []fkey
	nw, nr   int
	adds     uint64 // bit i: write i is an Add, for i < 64
	addsMore []bool // the same for writes 64 and up
}

func (f *fastTxn) writes() []fkey { return f.keys[:f.nw] }
func (f *fastTxn) reads() []fkey  { return f.keys[f.nw : f.nw+f.nr] }
func (f *fastTxn) ranges() []fkey { return f.keys[f.nw+f.nr:] }

func (f *fastTxn) add(i int) bool {
	if i < 64 {
		return f.adds>>i&1 != 0
	}
	return f.addsMore[i-64]
}

// set fills f from t, appending to buf[:0] (which it may reuse).
func (f *fastTxn) set(t *Txn, buf []fkey) {
	f.txn, f.hlc, f.origin = t, t.HLC, t.ID.Origin
	f.nw, f.nr, f.adds, f.addsMore = len(t.Writes), len(t.Reads), 0, f.addsMore[:0]
	keys := buf[:0]
	for i, w := range t.Writes {
		keys = append(keys, fkey{orderKey(w.Key), w.Key})
		switch {
		case i >= 64:
			f.addsMore = append(f.addsMore, w.Add)
		case w.Add:
			f.adds |= 1 << i
		}
	}
	for _, k := range t.Reads {
		keys = append(keys, fkey{orderKey(k), k})
	}
	for i := range t.Ranges {
		s, _ := rangeSpan(&t.Ranges[i])
		keys = append(keys, fkey{ok: s.lo}, fkey{ok: s.hi})
	}
	f.keys = keys
}

// before reports whether f is clock-before g, as Txn.Before.
func (f *fastTxn) before(g *fastTxn) bool {
	return f.hlc < g.hlc || f.hlc == g.hlc && f.origin < g.origin
}

// conflict is Conflict(o.txn, t.txn).
func conflict(o, t *fastTxn) (check Check, key []byte, ok bool) {
	var min *fkey
	ow, tw := o.writes(), t.writes()
	for i := range ow {
		wo := &ow[i]
		for j := range tw {
			if wo.equal(&tw[j]) && !(o.add(i) && t.add(j)) && (min == nil || wo.less(min)) {
				min = wo
			}
		}
	}
	if min != nil {
		return CheckUpdate, min.key, true
	}
	if o.before(t) {
		if min = fastWrittenAndRead(o, t); min != nil {
			return CheckUse, min.key, true
		}
	}
	if t.before(o) {
		if min = fastWrittenAndRead(t, o); min != nil {
			return CheckMirrorUse, min.key, true
		}
	}
	return 0, nil, false
}

// fastWrittenAndRead is writtenAndRead(w.txn, r.txn).
func fastWrittenAndRead(w, r *fastTxn) (min *fkey) {
	ws, rs, gs := w.writes(), r.reads(), r.ranges()
	for i := range ws {
		wr := &ws[i]
		for j := range rs {
			if wr.equal(&rs[j]) && (min == nil || wr.less(min)) {
				min = wr
			}
		}
		for j := 0; j < len(gs); j += 2 {
			if !wr.ok.less(gs[j].ok) && !gs[j+1].ok.less(wr.ok) && (wr.ok.short() || contains(&r.txn.Ranges[j/2], wr.key)) &&
				(min == nil || wr.less(min)) {
				min = wr
			}
		}
	}
	return min
}
