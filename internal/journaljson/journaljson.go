// Package journaljson is the one home of the JSON forms of journal records
// and instance state (docs/journal-json.md): the types, the conversion of a
// journal.Record to its JSON form (FromRecord, which journalctl prints),
// and the way back (Record.ToRecord, StateKey.Entry, which the oracle's
// FromExport reads).
//
// The forms are a public interface: fields are only ever added, never
// renamed or removed. A field added here appears in journalctl's output
// and in what the oracle reads at once.
//
// Decoded values (keys, arguments, results, stored values) are held as raw
// JSON: FromRecord decodes the engine's msgpack into JSON, and ToRecord
// re-encodes JSON as the engine would (see EncodeValue for what that keeps
// exactly). Hex fields and pos are pointers so that a hand-made export may
// leave them out; FromRecord always sets them.
package journaljson

import "encoding/json"

// Version is a key's version; a zero version (absent key) is null.
type Version struct {
	HLC    uint64 `json:"hlc"`
	Origin string `json:"origin"`
}

// Read is a point read of a transaction.
type Read struct {
	Key     json.RawMessage `json:"key"`
	KeyHex  *string         `json:"key_hex"`
	Version *Version        `json:"version"`
}

// Range is a range read of a transaction; an empty bound is unbounded.
type Range struct {
	Lo          json.RawMessage `json:"lo"`
	Hi          json.RawMessage `json:"hi"`
	LoHex       *string         `json:"lo_hex"`
	HiHex       *string         `json:"hi_hex"`
	LoInclusive bool            `json:"lo_inclusive"`
	HiInclusive bool            `json:"hi_inclusive"`
}

// Write is a write of a transaction with its before-image.
type Write struct {
	Key           json.RawMessage `json:"key"`
	KeyHex        *string         `json:"key_hex"`
	Op            string          `json:"op"`
	Value         json.RawMessage `json:"value"`
	Delta         *int64          `json:"delta"`
	Before        json.RawMessage `json:"before"`
	BeforeVersion *Version        `json:"before_version"`
	// ValueHex and BeforeHex are value's and before's msgpack bytes in
	// lower-case hex, exact where the decoded forms are not (a bin that is
	// valid UTF-8, an unsigned integer, a float without a fraction, ...);
	// absent when there are none (a delete's value, the before-image of an
	// absent key). ToRecord prefers them.
	ValueHex  *string `json:"value_hex,omitempty"`
	BeforeHex *string `json:"before_hex,omitempty"`
}

// Rollback is what an epoch record says about the rollback it ends.
type Rollback struct {
	From          uint64 `json:"from"`
	To            uint64 `json:"to"`
	Reason        string `json:"reason"`
	LostFile      string `json:"lost_file"`
	Records       uint64 `json:"records"`
	PeerWatermark uint64 `json:"peer_watermark"`
}

// Record is one journal record in the form of journalctl inspect --json
// and lost --json. FromRecord sets every field.
type Record struct {
	Pos      *uint64         `json:"pos"`
	Epoch    uint64          `json:"epoch"`
	Kind     string          `json:"kind"`
	TxID     *string         `json:"txid"`
	Origin   string          `json:"origin"`
	OSeq     uint64          `json:"oseq"`
	HLC      uint64          `json:"hlc"`
	HLCTime  *string         `json:"hlc_time"` // output only: ToRecord uses HLC
	PeerSeen uint64          `json:"peer_seen"`
	Proc     string          `json:"proc"`
	Args     json.RawMessage `json:"args"`
	Result   json.RawMessage `json:"result"`
	Subject  *string         `json:"subject"`
	Reads    []Read          `json:"reads"`
	Ranges   []Range         `json:"ranges"`
	Writes   []Write         `json:"writes"`
	Instance string          `json:"instance"`
	Role     string          `json:"role"`
	HighOSeq uint64          `json:"high_oseq"`
	Rollback *Rollback       `json:"rollback"`
	// Checkpoint is the position a checkpoint record's checkpoint holds.
	Checkpoint uint64 `json:"checkpoint"`
	// IdempotencyKey is the client's key for the call, "" if none.
	IdempotencyKey string `json:"idempotency_key"`
}

// StateKey is one key of journalctl state --json.
type StateKey struct {
	Key     json.RawMessage `json:"key"`
	KeyHex  *string         `json:"key_hex"`
	Value   json.RawMessage `json:"value"`
	Version *Version        `json:"version"`
	// ValueHex is value's msgpack bytes in lower-case hex, exact; Decode
	// prefers it.
	ValueHex *string `json:"value_hex,omitempty"`
}

// State is the one object of journalctl state --json (which journalctl
// streams key by key rather than building it).
type State struct {
	Hash *string    `json:"hash"`
	Keys []StateKey `json:"keys"`
}
