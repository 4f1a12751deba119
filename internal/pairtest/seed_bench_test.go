package pairtest_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/pairtest"
)

// fillArgs are the arguments of "fill": keys ("fill", From .. From+N-1).
type fillArgs struct{ From, N int64 }

func registerFill(db liege.Registrar) error {
	if err := register(db); err != nil {
		return err
	}
	return liege.Register(db, liege.Procedure[fillArgs, int64]{
		Name: "fill",
		Run: func(tx *liege.Tx, a fillArgs) (int64, error) {
			for i := a.From; i < a.From+a.N; i++ {
				tx.Set(liege.K("fill", i), "value-of-some-twenty-four-b")
			}
			return a.N, nil
		},
		Correct: func(*liege.Tx, fillArgs, int64, int64) (any, error) { return nil, nil },
	})
}

// BenchmarkSeedKeys measures how long an empty vassal takes to be seeded
// from a liege holding LIEGE_SEED_KEYS keys (default 1,000,000) whose
// journal no longer holds what the vassal needs, until the pair is idle:
// the checkpoint's encoding, transfer over the in-memory link, install and
// catching up. b.N is not used: run it with -benchtime=1x.
//
//	go test -run '^$' -bench BenchmarkSeedKeys -benchtime=1x ./internal/pairtest
func BenchmarkSeedKeys(b *testing.B) {
	keys := int64(1_000_000)
	if s := os.Getenv("LIEGE_SEED_KEYS"); s != "" {
		var err error
		if keys, err = strconv.ParseInt(s, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	p := pairtest.New(b, registerFill, pairtest.WithHeartbeat(50*time.Millisecond), pairtest.WithOptions(func(o *liege.Options) {
		o.CheckpointEvery, o.JournalKeep = 20, 1
	}))
	const batch = 2_000
	for from := int64(0); from < keys; from += batch {
		p.Call(p.A(), "fill", fillArgs{From: from, N: min(batch, keys-from)})
	}
	p.Idle() // the vassal applied it all: the liege may truncate up to here
	if err := p.A().Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	p.Partition(true)
	p.RestartEmpty(p.B())
	for i := 0; i < 50; i++ { // records past the checkpoint to truncate to
		p.Call(p.A(), "put", putArgs{K: fmt.Sprint(i), V: "x"})
	}
	if err := p.A().Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	t0 := time.Now()
	p.Partition(false)
	p.Idle()
	took := time.Since(t0)
	b.StopTimer()
	if _, bDir := p.Dirs(); !fileExists(bDir + "/journal-front") {
		b.Fatal("the vassal was not seeded")
	}
	if n := len(p.State(p.B())); int64(n) != keys+50 {
		b.Fatalf("the seeded vassal holds %d keys, want %d", n, keys+50)
	}
	b.ReportMetric(took.Seconds(), "seed-s")
	b.ReportMetric(float64(keys), "keys")
}
