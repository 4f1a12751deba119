package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/liege-db/liege/internal/httpapi"
)

// Link is the replication link in Status (nil for a lone instance).
type Link = httpapi.Link

// RoleResult is the answer of SetRole. Reconciled is always 0: a promoted
// vassal reconciles its own rolled-off transactions in the background (see
// /status recon_pending).
type RoleResult = httpapi.RoleAnswer

// SetRole changes the instance's role: "liege" promotes a vassal (refused
// while it still hears from its liege), "vassal" switches a liege over
// (DESIGN.md section 10).
func (c *Client) SetRole(ctx context.Context, role string) (*RoleResult, error) {
	return c.setRole(ctx, role, false)
}

// Promote makes the vassal the liege in the next reign; force promotes it
// even while it still hears from its liege (the old liege, when it
// reconnects, learns the new reign and becomes the vassal).
func (c *Client) Promote(ctx context.Context, force bool) (*RoleResult, error) {
	return c.setRole(ctx, "liege", force)
}

func (c *Client) setRole(ctx context.Context, role string, force bool) (*RoleResult, error) {
	body, _ := json.Marshal(httpapi.RoleRequest{Role: role, Force: force})
	raw, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/role", body: body, read: true})
	if err != nil {
		return nil, fmt.Errorf("set role %s: %w", role, err)
	}
	var r RoleResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("set role: the answer does not decode: %w", err)
	}
	return &r, nil
}

// Quiesce stops (on) or resumes new transactions on the instance, for a
// switchover.
func (c *Client) Quiesce(ctx context.Context, on bool) error {
	body, _ := json.Marshal(httpapi.QuiesceRequest{On: &on})
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/quiesce", body: body, read: true}); err != nil {
		return fmt.Errorf("quiesce %v: %w", on, err)
	}
	return nil
}
