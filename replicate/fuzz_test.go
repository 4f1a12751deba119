package replicate

import (
	"testing"
	"time"

	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// FuzzHandshake feeds arbitrary frame bodies through the frame decoder and
// the handshake's checks: no panic, and a Hello is accepted only when it
// names this cluster, the expected peer, the other role, this protocol and
// a clock within the bound.
func FuzzHandshake(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	good := &link.Frame{Kind: link.KindHello, Cluster: "c", From: "A", Epoch: 3, Version: link.ProtocolVersion,
		Role: link.RoleLiege, Watermark: 9, Prev: 12, WallClock: now.UnixNano()}
	for _, fr := range []*link.Frame{good,
		{Kind: link.KindHello, Cluster: "other", From: "A", Version: link.ProtocolVersion, Role: link.RoleLiege, WallClock: now.UnixNano()},
		{Kind: link.KindHello, Cluster: "c", From: "A", Version: 99, Role: link.RoleLiege, WallClock: now.UnixNano()},
		{Kind: link.KindHello, Cluster: "c", From: "A", Version: link.ProtocolVersion, Role: link.RoleVassal, WallClock: now.UnixNano()},
		{Kind: link.KindHello, Cluster: "c", From: "A", Version: link.ProtocolVersion, Role: link.RoleLiege, WallClock: now.Add(time.Hour).UnixNano()},
		{Kind: link.KindTxn, Cluster: "c", From: "A", Prev: 1, Record: []byte{1, 2, 3}},
	} {
		b, err := link.Encode(nil, fr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[4:])
	}
	mine := &link.Frame{Kind: link.KindHello, Cluster: "c", From: "B", Version: link.ProtocolVersion, Role: link.RoleVassal}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fr link.Frame
		if err := link.Decode(body, &fr); err != nil {
			return
		}
		err := checkHello(&fr, mine, "c", "A", now, 500*time.Millisecond)
		ok := fr.Kind == link.KindHello && fr.Cluster == "c" && fr.From == "A" && fr.Version == link.ProtocolVersion &&
			fr.Role == link.RoleLiege && time.Unix(0, fr.WallClock).Sub(now).Abs() <= 500*time.Millisecond
		if (err == nil) != ok {
			t.Fatalf("checkHello(%+v) = %v, want accepted %v", fr, err, ok)
		}
		if fr.Kind == link.KindTxn {
			var r journal.Record
			_ = journal.NewDecoder().DecodeFrame(fr.Record, &r) // must not panic
		}
	})
}
