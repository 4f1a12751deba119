// Package httpapi is the one home of the shapes of the HTTP API of
// `liege serve` (docs/http-api.md): the request and answer bodies, the
// error codes and the session token's text form. The server
// (internal/server) encodes and decodes these types; the Go client
// (client) decodes and encodes the same ones and exposes those its users
// name through type aliases, so that the two cannot drift apart.
//
// The package imports nothing but the standard library: the client, which
// programs outside this module import, stays as light as it was.
//
// Fields that carry an application's value (a call's args and result, a
// key, a value) are json.RawMessage: the server writes the JSON it
// converted from msgpack, and the client keeps it as received. The order
// of the fields is the order of the keys on the wire.
package httpapi

import "encoding/json"

// Error codes: the "code" of an error answer's body.
const (
	CodeBadRequest       = "bad_request"
	CodeBadArgs          = "bad_args"
	CodeUnauthorized     = "unauthorized"
	CodeUnknownProcedure = "unknown_procedure"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "too_large"
	CodeProcedureError   = "procedure_error"
	CodeNotCaughtUp      = "not_caught_up"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	// CodeIdempotencyKeyReused: the Idempotency-Key was used for another
	// procedure or other arguments (422).
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeTxnTooLarge: the call's transaction would not fit one
	// replication frame (413); nothing was committed.
	CodeTxnTooLarge = "transaction_too_large"
)

// Codes lists every error code, in the order of the table of
// docs/http-api.md.
var Codes = []string{
	CodeBadRequest, CodeBadArgs, CodeUnauthorized, CodeUnknownProcedure, CodeNotFound,
	CodeMethodNotAllowed, CodeTooLarge, CodeTxnTooLarge, CodeProcedureError, CodeNotCaughtUp, CodeUnavailable, CodeInternal,
	CodeIdempotencyKeyReused,
}

// ErrorBody is the body of every answer other than 200:
// {"error": {"code": ..., "message": ...}}.
type ErrorBody struct {
	Error *ErrorDetail `json:"error"`
}

// ErrorDetail is the "error" object of an ErrorBody.
type ErrorDetail struct {
	// Code is one of the Code constants.
	Code string `json:"code"`
	// Message says what was wrong and what to do.
	Message string `json:"message"`
}

// CallRequest is the body of POST /v1/call/{proc}. Every field is
// optional; an empty body is the zero CallRequest.
type CallRequest struct {
	// Args are the procedure's arguments as JSON; absent or null is the
	// zero value of the procedure's argument type.
	Args json.RawMessage `json:"args,omitempty"`
	// MinToken is the session token the instance must have applied
	// before it runs the call.
	MinToken string `json:"min_token,omitempty"`
	// TimeoutMS bounds the wait for MinToken (the server's default if
	// nil).
	TimeoutMS *int64 `json:"timeout_ms,omitempty"`
}

// CallAnswer is the answer 200 of POST /v1/call/{proc}.
type CallAnswer struct {
	// TxID is the committed transaction's id ("A/18"), nil (null) for a
	// read-only call.
	TxID *string `json:"txid"`
	// HLC is the transaction's timestamp; HLCTime the same as text
	// (2026-11-21T16:18:02.123Z+3).
	HLC     uint64 `json:"hlc"`
	HLCTime string `json:"hlc_time"`
	// Pos is the transaction's journal position, 0 when read-only.
	Pos      uint64 `json:"pos"`
	ReadOnly bool   `json:"read_only"`
	// Result is the procedure's result as JSON.
	Result json.RawMessage `json:"result"`
	// Token is the session token after the call.
	Token string `json:"token"`
}

// Version is a key's version: the largest (HLC, origin) of the
// transactions that wrote it.
type Version struct {
	HLC    uint64 `json:"hlc"`
	Origin string `json:"origin"`
}

// KeyAnswer is the answer of GET /v1/key.
type KeyAnswer struct {
	// Key is the key as a JSON array.
	Key    json.RawMessage `json:"key"`
	KeyHex string          `json:"key_hex"`
	Found  bool            `json:"found"`
	// Value is the value as JSON, null when not found; Version is nil
	// (null) when not found.
	Value   json.RawMessage `json:"value"`
	Version *Version        `json:"version"`
	Token   string          `json:"token"`
}

// KeyEntry is one key of a KeysAnswer.
type KeyEntry struct {
	Key     json.RawMessage `json:"key"`
	KeyHex  string          `json:"key_hex"`
	Value   json.RawMessage `json:"value"`
	Version Version         `json:"version"`
}

// KeysAnswer is the answer of GET /v1/keys.
type KeysAnswer struct {
	Keys []KeyEntry `json:"keys"`
	// Truncated says that more keys have the prefix than were returned.
	Truncated bool `json:"truncated"`
	// NextCursor is where the next page starts (the cursor parameter), nil
	// on the last page.
	NextCursor *string `json:"next_cursor"`
	Token      string  `json:"token"`
}

// TxnAnswer is the answer of GET /v1/txn/{txid}. The fields with no
// record behind them are nil (null).
type TxnAnswer struct {
	TxID string `json:"txid"`
	// State is committed, rolled_back, reprocessed, corrected or
	// unknown.
	State    string          `json:"state"`
	Pos      *uint64         `json:"pos"`
	Kind     *string         `json:"kind"`
	Proc     *string         `json:"proc"`
	Result   json.RawMessage `json:"result"`
	Subject  *string         `json:"subject"`
	LostFile *string         `json:"lost_file"`
}

// Lag is an instance's replication lag in Status.
type Lag struct {
	Transactions uint64 `json:"transactions"`
	MS           int64  `json:"ms"`
}

// Build is the versions of an instance's binary, as `liege --version`
// prints them (internal/version.Info is this struct with its methods).
type Build struct {
	// Module is the main module's version: a tag, a pseudo-version, or
	// "(devel)" for a binary built in a checkout.
	Module string `json:"module"`
	// Revision is the VCS commit, "" when the build recorded none.
	Revision string `json:"revision"`
	// Modified is true when that work tree had uncommitted changes.
	Modified bool `json:"modified"`
	// Go is the Go toolchain version, e.g. "go1.26.8".
	Go string `json:"go"`
	// JournalFormat is the journal's frame format version.
	JournalFormat int `json:"journal_format"`
	// Protocol is the replication protocol version; both instances of a
	// pair must share it.
	Protocol int `json:"protocol"`
}

// Status is the answer of GET /status.
type Status struct {
	ID            string            `json:"id"`
	Role          string            `json:"role"`
	App           string            `json:"app"`
	Epoch         uint64            `json:"epoch"`
	LastPos       uint64            `json:"last_pos"`
	DurablePos    uint64            `json:"durable_pos"`
	OSeq          uint64            `json:"oseq"`
	PeerWatermark uint64            `json:"peer_watermark"`
	Watermarks    map[string]uint64 `json:"watermarks"`
	Window        int               `json:"window"`
	Lag           Lag               `json:"lag"`
	Keys          int               `json:"keys"`
	UptimeS       float64           `json:"uptime_s"`
	// Link is the replication link, nil (absent) for a lone instance.
	Link *Link `json:"link,omitempty"`
	// Routes are the procedures' routes (DESIGN.md section 13); a client
	// reads nil from an instance too old to report them.
	Routes []Route `json:"routes"`
	// Build is the versions of the instance's binary; a client reads nil
	// from an instance too old to report them.
	Build *Build `json:"build"`
	// Raw is filled by the client only: the whole answer, including
	// fields this version does not know; its numbers are json.Numbers,
	// exact whatever their size.
	Raw map[string]any `json:"-"`
}

// Route is one procedure's route in Status.
type Route struct {
	Proc  string `json:"proc"`
	Route string `json:"route"` // local, liege or auto
	// ConflictRate is the measured rate: conflicts per committed
	// transaction, decayed (auto only).
	ConflictRate float64 `json:"conflict_rate"`
	// Forwarding: auto forwards the procedure now (link and role allowing).
	Forwarding bool `json:"forwarding"`
	// Available: a liege route that commits locally while the link is down.
	Available bool `json:"available,omitempty"`
	// Prefixes measured, and how many of them auto forwards now.
	Prefixes           int `json:"prefixes,omitempty"`
	PrefixesForwarding int `json:"prefixes_forwarding,omitempty"`
}

// Link is the replication link in Status.
type Link struct {
	Connected bool   `json:"connected"`
	Peer      string `json:"peer"`
	PeerRole  string `json:"peer_role"`
	PeerEpoch uint64 `json:"peer_epoch"`
	// LagIn and LagOut count transactions not yet applied here / not
	// yet reported applied by the peer.
	LagIn  uint64 `json:"lag_in"`
	LagOut uint64 `json:"lag_out"`
	// Discarding is the vassal TxID a liege rejected and awaits the
	// rollback answer for (absent when none).
	Discarding   string `json:"discarding,omitempty"`
	ReconPending int    `json:"recon_pending"`
	Reconnects   uint64 `json:"reconnects"`
	// Refused says why the last connection was refused at the handshake
	// (absent when none).
	Refused string `json:"refused,omitempty"`
	// Idle is true when nothing is in flight: connected, both streams
	// caught up, no rejection or reconciliation pending here.
	Idle bool `json:"idle"`
}

// RoleRequest is the body of POST /v1/admin/role.
type RoleRequest struct {
	// Role is "liege" (promote a vassal) or "vassal" (demote a liege).
	Role string `json:"role"`
	// Force promotes a vassal that still hears from its liege.
	Force bool `json:"force"`
}

// RoleAnswer is the answer of POST /v1/admin/role.
type RoleAnswer struct {
	Role string `json:"role"`
	// Reconciled is always 0: a promoted vassal reconciles its own
	// rolled-off transactions in the background (see /status
	// recon_pending).
	Reconciled int `json:"reconciled"`
}

// QuiesceRequest is the body of POST /v1/admin/quiesce; On is required.
type QuiesceRequest struct {
	On *bool `json:"on"`
}

// QuiesceAnswer is the answer of POST /v1/admin/quiesce.
type QuiesceAnswer struct {
	Quiesced bool `json:"quiesced"`
}

// Health is the answer of GET /healthz.
type Health struct {
	Status string `json:"status"`
}

// MaxBatch is the most calls one POST /v1/calls may carry.
const MaxBatch = 1000

// BatchRequest is the body of POST /v1/calls: several calls in one
// request. They run as if sent in parallel: each commits or fails on its
// own, in no particular order among them.
type BatchRequest struct {
	// Calls are the calls, 1 to MaxBatch of them.
	Calls []BatchCall `json:"calls"`
	// MinToken and TimeoutMS are those of CallRequest, for every call.
	MinToken  string `json:"min_token,omitempty"`
	TimeoutMS *int64 `json:"timeout_ms,omitempty"`
}

// BatchCall is one call of a BatchRequest.
type BatchCall struct {
	// Proc names the procedure.
	Proc string `json:"proc"`
	// Args are its arguments, as in CallRequest.
	Args json.RawMessage `json:"args,omitempty"`
	// IdempotencyKey is the call's Idempotency-Key (1 to 256 bytes), if
	// any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// BatchAnswer is the answer 200 of POST /v1/calls: one result per call, in
// the order of the calls, and the session token after all of them.
type BatchAnswer struct {
	Results []BatchResult `json:"results"`
	Token   string        `json:"token"`
}

// BatchResult is the outcome of one call of a batch: Status is the HTTP
// status the call would have had alone; a 200 has the fields of a
// CallAnswer, any other an Error.
type BatchResult struct {
	Status int `json:"status"`
	*CallAnswer
	Error *ErrorDetail `json:"error,omitempty"`
	// Raw is set by UnmarshalJSON: the result object as received.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a result and keeps its JSON in Raw, so that a
// client decodes a batch's answer once.
func (r *BatchResult) UnmarshalJSON(b []byte) error {
	type plain BatchResult // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	p.Raw = append(json.RawMessage(nil), b...)
	*r = BatchResult(p)
	return nil
}
