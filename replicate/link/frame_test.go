package link

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	frames := []*Frame{hello("A"), {Kind: KindHello, Cluster: "x", From: "B", Version: 1, Role: RoleLiege, WallClock: -5}}
	for i := range 7 {
		frames = append(frames, sample("A", i))
	}
	for _, f := range frames {
		b, err := Encode([]byte("prefix"), f)
		if err != nil {
			t.Fatalf("encode %+v: %v", f, err)
		}
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("Encode did not append to dst")
		}
		b = b[len("prefix"):]
		if n := binary.BigEndian.Uint32(b); int(n) != len(b)-headerLen {
			t.Fatalf("%v frame: header says %d, body is %d bytes", f.Kind, n, len(b)-headerLen)
		}
		var got Frame
		if err := Decode(b[headerLen:], &got); err != nil {
			t.Fatalf("decode %v frame: %v", f.Kind, err)
		}
		if !reflect.DeepEqual(&got, f) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, f)
		}
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	f := sample("A", 5) // a reconciliation log
	f.Kind, f.Records = KindTxn, nil
	f.Record = []byte("record")
	b := mustEncode(t, f)
	var got Frame
	if err := Decode(b[headerLen:], &got); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xff
	}
	if string(got.Record) != "record" || got.Cluster != testCluster {
		t.Fatalf("decoded frame changed with its input: %+v", got)
	}
}

// body encodes a wire frame without the checks Encode makes.
func body(t *testing.T, w wireFrame) []byte {
	t.Helper()
	b, err := journal.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRefuses(t *testing.T) {
	ok := wireFrame{Kind: KindHeartbeat, Cluster: testCluster, From: "A", Watermark: 3}
	with := func(change func(w *wireFrame)) wireFrame {
		w := ok
		change(&w)
		return w
	}
	for _, c := range []struct {
		name, want string
		w          wireFrame
	}{
		{"no kind", "kind(0) is not a frame kind", with(func(w *wireFrame) { w.Kind = 0 })},
		{"kind in the gap before the seeding kinds", "kind(11) is not a frame kind", with(func(w *wireFrame) { w.Kind = KindForwardAnswer + 1 })},
		{"kind after the last", "kind(19) is not a frame kind", with(func(w *wireFrame) { w.Kind = KindSeed + 1 })},
		{"no cluster", "names no cluster", with(func(w *wireFrame) { w.Cluster = "" })},
		{"no sender", "names no sender", with(func(w *wireFrame) { w.From = "" })},
		{"field of another kind", "heartbeat frame sets Record, Subject", with(func(w *wireFrame) { w.Record, w.Subject = blob("r"), "A/1" })},
		{"hello without version", "no protocol version", wireFrame{Kind: KindHello, Cluster: "c", From: "A", Role: RoleLiege}},
		{"hello with a bad role", `role "king"`, wireFrame{Kind: KindHello, Cluster: "c", From: "A", Version: 1, Role: "king"}},
		{"txn without record", "txn frame has no record", wireFrame{Kind: KindTxn, Cluster: "c", From: "A", Prev: 1}},
		{"rollback command without subject", "malformed TxID", wireFrame{Kind: KindRollbackCommand, Cluster: "c", From: "A"}},
		{"rollback command, bad subject", "malformed TxID", wireFrame{Kind: KindRollbackCommand, Cluster: "c", From: "A", Subject: "A/0"}},
		{"rollback answer, bad subject", "malformed TxID", wireFrame{Kind: KindRollbackAnswer, Cluster: "c", From: "A", Subject: "A"}},
		{"empty reconciliation log", "has no records", wireFrame{Kind: KindReconLog, Cluster: "c", From: "A"}},
		{"reconciliation log with an empty record", "record 1 is empty", wireFrame{Kind: KindReconLog, Cluster: "c", From: "A", Records: []blob{{1}, nil}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f Frame
			err := Decode(body(t, c.w), &f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			// Encode refuses what Decode refuses.
			f = Frame{Kind: c.w.Kind, Cluster: c.w.Cluster, From: c.w.From, Version: c.w.Version, Role: c.w.Role,
				Watermark: c.w.Watermark, Prev: c.w.Prev, Record: c.w.Record, Subject: c.w.Subject}
			for _, r := range c.w.Records {
				f.Records = append(f.Records, r)
			}
			if _, err := Encode(nil, &f); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("encode: got %v, want an error containing %q", err, c.want)
			}
		})
	}

	// Byte-level damage.
	good := body(t, ok)
	// The record "x" as a msgpack str instead of bin.
	strRecord := bytes.Replace(body(t, wireFrame{Kind: KindTxn, Cluster: "c", From: "A", Record: blob("x")}),
		[]byte{0xc4, 0x01, 'x'}, []byte{0xa1, 'x'}, 1)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"trailing bytes": append(append([]byte(nil), good...), 0xc0),
		"cut short":      good[:len(good)-1],
		"not an array":   {0x05},
		"record as str":  strRecord,
	} {
		var f Frame
		if err := Decode(b, &f); err == nil {
			t.Errorf("%s: decoded as %+v", name, f)
		}
	}
}

// TestDecodeBoundedAllocation feeds lengths that claim far more than the
// body holds.
func TestDecodeBoundedAllocation(t *testing.T) {
	prefix := body(t, wireFrame{Kind: KindReconLog, Cluster: "c", From: "A", Records: []blob{{1}}})
	// The Records array is followed by Reign and Stable (0, 0), Chunk
	// (nil), Offset and Total (0, 0): fixarray of 1 (0x91), bin8 of 1,
	// then two zeros, a nil and two zeros.
	tail := []byte{0x91, 0xc4, 0x01, 0x01, 0x00, 0x00, 0xc0, 0x00, 0x00}
	if !bytes.HasSuffix(prefix, tail) {
		t.Fatalf("unexpected encoding %x", prefix)
	}
	head := prefix[:len(prefix)-len(tail)]
	for name, b := range map[string][]byte{
		"array of 4G records":  append(bytes.Clone(head), 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc4, 0x01, 0x01),
		"record of 4 GiB":      append(bytes.Clone(head), 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01),
		"cluster of 4 GiB":     {0x9c, byte(KindAck), 0xdb, 0xff, 0xff, 0xff, 0xff, 'c'},
		"frame of 4G elements": {0xdd, 0xff, 0xff, 0xff, 0xff, byte(KindAck)},
		"map of 4G entries":    {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		var err error
		n := allocated(func() { err = Decode(b, new(Frame)) })
		if err == nil {
			t.Errorf("%s: decoded", name)
		}
		if n > 64<<10 {
			t.Errorf("%s: %d bytes allocated for a %d-byte body", name, n, len(b))
		}
	}
}

// TestDecodeLargeRecord: go-msgpack, with the journal's MaxInitLen, grows a
// decoded []byte 256 bytes at a time, copying it at each step (6 s and
// gigabytes for 4 MiB); the frame's blobs are decoded in one copy.
func TestDecodeLargeRecord(t *testing.T) {
	f := txn("A", 1, DefaultMaxFrame-64)
	b := mustEncode(t, f)
	var got Frame
	var err error
	n := allocated(func() { err = Decode(b[headerLen:], &got) })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Record, f.Record) {
		t.Fatal("record differs")
	}
	if n > 3*DefaultMaxFrame {
		t.Fatalf("decoding a %d-byte record allocated %d bytes", len(f.Record), n)
	}
}

// TestMaxFrameBoundary: a body of exactly MaxFrame bytes passes, one more
// does not, on the sending and the receiving side.
func TestMaxFrameBoundary(t *testing.T) {
	const limit = 1000
	// Find the record size whose frame body is exactly limit bytes.
	size := limit
	for len(mustEncode(t, txn("A", 1, size)))-headerLen > limit {
		size--
	}
	exact := txn("A", 1, size)
	if n := len(mustEncode(t, exact)) - headerLen; n != limit {
		t.Fatalf("no record size gives a %d-byte body (got %d)", limit, n)
	}
	a, b := Pipe("A", "B", MemOptions{MaxFrame: limit, Logger: quiet})
	defer func() { _ = a.Close() }()
	defer func() { _ = b.Close() }()
	shake(t, a, b)
	ctx := testCtx(t)
	if err := a.Send(ctx, exact); err != nil {
		t.Fatalf("frame of exactly MaxFrame: %v", err)
	}
	if f := mustRecv(t, b); !reflect.DeepEqual(f, exact) {
		t.Fatal("frame of exactly MaxFrame arrived changed")
	}
	over := txn("A", 1, size+1)
	if err := a.Send(ctx, over); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("send of MaxFrame+1: got %v", err)
	}
	if err := a.sendRaw(mustEncode(t, over)); err != nil {
		t.Fatal(err)
	}
	_, err := b.Recv(ctx)
	var fe *FrameError
	if !errors.As(err, &fe) || fe.Size != limit+1 || fe.Limit != limit || !strings.Contains(err.Error(), "1001 bytes is over the limit of 1000 bytes") {
		t.Fatalf("recv of MaxFrame+1: got %v", err)
	}
	if _, err := b.Recv(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("recv after an oversized frame: %v", err)
	}
}

func TestKindString(t *testing.T) {
	if KindRollbackCommand.String() != "rollback command" || Kind(0).String() != "kind(0)" {
		t.Fatal(KindRollbackCommand.String(), Kind(0).String())
	}
}

// A frame encoded before Reign and Stable existed (a 12-element array)
// decodes, with both zero: the fields are additive.
func TestDecodeFrameWithoutReign(t *testing.T) {
	old := struct {
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
		Record    []byte
		Subject   string
		Records   [][]byte
	}{Kind: KindHeartbeat, Cluster: testCluster, From: "A", Epoch: 2, Watermark: 5, Prev: 9}
	b, err := journal.Marshal(&old)
	if err != nil {
		t.Fatal(err)
	}
	var f Frame
	if err := Decode(b, &f); err != nil {
		t.Fatalf("decode a frame without Reign and Stable: %v", err)
	}
	want := Frame{Kind: KindHeartbeat, Cluster: testCluster, From: "A", Epoch: 2, Watermark: 5, Prev: 9}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v, want %+v", f, want)
	}
	// Reign and Stable round-trip; Stable only in a heartbeat.
	hb := &Frame{Kind: KindHeartbeat, Cluster: testCluster, From: "A", Reign: 3, Stable: 4, Watermark: 5}
	var got Frame
	if err := Decode(mustEncode(t, hb)[headerLen:], &got); err != nil || !reflect.DeepEqual(&got, hb) {
		t.Fatalf("round trip of %+v: got %+v, %v", hb, got, err)
	}
	if _, err := Encode(nil, &Frame{Kind: KindTxn, Cluster: testCluster, From: "A", Record: []byte{1}, Stable: 1}); err == nil ||
		!strings.Contains(err.Error(), "sets Stable") {
		t.Fatalf("a txn frame with Stable encoded: %v", err)
	}
}
