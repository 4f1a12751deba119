package link

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// randomFrame returns a frame of a random kind, each field its kind
// carries set to a value at or near a boundary of msgpack's encodings.
func randomFrame(r *rand.Rand) *Frame {
	uints := []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	ints := []int64{0, 1, -1, -32, -33, 127, 128, -128, -129, 32767, 32768, -32768, -32769,
		math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64}
	lens := []int{0, 1, 31, 32, 255, 256, 65535, 65536}
	u := func() uint64 {
		if r.IntN(4) == 0 {
			return r.Uint64() >> r.IntN(64)
		}
		return uints[r.IntN(len(uints))]
	}
	str := func() string { return strings.Repeat("s", lens[r.IntN(len(lens))]) }
	bin := func() []byte {
		b := make([]byte, max(1, lens[r.IntN(len(lens))]))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	f := &Frame{Cluster: "c" + str(), From: "A" + str(), Epoch: u(), Reign: u()}
	kinds := []Kind{KindHello, KindTxn, KindHeartbeat, KindResend, KindRollbackCommand, KindRollbackAnswer,
		KindReconLog, KindAck, KindForward, KindForwardAnswer, KindSeedOffer, KindSeedRequest, KindSeed}
	f.Kind = kinds[r.IntN(len(kinds))]
	carries := kindFields[f.Kind]
	if carries&fVersion != 0 {
		f.Version = uint16(1 + u()%math.MaxUint16)
	}
	if carries&fRole != 0 {
		f.Role = RoleVassal
	}
	if carries&fWatermark != 0 {
		f.Watermark = u()
	}
	if carries&fWallClock != 0 {
		f.WallClock = ints[r.IntN(len(ints))]
	}
	if carries&fPrev != 0 {
		f.Prev = u()
	}
	if carries&fRecord != 0 {
		f.Record = bin()
	}
	if carries&fSubject != 0 && (f.Kind == KindRollbackCommand || r.IntN(2) == 0) {
		f.Subject = "B/" + "12345"
	}
	if carries&fRecords != 0 {
		f.Records = make([][]byte, 1+r.IntN(20))
		for i := range f.Records {
			f.Records[i] = bin()
		}
	}
	if carries&fStable != 0 {
		f.Stable = u()
	}
	if carries&fChunk != 0 {
		f.Chunk = bin()
		f.Total = uint64(len(f.Chunk)) + u()%1000
		f.Offset = f.Total - uint64(len(f.Chunk))
	}
	return f
}

// TestFastFrameMatchesReference: the hand-written encoder writes what
// go-msgpack writes, and the fast decoder reads it (without falling back)
// to the frame go-msgpack reads.
func TestFastFrameMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 14))
	c := newFrameCodec()
	for i := range 3000 {
		f := randomFrame(r)
		got, err := c.appendFrame(nil, f)
		if err != nil {
			t.Fatalf("frame %d %+v: %v", i, f, err)
		}
		want, err := c.appendFrameReference(nil, f)
		if err != nil {
			t.Fatalf("frame %d %+v: reference: %v", i, f, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d (%v) encodes differently from go-msgpack:\n got %x\nwant %x", i, f.Kind, head(got), head(want))
		}
		var fast, ref Frame
		if err := decodeFastFrame(got[headerLen:], &fast, "", "", false); err != nil {
			t.Fatalf("frame %d (%v): the fast decoder left its own encoding to go-msgpack: %v", i, f.Kind, err)
		}
		if err := c.decodeReference(got[headerLen:], &ref); err != nil {
			t.Fatalf("frame %d (%v): reference decode: %v", i, f.Kind, err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("frame %d (%v) decodes differently:\nfast %+v\n ref %+v", i, f.Kind, fast, ref)
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 96)] }

// TestFastFrameReusesNames: a frame from the same cluster and sender as
// the one before reuses its strings, and the byte strings of a frame
// share one copy of the body that does not alias it.
func TestFastFrameReusesNames(t *testing.T) {
	c := newFrameCodec()
	f := txn("A", 7, 100)
	b, err := c.appendFrame(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	body := b[headerLen:]
	var first, second Frame
	if err := c.decode(body, &first, false); err != nil {
		t.Fatal(err)
	}
	// The least of a few decodes: allocated counts the whole process, and
	// a goroutine left over from an earlier test may allocate meanwhile.
	n := uint64(math.MaxUint64)
	for range 5 {
		second = Frame{}
		n = min(n, allocated(func() { err = c.decode(body, &second, false) }))
		if err != nil {
			t.Fatal(err)
		}
	}
	if n > uint64(len(body))+64 {
		t.Fatalf("decoding a %d-byte txn frame again allocated %d bytes: more than one copy of the body", len(body), n)
	}
	if !reflect.DeepEqual(first, second) || !reflect.DeepEqual(second.Record, f.Record) {
		t.Fatalf("the same body decoded twice differs:\n%+v\n%+v", first, second)
	}
	clear(body)
	if !bytes.Equal(second.Record, f.Record) {
		t.Fatal("the decoded record aliases the body")
	}
}

// FuzzFastFrameDecode: on any body, the fast decoder either leaves it to
// go-msgpack or reads what go-msgpack reads; and decode (both, then
// validate) accepts what the reference decoder and validate accept.
func FuzzFastFrameDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(2, 14))
	for range 20 {
		fr := randomFrame(r)
		if b, err := Encode(nil, fr); err == nil && len(b) < 4096 {
			f.Add(b[headerLen:])
		}
	}
	f.Add(mustEncode(f, hello("A"))[headerLen:])
	f.Add([]byte{0xdc, 0x00, 0x11})
	f.Fuzz(func(t *testing.T, body []byte) {
		c := newFrameCodec()
		var fast, ref Frame
		ferr := decodeFastFrame(body, &fast, "c", "A", false)
		rerr := c.decodeReference(body, &ref)
		if ferr != nil {
			if !errors.Is(ferr, errSlowFrame) {
				t.Fatalf("fast decoder failed with %v, not errSlowFrame", ferr)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("fast decoder read %+v where go-msgpack refuses: %v", fast, rerr)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("decoded differently:\nfast %+v\n ref %+v", fast, ref)
		}
	})
}
