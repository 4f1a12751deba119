package liege

import (
	"bytes"
	"context"

	"github.com/liege-db/liege/journal"
)

// Page is a part of a scan: its entries, and the key the next page starts
// at (nil when the range holds no more keys).
type Page struct {
	Entries []Entry
	Next    Key
}

// ScanPage reads the keys in [lo, hi) (an empty bound is open) outside any
// transaction, at most limit of them (0: no limit) and, past the first,
// no more than maxBytes of keys and values together (0: no bound): a
// scan over large values then holds a bounded amount of memory. Page.Next
// is where the next page starts (pass it as lo).
func (db *DB) ScanPage(ctx context.Context, lo, hi Key, limit, maxBytes int) (Page, error) {
	var p Page
	var pos uint64
	err := db.control(ctx, func() {
		size := 0
		db.in.Scan(lo, func(k, v []byte, ver journal.Version) bool {
			if len(hi) > 0 && bytes.Compare(k, hi) >= 0 {
				return false
			}
			n := len(k) + len(v)
			if (limit > 0 && len(p.Entries) >= limit) || (maxBytes > 0 && len(p.Entries) > 0 && size+n > maxBytes) {
				p.Next = bytes.Clone(k)
				return false
			}
			size += n
			p.Entries = append(p.Entries, Entry{Key: bytes.Clone(k), Value: bytes.Clone(v), Version: ver})
			return true
		})
		pos = db.in.LastPos()
	})
	if err == nil {
		err = db.waitDurable(ctx, pos)
	}
	return p, err
}
