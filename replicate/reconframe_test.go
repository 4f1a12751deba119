package replicate

import (
	"strings"
	"testing"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// TestReconLogFramesKeepTheBudget: a reconciliation log travels in frames
// whose records stay within NodeConfig.FrameBudget bytes (a record larger
// than the budget alone in its frame) and reconLogChunk records, in OSeq
// order, every record once: a frame over the link's limit would close the
// link every time the log is sent, and reconciliation would never end.
func TestReconLogFramesKeepTheBudget(t *testing.T) {
	const budget = 4000
	n, err := NewNode(NodeConfig{ID: "B", PeerID: "A", Cluster: "c", FrameBudget: budget}, NodeState{Role: RoleVassal, Reign: 1})
	if err != nil {
		t.Fatal(err)
	}
	var log []*journal.Record
	for i := 1; i <= 700; i++ {
		size := 300
		if i%97 == 0 {
			size = 3 * budget // larger than a frame's budget
		}
		log = append(log, &journal.Record{Kind: journal.KindLocal, Origin: "B", OSeq: uint64(i), HLC: uint64(i),
			Proc: "p", Args: []byte(strings.Repeat("x", size))})
	}
	n.sendLog(log)
	rd := n.Ready()
	var next uint64 = 1
	dec := journal.NewDecoder()
	for _, m := range rd.Messages {
		if m.Frame.Kind != link.KindReconLog {
			t.Fatalf("sent a %v frame, want only reconciliation log frames", m.Frame.Kind)
		}
		size := 0
		for _, b := range m.Frame.Records {
			size += len(b)
			var r journal.Record
			if err := dec.DecodeFrame(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.OSeq != next {
				t.Fatalf("record B/%d where B/%d comes next", r.OSeq, next)
			}
			next++
		}
		if n := len(m.Frame.Records); n > reconLogChunk || n > 1 && size > budget {
			t.Fatalf("a frame of %d records, %d bytes: want at most %d records and %d bytes, or one record", n, size, reconLogChunk, budget)
		}
	}
	if next != 701 {
		t.Fatalf("the frames carried records up to B/%d, want all 700", next-1)
	}
}
