package rollback

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/liege-db/liege/journal"
)

// frames is a Journal of encoded records, read only, that fails a read at
// bad.
type frames struct {
	f   map[uint64][]byte
	bad uint64
}

func (j *frames) Next() uint64                { return uint64(len(j.f)) + 1 }
func (j *frames) Append(uint64, []byte) error { return errors.New("read only") }
func (j *frames) Flush() error                { return nil }
func (j *frames) TruncateAfter(uint64) error  { return errors.New("read only") }
func (j *frames) Read(pos uint64) ([]byte, error) {
	if pos == j.bad {
		return nil, fmt.Errorf("bad sector at %d", pos)
	}
	f, ok := j.f[pos]
	if !ok {
		return nil, journal.ErrNotFound
	}
	return f, nil
}

// rangeFrames is frames read newest first by ReadBackward, as the file
// journal is (backwardReader), each frame in one buffer that is wiped
// once fn returns.
type rangeFrames struct{ *frames }

func (j rangeFrames) ReadBackward(from, to uint64, fn func(uint64, []byte) error) error {
	var buf []byte
	for p := to; p >= from && p <= to; p-- {
		f, err := j.Read(p)
		if err != nil {
			return err
		}
		buf = append(buf[:0], f...)
		err = fn(p, buf)
		clear(buf)
		if err != nil {
			return err
		}
	}
	return nil
}

// journals returns fr read both ways: one position at a time, and
// newest first by ReadBackward.
func journals(fr *frames) map[string]Journal {
	return map[string]Journal{"Read": fr, "ReadBackward": rangeFrames{fr}}
}

func newFrames(t *testing.T, n int) *frames {
	t.Helper()
	enc := journal.NewEncoder()
	j := &frames{f: map[uint64][]byte{}}
	for p := uint64(1); p <= uint64(n); p++ {
		r := journal.Record{Pos: p, Epoch: 1, Kind: journal.KindLocal, Origin: "A", OSeq: p, HLC: 10 * p,
			Writes: []journal.Write{{Key: []byte(fmt.Sprint(p)), Op: journal.OpSet, Value: []byte{byte(p)}}}}
		f, err := enc.Frame(&r)
		if err != nil {
			t.Fatal(err)
		}
		j.f[p] = bytes.Clone(f)
	}
	return j
}

// visitFrames is a visit of newFrames' records: it checks that each is
// the record of its position, appends the position to seen, and stops
// with an error at stopAt.
func visitFrames(seen *[]uint64, stopAt uint64) func(p uint64, r *journal.Record) error {
	return func(p uint64, r *journal.Record) error {
		if r.Pos != p || r.HLC != 10*p {
			return fmt.Errorf("at %d got the record of position %d", p, r.Pos)
		}
		*seen = append(*seen, p)
		if p == stopAt {
			return errors.New("stop")
		}
		return nil
	}
}

// backward visits the same records in the same order, newest first, with
// and without decoding ahead, over several chunks, and stops at the first
// error, from a read or from fn, having visited what came before it.
func TestBackwardDecodeAhead(t *testing.T) {
	const n = 3*decodeChunk + 17
	fr := newFrames(t, n)
	for name, j := range journals(fr) {
		t.Run(name, func(t *testing.T) {
			visit := func(ahead bool, head, target uint64, stopAt uint64) ([]uint64, error) {
				var seen []uint64
				err := backward(Env{Journal: j, DecodeAhead: ahead}, head, target, visitFrames(&seen, stopAt))
				return seen, err
			}
			for _, c := range []struct{ head, target uint64 }{{n, 1}, {n, 2}, {n - 5, decodeChunk}, {40, 3}, {7, 7}} {
				seq, err1 := visit(false, c.head, c.target, 0)
				ahead, err2 := visit(true, c.head, c.target, 0)
				if err1 != nil || err2 != nil {
					t.Fatalf("%d..%d: %v, %v", c.head, c.target, err1, err2)
				}
				if want := int(c.head - c.target + 1); len(seq) != want || fmt.Sprint(seq) != fmt.Sprint(ahead) {
					t.Fatalf("%d..%d: inline visited %d records, ahead %d, want %d in the same order", c.head, c.target, len(seq), len(ahead), want)
				}
				if seq[0] != c.head || seq[len(seq)-1] != c.target {
					t.Fatalf("%d..%d: visited %d..%d", c.head, c.target, seq[0], seq[len(seq)-1])
				}
			}
			for _, ahead := range []bool{false, true} {
				seen, err := visit(ahead, n, 1, 2*decodeChunk)
				if err == nil || err.Error() != "stop" || len(seen) != n-2*decodeChunk+1 {
					t.Fatalf("ahead %v: fn's error: got %v after %d records", ahead, err, len(seen))
				}
				fr.bad = decodeChunk + 3
				seen, err = visit(ahead, n, 1, 0)
				fr.bad = 0
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte("bad sector")) || len(seen) != n-decodeChunk-3 {
					t.Fatalf("ahead %v: read error: got %v after %d records, want it after %d", ahead, err, len(seen), n-decodeChunk-3)
				}
			}
		})
	}
}
