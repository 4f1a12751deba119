package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Backup writes an online backup of the instance to w: a tar archive of its
// directory with a checkpoint taken for it (GET /v1/admin/backup). It
// returns the bytes written. The client's timeout does not apply (a large
// instance takes a while); ctx does. Restore it by extracting it into an
// empty directory (docs/operations.md).
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if c.baseErr != nil {
		return 0, c.baseErr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/admin/backup", nil)
	if err != nil {
		return 0, err
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, fmt.Errorf("backup: %s: %s", resp.Status, body)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("backup: the archive was cut short after %d bytes: %w", n, err)
	}
	if msg := resp.Trailer.Get("Liege-Backup-Error"); msg != "" {
		return n, fmt.Errorf("backup: the instance failed while sending it: %s", msg)
	}
	if _, ok := resp.Trailer["Liege-Backup-Error"]; !ok {
		return n, errors.New("backup: the archive ended without the server's completion trailer: it may be incomplete")
	}
	return n, nil
}
