package replicate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/liege-db/liege/replicate/link"
)

// DefaultHandshakeTimeout is Config.HandshakeTimeout's default.
const DefaultHandshakeTimeout = 10 * time.Second

// maxPending bounds the accepted connections waiting for the peer's Hello;
// beyond it the oldest leave (link.Waiting).
const maxPending = 8

// admit takes an accepted connection: it waits, at most HandshakeTimeout,
// for the peer's Hello, and only a Hello that names this instance's peer
// in this cluster and protocol replaces the live session. Until then the
// connection holds one of maxPending places, counted per source, the
// oldest dropped first: idle or hostile connections can neither take the
// link down nor keep the peer out.
func (r *Replicator) admit(c link.Conn) {
	remote := c.RemoteAddr()
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.HandshakeTimeout)
	defer cancel()
	r.pendMu.Lock()
	id, evicted := r.pending.Admit(link.Source(remote), cancel)
	r.pendMu.Unlock()
	for _, drop := range evicted {
		drop()
	}
	if len(evicted) > 0 {
		r.log.Warn("replication: dropped the oldest connections waiting for a hello, to make room",
			"remote", remote, "dropped", len(evicted), "limit", maxPending)
	}
	f, err := c.Recv(ctx) // closes c if ctx ends
	r.pendMu.Lock()
	r.pending.Remove(id)
	r.pendMu.Unlock()
	if err == nil {
		err = screenHello(f, r.cfg.Cluster, r.host.PeerID())
	}
	if err != nil {
		_ = c.Close()
		switch {
		case r.ctx.Err() != nil:
		case errors.Is(err, context.DeadlineExceeded):
			r.log.Warn("replication: closed a connection that sent no hello in time", "remote", remote, "timeout", r.cfg.HandshakeTimeout)
		case errors.Is(err, context.Canceled):
			r.log.Debug("replication: closed a connection waiting for its hello to make room", "remote", remote)
		default:
			r.metrics.refused.Inc()
			r.log.Warn("replication: refused a connection before its handshake", "remote", remote, "error", err)
		}
		return
	}
	r.serve(c, f)
}

// screenHello checks what a first frame must hold before its connection
// may replace the live session: a Hello of this cluster and protocol from
// the configured peer. The Node checks the rest (roles, reigns, clocks).
func screenHello(f *link.Frame, cluster, peerID string) error {
	if f.Kind != link.KindHello {
		return fmt.Errorf("the peer's first frame is a %v, not a hello", f.Kind)
	}
	if err := link.CheckCluster(f, cluster); err != nil {
		return err
	}
	switch {
	case f.Version != link.ProtocolVersion:
		return fmt.Errorf("peer %s speaks replication protocol %d, this build speaks %d: run the same release on both", f.From, f.Version, link.ProtocolVersion)
	case f.From != peerID:
		return fmt.Errorf("peer calls itself %q, but this instance's peer is %q (--peer-id): check the address", f.From, peerID)
	}
	return nil
}

// logDialError logs a failed dial: at warn with what to check when the
// peer's certificate was refused (or the peer refused ours), which no
// retry will fix; at debug otherwise (the peer is down or restarting).
func (r *Replicator) logDialError(err error) {
	if reason, ok := certProblem(err); ok {
		r.log.Warn("replication: the TLS handshake with the peer failed; retrying, but this needs an operator", "reason", reason, "error", err)
		return
	}
	r.log.Debug("replication: dial failed", "error", err)
}

// certProblem says whether err is a refused certificate, and what to
// check.
func certProblem(err error) (string, bool) {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		return "the peer's certificate is not signed by the CA of --tls-ca: check that both instances' certificates come from the same CA", true
	case errors.As(err, &invalid):
		return "the peer's certificate is invalid (expired, not yet valid, or not for this use): check its dates and the clocks, or issue a new one (liege cert instance)", true
	case errors.As(err, &host), errors.Is(err, link.ErrPeerIdentity):
		return "the peer's certificate does not name the expected instance: check --peer-id and the certificate's common name", true
	case errors.As(err, &verify):
		return "the peer's certificate did not verify: check --tls-ca and the peer's certificate", true
	case errors.As(err, &alert), strings.Contains(err.Error(), "remote error: tls:"):
		// Over TCP the peer's alert arrives as an unexported error type.
		return "the peer refused this instance's certificate: check that --tls-cert is signed by the CA the peer trusts (its --tls-ca) and names this instance", true
	}
	return "", false
}

// transferring reports whether the current session's connection is in the
// middle of a frame and has moved bytes since the last call (moved holds
// the count then): the ticker then holds the Node's tick back, so a large
// frame crossing the link is not taken for the peer's silence. Once bytes
// stop moving, ticks resume and a dead peer is found as before.
func (r *Replicator) transferring(moved *uint64) bool {
	r.mu.Lock()
	s := r.cur
	r.mu.Unlock()
	if s == nil {
		return false
	}
	p, ok := s.conn.(link.Progress)
	if !ok {
		return false
	}
	busy, n := p.Transferring()
	if !busy || n == *moved {
		*moved = n
		return false
	}
	*moved = n
	return true
}
