package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/liege-db/liege/journal"
)

// ProtocolVersion is the replication protocol this build speaks. It travels
// in Hello; comparing it with the peer's is the caller's business.
//
// Version 2: a vassal that is not empty answers a SeedOffer with a
// SeedRequest (re-seeding, package replicate's reseed.go), and a seed's
// checkpoint lists the receiver's reconciled subjects it holds; a version
// 1 peer refuses the offer and would never heal.
const ProtocolVersion = 2

// DefaultMaxFrame is the largest frame body a link accepts unless
// configured otherwise. A transaction travels in one frame with its
// arguments and its writes, so a value of 16 MiB set by a procedure that
// takes it as an argument needs about 32 MiB (48 with its before-image in
// a rollback); a frame over the limit can never be sent, and the stream
// would stop there.
const DefaultMaxFrame = 64 << 20

// MinMaxFrame is the smallest frame limit a TCP link takes: every frame
// the protocol sends besides a transaction's (a hello, a heartbeat, a
// piece of a reconciliation log or a checkpoint) must fit, and a limit
// near their size would refuse ordinary transactions.
const MinMaxFrame = 64 << 10

// headerLen is the frame header: the body's length, 4 bytes big endian.
const headerLen = 4

// Kind says what a frame is.
type Kind uint8

// Frame kinds. Zero is not a kind, so a frame that lost its kind does not
// decode as a Hello.
const (
	// KindHello is the handshake, sent by both sides first.
	KindHello Kind = iota + 1
	// KindTxn carries one of the sender's own transactions.
	KindTxn
	// KindHeartbeat says the sender is alive and carries its PeerSeen
	// watermark.
	KindHeartbeat
	// KindResend asks the peer to resume its stream after an OSeq.
	KindResend
	// KindRollbackCommand is the liege telling the vassal to roll back a
	// transaction it rejected.
	KindRollbackCommand
	// KindRollbackAnswer is the vassal's answer to a rollback command, or
	// (naming no subject) its notice of a rollback of its own.
	KindRollbackAnswer
	// KindReconLog carries a reconciliation log to the liege.
	KindReconLog
	// KindAck acknowledges the peer's transactions up to a watermark.
	KindAck
	// KindForward carries a call a vassal forwards to its liege (DESIGN.md
	// section 13), its payload in Record.
	KindForward
	// KindForwardAnswer carries the liege's answer to a forwarded call, its
	// payload in Record.
	KindForwardAnswer
)

// The seeding kinds (package replicate, seed.go): a peer that no longer
// holds its journal from where the other must resume offers its
// checkpoint, and an empty instance asks for it. Numbered apart from the
// others so that kinds added above do not move them.
const (
	// KindSeedOffer says the sender cannot stream after the receiver's
	// watermark: its journal begins after Watermark. An empty receiver, or
	// a vassal (re-seeded), answers with a KindSeedRequest.
	KindSeedOffer Kind = iota + 16
	// KindSeedRequest asks the peer for its checkpoint.
	KindSeedRequest
	// KindSeed carries bytes Offset.. of the sender's checkpoint (Chunk),
	// Total bytes in all, taken when its newest own OSeq was Watermark and
	// its watermark of the receiver's OSeqs was Prev.
	KindSeed
)

// known reports whether k is a frame kind.
func (k Kind) known() bool { return int(k) < len(kindNames) && kindNames[k] != "" }

var kindNames = [...]string{
	KindHello:           "hello",
	KindTxn:             "txn",
	KindHeartbeat:       "heartbeat",
	KindResend:          "resend",
	KindRollbackCommand: "rollback command",
	KindRollbackAnswer:  "rollback answer",
	KindReconLog:        "reconciliation log",
	KindAck:             "ack",
	KindSeedOffer:       "seed offer",
	KindSeedRequest:     "seed request",
	KindSeed:            "seed",
	KindForward:         "forward",
	KindForwardAnswer:   "forward answer",
}

func (k Kind) String() string {
	if k.known() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Roles an instance announces in its Hello.
const (
	RoleLiege  = "liege"
	RoleVassal = "vassal"
)

// Frame is every message between two instances. Each kind uses only some
// fields (listed per field); a frame with a field its kind does not use does
// not decode.
type Frame struct {
	Kind Kind
	// Cluster names the cluster the frame belongs to; see CheckCluster.
	Cluster string
	// From is the sender's instance id.
	From string
	// Epoch is the sender's epoch.
	Epoch uint64

	// Version is the sender's ProtocolVersion (Hello).
	Version uint16
	// Role is RoleLiege or RoleVassal (Hello).
	Role string
	// Watermark is, in a Hello, the highest OSeq of the receiver's
	// transactions the sender has applied; in a Heartbeat, the sender's
	// PeerSeen watermark; in a Resend, the OSeq after which the receiver is
	// to resume its stream; in a RollbackCommand, the liege's watermark of
	// vassal OSeqs; in a RollbackAnswer, the vassal's watermark of liege
	// OSeqs; in an Ack, the highest OSeq of the receiver's transactions the
	// sender has applied durably.
	Watermark uint64
	// WallClock is the sender's wall clock in Unix nanoseconds (Hello).
	WallClock int64

	// Prev is, in a Txn, the OSeq of the sender's previous own transaction
	// still in its journal (0 if none); in a Hello or Heartbeat, the OSeq of
	// the sender's newest own transaction in its journal, so that the
	// receiver knows how far behind it is.
	Prev uint64
	// Record is the transaction's journal record as the journal frames it
	// (format version, CRC32C, msgpack), so that its checksum travels with
	// it (Txn); the msgpack payload of a Forward or ForwardAnswer.
	Record []byte

	// Subject is the TxID ("origin/oseq") a RollbackCommand rejects, or the
	// one a RollbackAnswer answers for ("" in the notice of a vassal's own
	// rollback).
	Subject string
	// Records are the encoded journal records of a reconciliation log
	// (ReconLog).
	Records [][]byte

	// Reign is the sender's reign (DESIGN.md section 10), on every frame
	// like Epoch: a receiver drops frames of an older reign and adopts a
	// newer one. Zero from a sender that predates reigns.
	Reign uint64
	// Stable is, in a Heartbeat, the sender's stable watermark (DESIGN.md
	// section 5): the receiver prunes its window of own transactions up to
	// it.
	Stable uint64

	// Chunk is part of a checkpoint, from byte Offset of Total (Seed).
	Chunk         []byte
	Offset, Total uint64
}

// field is a set of Frame's kind-specific fields.
type field uint16

const (
	fVersion field = 1 << iota
	fRole
	fWatermark
	fWallClock
	fPrev
	fRecord
	fSubject
	fRecords
	fStable
	fChunk
	fOffset
	fTotal
)

var fieldNames = [...]string{"Version", "Role", "Watermark", "WallClock", "Prev", "Record", "Subject", "Records", "Stable", "Chunk", "Offset", "Total"}

func (s field) String() string {
	var names []string
	for i, n := range fieldNames {
		if s&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// kindFields lists the fields each kind may carry.
var kindFields = [...]field{
	KindHello:           fVersion | fRole | fWatermark | fWallClock | fPrev,
	KindTxn:             fPrev | fRecord,
	KindHeartbeat:       fWatermark | fPrev | fStable,
	KindResend:          fWatermark,
	KindRollbackCommand: fSubject | fWatermark,
	KindRollbackAnswer:  fSubject | fWatermark,
	KindReconLog:        fRecords,
	KindAck:             fWatermark,
	KindSeedOffer:       fWatermark,
	KindSeedRequest:     0,
	KindSeed:            fWatermark | fPrev | fChunk | fOffset | fTotal,
	KindForward:         fRecord,
	KindForwardAnswer:   fRecord,
}

// carried returns the kind-specific fields f sets.
func (f *Frame) carried() field {
	var s field
	set := func(b bool, x field) {
		if b {
			s |= x
		}
	}
	set(f.Version != 0, fVersion)
	set(f.Role != "", fRole)
	set(f.Watermark != 0, fWatermark)
	set(f.WallClock != 0, fWallClock)
	set(f.Prev != 0, fPrev)
	set(len(f.Record) != 0, fRecord)
	set(f.Subject != "", fSubject)
	set(len(f.Records) != 0, fRecords)
	set(f.Stable != 0, fStable)
	set(len(f.Chunk) != 0, fChunk)
	set(f.Offset != 0, fOffset)
	set(f.Total != 0, fTotal)
	return s
}

// validate rejects frames no correct peer sends.
func (f *Frame) validate() error {
	if !f.Kind.known() {
		return fmt.Errorf("%v is not a frame kind", f.Kind)
	}
	if f.Cluster == "" {
		return fmt.Errorf("%v frame names no cluster", f.Kind)
	}
	if f.From == "" {
		return fmt.Errorf("%v frame names no sender", f.Kind)
	}
	if extra := f.carried() &^ kindFields[f.Kind]; extra != 0 {
		return fmt.Errorf("%v frame sets %v, which it does not carry", f.Kind, extra)
	}
	switch f.Kind {
	case KindHello:
		if f.Version == 0 {
			return errors.New("hello frame has no protocol version")
		}
		if f.Role != RoleLiege && f.Role != RoleVassal {
			return fmt.Errorf("hello frame has role %q, want %q or %q", f.Role, RoleLiege, RoleVassal)
		}
	case KindTxn:
		if len(f.Record) == 0 {
			return errors.New("txn frame has no record")
		}
	case KindForward, KindForwardAnswer:
		if len(f.Record) == 0 {
			return fmt.Errorf("%v frame has no payload", f.Kind)
		}
	case KindRollbackCommand:
		if _, err := journal.ParseTxID(f.Subject); err != nil {
			return fmt.Errorf("rollback command: %w", err)
		}
	case KindRollbackAnswer:
		if f.Subject != "" {
			if _, err := journal.ParseTxID(f.Subject); err != nil {
				return fmt.Errorf("rollback answer: %w", err)
			}
		}
	case KindSeed:
		if len(f.Chunk) == 0 || f.Offset+uint64(len(f.Chunk)) > f.Total || f.Offset > f.Total {
			return fmt.Errorf("seed frame: a chunk of %d bytes at offset %d does not fit the checkpoint's %d bytes", len(f.Chunk), f.Offset, f.Total)
		}
	case KindReconLog:
		if len(f.Records) == 0 {
			return errors.New("reconciliation log frame has no records")
		}
		for i, r := range f.Records {
			if len(r) == 0 {
				return fmt.Errorf("reconciliation log frame: record %d is empty", i)
			}
		}
	}
	return nil
}

// ErrOtherCluster is returned by CheckCluster for a frame of another
// cluster.
var ErrOtherCluster = errors.New("frame for another cluster")

// CheckCluster returns an error wrapping ErrOtherCluster unless f belongs to
// cluster want. The link carries frames of any cluster; refusing them is the
// caller's decision (a typo in a peer address must not join two clusters).
func CheckCluster(f *Frame, want string) error {
	if f.Cluster != want {
		return fmt.Errorf("%w: %v frame from %s is for cluster %q, this is cluster %q",
			ErrOtherCluster, f.Kind, f.From, f.Cluster, want)
	}
	return nil
}

// Encode appends f's wire form to dst: the body's length (4 bytes, big
// endian), then the body (msgpack with the journal's settings). It refuses
// a frame Decode would refuse.
func Encode(dst []byte, f *Frame) ([]byte, error) {
	c := codecPool.Get().(*frameCodec)
	defer codecPool.Put(c)
	return c.appendFrame(dst, f)
}

// Decode decodes a frame body (without its length header) into f. It
// refuses bodies that are not exactly one frame, unknown kinds, and frames
// whose fields do not fit their kind. f does not alias body.
func Decode(body []byte, f *Frame) error {
	c := codecPool.Get().(*frameCodec)
	defer codecPool.Put(c)
	return c.decode(body, f, false)
}

var (
	// handle holds the journal's msgpack settings; its MaxInitLen bounds what
	// a claimed length can make the decoder allocate before the bytes are
	// there.
	handle    = journal.MsgpackHandle()
	codecPool = sync.Pool{New: func() any { return newFrameCodec() }}
	noBytes   = []byte{}
)

// wireFrame is Frame as encoded: an array, in this field order (append new
// fields at the end). The byte fields are blobs; see blob.
type wireFrame struct {
	//lint:ignore U1000 the codec reads its tag
	_struct   struct{} `codec:",toarray"`
	Kind      Kind
	Cluster   string
	From      string
	Epoch     uint64
	Version   uint16
	Role      string
	Watermark uint64
	WallClock int64
	Prev      uint64
	Record    blob
	Subject   string
	Records   []blob
	Reign     uint64
	Stable    uint64
	Chunk     blob
	Offset    uint64
	Total     uint64
}

// blob is a byte string that decodes in one allocation. go-msgpack, with
// MaxInitLen set, grows a decoded []byte MaxInitLen bytes at a time,
// copying it at each step: decoding 4 MiB took 6 s. A blob decodes its
// msgpack value as a codec.Raw (one copy of exactly the bytes present) and
// keeps the payload.
type blob []byte

// CodecEncodeSelf implements codec.Selfer.
func (b *blob) CodecEncodeSelf(e *codec.Encoder) { e.MustEncode([]byte(*b)) }

// CodecDecodeSelf implements codec.Selfer.
func (b *blob) CodecDecodeSelf(d *codec.Decoder) {
	var raw codec.Raw
	d.MustDecode(&raw)
	p, err := binPayload(raw)
	if err != nil {
		panic(err) // the codec returns a panic in a Selfer as Decode's error
	}
	*b = p
}

// binPayload returns the payload of one msgpack nil or bin value.
func binPayload(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, errors.New("empty value where bytes were expected")
	}
	var n, hdr int
	switch v[0] {
	case 0xc0: // nil
		return nil, nil
	case 0xc4: // bin 8
		hdr = 2
		if len(v) >= hdr {
			n = int(v[1])
		}
	case 0xc5: // bin 16
		hdr = 3
		if len(v) >= hdr {
			n = int(binary.BigEndian.Uint16(v[1:]))
		}
	case 0xc6: // bin 32
		hdr = 5
		if len(v) >= hdr {
			n = int(binary.BigEndian.Uint32(v[1:]))
		}
	default:
		return nil, fmt.Errorf("msgpack type 0x%02x where bytes were expected", v[0])
	}
	if len(v) != hdr+n {
		return nil, fmt.Errorf("bytes value of %d bytes claims %d", len(v)-hdr, n)
	}
	if n == 0 {
		return nil, nil
	}
	return v[hdr:], nil
}

// frameCodec encodes and decodes frames (fastframe.go, go-msgpack for a
// body the fast decoder leaves to it), reusing its buffers. Not safe for
// concurrent use.
type frameCodec struct {
	w   wireFrame
	buf []byte
	enc *codec.Encoder
	dec *codec.Decoder
	// cluster and from are the last frame's, reused by the next.
	cluster, from string
}

func newFrameCodec() *frameCodec {
	c := &frameCodec{}
	c.dec = codec.NewDecoderBytes(noBytes, handle)
	return c
}

// appendFrame appends f's header and body to dst.
func (c *frameCodec) appendFrame(dst []byte, f *Frame) ([]byte, error) {
	if err := f.validate(); err != nil {
		return dst, fmt.Errorf("encode frame: %w", err)
	}
	start := len(dst)
	dst = appendWire(append(dst, 0, 0, 0, 0), f)
	n := len(dst) - start - headerLen
	if n > math.MaxUint32 {
		return dst[:start], fmt.Errorf("encode %v frame: %d bytes do not fit the length header", f.Kind, n)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

// appendFrameReference is appendFrame with go-msgpack's encoder: the
// definition of the wire format appendWire must write byte for byte
// (TestFastFrameMatchesReference).
func (c *frameCodec) appendFrameReference(dst []byte, f *Frame) ([]byte, error) {
	if err := f.validate(); err != nil {
		return dst, fmt.Errorf("encode frame: %w", err)
	}
	if c.enc == nil {
		c.buf = make([]byte, 0, 1024)
		c.enc = codec.NewEncoderBytes(&c.buf, handle)
	}
	c.w = wireFrame{
		Kind: f.Kind, Cluster: f.Cluster, From: f.From, Epoch: f.Epoch,
		Version: f.Version, Role: f.Role, Watermark: f.Watermark, WallClock: f.WallClock,
		Prev: f.Prev, Record: f.Record, Subject: f.Subject, Reign: f.Reign, Stable: f.Stable,
		Chunk: f.Chunk, Offset: f.Offset, Total: f.Total,
	}
	if f.Records != nil {
		c.w.Records = make([]blob, len(f.Records))
		for i, r := range f.Records {
			c.w.Records[i] = r
		}
	}
	c.enc.ResetBytes(&c.buf)
	err := c.enc.Encode(&c.w)
	c.w = wireFrame{} // keep no reference to the caller's bytes
	if err != nil {
		return dst, fmt.Errorf("encode %v frame: %w", f.Kind, err)
	}
	if len(c.buf) > math.MaxUint32 {
		return dst, fmt.Errorf("encode %v frame: %d bytes do not fit the length header", f.Kind, len(c.buf))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.buf)))
	dst = append(dst, c.buf...)
	if cap(c.buf) > 1<<20 { // do not keep a large frame's buffer alive
		c.buf = make([]byte, 0, 1024)
	}
	return dst, nil
}

// decode decodes body into f; with owned, f may keep slices of body (see
// decodeFastFrame).
func (c *frameCodec) decode(body []byte, f *Frame, owned bool) error {
	err := decodeFastFrame(body, f, c.cluster, c.from, owned)
	if errors.Is(err, errSlowFrame) {
		err = c.decodeReference(body, f)
	}
	if err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	c.cluster, c.from = f.Cluster, f.From
	return nil
}

// decodeReference decodes body into f with go-msgpack, not validated.
func (c *frameCodec) decodeReference(body []byte, f *Frame) error {
	c.w = wireFrame{}
	c.dec.ResetBytes(body)
	err := c.dec.Decode(&c.w)
	if err == nil && c.dec.NumBytesRead() != len(body) {
		err = fmt.Errorf("%d bytes follow the frame", len(body)-c.dec.NumBytesRead())
	}
	c.dec.ResetBytes(noBytes)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("the body ends inside the frame: %w", err)
	}
	if err != nil {
		c.w = wireFrame{}
		return fmt.Errorf("decode frame: %w", err)
	}
	*f = Frame{
		Kind: c.w.Kind, Cluster: c.w.Cluster, From: c.w.From, Epoch: c.w.Epoch,
		Version: c.w.Version, Role: c.w.Role, Watermark: c.w.Watermark, WallClock: c.w.WallClock,
		Prev: c.w.Prev, Record: c.w.Record, Subject: c.w.Subject, Reign: c.w.Reign, Stable: c.w.Stable,
		Chunk: c.w.Chunk, Offset: c.w.Offset, Total: c.w.Total,
	}
	if len(c.w.Records) > 0 {
		f.Records = make([][]byte, len(c.w.Records))
		for i, r := range c.w.Records {
			f.Records[i] = r
		}
	}
	c.w = wireFrame{}
	return nil
}
