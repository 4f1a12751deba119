package reconcile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/liege-db/liege/internal/mpenc"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/rollback"
)

// Dir is the folder of reconciliation logs in an instance directory.
const Dir = "recon"

// Entry is one rolled-off own transaction to reconcile, or a rolled-off
// reprocess or correction of one by the peer: its subject is pending again
// (DESIGN.md section 10), for this instance to reconcile itself should it
// be promoted before the peer brings the subject back.
type Entry struct {
	Record journal.Record
	// Conflicting is true for a transaction that failed the conflict check
	// itself, false for one rolled off only because it came after one.
	Conflicting bool
	// Done is set once the TxID came back in a reprocess or correction.
	Done bool
}

// Log is the reconciliation log of one rollback.
type Log struct {
	Instance string
	// Epoch is the epoch the rollback started; it names the log.
	Epoch uint64
	// LostFile is the lost transaction file it was built from.
	LostFile string
	Entries  []Entry

	// Resolve's index of Entries by subject and the count of pending
	// subjects, built on first use from the entries' Done: a log rolled
	// off by a long partition holds a million entries, and a count by a
	// scan at every subject come back was quadratic. So Done is set only
	// by Resolve once either is used.
	idx     map[journal.TxID][]int
	pending int
	// size is about the bytes of the log's encoding, for Save's buffer:
	// those of the lost transaction file it was built from, then of its
	// last encoding.
	size int
}

// Build makes the reconciliation log of a rollback from its lost
// transaction file: the transactions of origin self and the peer's
// records whose subject is one of self's, in journal order, marked
// Conflicting when their TxID is in conflicting.
func Build(lf *rollback.LostFile, lostFile, self string, conflicting map[journal.TxID]bool) *Log {
	l := &Log{Instance: lf.Header.Instance, Epoch: lf.Header.Epoch, LostFile: lostFile, size: lf.Size}
	keep := func(r *journal.Record) bool { return r.Kind.IsTxn() && r.Origin == self || r.RepublishesOwn(self) }
	n := 0
	for i := range lf.Records {
		if keep(&lf.Records[i]) {
			n++
		}
	}
	if n > 0 {
		l.Entries = make([]Entry, 0, n) // a million records after a long partition: no copies as it grows
	}
	for i := range lf.Records {
		if r := &lf.Records[i]; keep(r) {
			l.Entries = append(l.Entries, Entry{Record: *r, Conflicting: conflicting[r.TxID()]})
		}
	}
	return l
}

// Pending returns the records whose subjects have not come back yet, in
// order: the own ones are sent to the liege; a peer's stands for its
// subject, pending again.
func (l *Log) Pending() []journal.Record {
	var out []journal.Record
	for _, e := range l.Entries {
		if !e.Done {
			out = append(out, e.Record)
		}
	}
	return out
}

// PendingLog returns a copy of the log holding only the entries whose
// TxIDs have not come back yet (sharing their records).
func (l *Log) PendingLog() *Log {
	c := &Log{Instance: l.Instance, Epoch: l.Epoch, LostFile: l.LostFile}
	for _, e := range l.Entries {
		if !e.Done {
			c.Entries = append(c.Entries, e)
		}
	}
	return c
}

// Resolve marks the entries standing for subject (see Subject) as come
// back (one as a rule; an own record and the peer's of the same subject
// may both be there) and reports whether the log held one still pending.
func (l *Log) Resolve(subject journal.TxID) bool {
	l.index()
	resolved := false
	for _, i := range l.idx[subject] {
		if !l.Entries[i].Done {
			l.Entries[i].Done, resolved = true, true
		}
	}
	if resolved {
		l.pending--
	}
	return resolved
}

// index builds the index of the entries by subject and counts the
// subjects pending, once.
func (l *Log) index() {
	if l.idx != nil {
		return
	}
	l.idx = make(map[journal.TxID][]int, len(l.Entries))
	for i := range l.Entries {
		s := l.Entries[i].Subject()
		l.idx[s] = append(l.idx[s], i)
	}
	for _, is := range l.idx {
		if slices.ContainsFunc(is, func(i int) bool { return !l.Entries[i].Done }) {
			l.pending++
		}
	}
}

// PendingCount returns how many subjects have not come back yet (an own
// record and the peer's of the same subject count once).
func (l *Log) PendingCount() int {
	l.index()
	return l.pending
}

// Complete reports whether every subject has come back.
func (l *Log) Complete() bool { return l.PendingCount() == 0 }

// fileName is the log's file name in Dir.
func (l *Log) fileName() string { return fmt.Sprintf("recon-e%020d.log", l.Epoch) }

// Save writes the log durably to the instance directory, replacing an
// earlier version, or removes it when it is complete.
func (l *Log) Save(instanceDir string) error {
	dir := filepath.Join(instanceDir, Dir)
	path := filepath.Join(dir, l.fileName())
	if l.Complete() {
		// The marker first: a log rebuilt from its lost transaction file
		// after a crash would be resent for nothing.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create reconciliation log directory: %w", err)
		}
		if err := journal.WriteFramedFile(filepath.Join(dir, doneName(l.Epoch)), nil); err != nil {
			return fmt.Errorf("mark reconciliation log %d done: %w", l.Epoch, err)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove reconciliation log: %w", err)
		}
		if _, err := os.Stat(dir); err == nil {
			return journal.SyncDir(dir)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create reconciliation log directory: %w", err)
	}
	b := l.encode()
	l.size = len(b)
	if err := journal.WriteFramedFile(path, b); err != nil {
		return fmt.Errorf("write reconciliation log %s: %w", path, err)
	}
	return nil
}

// encode returns the msgpack of l, the bytes journal.Marshal(l) gives (a
// map of its exported fields by name, each entry a map of its own), with the
// records encoded by hand (journal.AppendRecord): a log of a long
// partition holds a million records, which go-msgpack encoded at about
// 2.5 µs each on the executor of a vassal that takes no call meanwhile.
// TestEncodeIsMarshal holds the two to the same bytes.
func (l *Log) encode() []byte {
	// An entry adds a few bytes to its record's; the lost file's records
	// the log leaves out (the peer's) leave room.
	b := make([]byte, 0, l.size+32*len(l.Entries)+1024)
	b = mpenc.AppendMapLen(b, 4) // the journal's handle is canonical: keys in byte order
	b = mpenc.AppendStr(b, "Entries")
	if l.Entries == nil {
		b = append(b, mpenc.Nil)
	} else {
		b = mpenc.AppendArrayLen(b, len(l.Entries))
		for i := range l.Entries {
			e := &l.Entries[i]
			b = mpenc.AppendMapLen(b, 3)
			b = mpenc.AppendStr(b, "Conflicting")
			b = mpenc.AppendBool(b, e.Conflicting)
			b = mpenc.AppendStr(b, "Done")
			b = mpenc.AppendBool(b, e.Done)
			b = mpenc.AppendStr(b, "Record")
			b = journal.AppendRecord(b, &e.Record)
		}
	}
	b = mpenc.AppendStr(b, "Epoch")
	b = mpenc.AppendUint(b, l.Epoch)
	b = mpenc.AppendStr(b, "Instance")
	b = mpenc.AppendStr(b, l.Instance)
	b = mpenc.AppendStr(b, "LostFile")
	b = mpenc.AppendStr(b, l.LostFile)
	return b
}

func doneName(epoch uint64) string { return fmt.Sprintf("done-e%020d", epoch) }

// Done reports whether the reconciliation log of the rollback that started
// epoch was completed (every TxID came back) and removed.
func Done(instanceDir string, epoch uint64) bool {
	_, err := os.Stat(filepath.Join(instanceDir, Dir, doneName(epoch)))
	return err == nil
}

// Load reads every reconciliation log of an instance directory, oldest
// rollback first. Temporary files left by a crash are ignored.
func Load(instanceDir string) ([]*Log, error) {
	dir := filepath.Join(instanceDir, Dir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Log
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "recon-e") || !strings.HasSuffix(name, ".log") {
			continue
		}
		path := filepath.Join(dir, name)
		p, err := journal.ReadFramedFile(path)
		if err != nil {
			return nil, fmt.Errorf("reconciliation log %s is unreadable or damaged: %w", path, err)
		}
		var l Log
		if err := journal.Unmarshal(p, &l); err != nil {
			return nil, fmt.Errorf("reconciliation log %s: %w", path, err)
		}
		out = append(out, &l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Epoch < out[j].Epoch })
	return out, nil
}
