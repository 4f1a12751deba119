package sim

import (
	"encoding/binary"

	"github.com/liege-db/liege/journal"
)

// skimTxn reads a record frame's Kind, Origin and OSeq without decoding the
// whole record (the trace names every frame; decoding each twice would
// cost the simulator a fifth of its time). ok is false if the frame is not
// what it expects; the caller then decodes it.
func skimTxn(frame []byte) (kind journal.Kind, id journal.TxID, ok bool) {
	p, err := journal.OpenFrame(frame)
	if err != nil || len(p) == 0 {
		return 0, id, false
	}
	switch c := p[0]; {
	case c >= 0x90 && c <= 0x9f:
		p = p[1:]
	case c == 0xdc && len(p) >= 3:
		p = p[3:]
	case c == 0xdd && len(p) >= 5:
		p = p[5:]
	default:
		return 0, id, false
	}
	var u [3]uint64
	for i := range u { // Pos, Epoch, Kind
		if u[i], p, ok = skimUint(p); !ok {
			return 0, id, false
		}
	}
	if id.Origin, p, ok = skimStr(p); !ok {
		return 0, id, false
	}
	if id.OSeq, _, ok = skimUint(p); !ok {
		return 0, id, false
	}
	return journal.Kind(u[2]), id, true
}

func skimUint(p []byte) (uint64, []byte, bool) {
	if len(p) == 0 {
		return 0, p, false
	}
	c := p[0]
	n := 0
	switch c {
	case 0xcc, 0xd0:
		n = 1
	case 0xcd, 0xd1:
		n = 2
	case 0xce, 0xd2:
		n = 4
	case 0xcf, 0xd3:
		n = 8
	}
	switch {
	case c <= 0x7f:
		return uint64(c), p[1:], true
	case n == 0 || len(p) < 1+n:
		return 0, p, false
	}
	var b [8]byte
	copy(b[8-n:], p[1:1+n])
	return binary.BigEndian.Uint64(b[:]), p[1+n:], true
}

func skimStr(p []byte) (string, []byte, bool) {
	if len(p) == 0 {
		return "", p, false
	}
	c := p[0]
	var n, h int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n, h = int(c&0x1f), 1
	case (c == 0xd9 || c == 0xc4) && len(p) >= 2:
		n, h = int(p[1]), 2
	case (c == 0xda || c == 0xc5) && len(p) >= 3:
		n, h = int(binary.BigEndian.Uint16(p[1:])), 3
	default:
		return "", p, false
	}
	if len(p) < h+n {
		return "", p, false
	}
	return string(p[h : h+n]), p[h+n:], true
}
