package benchkit

import (
	"context"
	"testing"
)

// RunHTTP runs and counts right in both modes on small inputs; nothing is
// asserted about speed.
func TestRunHTTP(t *testing.T) {
	for _, mode := range HTTPModes {
		for _, clients := range []int{1, 8} {
			res, err := Default.RunHTTP(context.Background(), t.TempDir(), mode, clients, 120)
			if err != nil {
				t.Fatalf("%s, %d clients: %v", mode, clients, err)
			}
			if res.Mode != mode || res.Calls != 120 || res.CallsPerSec <= 0 {
				t.Fatalf("%s, %d clients: implausible result %+v", mode, clients, res)
			}
			if l := res.Latency; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
				t.Fatalf("%s, %d clients: latency percentiles out of order: %+v", mode, clients, l)
			}
		}
	}
	if _, err := Default.RunHTTP(context.Background(), t.TempDir(), "h2c", 1, 1); err == nil {
		t.Fatal("an unknown mode ran")
	}
}
