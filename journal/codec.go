package journal

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// FrameVersion is the format version of every frame this code writes.
const FrameVersion = 1

// frameHeader is version(1) + crc32c(4), little endian; the CRC covers the
// version byte and the payload.
const frameHeader = 5

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by the frame and record decoders.
var (
	// ErrEmptyFrame is returned for a zero-length entry: tidwall/wal reads a
	// zero-filled tail as such entries, so they are never valid.
	ErrEmptyFrame = errors.New("empty frame")
	// ErrShortFrame is returned for an entry shorter than the frame header.
	ErrShortFrame = errors.New("frame shorter than its header")
	// ErrFrameVersion is returned for a frame of an unknown format version.
	ErrFrameVersion = errors.New("unknown frame format version")
	// ErrChecksum is returned when a frame's CRC32C does not match.
	ErrChecksum = errors.New("frame checksum mismatch")
)

// MsgpackHandle returns the msgpack settings used for every record, value,
// argument and result: canonical (map keys sorted, so equal results encode
// equally), strings decoded as strings, and initial allocations bounded so a
// hostile length prefix cannot make a decoder allocate beyond its input.
func MsgpackHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.Canonical = true
	h.RawToString = true
	h.WriteExt = true
	h.MaxInitLen = 256
	return h
}

var handle = MsgpackHandle()

// AppendFrame appends version, checksum and payload to dst.
func AppendFrame(dst, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, FrameVersion, 0, 0, 0, 0)
	dst = append(dst, payload...)
	sealFrame(dst[start:])
	return dst
}

// sealFrame writes the checksum into a frame whose payload is in place.
func sealFrame(f []byte) {
	c := crc32.Update(0, castagnoli, f[:1])
	c = crc32.Update(c, castagnoli, f[frameHeader:])
	f[1], f[2], f[3], f[4] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
}

// OpenFrame checks a frame and returns its payload (aliasing f).
func OpenFrame(f []byte) ([]byte, error) {
	if err := checkHeader(f); err != nil {
		return nil, err
	}
	want := uint32(f[1]) | uint32(f[2])<<8 | uint32(f[3])<<16 | uint32(f[4])<<24
	c := crc32.Update(0, castagnoli, f[:1])
	c = crc32.Update(c, castagnoli, f[frameHeader:])
	if c != want {
		return nil, ErrChecksum
	}
	return f[frameHeader:], nil
}

// checkHeader checks what OpenFrame checks of a frame but its checksum.
func checkHeader(f []byte) error {
	if len(f) == 0 {
		return ErrEmptyFrame
	}
	if len(f) < frameHeader {
		return ErrShortFrame
	}
	if f[0] != FrameVersion {
		return fmt.Errorf("%w %d (this build reads %d)", ErrFrameVersion, f[0], FrameVersion)
	}
	return nil
}

// Encoder turns records into frames. It reuses its buffer: not safe for
// concurrent use, and a returned frame is valid until the next call.
// It encodes with the hand-written encoder (fastenc.go), which writes the
// bytes go-msgpack writes (encodeReference).
type Encoder struct {
	buf []byte
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	return &Encoder{buf: make([]byte, 0, 4096)}
}

// AppendRecord appends the frame of r to dst. It does not fail today; the
// error is kept for encodings that may.
func (e *Encoder) AppendRecord(dst []byte, r *Record) ([]byte, error) {
	start := len(dst)
	dst = append(dst, FrameVersion, 0, 0, 0, 0)
	dst = appendRecordPayload(dst, r)
	sealFrame(dst[start:])
	return dst, nil
}

// encodeReference returns the payload go-msgpack writes for r: the
// definition of the format the hand-written encoder is compared with.
func encodeReference(r *Record) ([]byte, error) {
	var out []byte
	if err := codec.NewEncoderBytes(&out, handle).Encode(r); err != nil {
		return nil, fmt.Errorf("encode record %d: %w", r.Pos, err)
	}
	return out, nil
}

// Frame returns the frame of r in a buffer reused by the next call.
func (e *Encoder) Frame(r *Record) ([]byte, error) {
	var err error
	e.buf, err = e.AppendRecord(e.buf[:0], r)
	return e.buf, err
}

// Decoder turns frames into records, reusing its state. Not safe for
// concurrent use. It decodes with the hand-written decoder (fastdec.go)
// and leaves to go-msgpack what that one does not read.
type Decoder struct {
	// names interns origins, procedure names and roles (fastdec.go).
	names map[string]string
	// dec is go-msgpack's decoder, made on first use.
	dec *codec.Decoder
	// large decodes payloads of 2^(k-1) bytes up to 2^k with the handle
	// of class k (sizedHandle), made on first use.
	large map[int]*codec.Decoder
}

// NewDecoder returns a Decoder. It is cheap: go-msgpack's decoder is made
// only when a payload needs it.
func NewDecoder() *Decoder {
	return &Decoder{names: map[string]string{}}
}

// smallPayload is the largest payload decoded with handle's MaxInitLen.
const smallPayload = 32 << 10

// initLenDivisor sets a large payload's MaxInitLen: its size over this. A
// value then decodes in at most this many steps; a slice of Writes (112
// bytes each, record_codecgen.go) claimed longer than the payload holds
// makes the decoder allocate at most 7 times the payload at first.
const initLenDivisor = 16

var (
	sizedMu      sync.Mutex
	sizedHandles = map[int]*codec.MsgpackHandle{}
)

// sizedHandle returns the handle for payloads of 2^(k-1) bytes up to 2^k.
// go-msgpack grows a decoded []byte MaxInitLen bytes at a time, copying
// it at each step: with handle's 256 bytes a value of 1 MiB took
// thousands of copies (opening 48 such values took over a minute). Its
// MaxInitLen scales with the payload instead (initLenDivisor), so a value
// decodes in a few steps, while what a claimed length can make the decoder
// allocate stays bounded by the payload's size. Payloads are frames read
// back from this instance's own journal (checksummed) or records from the
// authenticated peer, bounded by the link's MaxFrame.
func sizedHandle(k int) *codec.MsgpackHandle {
	sizedMu.Lock()
	defer sizedMu.Unlock()
	h := sizedHandles[k]
	if h == nil {
		h = MsgpackHandle()
		h.MaxInitLen = max(h.MaxInitLen, (1<<(k-1))/initLenDivisor)
		sizedHandles[k] = h
	}
	return h
}

// decoderFor returns the decoder of a payload of n bytes.
func (d *Decoder) decoderFor(n int) *codec.Decoder {
	if n <= smallPayload {
		if d.dec == nil {
			d.dec = codec.NewDecoderBytes(nil, handle)
		}
		return d.dec
	}
	k := bits.Len(uint(n))
	dec := d.large[k]
	if dec == nil {
		if d.large == nil {
			d.large = map[int]*codec.Decoder{}
		}
		dec = codec.NewDecoderBytes(nil, sizedHandle(k))
		d.large[k] = dec
	}
	return dec
}

// DecodeFrame checks frame f and decodes its record into r. The record does
// not alias f.
func (d *Decoder) DecodeFrame(f []byte, r *Record) error {
	p, err := OpenFrame(f)
	if err != nil {
		return err
	}
	return d.DecodePayload(p, r)
}

// DecodeFrameBorrow is DecodeFrame, but the record's byte strings (keys,
// values, before-images, args, result) alias f instead of a copy of it,
// so f must stay unchanged while they are used: for a frame read from the
// journal (which never changes what Read returned) decoded to be used and
// dropped, as replay and rollback do with most records, saving a copy and
// an allocation per record.
func (d *Decoder) DecodeFrameBorrow(f []byte, r *Record) error {
	p, err := OpenFrame(f)
	if err != nil {
		return err
	}
	return d.decodePayload(p, r, true)
}

// DecodeCheckedFrameBorrow is DecodeFrameBorrow for a frame whose
// checksum was checked already (a CheckedLog's, at open): it checks the
// frame's header as OpenFrame does, but not its checksum.
func (d *Decoder) DecodeCheckedFrameBorrow(f []byte, r *Record) error {
	if err := checkHeader(f); err != nil {
		return err
	}
	return d.decodePayload(f[frameHeader:], r, true)
}

// DecodePayload decodes a record payload (a frame's content) into r.
func (d *Decoder) DecodePayload(p []byte, r *Record) (err error) {
	return d.decodePayload(p, r, false)
}

func (d *Decoder) decodePayload(p []byte, r *Record, borrow bool) error {
	r.Reset()
	if err := decodeFast(p, r, d.names, borrow); err == nil {
		return r.validate()
	}
	// Left to go-msgpack: start again from a clean record (go-msgpack
	// decodes into the elements Reset keeps, without clearing them).
	clear(r.Reads[:cap(r.Reads)])
	clear(r.Ranges[:cap(r.Ranges)])
	clear(r.Writes[:cap(r.Writes)])
	r.Reset()
	return d.decodeReference(p, r)
}

// decodeReference decodes p into r (Reset) with go-msgpack: the reference
// the hand-written decoder is compared with, and the decoder of whatever
// that one leaves.
func (d *Decoder) decodeReference(p []byte, r *Record) error {
	dec := d.decoderFor(len(p))
	dec.ResetBytes(p)
	if err := dec.Decode(r); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return r.validate()
}

// validate rejects records that decode but cannot be journal records.
func (r *Record) validate() error {
	if r.Kind < KindLocal || r.Kind > KindCheckpoint {
		return fmt.Errorf("decode record: %v is not a record kind", r.Kind)
	}
	for i := range r.Writes {
		w := &r.Writes[i]
		if w.Op < OpSet || w.Op > OpAdd {
			return fmt.Errorf("decode record: write %d has %v", i, w.Op)
		}
		if len(w.Key) == 0 {
			return fmt.Errorf("decode record: write %d has an empty key", i)
		}
	}
	return nil
}

// Encoders and decoders are costly to build (a buffer and driver state
// each), and Marshal and Unmarshal run once or twice per call: pool them.
type pooledEncoder struct {
	buf []byte
	enc *codec.Encoder
}

var (
	encPool = sync.Pool{New: func() any {
		p := &pooledEncoder{buf: make([]byte, 0, 512)}
		p.enc = codec.NewEncoderBytes(&p.buf, handle)
		return p
	}}
	decPool = sync.Pool{New: func() any { return codec.NewDecoderBytes(nil, handle) }}
)

// Marshal encodes any msgpack-encodable value with the journal's settings.
func Marshal(v any) ([]byte, error) {
	p := encPool.Get().(*pooledEncoder)
	p.enc.ResetBytes(&p.buf)
	err := p.enc.Encode(v)
	var out []byte
	if err == nil {
		out = append([]byte(nil), p.buf...)
	}
	if cap(p.buf) <= 64<<10 { // do not keep a huge buffer alive
		encPool.Put(p)
	}
	return out, err
}

// Unmarshal decodes msgpack data into v with the journal's settings.
func Unmarshal(data []byte, v any) error {
	d := decPool.Get().(*codec.Decoder)
	d.ResetBytes(data)
	err := d.Decode(v)
	d.ResetBytes(nil)
	decPool.Put(d)
	return err
}
