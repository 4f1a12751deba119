package replicate_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/pairtest"
	"github.com/liege-db/liege/replicate"
	"github.com/liege-db/liege/replicate/link"
)

// liegeOverTCP opens a liege A listening for its peer B on loopback
// (plaintext), logging into lb.
func liegeOverTCP(t *testing.T, lb *pairtest.LogBuffer) (*liege.DB, *replicate.Replicator, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: "A", PeerID: "B", Role: liege.RoleLiege, CheckpointEvery: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := registerOps(db); err != nil {
		t.Fatal(err)
	}
	l, err := link.ListenTCP("127.0.0.1:0", link.Config{Plaintext: true, MaxFrame: 64 << 10, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	rep, err := replicate.Start(replicate.Config{Host: db, Cluster: "test", Listener: l, Heartbeat: 10 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rep.Close() })
	return db, rep, l.Addr()
}

// vassalOverTCP opens a vassal B dialing addr with the given cluster and
// clock.
func vassalOverTCP(t *testing.T, addr, id, cluster string, now func() time.Time) (*liege.DB, *replicate.Replicator) {
	t.Helper()
	db, err := liege.Open(liege.Options{Dir: t.TempDir(), ID: id, PeerID: "A", Role: liege.RoleVassal, CheckpointEvery: -1,
		Logger: testLogger(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := registerOps(db); err != nil {
		t.Fatal(err)
	}
	d, err := link.DialTCP(addr, link.Config{Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replicate.Start(replicate.Config{Host: db, Cluster: cluster, Dialer: d, Heartbeat: 10 * time.Millisecond,
		Logger: testLogger(t), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rep.Close() })
	return db, rep
}

// waitLog waits until the log holds want.
func waitLog(t *testing.T, lb *pairtest.LogBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(lb.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", want, lb)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBadInputIsRefusedAndTheInstanceKeepsServing(t *testing.T) {
	lb := &pairtest.LogBuffer{}
	db, rep, addr := liegeOverTCP(t, lb)
	raw := func(b []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(b)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var buf [1]byte
		if _, err := c.Read(buf[:]); err == nil {
			// The Hello it sends first is fine; the connection must close after.
			for err == nil {
				_, err = c.Read(buf[:])
			}
		}
	}

	// A frame claiming 4 GiB: refused before anything is allocated.
	var huge [4]byte
	binary.BigEndian.PutUint32(huge[:], 0xffffffff)
	raw(huge[:])
	waitLog(t, lb, "over the limit")

	// Garbage that is not msgpack.
	raw(append([]byte{0, 0, 0, 8}, "garbage!"...))
	waitLog(t, lb, "refused")

	// A well-formed peer of another cluster.
	_, other := vassalOverTCP(t, addr, "B", "other", nil)
	waitLog(t, lb, `cluster \"other\"`)
	other.Close()

	// A peer whose clock is 5 s ahead (the bound is 500 ms).
	_, skewed := vassalOverTCP(t, addr, "B", "test", func() time.Time { return time.Now().Add(5 * time.Second) })
	waitLog(t, lb, "over the bound of 500ms")
	skewed.Close()

	// An instance that is not the configured peer.
	_, stranger := vassalOverTCP(t, addr, "C", "test", nil)
	waitLog(t, lb, `calls itself \"C\"`)
	stranger.Close()

	if st, err := db.Status(context.Background()); err != nil || st.PeerWatermark != 0 {
		t.Fatalf("something was applied from a refused peer: %+v %v", st, err)
	}
	// The real vassal still gets through, and its transaction is applied.
	vdb, vrep := vassalOverTCP(t, addr, "B", "test", nil)
	r, err := vdb.Call(context.Background(), "ops", opsArgs{Ops: []op{{Op: "set", K: "x", V: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.WaitApplied(ctx, liege.Token{"B": r.TxID.OSeq}); err != nil {
		t.Fatalf("the liege did not apply the real vassal's transaction: %v\n%+v", err, vrep.Status())
	}
	if rep.Status().Refused != "" {
		t.Errorf("Refused still set after a good session: %q", rep.Status().Refused)
	}
}
