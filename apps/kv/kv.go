// Package kv is a generic key/value application for tests, the demo and the
// conflict-injection runner. Its keys are ("kv", <user key>); its values are
// strings (set), integers (add, transfer) and lists of strings (append).
//
// Procedures, with their results:
//
//	set      {key, value}          "ok"
//	get      {key}                 {found, value}        read-only
//	delete   {key}                 "ok", or "absent"      (read-only when absent)
//	add      {key, delta}          "ok"                   blind, commutative increment
//	transfer {from, to, amount}    "ok", or "insufficient" (read-only when refused)
//	append   {key, value}          the list's length after appending: the value's position
//
// Every procedure has a correction (see DESIGN.md sections 2 and 9), which
// the liege runs when re-executing a rolled-off transaction gives a result
// different from the one the client was told. Every correction leaves a
// correction record at ("kv-correction", <HLC>, <n>) describing the
// discrepancy and what the correction did, for a human to follow up; the
// corrections are exported (CorrectSet ...) so that their reasoning can be
// read and tested on its own.
//
// The application's invariant is Check: every kv value decodes, correction
// records are well formed, and no balance is negative unless a correction
// record says which correction overdrew it. Balances go down only through
// transfer, which refuses to overdraw, so a negative balance can only come
// from a correction that honoured a transfer the client was told succeeded.
package kv

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/liege-db/liege"
)

// Name is the application's name, as in `liege serve --app kv`.
const Name = "kv"

// Description is a one-line summary of the application.
const Description = "generic key/value store: set, get, delete, add, transfer, append (tests, demo, conflict injection)"

// Procedure names.
const (
	ProcSet      = "set"
	ProcGet      = "get"
	ProcDelete   = "delete"
	ProcAdd      = "add"
	ProcTransfer = "transfer"
	ProcAppend   = "append"
)

// procedures lists the procedure names in the order Register adds them.
var procedures = []string{ProcSet, ProcGet, ProcDelete, ProcAdd, ProcTransfer, ProcAppend}

// Procedures returns the names of kv's procedures.
func Procedures() []string { return slices.Clone(procedures) }

// Results of the procedures that answer with a word.
const (
	ResultOK           = "ok"
	ResultAbsent       = "absent"
	ResultInsufficient = "insufficient"
)

// Key prefixes: the application's data and its correction records.
const (
	DataPrefix       = "kv"
	CorrectionPrefix = "kv-correction"
)

// Key returns the engine key of a user key: ("kv", key).
func Key(key string) liege.Key { return liege.K(DataPrefix, key) }

// SetArgs are the arguments of set.
type SetArgs struct {
	Key   string `json:"key" codec:"key"`
	Value string `json:"value" codec:"value"`
}

// KeyArgs are the arguments of get and delete.
type KeyArgs struct {
	Key string `json:"key" codec:"key"`
}

// AddArgs are the arguments of add.
type AddArgs struct {
	Key   string `json:"key" codec:"key"`
	Delta int64  `json:"delta" codec:"delta"`
}

// TransferArgs are the arguments of transfer.
type TransferArgs struct {
	From   string `json:"from" codec:"from"`
	To     string `json:"to" codec:"to"`
	Amount int64  `json:"amount" codec:"amount"`
}

// AppendArgs are the arguments of append.
type AppendArgs struct {
	Key   string `json:"key" codec:"key"`
	Value string `json:"value" codec:"value"`
}

// GetResult is the result of get. Value is a string, an integer or a list of
// strings, or nil when the key is absent.
type GetResult struct {
	Found bool `json:"found" codec:"found"`
	Value any  `json:"value" codec:"value"`
}

// CorrectionRecord is what every correction stores at
// ("kv-correction", <HLC>, <n>), and returns as its result: which
// transaction was corrected, what its client was told and what re-executing
// it gave, and what the correction did about it.
type CorrectionRecord struct {
	// Proc and Args (as JSON) name the corrected transaction.
	Proc string `json:"proc" codec:"proc"`
	Args string `json:"args" codec:"args"`
	// Told is the result its client was told; Reexecuted the result
	// re-executing it on the liege's state gave (both as JSON).
	Told       string `json:"told" codec:"told"`
	Reexecuted string `json:"reexecuted" codec:"reexecuted"`
	// Action says, for a human, what the correction did and why.
	Action string `json:"action" codec:"action"`
	// Keys are the user keys the corrected transaction touched.
	Keys []string `json:"keys" codec:"keys"`
	// Overdrawn are the keys this correction left with a negative balance.
	Overdrawn []string `json:"overdrawn" codec:"overdrawn"`
	// At is the correction's HLC timestamp, as 2026-11-21T16:18:02.123Z+3.
	At string `json:"at" codec:"at"`
}

// Register registers kv's procedures, each with its correction, on db.
func Register(db liege.Registrar) error {
	return errors.Join(
		liege.Register(db, liege.Procedure[SetArgs, string]{Name: ProcSet, Run: Set, Correct: CorrectSet}),
		liege.Register(db, liege.Procedure[KeyArgs, GetResult]{Name: ProcGet, Run: Get, Correct: CorrectGet}),
		liege.Register(db, liege.Procedure[KeyArgs, string]{Name: ProcDelete, Run: Delete, Correct: CorrectDelete}),
		liege.Register(db, liege.Procedure[AddArgs, string]{Name: ProcAdd, Run: Add, Correct: CorrectAdd}),
		liege.Register(db, liege.Procedure[TransferArgs, string]{Name: ProcTransfer, Run: Transfer, Correct: CorrectTransfer}),
		liege.Register(db, liege.Procedure[AppendArgs, int64]{Name: ProcAppend, Run: Append, Correct: CorrectAppend}),
	)
}

// errEmptyKey is returned for an empty user key.
var errEmptyKey = errors.New("key must not be empty")

// Set stores a string at ("kv", key).
func Set(tx *liege.Tx, a SetArgs) (string, error) {
	if a.Key == "" {
		return "", fmt.Errorf("set: %w", errEmptyKey)
	}
	tx.Set(Key(a.Key), a.Value)
	return ResultOK, nil
}

// Get reads ("kv", key). It writes nothing, so a call commits nothing.
func Get(tx *liege.Tx, a KeyArgs) (GetResult, error) {
	if a.Key == "" {
		return GetResult{}, fmt.Errorf("get: %w", errEmptyKey)
	}
	v, ok := tx.Get(Key(a.Key))
	if !ok {
		return GetResult{}, nil
	}
	x, err := decodeValue(v)
	if err != nil {
		return GetResult{}, fmt.Errorf("get %q: %w", a.Key, err)
	}
	return GetResult{Found: true, Value: x}, nil
}

// Delete removes ("kv", key): "ok" if it was there, "absent" (committing
// nothing) if not.
func Delete(tx *liege.Tx, a KeyArgs) (string, error) {
	if a.Key == "" {
		return "", fmt.Errorf("delete: %w", errEmptyKey)
	}
	k := Key(a.Key)
	if _, ok := tx.Get(k); !ok {
		return ResultAbsent, nil
	}
	tx.Delete(k)
	return ResultOK, nil
}

// Add adds delta to the integer at ("kv", key) (absent counts as 0) without
// reading it: concurrent adds commute and do not conflict. The delta must
// not be negative: add is a deposit, and balances go down only through
// transfer, which checks that the money is there (Check relies on it).
func Add(tx *liege.Tx, a AddArgs) (string, error) {
	if a.Key == "" {
		return "", fmt.Errorf("add: %w", errEmptyKey)
	}
	if a.Delta < 0 {
		return "", fmt.Errorf("add: delta %d is negative: add only deposits (it does not read the balance, so it cannot refuse an overdraft); take money out with transfer", a.Delta)
	}
	tx.Add(Key(a.Key), a.Delta)
	return ResultOK, nil
}

// Transfer moves amount from the balance at ("kv", from) to ("kv", to). It
// reads both balances (absent counts as 0; a key that holds no integer is an
// error) and refuses with "insufficient", writing nothing, if from's is
// below amount. Both balances change by Add.
func Transfer(tx *liege.Tx, a TransferArgs) (string, error) {
	switch {
	case a.From == "" || a.To == "":
		return "", fmt.Errorf("transfer: from and to must not be empty")
	case a.From == a.To:
		return "", fmt.Errorf("transfer: from and to are the same key %q", a.From)
	case a.Amount <= 0:
		return "", fmt.Errorf("transfer: amount %d must be positive", a.Amount)
	}
	bal, err := balance(tx, a.From)
	if err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	// Both balances are read, as a bank's transfer does (it must know the
	// destination account exists and holds a balance): a concurrent write
	// of either at the other site is a conflict, which is the workload the
	// conflict-injection runner wants to exercise.
	if _, err := balance(tx, a.To); err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	if bal < a.Amount {
		return ResultInsufficient, nil
	}
	tx.Add(Key(a.From), -a.Amount)
	tx.Add(Key(a.To), a.Amount)
	return ResultOK, nil
}

// Append reads the list of strings at ("kv", key) (absent is empty), writes
// it back with value appended, and returns its new length: the value's
// 1-based position. Each result reveals the order of every earlier append
// to the key, as in Jepsen's list-append workload.
func Append(tx *liege.Tx, a AppendArgs) (int64, error) {
	if a.Key == "" {
		return 0, fmt.Errorf("append: %w", errEmptyKey)
	}
	list, err := readList(tx, a.Key)
	if err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	list = append(list, a.Value)
	tx.Set(Key(a.Key), list)
	return int64(len(list)), nil
}

// CorrectSet corrects a set. Re-executing a set always answers "ok", so
// this runs only if re-execution failed; the client was told its value was
// stored, so the correction stores it (the set's intent), and records the
// anomaly.
func CorrectSet(tx *liege.Tx, a SetArgs, told, reexecuted string) (any, error) {
	rec := newRecord(ProcSet, a, told, reexecuted, a.Key)
	if a.Key == "" {
		rec.Action = "nothing: the key is empty"
	} else {
		tx.Set(Key(a.Key), a.Value)
		rec.Action = "stored the value again, as the client was told"
	}
	return writeRecord(tx, rec)
}

// CorrectGet corrects a get. A get writes nothing, so it never commits,
// never rolls off and is never re-executed: this cannot run in the normal
// course. Were it to, a read changed nothing in the client's world, so there
// is nothing to undo or redo; it only records the discrepancy.
func CorrectGet(tx *liege.Tx, a KeyArgs, told, reexecuted GetResult) (any, error) {
	rec := newRecord(ProcGet, a, told, reexecuted, a.Key)
	rec.Action = "nothing: a read changes no state"
	return writeRecord(tx, rec)
}

// CorrectDelete corrects a delete.
//
//   - Told "ok", re-executed "absent": another transaction earlier in the
//     path already removed the key. The client's world (the key is gone)
//     and the path agree on the outcome, so there is nothing to change; the
//     record notes that the client's delete was not the one that removed
//     it.
//   - Told "absent": such a delete wrote nothing, so it never rolls off;
//     were it corrected, the client was told nothing was deleted, so the
//     correction deletes nothing (the value the path holds was not the
//     client's to remove).
func CorrectDelete(tx *liege.Tx, a KeyArgs, told, reexecuted string) (any, error) {
	rec := newRecord(ProcDelete, a, told, reexecuted, a.Key)
	switch {
	case a.Key == "":
		rec.Action = "nothing: the key is empty"
	case told != ResultOK:
		rec.Action = "nothing: the client was told there was nothing to delete"
	default:
		if _, ok := tx.Get(Key(a.Key)); ok {
			tx.Delete(Key(a.Key))
			rec.Action = "deleted the key, as the client was told"
		} else {
			rec.Action = "nothing: an earlier transaction in the path had already deleted the key"
		}
	}
	return writeRecord(tx, rec)
}

// CorrectAdd corrects an add. Re-executing an add always answers "ok" (it
// does not read), so this runs only if re-execution failed, for instance
// because the key now holds a string. The client was told the amount was
// added: the correction adds it when the key holds an integer (or nothing),
// and otherwise leaves the key alone and records that the deposit is
// missing.
func CorrectAdd(tx *liege.Tx, a AddArgs, told, reexecuted string) (any, error) {
	rec := newRecord(ProcAdd, a, told, reexecuted, a.Key)
	switch {
	case a.Key == "" || a.Delta < 0:
		rec.Action = "nothing: the arguments are invalid"
	default:
		if _, err := balance(tx, a.Key); err != nil {
			rec.Action = fmt.Sprintf("nothing: %v, so the deposit of %d is missing", err, a.Delta)
		} else {
			tx.Add(Key(a.Key), a.Delta)
			rec.Action = fmt.Sprintf("added %d, as the client was told", a.Delta)
		}
	}
	return writeRecord(tx, rec)
}

// CorrectTransfer corrects a transfer.
//
//   - Told "ok", re-executed "insufficient": in the client's world the money
//     moved (cash was handed over, goods shipped), and the liege cannot take
//     that back. So the correction honours the transfer anyway, overdrawing
//     from, and records the overdraft: the record names from in Overdrawn,
//     which is what makes its negative balance acceptable to Check and
//     visible to whoever has to recover the money.
//   - Told "insufficient": such a transfer wrote nothing, so it never rolls
//     off; were it corrected, no money moved in the client's world, so none
//     moves now.
//
// A side that no longer holds an integer (set to a string meanwhile) cannot
// be debited or credited: that side is left alone and the record says the
// money is not conserved, rather than failing the reconciliation.
func CorrectTransfer(tx *liege.Tx, a TransferArgs, told, reexecuted string) (any, error) {
	rec := newRecord(ProcTransfer, a, told, reexecuted, a.From, a.To)
	if told != ResultOK {
		rec.Action = "nothing: the client was told no money moved"
		return writeRecord(tx, rec)
	}
	if a.From == "" || a.To == "" || a.From == a.To || a.Amount <= 0 {
		rec.Action = "nothing: the arguments are invalid"
		return writeRecord(tx, rec)
	}
	from, ferr := balance(tx, a.From)
	_, terr := balance(tx, a.To)
	switch {
	case ferr != nil && terr != nil:
		rec.Action = fmt.Sprintf("nothing: %v and %v; money not conserved: %d the client was told moved did not", ferr, terr, a.Amount)
	case ferr != nil:
		tx.Add(Key(a.To), a.Amount)
		rec.Action = fmt.Sprintf("credited %q with %d but could not debit: %v; money not conserved", a.To, a.Amount, ferr)
	case terr != nil:
		tx.Add(Key(a.From), -a.Amount)
		rec.Action = fmt.Sprintf("debited %q by %d but could not credit: %v; money not conserved", a.From, a.Amount, terr)
		if from-a.Amount < 0 {
			rec.Overdrawn = []string{a.From}
		}
	default:
		tx.Add(Key(a.From), -a.Amount)
		tx.Add(Key(a.To), a.Amount)
		rec.Action = fmt.Sprintf("moved %d from %q to %q as the client was told", a.Amount, a.From, a.To)
		if from-a.Amount < 0 {
			rec.Overdrawn = []string{a.From}
			rec.Action += fmt.Sprintf(", overdrawing %q to %d", a.From, from-a.Amount)
		}
	}
	return writeRecord(tx, rec)
}

// CorrectAppend corrects an append whose re-execution put the value at a
// different position than the client was told (other appends to the key
// are ordered differently in the path). The client's value belongs in the
// list exactly once, and the re-execution that placed it was discarded, so
// the correction appends it; what cannot be made true is the position the
// client was told, so the record keeps both positions for a human. If the
// key no longer holds a list, nothing is appended and the record says so.
func CorrectAppend(tx *liege.Tx, a AppendArgs, told, reexecuted int64) (any, error) {
	rec := newRecord(ProcAppend, a, told, reexecuted, a.Key)
	if a.Key == "" {
		rec.Action = "nothing: the key is empty"
		return writeRecord(tx, rec)
	}
	list, err := readList(tx, a.Key)
	if err != nil {
		rec.Action = fmt.Sprintf("nothing: %v, so the value the client was told is at position %d is missing", err, told)
		return writeRecord(tx, rec)
	}
	list = append(list, a.Value)
	tx.Set(Key(a.Key), list)
	rec.Action = fmt.Sprintf("appended the value at position %d; the client was told position %d", len(list), told)
	return writeRecord(tx, rec)
}

// newRecord starts a correction record.
func newRecord(proc string, args, told, reexecuted any, keys ...string) CorrectionRecord {
	return CorrectionRecord{
		Proc:       proc,
		Args:       show(args),
		Told:       show(told),
		Reexecuted: show(reexecuted),
		Keys:       keys,
		Overdrawn:  []string{},
	}
}

// writeRecord stores rec at the first free ("kv-correction", HLC, n) and
// returns it as the correction's result. The HLC alone is unique among one
// instance's transactions; n keeps records apart should two instances ever
// both correct at the same HLC (after a role change).
func writeRecord(tx *liege.Tx, rec CorrectionRecord) (any, error) {
	h := tx.HLC()
	rec.At = liege.Timestamp(h).String()
	for n := int64(0); ; n++ {
		k := liege.K(CorrectionPrefix, int64(h), n)
		if _, taken := tx.Get(k); !taken {
			tx.Set(k, rec)
			return rec, nil
		}
	}
}

// show formats a value for a correction record: JSON, deterministic for the
// argument and result types here.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// balance reads the integer at ("kv", key); absent is 0.
func balance(tx *liege.Tx, key string) (int64, error) {
	v, ok := tx.Get(Key(key))
	if !ok {
		return 0, nil
	}
	n, err := v.Int()
	if err != nil {
		return 0, fmt.Errorf("%q holds %s, not a balance", key, describe(v))
	}
	return n, nil
}

// readList reads the list of strings at ("kv", key); absent is empty.
func readList(tx *liege.Tx, key string) ([]string, error) {
	v, ok := tx.Get(Key(key))
	if !ok {
		return nil, nil
	}
	list, err := decodeList(v)
	if err != nil {
		return nil, fmt.Errorf("%q holds %s, not a list", key, describe(v))
	}
	return list, nil
}

// decodeList decodes a list of strings, refusing any other value.
func decodeList(v liege.Value) ([]string, error) {
	if _, err := v.Int(); err == nil {
		return nil, errors.New("an integer")
	}
	if _, err := v.Str(); err == nil {
		return nil, errors.New("a string")
	}
	var items []any
	if err := v.Decode(&items); err != nil {
		return nil, err
	}
	list := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("element %d is a %T, not a string", i, it)
		}
		list[i] = s
	}
	return list, nil
}

// decodeValue decodes a kv value: an integer, a string or a list of
// strings.
func decodeValue(v liege.Value) (any, error) {
	if n, err := v.Int(); err == nil {
		return n, nil
	}
	if s, err := v.Str(); err == nil {
		return s, nil
	}
	if l, err := decodeList(v); err == nil {
		return l, nil
	}
	return nil, fmt.Errorf("value is %s, not an integer, string or list of strings", describe(v))
}

// describe names the kind of a stored value, for messages.
func describe(v liege.Value) string {
	if _, err := v.Int(); err == nil {
		return "an integer"
	}
	if _, err := v.Str(); err == nil {
		return "a string"
	}
	x, err := v.Any()
	if err != nil {
		return "undecodable bytes"
	}
	switch x.(type) {
	case []any:
		return "a list"
	case map[any]any, map[string]any:
		return "a map"
	default:
		return fmt.Sprintf("a %T", x)
	}
}

// maxViolations bounds what Check reports: the first ones and a count.
const maxViolations = 100

// Check is kv's invariant over a whole state:
//
//   - every key is ("kv", <non-empty string>) or a correction record's
//     ("kv-correction", <HLC>, <n>);
//   - every kv value is an integer, a string or a list of strings;
//   - every correction record decodes, names a kv procedure, the keys it
//     touched, and (in Overdrawn) only keys among them;
//   - no balance is negative unless a correction record names its key in
//     Overdrawn: add only deposits and transfer refuses to overdraw, so
//     only a correction can take a balance below zero, and it says so.
//
// It returns the violations (at most 100 and a count of the rest), none if
// the invariant holds.
func Check(entries []liege.Entry) []string {
	var out []string
	extra := 0
	report := func(format string, args ...any) {
		if len(out) < maxViolations {
			out = append(out, fmt.Sprintf(format, args...))
		} else {
			extra++
		}
	}
	overdrawn := map[string]bool{}
	type negative struct {
		key string
		bal int64
	}
	var negatives []negative
	for _, e := range entries {
		t, err := liege.Key(e.Key).Unpack()
		if err != nil {
			report("key %x does not decode as a tuple: %v", []byte(e.Key), err)
			continue
		}
		prefix := ""
		if len(t) > 0 {
			prefix, _ = t[0].(string)
		}
		switch prefix {
		case DataPrefix:
			var user string
			if len(t) == 2 {
				user, _ = t[1].(string)
			}
			if user == "" {
				report("key %s is not (%q, <non-empty string>)", e.Key, DataPrefix)
				continue
			}
			x, err := decodeValue(e.Value)
			if err != nil {
				report("key %s: %v", e.Key, err)
				continue
			}
			if n, ok := x.(int64); ok && n < 0 {
				negatives = append(negatives, negative{user, n})
			}
		case CorrectionPrefix:
			if len(t) != 3 || !isInt(t[1]) || !isInt(t[2]) {
				report("key %s is not (%q, <HLC>, <n>)", e.Key, CorrectionPrefix)
				continue
			}
			var rec CorrectionRecord
			if err := e.Value.Decode(&rec); err != nil {
				report("correction record %s does not decode: %v", e.Key, err)
				continue
			}
			for _, p := range rec.problems() {
				report("correction record %s: %s", e.Key, p)
			}
			for _, k := range rec.Overdrawn {
				overdrawn[k] = true
			}
		default:
			report("key %s is outside kv's key space (%q and %q)", e.Key, DataPrefix, CorrectionPrefix)
		}
	}
	for _, n := range negatives {
		if !overdrawn[n.key] {
			report("balance %s is %d, negative, and no correction record names it overdrawn", Key(n.key), n.bal)
		}
	}
	if extra > 0 {
		out = append(out, fmt.Sprintf("... and %d more violations", extra))
	}
	return out
}

// problems lists what is wrong with a decoded correction record.
func (r *CorrectionRecord) problems() []string {
	var p []string
	if !slices.Contains(procedures, r.Proc) {
		p = append(p, fmt.Sprintf("names procedure %q, which kv does not have", r.Proc))
	}
	if r.Action == "" {
		p = append(p, "does not say what the correction did")
	}
	if r.Told == "" || r.Reexecuted == "" {
		p = append(p, "lacks the told or re-executed result")
	}
	if len(r.Keys) == 0 {
		p = append(p, "names no keys")
	}
	for _, k := range r.Overdrawn {
		if !slices.Contains(r.Keys, k) {
			p = append(p, fmt.Sprintf("names %s overdrawn but not among its keys %s", strconv.Quote(k), show(r.Keys)))
		}
	}
	if _, err := liege.ParseTimestamp(r.At); err != nil {
		p = append(p, fmt.Sprintf("has a malformed time: %v", err))
	}
	return p
}

func isInt(x any) bool {
	_, ok := x.(int64)
	return ok
}
