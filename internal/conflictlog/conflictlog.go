// Package conflictlog keeps the conflicts an instance detected, durably and
// bounded (issue 13 item 6): both TxIDs, the witness key, the check and the
// DESIGN.md case, the action taken, the rollback epoch it caused and the
// reprocess or correction it ended in, once known.
//
// The log is one append-only file of JSON lines in the instance directory
// (File). Every line is a whole Record; a later line for the same Seq (an
// update: the epoch, the end) replaces the earlier one. Each Add or update
// is one write(2), followed by an fsync, so that neither a SIGKILL nor a
// power loss loses a conflict reported before. At Open a torn last line
// (cut by a crash) is dropped; any other line that does not decode is an
// error naming the file and the line.
//
// Retention keeps at most MaxCount records and none older than MaxAge (but
// the newest, whose seq must never be given again); the
// file is rewritten (to a temporary file, fsynced, renamed) when it holds
// more than twice the lines it needs.
package conflictlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// File is the log's file name in the instance directory.
const File = "conflicts.jsonl"

// Defaults of Options.
const (
	DefaultMaxCount = 100_000
	DefaultMaxAge   = 30 * 24 * time.Hour
)

// Actions: what this instance did about an incoming transaction that
// conflicted (replicate.Verdict's names).
const (
	ActionReject   = "reject"    // a liege: not applied; the vassal is told to roll back
	ActionRollBack = "roll back" // a vassal: rolled back to before its own transaction
)

// Record is one conflict: an incoming peer transaction against one own
// transaction.
type Record struct {
	// Seq numbers the records of this log from 1, in the order detected.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Incoming is the peer's transaction, Own this instance's (at OwnPos
	// in its journal).
	Incoming string `json:"incoming"`
	Own      string `json:"own"`
	OwnPos   uint64 `json:"own_pos"`
	// Check is "update", "use", "mirror_use" or "duplicate_subject"; Case
	// the row of DESIGN.md section 6's table ("C1" ...), empty for a
	// duplicate subject (then Subject is the TxID both stand for).
	Check   string `json:"check"`
	Case    string `json:"case,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Key is the witness key (base64 in JSON), KeyText the same in the
	// tuple notation of journalctl.
	Key     []byte `json:"key"`
	KeyText string `json:"key_text"`
	// Action is ActionReject or ActionRollBack.
	Action string `json:"action"`
	// Epoch is the rollback epoch the conflict's rollback ended in, at the
	// vassal that rolled back; 0 until it is done, and at the liege.
	Epoch uint64 `json:"rollback_epoch,omitempty"`
	// EndedIn is the liege's reprocess or correction of the vassal's
	// transaction, once this instance holds it.
	EndedIn string `json:"ended_in,omitempty"`
}

// Vassal returns the TxID of the vassal's transaction of the pair: the one
// rolled back, whose reprocess or correction ends the conflict.
func (r *Record) Vassal() string {
	if r.Action == ActionRollBack {
		return r.Own
	}
	return r.Incoming
}

// Options bound the log.
type Options struct {
	MaxCount int           // records kept at most; DefaultMaxCount if 0
	MaxAge   time.Duration // records older are dropped; DefaultMaxAge if 0
	Now      func() time.Time
}

// Log is the conflict log of one instance directory. It is safe for
// concurrent use.
type Log struct {
	mu    sync.Mutex
	opts  Options
	path  string
	f     *os.File
	recs  []Record // by Seq
	next  uint64   // the Seq of the next record
	lines int      // lines in the file
	// open maps a vassal TxID to the Seqs of its records without EndedIn.
	open map[string][]uint64
	err  error // the first write error: the log stops taking records
}

// Open opens (creating it if need be) the conflict log of directory dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.MaxCount <= 0 {
		opts.MaxCount = DefaultMaxCount
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{opts: opts, path: filepath.Join(dir, File), next: 1, open: map[string][]uint64{}}
	recs, good, lines, err := read(l.path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the conflict log: %w", err)
	}
	if err := f.Truncate(good); err != nil { // a torn last line
		f.Close()
		return nil, fmt.Errorf("cut the torn last line of the conflict log %s: %w", l.path, err)
	}
	if _, err := f.Seek(good, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("open the conflict log %s: %w", l.path, err)
	}
	l.f, l.lines = f, lines
	for _, r := range recs {
		l.next = max(l.next, r.Seq+1)
	}
	l.recs = recs
	l.retain()
	for i := range l.recs {
		l.index(&l.recs[i])
	}
	return l, nil
}

// Read returns the records of the conflict log in directory dir, by Seq,
// without opening it for writing (for a stopped instance, or tests). A
// directory without a log has none.
func Read(dir string) ([]Record, error) {
	recs, _, _, err := read(filepath.Join(dir, File))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return recs, err
}

// read decodes the file: the records (the last line of each Seq), the
// length of the good prefix (before a torn last line) and its lines.
func read(path string) (recs []Record, good int64, lines int, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, 0, nil
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read the conflict log: %w", err)
	}
	bySeq := map[uint64]Record{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<26)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		end := good + int64(len(line)) + 1
		var r Record
		if err := json.Unmarshal(line, &r); err != nil || r.Seq == 0 {
			if end >= int64(len(b)) { // the last line: torn by a crash
				break
			}
			return nil, 0, 0, fmt.Errorf("conflict log %s: line %d is not a conflict record (%v); move the file away to start a new log", path, n, err)
		}
		if end > int64(len(b)) { // a whole record without its newline
			break
		}
		bySeq[r.Seq] = r
		good, lines = end, lines+1
	}
	for _, r := range bySeq {
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	return recs, good, lines, nil
}

// Add records conflicts, numbering them and stamping their time. It
// returns once they are written and fsynced.
func (l *Log) Add(recs ...Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	now := l.opts.Now().UTC()
	for i := range recs {
		recs[i].Seq, recs[i].Time = l.next, now
		l.next++
	}
	if err := l.write(recs); err != nil {
		return err
	}
	l.recs = append(l.recs, recs...)
	for i := range recs {
		l.index(&l.recs[len(l.recs)-len(recs)+i])
	}
	l.retain()
	return l.compact()
}

// RolledBack sets the epoch of the rollback that conflicts with incoming
// transaction incoming caused.
func (l *Log) RolledBack(incoming string, epoch uint64) error {
	return l.update(func(r *Record) bool {
		if r.Incoming != incoming || r.Action != ActionRollBack || r.Epoch != 0 {
			return false
		}
		r.Epoch = epoch
		return true
	})
}

// Ended records that txid is the liege's reprocess or correction of the
// vassal's transaction subject.
func (l *Log) Ended(subject, txid string) error {
	l.mu.Lock()
	seqs := l.open[subject]
	l.mu.Unlock()
	if len(seqs) == 0 {
		return nil
	}
	return l.update(func(r *Record) bool {
		if r.EndedIn != "" || r.Vassal() != subject {
			return false
		}
		r.EndedIn = txid
		return true
	})
}

// update applies fn to every record, writing those it changed.
func (l *Log) update(fn func(*Record) bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	var changed []Record
	for i := range l.recs {
		if fn(&l.recs[i]) {
			changed = append(changed, l.recs[i])
			if l.recs[i].EndedIn != "" {
				l.unindex(&l.recs[i])
			}
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := l.write(changed); err != nil {
		return err
	}
	return l.compact()
}

// List returns up to limit records with Seq above since, by Seq.
func (l *Log) List(since uint64, limit int) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.recs), func(i int) bool { return l.recs[i].Seq > since })
	n := min(limit, len(l.recs)-i)
	if n <= 0 {
		return nil
	}
	return append([]Record(nil), l.recs[i:i+n]...)
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func (l *Log) write(recs []Record) error {
	if l.f == nil {
		return errors.New("the conflict log is closed")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return fmt.Errorf("encode conflict %d: %w", recs[i].Seq, err)
		}
	}
	if _, err := l.f.Write(buf.Bytes()); err != nil {
		l.err = fmt.Errorf("write the conflict log %s (it takes no more records until a restart): %w", l.path, err)
		return l.err
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("fsync the conflict log %s (it takes no more records until a restart): %w", l.path, err)
		return l.err
	}
	l.lines += len(recs)
	return nil
}

// retain drops the records beyond MaxCount and older than MaxAge, but for
// the newest (the file must keep the last seq given).
func (l *Log) retain() {
	cut := max(0, len(l.recs)-l.opts.MaxCount)
	old := l.opts.Now().Add(-l.opts.MaxAge)
	for cut < len(l.recs)-1 && l.recs[cut].Time.Before(old) {
		cut++ // the newest stays, so that its seq is never reused
	}
	if cut == 0 {
		return
	}
	for i := range l.recs[:cut] {
		l.unindex(&l.recs[i])
	}
	l.recs = append([]Record(nil), l.recs[cut:]...)
}

// compact rewrites the file when it holds more than twice the lines of the
// records kept (and at least a thousand).
func (l *Log) compact() error {
	if l.lines <= 2*len(l.recs) || l.lines < 1000 {
		return nil
	}
	tmp := l.path + ".tmp"
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range l.recs {
		if err := enc.Encode(&l.recs[i]); err != nil {
			return fmt.Errorf("encode conflict %d: %w", l.recs[i].Seq, err)
		}
	}
	err := writeFileSync(tmp, buf.Bytes())
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(l.path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rewrite the conflict log %s: %w", l.path, err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		l.err = fmt.Errorf("reopen the conflict log %s: %w", l.path, err)
		return l.err
	}
	l.f.Close()
	l.f, l.lines = f, len(l.recs)
	return nil
}

func (l *Log) index(r *Record) {
	if r.EndedIn == "" {
		v := r.Vassal()
		l.open[v] = append(l.open[v], r.Seq)
	}
}

func (l *Log) unindex(r *Record) {
	v := r.Vassal()
	s := l.open[v]
	for i, q := range s {
		if q == r.Seq {
			s = append(s[:i], s[i+1:]...)
			break
		}
	}
	if len(s) == 0 {
		delete(l.open, v)
	} else {
		l.open[v] = s
	}
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
