package benchkit

import (
	"context"
	"testing"
	"time"
)

func TestPacerDue(t *testing.T) {
	start := time.Unix(1000, 0)
	p := newPacer(start, 40_000)
	for _, c := range []struct {
		n    int64
		want time.Duration
	}{{0, 0}, {1, 25 * time.Microsecond}, {40_000, time.Second}, {100_001, 2*time.Second + 500*time.Millisecond + 25*time.Microsecond}} {
		if got := p.due(c.n).Sub(start); got != c.want {
			t.Errorf("due(%d) = start+%v, want start+%v", c.n, got, c.want)
		}
	}
}

func TestPacerWait(t *testing.T) {
	// Every call is long due: wait claims them one after another without
	// waiting.
	p := newPacer(time.Now().Add(-time.Hour), 1)
	for i := range 5 {
		if !p.wait(context.Background()) {
			t.Fatalf("wait %d of a call due an hour ago returned false", i)
		}
	}
	if got := p.next.Load(); got != 5 {
		t.Fatalf("5 waits claimed %d calls", got)
	}
	// The next call is due in an hour: wait gives up when ctx ends, or
	// at once when ctx ends before then.
	p = newPacer(time.Now().Add(time.Hour), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p.wait(ctx) {
		t.Fatal("wait for a call due in an hour returned true with its context cancelled")
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if p.wait(ctx) {
		t.Fatal("wait for a call due in an hour returned true with a context ending in a minute")
	}
}

func TestRunReplicateShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two replicating instances (-short)")
	}
	res, err := RunReplicate(context.Background(), ReplicateConfig{Dir: t.TempDir(), Callers: 4, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Rate: 2000, ValueSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged || res.CallerErrors != 0 {
		t.Fatalf("converged %v with %d caller errors: %+v", res.Converged, res.CallerErrors, res)
	}
	for _, d := range res.Directions {
		if d.Committed == 0 || d.Fsyncs == 0 || d.RecordsPerFsync <= 0 || d.FsyncMeanMs <= 0 {
			t.Errorf("direction %s -> %s: nothing committed or no fsync counted: %+v", d.From, d.To, d)
		}
		if d.LagMaxms <= 0 {
			t.Errorf("direction %s -> %s: no lag sampled (acknowledgement times lost?): %+v", d.From, d.To, d)
		}
	}
	// At most 2000 calls per second of the whole load (0.1 s warm-up and
	// 0.3 s measured): no call due at or after its end starts. (Calls
	// that fell behind in the warm-up may complete in the measured part.)
	if n := res.Directions[0].Committed + res.Directions[1].Committed; n > 2000*4/10 {
		t.Errorf("%d calls committed in 0.4 s at a rate of 2000/s", n)
	}
	if _, ok := processCPU(); ok && res.CPUPerTxnMicros <= 0 {
		t.Errorf("CPU per transaction not measured: %+v", res)
	}
}
