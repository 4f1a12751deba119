package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// linkProxy is the peer link between the vassal (toxiproxy's client, which
// dials) and the liege (its upstream, which listens), run in this process.
// Toxiproxy's "upstream" stream carries vassal→liege bytes, "downstream"
// liege→vassal.
type linkProxy struct {
	p *toxiproxy.Proxy

	mu     sync.Mutex
	toxics map[string]bool
	// pending are the removals still running (name -> done).
	pending map[string]chan struct{}
}

// newLinkProxy starts a proxy on a free loopback port to upstream.
func newLinkProxy(upstream string) (*linkProxy, error) {
	// Toxiproxy's metrics go to a registry of their own, never the
	// global one, and are not collected.
	// Its toxics log through zerolog's global logger, at trace level for
	// every interrupted write: silence it (nothing else here uses zerolog).
	zerolog.SetGlobalLevel(zerolog.Disabled)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "peer", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start the link proxy to %s: %w", upstream, err)
	}
	return &linkProxy{p: p, toxics: map[string]bool{}, pending: map[string]chan struct{}{}}, nil
}

// Addr is where the vassal dials.
func (l *linkProxy) Addr() string { return l.p.Listen }

// add installs toxic name of type typ on stream ("upstream" or
// "downstream") with the given attributes.
func (l *linkProxy) add(name, typ, stream string, attrs map[string]any) error {
	b, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		return err
	}
	if _, err := l.p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
		return fmt.Errorf("toxic %s (%s on %s): %w", name, typ, stream, err)
	}
	l.mu.Lock()
	l.toxics[name] = true
	l.mu.Unlock()
	return nil
}

// removeWait bounds how long remove waits for toxiproxy to take a toxic
// off. Toxiproxy waits for the toxic's goroutine, which can be blocked
// behind a backed-up connection; the removal then finishes in the
// background, and heal waits for it.
const removeWait = 5 * time.Second

// remove takes toxic name off; removing one that is not there is a no-op.
// It reports whether the toxic is off already (false: still coming off).
func (l *linkProxy) remove(name string) bool {
	l.mu.Lock()
	on := l.toxics[name]
	delete(l.toxics, name)
	if !on {
		l.mu.Unlock()
		return true
	}
	done := make(chan struct{})
	l.pending[name] = done
	l.mu.Unlock()
	go func() {
		_ = l.p.Toxics.RemoveToxic(context.Background(), name) // only ErrToxicNotFound
		l.mu.Lock()
		delete(l.pending, name)
		l.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(removeWait):
		return false
	}
}

// heal removes every toxic and waits up to timeout for every removal to
// finish.
func (l *linkProxy) heal(timeout time.Duration) error {
	l.mu.Lock()
	names := make([]string, 0, len(l.toxics))
	for n := range l.toxics {
		names = append(names, n)
	}
	l.mu.Unlock()
	for _, n := range names {
		l.remove(n)
	}
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		var name string
		var done chan struct{}
		for n, d := range l.pending {
			name, done = n, d
			break
		}
		l.mu.Unlock()
		if done == nil {
			return nil
		}
		select {
		case <-done:
		case <-deadline:
			return fmt.Errorf("toxiproxy did not take toxic %s off the link within %v: its goroutine is blocked behind a connection that does not drain, so the link cannot be healed", name, timeout+removeWait)
		}
	}
}

// close stops the proxy and closes its connections.
func (l *linkProxy) close() { l.p.Stop() }
