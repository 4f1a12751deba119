#!/bin/sh
# detect-ab.sh compares the conflict detection of a base commit with the
# working tree's, in ONE process: both windows are built from the same
# transactions (package detect/detectbench, the default workload of
# `liege bench detect`), and the same incoming transactions are checked
# against one and then the other, alternating every 256 checks, for
# --seconds. It prints the thread CPU per check of each and their ratio.
#
# Why: on a machine shared with other work, the CPU per check of two
# separate runs of `liege bench detect` moves by 20-30% between runs (cache
# and memory bandwidth taken by the neighbours), more than most changes;
# alternating within one run shares the noise out evenly.
#
# Usage: scripts/detect-ab.sh [BASE_COMMIT] [SECONDS] [WINDOW]
#   defaults: d2d063f, 20, 100000. Run it from the repository.
set -eu
base=${1:-d2d063f}
secs=${2:-20}
window=${3:-100000}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A copy of the working tree's module, with the base's detect package
# beside it as package detectbase.
(cd "$root" && tar --exclude=.git -cf - .) | tar -xf - -C "$tmp"
mkdir "$tmp/detectbase"
git -C "$root" archive "$base" detect | tar -xf - -C "$tmp/detectbase" --strip-components=1
rm -rf "$tmp/detectbase/detectbench" "$tmp"/detectbase/*_test.go
sed -i 's/^package detect$/package detectbase/' "$tmp"/detectbase/*.go

cat > "$tmp/detectbase/ab_test.go" <<GO
package detectbase_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/liege-db/liege/detect"
	"github.com/liege-db/liege/detect/detectbench"
	base "github.com/liege-db/liege/detectbase"
	"golang.org/x/sys/unix"
)

func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func conv(t *detect.Txn) *base.Txn {
	b := &base.Txn{ID: t.ID, HLC: t.HLC, PeerSeen: t.PeerSeen, Pos: t.Pos, Reads: t.Reads, Ranges: t.Ranges}
	for _, w := range t.Writes {
		b.Writes = append(b.Writes, base.Write{Key: w.Key, Add: w.Add})
	}
	return b
}

func TestAB(t *testing.T) {
	own, in := detectbench.Default.Txns($window, 1<<14)
	wn, wb := detect.NewWindow(), base.NewWindow()
	for _, o := range own {
		wn.Add(o)
		wb.Add(conv(o))
	}
	inb := make([]*base.Txn, len(in))
	for i, x := range in {
		inb[i] = conv(x)
	}
	runtime.GC()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpuN, cpuB time.Duration
	hitsN, hitsB, checks := 0, 0, 0
	for deadline := time.Now().Add($secs * time.Second); time.Now().Before(deadline); {
		c0 := threadCPU()
		for j := checks; j < checks+256; j++ {
			hitsB += len(wb.Check(inb[j%len(in)]))
		}
		c1 := threadCPU()
		for j := checks; j < checks+256; j++ {
			hitsN += len(wn.Check(in[j%len(in)]))
		}
		cpuB, cpuN = cpuB+c1-c0, cpuN+threadCPU()-c1
		checks += 256
	}
	if hitsB != hitsN {
		t.Fatalf("the base found %d hits, the working tree %d: they must agree", hitsB, hitsN)
	}
	fmt.Printf("window $window, %d checks each: base $base %.0f ns CPU per check, working tree %.0f (ratio %.2f)\n",
		checks, float64(cpuB)/float64(checks), float64(cpuN)/float64(checks), float64(cpuN)/float64(cpuB))
}
GO
cd "$tmp"
status=0
go test ./detectbase -run TestAB -count 1 -timeout 10m -v >"$tmp/out" 2>&1 || status=$?
grep -v -e '^=== RUN' -e '^--- PASS' -e '^PASS$' -e '^ok ' "$tmp/out"
exit $status
