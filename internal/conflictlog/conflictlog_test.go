package conflictlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func rec(in, own, action string) Record {
	return Record{Incoming: in, Own: own, Check: "update", Case: "C3", Key: []byte{0xff, 0}, KeyText: "k", Action: action}
}

func mustOpen(t *testing.T, dir string, o Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Records get seqs and times, are listed by seq from since, and come back
// after a reopen with their epoch and end.
func TestAddListUpdateReopen(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	l := mustOpen(t, dir, Options{Now: c.now})
	if err := l.Add(rec("A/1", "B/1", ActionRollBack), rec("A/1", "B/2", ActionRollBack)); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(rec("B/3", "A/2", ActionReject)); err != nil {
		t.Fatal(err)
	}
	if err := l.RolledBack("A/1", 4); err != nil {
		t.Fatal(err)
	}
	if err := l.Ended("B/1", "A/9"); err != nil { // the vassal's own of a rollback
		t.Fatal(err)
	}
	if err := l.Ended("B/3", "A/10"); err != nil { // the incoming of a reject
		t.Fatal(err)
	}
	if err := l.Ended("A/2", "A/11"); err != nil { // a liege's own: not a subject
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		all := l.List(0, 10)
		if len(all) != 3 {
			t.Fatalf("%d records, want 3", len(all))
		}
		for i, want := range []struct {
			seq   uint64
			epoch uint64
			ended string
		}{{1, 4, "A/9"}, {2, 4, ""}, {3, 0, "A/10"}} {
			r := all[i]
			if r.Seq != want.seq || r.Epoch != want.epoch || r.EndedIn != want.ended || !r.Time.Equal(c.t) || string(r.Key) != "\xff\x00" {
				t.Fatalf("record %d: %+v, want seq %d epoch %d ended %q", i, r, want.seq, want.epoch, want.ended)
			}
		}
		if got := l.List(1, 1); len(got) != 1 || got[0].Seq != 2 {
			t.Fatalf("List(1, 1) = %+v", got)
		}
		if got := l.List(3, 10); got != nil {
			t.Fatalf("List(3, 10) = %+v", got)
		}
	}
	check(l)
	l.Close()
	l2 := mustOpen(t, dir, Options{Now: c.now})
	check(l2)
	if err := l2.Add(rec("A/5", "B/5", ActionRollBack)); err != nil {
		t.Fatal(err)
	}
	if got := l2.List(3, 10); len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("after reopen the next seq is %+v, want 4", got)
	}
	recs, err := Read(dir)
	if err != nil || len(recs) != 4 {
		t.Fatalf("Read: %d records, %v", len(recs), err)
	}
}

// A last line cut by a crash is dropped (and cut from the file); a bad
// line before the last is refused, naming the file and the line.
func TestTornAndDamaged(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	if err := l.Add(rec("A/1", "B/1", ActionRollBack), rec("A/2", "B/2", ActionRollBack)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)-7], 0o644); err != nil { // the second record torn
		t.Fatal(err)
	}
	l2 := mustOpen(t, dir, Options{})
	if got := l2.List(0, 10); len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("after a torn tail: %+v, want record 1 alone", got)
	}
	if err := l2.Add(rec("A/3", "B/3", ActionRollBack)); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if recs, err := Read(dir); err != nil || len(recs) != 2 || recs[1].Seq != 2 || recs[1].Incoming != "A/3" {
		t.Fatalf("after appending past the cut: %+v %v", recs, err)
	}

	b, _ = os.ReadFile(path)
	damaged := strings.Replace(string(b), `"seq":1`, `"seq":"x"`, 1)
	if err := os.WriteFile(path, []byte(damaged), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a damaged log: %v, want an error naming %s line 1", err, path)
	}
}

// Retention keeps MaxCount records and none older than MaxAge, and the file
// is rewritten once it holds more than twice the lines it needs.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	l := mustOpen(t, dir, Options{MaxCount: 100, MaxAge: time.Hour, Now: c.now})
	for i := range 3000 {
		if err := l.Add(rec("A/1", "B/1", ActionReject)); err != nil {
			t.Fatal(err)
		}
		if i == 2000 {
			c.t = c.t.Add(30 * time.Minute)
		}
	}
	all := l.List(0, 1000)
	if len(all) != 100 || all[0].Seq != 2901 || all[99].Seq != 3000 {
		t.Fatalf("kept %d records, %d to %d; want 100, 2901 to 3000", len(all), all[0].Seq, all[len(all)-1].Seq)
	}
	recs, err := Read(dir)
	if err != nil || len(recs) < 100 {
		t.Fatalf("Read: %d records, %v", len(recs), err)
	}
	if st, err := os.Stat(filepath.Join(dir, File)); err != nil || st.Size() > 1000*int64(len(mustLine(t, all[0]))) {
		t.Fatalf("file not compacted: %v %v", st.Size(), err)
	}
	c.t = c.t.Add(2 * time.Hour) // all of them too old: the newest stays
	l.Close()
	l2 := mustOpen(t, dir, Options{MaxCount: 100, MaxAge: time.Hour, Now: c.now})
	if got := l2.List(0, 1000); len(got) != 1 || got[0].Seq != 3000 {
		t.Fatalf("%d records older than MaxAge kept, want the newest alone", len(got))
	}
	if err := l2.Add(rec("A/2", "B/2", ActionReject)); err != nil {
		t.Fatal(err)
	}
	if got := l2.List(0, 10); len(got) != 1 || got[0].Seq != 3001 {
		t.Fatalf("seqs are not reused after retention: %+v", got)
	}
}

func mustLine(t *testing.T, r Record) string {
	t.Helper()
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	if err := l.Add(r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
