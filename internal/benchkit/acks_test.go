package benchkit

import (
	"testing"
	"time"
)

func TestAckTimes(t *testing.T) {
	base := time.Unix(1000, 0)
	a := newAckTimes(base)
	at := base.Add(1500 * time.Millisecond)
	a.store(7, at)
	if _, ok := a.take(8); ok {
		t.Fatal("take(8) found an OSeq never stored")
	}
	got, ok := a.take(7)
	if !ok || !got.Equal(at) {
		t.Fatalf("take(7) = %v %v; want %v true", got, ok, at)
	}
	if _, ok := a.take(7); ok {
		t.Fatal("take(7) found it again: each OSeq is taken once")
	}
	// An OSeq overwritten by the one a ring later is gone; the later one
	// is there, with its own time.
	a.store(9, at)
	a.store(9+ackRingSize, at.Add(time.Second))
	if _, ok := a.take(9); ok {
		t.Fatal("take(9) found an OSeq overwritten by the one a ring later")
	}
	if got, ok := a.take(9 + ackRingSize); !ok || !got.Equal(at.Add(time.Second)) {
		t.Fatalf("take(9+ring) = %v %v; want %v true", got, ok, at.Add(time.Second))
	}
	// OSeq 0 of a lap and a time at base are told from an empty slot.
	a.store(1<<ackOSeqBits, base)
	if got, ok := a.take(1 << ackOSeqBits); !ok || !got.Equal(base) {
		t.Fatalf("take(2^24) = %v %v; want %v true", got, ok, base)
	}
	if _, ok := a.take(0); ok {
		t.Fatal("take(0) found an empty slot")
	}
}
