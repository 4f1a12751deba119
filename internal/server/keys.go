package server

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/liege-db/liege"
	"github.com/liege-db/liege/internal/httpapi"
	"github.com/liege-db/liege/internal/jsonval"
	"github.com/liege-db/liege/journal"
)

// DefaultMaxAnswer bounds the bytes of one GET /v1/keys answer: a page of
// large values stops there and says where the next page starts.
const DefaultMaxAnswer = 4 << 20

// handleKeys answers one page of the keys having a prefix: at most limit
// keys and, past the first, at most Options.MaxAnswer bytes of JSON. The
// answer's next_cursor, passed back as cursor, continues the scan.
func (s *Server) handleKeys(r *http.Request) (any, error) {
	q, err := query(r, "prefix", "limit", "cursor", "min_token", "timeout_ms")
	if err != nil {
		return nil, err
	}
	var prefix liege.Key
	if q.Has("prefix") {
		if prefix, err = parseKey("prefix", q.Get("prefix")); err != nil {
			return nil, err
		}
	}
	limit := DefaultLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxLimit {
			return nil, badRequest("limit must be an integer from 1 to %d, not %q", MaxLimit, q.Get("limit"))
		}
		limit = n
	}
	lo, hi := prefix, prefix.PrefixEnd()
	if q.Has("cursor") {
		c, err := hex.DecodeString(q.Get("cursor"))
		if err != nil || len(c) == 0 || !bytes.HasPrefix(c, prefix) {
			return nil, badRequest("cursor %q is not a next_cursor of this prefix: pass the next_cursor of the previous answer, with the same prefix", q.Get("cursor"))
		}
		lo = c
	}
	minTok, timeout, err := s.queryWait(q)
	if err != nil {
		return nil, err
	}
	if err := s.waitFor(r.Context(), minTok, timeout); err != nil {
		return nil, err
	}
	page, err := s.db.ScanPage(r.Context(), lo, hi, limit, s.opts.MaxAnswer)
	if err != nil {
		return nil, engineError(err)
	}
	ans := &httpapi.KeysAnswer{Keys: make([]httpapi.KeyEntry, 0, len(page.Entries))}
	next := page.Next
	size := 0
	for i, e := range page.Entries {
		v, err := msgpackJSON(e.Value)
		if err != nil {
			return nil, fmt.Errorf("value of key %s: %w", e.Key, err)
		}
		k, err := toJSON(jsonval.Key(e.Key))
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", e.Key, err)
		}
		ke := httpapi.KeyEntry{Key: k, KeyHex: hex.EncodeToString(e.Key), Value: v,
			Version: httpapi.Version{HLC: e.Version.HLC, Origin: e.Version.Origin}}
		// The scan bounded the raw bytes; JSON can be larger (escapes,
		// base64, the key twice): bound what is answered.
		b, err := json.Marshal(ke)
		if err != nil {
			return nil, fmt.Errorf("value of key %s: %w", e.Key, err)
		}
		if i > 0 && size+len(b) > s.opts.MaxAnswer {
			next = e.Key
			break
		}
		size += len(b)
		ans.Keys = append(ans.Keys, ke)
	}
	if next != nil {
		c := hex.EncodeToString(next)
		ans.Truncated, ans.NextCursor = true, &c
	}
	ans.Token = s.tokenAfter(r.Context(), minTok, journal.TxID{})
	return ans, nil
}
