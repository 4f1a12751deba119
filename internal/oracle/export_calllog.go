package oracle

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/liege-db/liege/journal"
)

// Call is one line of a client call log: one call of a procedure over the
// HTTP API (docs/http-api.md, POST /v1/call/{proc}), as the conflict
// injection runner records it. A call log is JSON lines, one Call per line,
// in any order:
//
//	{"site":"A","proc":"transfer","args":{"from":"x","to":"y","amount":5},
//	 "sent_ns":1763741882123000000,"answered_ns":1763741882125000000,
//	 "status":200,"txid":"A/18","error":"","idempotency_key":"c-17"}
//
// A call with no answer (a timeout, a reset connection, a killed instance)
// has status 0, answered_ns 0 (or when the client gave up), txid null and
// the transport error in error.
type Call struct {
	// Site is the instance the call was sent to (its id, e.g. "A").
	Site string `json:"site"`
	// Proc is the procedure called.
	Proc string `json:"proc"`
	// Args are the call's arguments as sent (any JSON; not used here).
	Args json.RawMessage `json:"args,omitempty"`
	// SentNs and AnsweredNs are when the call was sent and answered (or
	// given up on), in nanoseconds since the Unix epoch.
	SentNs     int64 `json:"sent_ns"`
	AnsweredNs int64 `json:"answered_ns"`
	// Status is the HTTP status of the answer; 0 if there was none.
	Status int `json:"status"`
	// Result is the answer's result as the API returned it (any JSON; not
	// used here), absent when there was none.
	Result json.RawMessage `json:"result,omitempty"`
	// TxID is the answer's txid ("A/18"); "" or null when the answer has
	// none (a read-only call, an error, no answer).
	TxID *string `json:"txid"`
	// Error is, for an error answer, the API's error code ("bad_args",
	// "not_caught_up", ...), optionally followed by ": " and its message;
	// for no answer, the client's error; "" otherwise.
	Error string `json:"error"`
	// IdempotencyKey is the Idempotency-Key header sent, "" if none.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Outcome is what a call's answer says of its transaction.
type Outcome int

const (
	// OutcomeAcked: a 2xx answer with a txid. The transaction committed
	// and must be in the path exactly once (item 3).
	OutcomeAcked Outcome = iota + 1
	// OutcomeReadOnly: a 2xx answer without a txid: nothing committed.
	OutcomeReadOnly
	// OutcomeFailed: an error answer that says nothing committed: any 4xx,
	// 500 (the procedure or server failed; docs/http-api.md) and 503
	// not_caught_up (it did not run).
	OutcomeFailed
	// OutcomeMaybe: no answer, a 503 other than not_caught_up (the
	// instance was stopping or its journal failed), another 5xx (a proxy's),
	// or a 2xx whose body could not be read (error set, no txid). The call
	// committed at most once.
	OutcomeMaybe
)

func (o Outcome) String() string {
	switch o {
	case OutcomeAcked:
		return "acked"
	case OutcomeReadOnly:
		return "read-only"
	case OutcomeFailed:
		return "failed"
	case OutcomeMaybe:
		return "maybe"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// txid returns the call's TxID, zero if it has none.
func (c *Call) txid() (journal.TxID, error) {
	if c.TxID == nil || *c.TxID == "" {
		return journal.TxID{}, nil
	}
	return journal.ParseTxID(*c.TxID)
}

// Outcome classifies the call by its answer.
func (c *Call) Outcome() Outcome {
	hasTxID := c.TxID != nil && *c.TxID != ""
	switch {
	case c.Status == 0:
		return OutcomeMaybe
	case c.Status >= 200 && c.Status < 300:
		switch {
		case hasTxID:
			return OutcomeAcked
		case c.Error == "":
			return OutcomeReadOnly
		}
		return OutcomeMaybe
	case c.Status >= 400 && c.Status < 500, c.Status == 500:
		return OutcomeFailed
	case c.Status == 503 && (c.Error == "not_caught_up" || strings.HasPrefix(c.Error, "not_caught_up:")):
		return OutcomeFailed
	}
	return OutcomeMaybe
}

// CallLog is a parsed call log with the TxIDs it names. The counts are
// informational: Resolve and CheckCalls work from Calls.
type CallLog struct {
	// Calls are the log's lines, in order.
	Calls []Call
	// Acked are the TxIDs of the acknowledged calls, each once, in log
	// order: Options.Acked.
	Acked []journal.TxID
	// Maybe are the TxIDs of the maybe calls that have one (an unreadable
	// 2xx, a txid logged with an error), each once, and not acked:
	// Options.Maybe.
	Maybe []journal.TxID
	// Unnamed counts the maybe calls without a TxID: each may have
	// committed once, under a TxID nobody was told.
	Unnamed int
	// ReadOnly and Failed count the calls that committed nothing.
	ReadOnly, Failed int
}

// WriteCall appends c to a call log as one line.
func WriteCall(w io.Writer, c *Call) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ParseCallLog reads a call log (JSON lines; blank lines are skipped).
func ParseCallLog(r io.Reader) (*CallLog, error) {
	l := &CallLog{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	acked := map[journal.TxID]bool{}
	var maybe []journal.TxID
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c Call
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("oracle: call log line %d: %w", n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("oracle: call log line %d: more than one JSON value", n)
		}
		if c.Status != 0 && (c.Status < 100 || c.Status > 599) {
			return nil, fmt.Errorf("oracle: call log line %d: status %d is not an HTTP status (0 means no answer)", n, c.Status)
		}
		id, err := c.txid()
		if err != nil {
			return nil, fmt.Errorf("oracle: call log line %d: %w", n, err)
		}
		l.Calls = append(l.Calls, c)
		switch c.Outcome() {
		case OutcomeAcked:
			if !acked[id] {
				acked[id] = true
				l.Acked = append(l.Acked, id)
			}
		case OutcomeReadOnly:
			l.ReadOnly++
		case OutcomeFailed:
			l.Failed++
		case OutcomeMaybe:
			if id.IsZero() {
				l.Unnamed++
			} else {
				maybe = append(maybe, id)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("oracle: read the call log: %w", err)
	}
	for _, id := range maybe {
		if !acked[id] && !slices.Contains(l.Maybe, id) {
			l.Maybe = append(l.Maybe, id)
		}
	}
	return l, nil
}

// ReadCallLog reads a call log and returns the TxIDs of its acknowledged
// calls and of its maybe calls that have one (Options.Acked and
// Options.Maybe). A call with no answer has no TxID: it is counted in
// CallLog.Unnamed (ParseCallLog), and the checker can name it only by its
// idempotency key (CallLog.Resolve).
func ReadCallLog(r io.Reader) (acked, maybe []journal.TxID, err error) {
	l, err := ParseCallLog(r)
	if err != nil {
		return nil, nil, err
	}
	return l.Acked, l.Maybe, nil
}

// Options returns Options with the log's Acked and Maybe TxIDs.
func (l *CallLog) Options() Options {
	return Options{Acked: slices.Clone(l.Acked), Maybe: slices.Clone(l.Maybe)}
}

// Resolve names unnamed maybe calls by their idempotency keys: the engine
// journals a call's key in its local record at the instance that ran it
// (not in peer copies, nor in the reprocess or correction that stands for
// it after a rollback). A key is looked up in the own records of the
// instance whose ID is the call's site (any instance if none has that ID).
// It returns the TxIDs found (each once, not already acked) and the number
// of unnamed calls still unresolved: those without a key, and those whose
// key is in no journal (the call never committed, or its record was rolled
// off: then the lost file holds it, and the liege's reprocess or correction
// names it only by TxID).
func (l *CallLog) Resolve(instances ...Instance) (named []journal.TxID, unresolved int) {
	type siteKey struct{ site, key string }
	byKey := map[siteKey]journal.TxID{}
	anyKey := map[string][]journal.TxID{}
	ids := map[string]bool{}
	for _, in := range instances {
		ids[in.ID] = true
		for i := range in.Records {
			r := &in.Records[i]
			if r.Kind.IsOwn() && r.IdempotencyKey != "" {
				byKey[siteKey{in.ID, r.IdempotencyKey}] = r.TxID()
				anyKey[r.IdempotencyKey] = append(anyKey[r.IdempotencyKey], r.TxID())
			}
		}
	}
	acked := map[journal.TxID]bool{}
	for _, id := range l.Acked {
		acked[id] = true
	}
	seen := map[journal.TxID]bool{}
	for i := range l.Calls {
		c := &l.Calls[i]
		if c.Outcome() != OutcomeMaybe {
			continue
		}
		if id, _ := c.txid(); !id.IsZero() {
			continue // named already
		}
		var id journal.TxID
		ok := false
		if c.IdempotencyKey != "" {
			if ids[c.Site] {
				id, ok = byKey[siteKey{c.Site, c.IdempotencyKey}]
			} else if found := anyKey[c.IdempotencyKey]; len(found) == 1 {
				id, ok = found[0], true
			}
		}
		if !ok {
			unresolved++
			continue
		}
		if !acked[id] && !seen[id] {
			seen[id] = true
			named = append(named, id)
		}
	}
	return named, unresolved
}

// CheckCalls checks what the call log says of the path of a (one instance
// of a converged pair; run it after Check passed): every transaction of the
// path stands for one call (as itself, or as the subject of a reprocess or
// correction), so the transactions that stand for no acknowledged call and
// no named maybe call (Maybe, and the unnamed calls Resolve names from b
// and a) are at most the unnamed calls left unresolved: each such call
// committed at most once. More means a call committed twice (a retry that
// its idempotency key did not stop) or a transaction no client asked for.
// It returns a *Violation of item 3 naming them, or nil. This holds only
// for a complete log: every call of every client, at both sites.
func (l *CallLog) CheckCalls(a, b Instance) error {
	named, unresolved := l.Resolve(a, b)
	known := map[journal.TxID]bool{}
	for _, ids := range [][]journal.TxID{l.Acked, l.Maybe, named} {
		for _, id := range ids {
			known[id] = true
		}
	}
	var extra []journal.TxID
	seen := map[journal.TxID]bool{}
	for i := range a.Records {
		r := &a.Records[i]
		if !r.Kind.IsTxn() {
			continue
		}
		call := r.TxID()
		if !r.Subject.IsZero() {
			call = r.Subject
		}
		if seen[call] || known[call] {
			continue
		}
		seen[call] = true
		extra = append(extra, call)
	}
	if len(extra) <= unresolved {
		return nil
	}
	shown := extra
	if len(shown) > 10 {
		shown = shown[:10]
	}
	names := make([]string, len(shown))
	for i, id := range shown {
		names[i] = id.String()
	}
	more := ""
	if len(extra) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(extra)-len(shown))
	}
	return violation(3, "%d transactions of %s's path stand for no acknowledged or named call (%s%s), but only %d calls of the log went unanswered without a TxID or idempotency key found: a call committed twice, or a transaction no client asked for",
		len(extra), labelOr(a.ID, "a"), strings.Join(names, ", "), more, unresolved)
}

func labelOr(id, def string) string {
	if id == "" {
		return def
	}
	return id
}
