package client_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liege-db/liege/client"
)

// Goroutines calling at once through clients made without WithHTTPClient
// reuse their connections in the next round, instead of opening one per
// request beyond http.DefaultTransport's 2 idle per host.
func TestConcurrentCallersReuseConnections(t *testing.T) {
	const callers = 32
	var (
		mu      sync.Mutex
		waiting int
		all     = make(chan struct{})
		opened  atomic.Int64
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold each request until all callers have one in flight, so
		// that each round has callers connections in use at once.
		mu.Lock()
		if waiting++; waiting == callers {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			http.Error(w, "not every caller's request arrived within 10s", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"txid":"A/1","hlc":1,"hlc_time":"x","pos":1,"read_only":false,"result":"ok","token":"A:1"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := client.New(srv.URL, client.WithRetries(0))
	round := func() {
		t.Helper()
		mu.Lock()
		waiting, all = 0, make(chan struct{})
		mu.Unlock()
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Call(context.Background(), "set", nil, nil); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	round()
	if n := opened.Load(); n != callers {
		t.Fatalf("the first round opened %d connections for %d callers at once", n, callers)
	}
	round()
	if n := opened.Load() - callers; n != 0 {
		t.Fatalf("the second round opened %d new connections: the %d of the first were not kept idle", n, callers)
	}
}
