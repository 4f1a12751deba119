package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/liege-db/liege/internal/httpapi"
)

// DefaultReadyLag is the most peer transactions an instance connected to
// its peer may have left to apply and still call itself ready.
const DefaultReadyLag = 1000

// readyAnswer is the body of GET /readyz: whether the instance takes calls
// now, and each check behind the verdict.
type readyAnswer struct {
	Ready bool `json:"ready"`
	// Reasons says, one sentence each, why the instance is not ready
	// (empty when ready).
	Reasons []string `json:"reasons"`
	Journal struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	} `json:"journal"`
	Quiesced    bool       `json:"quiesced"`
	RollingBack bool       `json:"rolling_back"`
	Link        *readyLink `json:"link,omitempty"`
}

// readyLink is the replication link in /readyz.
type readyLink struct {
	Connected bool   `json:"connected"`
	Peer      string `json:"peer,omitempty"`
	Refused   string `json:"refused,omitempty"`
	LagIn     uint64 `json:"lag_in"`
	LagInMax  uint64 `json:"lag_in_max"`
	CaughtUp  bool   `json:"caught_up"`
}

// handleHealthz answers whether the process is alive and its journal
// works: 503 once the journal failed (the instance takes no more calls
// until it is restarted), or while it is closing.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := s.db.Status(ctx)
	if err != nil {
		s.writeError(w, r, engineError(err))
		return
	}
	if st.Failed != nil {
		s.writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "failed",
			"error": map[string]string{"code": CodeUnavailable, "message": "the instance stopped after a failure and takes no calls until it is restarted (see docs/operations.md): " + st.Failed.Error()}})
		return
	}
	s.writeJSON(w, http.StatusOK, httpapi.Health{Status: "ok"})
}

// handleReadyz answers whether the instance takes calls now: its journal
// is healthy, it is not quiesced or rolling back, and, while its link is
// up, it has applied the peer's stream up to Options.ReadyLag. A link that
// is down does not make it unready: both instances commit locally without
// their peer, and taking both out of a load balancer over a cut link
// would turn a partition into an outage. The link's state is in the body.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := s.db.Status(ctx)
	if err != nil {
		s.writeError(w, r, engineError(err))
		return
	}
	ans := readyAnswer{Reasons: []string{}, Quiesced: s.db.Quiesced()}
	ans.Journal.OK = st.Failed == nil
	if st.Failed != nil {
		ans.Journal.Error = st.Failed.Error()
		ans.Reasons = append(ans.Reasons, "the journal failed; restart the instance once the cause is fixed: "+st.Failed.Error())
	}
	if ans.Quiesced {
		ans.Reasons = append(ans.Reasons, "the instance is quiesced for a switchover (POST /v1/admin/quiesce {\"on\": false} resumes it)")
	}
	if rep := s.opts.Replication; rep != nil {
		ls := rep.Status()
		ans.RollingBack = ls.RollingBack
		if ans.RollingBack {
			ans.Reasons = append(ans.Reasons, "a rollback is in progress; calls wait for it")
		}
		lag := uint64(s.opts.ReadyLag)
		link := &readyLink{Connected: ls.Connected, Peer: ls.Peer, Refused: ls.Refused, LagIn: ls.LagIn, LagInMax: lag}
		link.CaughtUp = !ls.Connected || ls.LagIn <= lag
		if !link.CaughtUp {
			ans.Reasons = append(ans.Reasons, fmt.Sprintf("%d of the peer's transactions are not applied yet (ready at %d or fewer)", ls.LagIn, lag))
		}
		ans.Link = link
	}
	ans.Ready = len(ans.Reasons) == 0
	status := http.StatusOK
	if !ans.Ready {
		status = http.StatusServiceUnavailable
	}
	s.writeJSON(w, status, ans)
}
