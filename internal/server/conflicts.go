package server

import (
	"net/http"
	"strconv"

	"github.com/liege-db/liege"
)

// DefaultConflictsLimit and MaxConflictsLimit bound GET /v1/conflicts.
const (
	DefaultConflictsLimit = 100
	MaxConflictsLimit     = 1000
)

// conflictsAnswer is the answer of GET /v1/conflicts.
type conflictsAnswer struct {
	Conflicts []liege.ConflictRecord `json:"conflicts"`
	// Next is the since of the next page: the Seq of the last conflict
	// here, or the since asked for when there is none.
	Next uint64 `json:"next"`
	// More says that conflicts after Next were there already.
	More bool `json:"more"`
}

// handleConflicts answers GET /v1/conflicts?since=&limit=: the conflicts
// this instance detected with a seq above since, oldest first.
func (s *Server) handleConflicts(r *http.Request) (any, error) {
	q, err := query(r, "since", "limit")
	if err != nil {
		return nil, err
	}
	var since uint64
	if q.Has("since") {
		if since, err = strconv.ParseUint(q.Get("since"), 10, 64); err != nil {
			return nil, badRequest("since must be a conflict seq (a non-negative integer), not %q", q.Get("since"))
		}
	}
	limit := DefaultConflictsLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxConflictsLimit {
			return nil, badRequest("limit must be an integer from 1 to %d, not %q", MaxConflictsLimit, q.Get("limit"))
		}
		limit = n
	}
	recs := s.db.Conflicts(since, limit+1)
	ans := &conflictsAnswer{Conflicts: recs, Next: since}
	if len(recs) > limit {
		ans.Conflicts, ans.More = recs[:limit], true
	}
	if ans.Conflicts == nil {
		ans.Conflicts = []liege.ConflictRecord{}
	}
	if n := len(ans.Conflicts); n > 0 {
		ans.Next = ans.Conflicts[n-1].Seq
	}
	return ans, nil
}
