package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Conflict is one conflict an instance detected (docs/http-api.md, GET
// /v1/conflicts).
type Conflict struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Incoming string    `json:"incoming"`
	Own      string    `json:"own"`
	OwnPos   uint64    `json:"own_pos"`
	Check    string    `json:"check"`
	Case     string    `json:"case"`
	Subject  string    `json:"subject"`
	Key      []byte    `json:"key"`
	KeyText  string    `json:"key_text"`
	Action   string    `json:"action"`
	Epoch    uint64    `json:"rollback_epoch"`
	EndedIn  string    `json:"ended_in"`
}

// Conflicts is one page of an instance's conflicts.
type Conflicts struct {
	Conflicts []Conflict `json:"conflicts"`
	// Next is the since of the next page; More says there is one.
	Next uint64 `json:"next"`
	More bool   `json:"more"`
	// Raw is the answer as it came.
	Raw json.RawMessage `json:"-"`
}

// Conflicts returns up to limit (0: the instance's default) of the
// conflicts the instance detected with a seq above since, oldest first.
func (c *Client) Conflicts(ctx context.Context, since uint64, limit int) (*Conflicts, error) {
	q := url.Values{}
	if since > 0 {
		q.Set("since", strconv.FormatUint(since, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/conflicts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	raw, err := c.do(ctx, request{method: http.MethodGet, path: path, read: true})
	if err != nil {
		return nil, fmt.Errorf("conflicts: %w", err)
	}
	var a Conflicts
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("conflicts: the answer does not decode: %w", err)
	}
	a.Raw = raw
	return &a, nil
}
