package journal

import "testing"

func ticketRecord() *Record {
	v := make([]byte, 100)
	return &Record{Pos: 12345, Epoch: 1, Kind: KindLocal, Origin: "A", OSeq: 12000, HLC: 1 << 40, Proc: "buy",
		Args:   []byte{0x93, 0xa4, 'g', 'a', 'l', 'a', 12, 0xa5, 'a', 'l', 'i', 'c', 'e'},
		Result: []byte{0xa2, 'o', 'k'},
		Reads:  []PointRead{{Key: []byte("\x02seat\x00\x02gala\x00\x15\x0c")}},
		Writes: []Write{{Key: []byte("\x02seat\x00\x02gala\x00\x15\x0c"), Op: OpSet, Value: v}, {Key: []byte("\x02tix\x00\x15\x0c"), Op: OpSet, Value: v}},
	}
}

func BenchmarkEncodeRecord(b *testing.B) {
	e := NewEncoder()
	r := ticketRecord()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Frame(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	e := NewEncoder()
	f, _ := e.Frame(ticketRecord())
	f = append([]byte(nil), f...)
	d := NewDecoder()
	var r Record
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := d.DecodeFrame(f, &r); err != nil {
			b.Fatal(err)
		}
	}
}
