//lint:file-ignore U1000 the _struct fields carry go-msgpack's toarray option

package journal

//go:generate go tool codecgen -o record_codecgen.go record.go
//go:generate sed -i "1a //lint:file-ignore SA1019 codecgen's output calls helpers go-msgpack keeps for generated code" record_codecgen.go

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind says what a journal record is. Transaction kinds carry a read set and
// a write set; the others are bookkeeping the engine replays on start-up.
type Kind uint8

const (
	// KindLocal is an own transaction computed and committed by this instance.
	KindLocal Kind = 1
	// KindPeer is a transaction computed by the peer and applied here from its
	// stream. It keeps the origin's TxID, HLC, read set and subject, and
	// carries this instance's own before-images.
	KindPeer Kind = 2
	// KindReprocess is a liege transaction that re-executed a rolled-off
	// vassal transaction (its Subject) and got the same result.
	KindReprocess Kind = 3
	// KindCorrection is a liege transaction that ran a procedure's correction
	// for a rolled-off vassal transaction (its Subject) whose re-execution
	// gave a different result.
	KindCorrection Kind = 4
	// KindOpen is the first record of every journal: it names the instance.
	// A rollback never removes it, so position 1 always exists.
	KindOpen Kind = 5
	// KindEpoch is journaled at the end of every rollback: Epoch is the new
	// epoch, Rollback says what was rolled off and where it was saved.
	KindEpoch Kind = 6
	// KindRole records a change of role (liege, vassal).
	KindRole Kind = 7
	// KindCheckpoint marks that a checkpoint of the state at Checkpoint was
	// saved.
	KindCheckpoint Kind = 8
)

var kindNames = [...]string{
	KindLocal: "local", KindPeer: "peer", KindReprocess: "reprocess",
	KindCorrection: "correction", KindOpen: "open", KindEpoch: "epoch",
	KindRole: "role", KindCheckpoint: "checkpoint",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("unknown record kind %q (want one of local, peer, reprocess, correction, open, epoch, role, checkpoint)", s)
}

// IsTxn reports whether records of this kind carry a transaction.
func (k Kind) IsTxn() bool { return k >= KindLocal && k <= KindCorrection }

// IsOwn reports whether a transaction of this kind was computed by the
// instance whose journal holds it (and is therefore streamed to the peer).
func (k Kind) IsOwn() bool { return k == KindLocal || k == KindReprocess || k == KindCorrection }

// TxID names a transaction for its whole life: origin instance and OSeq.
type TxID struct {
	_struct struct{} `codec:",toarray"`
	Origin  string
	OSeq    uint64
}

// IsZero reports whether the TxID is unset.
func (t TxID) IsZero() bool { return t.Origin == "" && t.OSeq == 0 }

func (t TxID) String() string {
	if t.IsZero() {
		return ""
	}
	return t.Origin + "/" + strconv.FormatUint(t.OSeq, 10)
}

// ParseTxID parses "origin/oseq".
func ParseTxID(s string) (TxID, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return TxID{}, fmt.Errorf("malformed TxID %q: want origin/oseq, e.g. A/17", s)
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || n == 0 {
		return TxID{}, fmt.Errorf("malformed TxID %q: the OSeq after '/' must be a positive integer", s)
	}
	return TxID{Origin: s[:i], OSeq: n}, nil
}

// Version is the largest (HLC, origin) of the transactions that wrote a key.
// The zero Version means the key is absent.
type Version struct {
	_struct struct{} `codec:",toarray"`
	HLC     uint64
	Origin  string
}

// IsZero reports whether v is the version of an absent key.
func (v Version) IsZero() bool { return v.HLC == 0 && v.Origin == "" }

// Less orders versions by (HLC, origin): the path order.
func (v Version) Less(w Version) bool {
	if v.HLC != w.HLC {
		return v.HLC < w.HLC
	}
	return v.Origin < w.Origin
}

// Max returns the larger of v and w.
func (v Version) Max(w Version) Version {
	if v.Less(w) {
		return w
	}
	return v
}

// PointRead is one key a transaction read, with the version it saw (zero if
// the key was absent: the absence mattered).
type PointRead struct {
	_struct struct{} `codec:",toarray"`
	Key     []byte
	Version Version
}

// RangeRead is an interval of keys a transaction proved empty or enumerated.
// An empty Lo or Hi is unbounded on that side.
type RangeRead struct {
	_struct     struct{} `codec:",toarray"`
	Lo, Hi      []byte
	LoInclusive bool
	HiInclusive bool
}

// Contains reports whether key k lies inside the range.
func (r *RangeRead) Contains(k []byte) bool {
	if len(r.Lo) > 0 {
		c := compareBytes(k, r.Lo)
		if c < 0 || (c == 0 && !r.LoInclusive) {
			return false
		}
	}
	if len(r.Hi) > 0 {
		c := compareBytes(k, r.Hi)
		if c > 0 || (c == 0 && !r.HiInclusive) {
			return false
		}
	}
	return true
}

func compareBytes(a, b []byte) int { return strings.Compare(string(a), string(b)) }

// Op is the operation of a write.
type Op uint8

const (
	// OpSet stores Value.
	OpSet Op = 1
	// OpDelete removes the key.
	OpDelete Op = 2
	// OpAdd adds Delta to the integer stored at the key (absent counts as 0).
	OpAdd Op = 3
)

func (o Op) String() string {
	switch o {
	case OpSet:
		return "set"
	case OpDelete:
		return "delete"
	case OpAdd:
		return "add"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Write is one key a transaction wrote. Before and BeforeVersion are the
// before-image on the instance whose journal holds the record (nil and zero
// when the key was absent); they are what rollback restores. Value is the
// after-image for OpSet, and for OpAdd the value the key held after the add
// on this instance. Values are msgpack-encoded and never empty.
type Write struct {
	_struct       struct{} `codec:",toarray"`
	Key           []byte
	Op            Op
	Value         []byte
	Delta         int64
	Before        []byte
	BeforeVersion Version
}

// RollbackInfo describes a finished rollback, in the KindEpoch record that
// closes it.
type RollbackInfo struct {
	_struct struct{} `codec:",toarray"`
	// From and To are the positions rolled off, inclusive.
	From, To uint64
	// Reason is why the rollback ran (operator, conflict with TxID ...).
	Reason string
	// LostFile is the lost transaction file that holds what was rolled off,
	// relative to the instance directory.
	LostFile string
	// Records is how many records were rolled off.
	Records uint64
	// PeerWatermark is the highest peer OSeq left in the journal.
	PeerWatermark uint64
}

// Record is one journal entry. Pos is the entry's position in this
// instance's journal; positions are reused after a rollback, OSeqs never.
type Record struct {
	_struct struct{} `codec:",toarray"`
	Pos     uint64
	Epoch   uint64
	Kind    Kind
	// Origin and OSeq make the TxID of a transaction record.
	Origin string
	OSeq   uint64
	// HLC is the transaction's hybrid logical clock timestamp.
	HLC uint64
	// PeerSeen is the highest OSeq of the peer's transactions the origin had
	// applied when it committed this transaction.
	PeerSeen uint64
	Proc     string
	Args     []byte // msgpack
	Result   []byte // msgpack
	// Subject is the TxID a reprocess or correction record stands for.
	Subject TxID
	Reads   []PointRead
	Ranges  []RangeRead
	Writes  []Write

	// Instance is the instance id, in the KindOpen record.
	Instance string
	// Role is the new role, in a KindRole record.
	Role string
	// HighOSeq, in KindEpoch and KindOpen records, is the largest OSeq this
	// instance ever assigned, so that OSeqs rolled off are never reused.
	HighOSeq uint64
	// Rollback describes the rollback a KindEpoch record closes.
	Rollback *RollbackInfo
	// Checkpoint is the position a KindCheckpoint record's checkpoint holds.
	Checkpoint uint64
	// IdempotencyKey is the client's key for a call, so that a retried call
	// (the answer to the first was lost) returns the first outcome instead
	// of committing twice, across restarts too.
	IdempotencyKey string
	// OriginKind, in a KindPeer record, is the kind the origin journaled the
	// transaction as (local, reprocess or correction).
	OriginKind Kind
	// Reign, in a KindRole record, is the reign the role holds in
	// (DESIGN.md section 10); zero in records written before reigns were
	// journaled, which count as reign 1.
	Reign uint64
}

// TxID returns the record's transaction id.
func (r *Record) TxID() TxID { return TxID{Origin: r.Origin, OSeq: r.OSeq} }

// RepublishesOwn reports whether r is the peer's record of a transaction
// of self's: a reprocess or correction the liege committed of it, applied
// here. Rolled off, it leaves its subject pending again (DESIGN.md section
// 10), and the reconciliation log keeps it.
func (r *Record) RepublishesOwn(self string) bool {
	return r.Kind == KindPeer && r.Subject.Origin == self
}

// Version returns the version the record's writes give the keys they write.
func (r *Record) Version() Version { return Version{HLC: r.HLC, Origin: r.Origin} }

// Reset clears r for reuse, keeping its slices' storage.
func (r *Record) Reset() {
	reads, ranges, writes := r.Reads[:0], r.Ranges[:0], r.Writes[:0]
	*r = Record{Reads: reads, Ranges: ranges, Writes: writes}
}

// Clone returns a deep copy of r: its reads, ranges and writes in slices
// of their own, its byte strings in one allocation (CopyBytes), its
// rollback details copied. Nil slices and byte strings stay nil (a nil
// before-image means the key was absent). For a record whose memory its
// maker reuses: the Runner's, a decoder's.
func (r *Record) Clone() *Record {
	c := *r
	c.Reads, c.Ranges, c.Writes = slices.Clone(r.Reads), slices.Clone(r.Ranges), slices.Clone(r.Writes)
	if r.Rollback != nil {
		rb := *r.Rollback
		c.Rollback = &rb
	}
	c.CopyBytes()
	return &c
}

// CopyBytes gives r's byte strings (args, result, read keys and bounds,
// write keys, values and before-images) storage of their own, one
// allocation for all: for a record decoded with DecodeFrameBorrow and kept
// after its frame. Nil and empty byte strings stay as they are.
func (r *Record) CopyBytes() {
	n := len(r.Args) + len(r.Result)
	for i := range r.Reads {
		n += len(r.Reads[i].Key)
	}
	for i := range r.Ranges {
		n += len(r.Ranges[i].Lo) + len(r.Ranges[i].Hi)
	}
	for i := range r.Writes {
		w := &r.Writes[i]
		n += len(w.Key) + len(w.Value) + len(w.Before)
	}
	buf := make([]byte, 0, n)
	own := func(b []byte) []byte {
		if len(b) == 0 {
			return b
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	r.Args, r.Result = own(r.Args), own(r.Result)
	for i := range r.Reads {
		r.Reads[i].Key = own(r.Reads[i].Key)
	}
	for i := range r.Ranges {
		r.Ranges[i].Lo, r.Ranges[i].Hi = own(r.Ranges[i].Lo), own(r.Ranges[i].Hi)
	}
	for i := range r.Writes {
		w := &r.Writes[i]
		w.Key, w.Value, w.Before = own(w.Key), own(w.Value), own(w.Before)
	}
}
