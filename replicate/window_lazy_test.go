package replicate

import (
	"fmt"
	"testing"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
	"pgregory.net/rapid"
)

// TestLazyWindowChecksAsTheWholeWindow: the node builds its detect.Window
// only as far down as peer transactions' PeerSeens ask (materialize), yet
// every check answers what a window of all its own transactions above the
// floor would (DESIGN.md section 5), through start-ups, own commits,
// stable watermarks, reign changes and PeerSeens going up and down; and
// the window's size it reports is that window's.
func TestLazyWindowChecksAsTheWholeWindow(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		keys := rapid.IntRange(2, 12).Draw(rt, "keys")
		seq := uint64(0)
		mk := func(origin string, oseq, peerSeen uint64, rt *rapid.T) *journal.Record {
			r := &journal.Record{Kind: journal.KindLocal, Origin: origin, OSeq: oseq, PeerSeen: peerSeen}
			for range rapid.IntRange(1, 3).Draw(rt, "n") {
				k := []byte(fmt.Sprintf("k%d", rapid.IntRange(0, keys-1).Draw(rt, "k")))
				switch rapid.IntRange(0, 2).Draw(rt, "op") {
				case 0:
					r.Reads = append(r.Reads, journal.PointRead{Key: k})
				case 1:
					r.Writes = append(r.Writes, journal.Write{Key: k, Op: journal.OpSet})
				default:
					r.Writes = append(r.Writes, journal.Write{Key: k, Op: journal.OpAdd})
				}
			}
			return r
		}
		own := func(rt *rapid.T) *journal.Record {
			seq++
			r := mk("A", seq, 0, rt)
			r.Pos, r.HLC = seq+1, 10*seq
			return r
		}
		var recs []*journal.Record
		for range rapid.IntRange(0, 40).Draw(rt, "start") {
			recs = append(recs, own(rt))
		}
		n, err := NewNode(NodeConfig{ID: "A", PeerID: "B", Cluster: "c"}, NodeState{Role: RoleLiege, Reign: 1, Own: recs})
		if err != nil {
			rt.Fatal(err)
		}
		for step := range rapid.IntRange(1, 60).Draw(rt, "steps") {
			switch rapid.IntRange(0, 3).Draw(rt, "what") {
			case 0:
				r := own(rt)
				n.OwnCommitted(r)
				n.OwnDurable(r)
			case 1: // a stable watermark, never below the last in this reign
				st := rapid.Uint64Range(n.floor, seq).Draw(rt, "stable")
				n.stepHeartbeat(&link.Frame{Kind: link.KindHeartbeat, Watermark: seq, Stable: st})
			case 2:
				n.resetWindow()
			default:
				in := detect.FromRecord(mk("B", uint64(step+1), rapid.Uint64Range(0, seq).Draw(rt, "peerSeen"), rt))
				in.HLC = rapid.Uint64Range(0, 10*seq+10).Draw(rt, "hlc")
				n.materialize(in.PeerSeen)
				ref := detect.NewWindow()
				for i := range n.own {
					if n.own[i].seq > n.floor {
						ref.Add(n.ownTxn(i))
					}
				}
				got, want := hitsString(n.window.Check(in)), hitsString(ref.Check(in))
				if got != want {
					rt.Fatalf("step %d: PeerSeen %d, floor %d, built from %d: hits\n got %s\nwant %s", step, in.PeerSeen, n.floor, n.winFrom, got, want)
				}
			}
			wantLen := 0
			for i := range n.own {
				if n.own[i].seq > n.floor {
					wantLen++
				}
			}
			if got := n.windowLen(); got != wantLen {
				rt.Fatalf("step %d: window of %d own transactions, want %d (floor %d, built from %d)", step, got, wantLen, n.floor, n.winFrom)
			}
		}
	})
}

func hitsString(hs []detect.Hit) string {
	s := ""
	for _, h := range hs {
		s += fmt.Sprintf("%v %v %s; ", h.Own.ID, h.Check, h.Key)
	}
	return s
}
