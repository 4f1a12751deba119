package link

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// TLSConfig builds mutual TLS settings from PEM files: this instance's
// certificate and key, and the CA that signs every instance's certificate.
// The result serves both ListenTCP and DialTCP; server only makes the
// listener side demand a client certificate, which the link demands anyway.
func TLSConfig(certFile, keyFile, caFile string, server bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s with key %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in CA file %s", caFile)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}
	if server {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// linkTLS returns a copy of base set up for one side of a link: TLS 1.3 at
// least, the peer's certificate required and verified against base's CA,
// and the peer's identity checked against expect.
func linkTLS(base *tls.Config, expect string, server bool) (*tls.Config, error) {
	t := base.Clone()
	if len(t.Certificates) == 0 && t.GetCertificate == nil && t.GetClientCertificate == nil {
		return nil, errors.New("TLS settings hold no certificate for this instance: mutual TLS needs one on both sides")
	}
	roots := t.RootCAs
	if server {
		roots = t.ClientCAs
	}
	if roots == nil {
		// Without a CA of its own the link would trust the system's, and
		// any certificate a public CA issued for the right name.
		return nil, errors.New("TLS settings hold no CA to verify the peer's certificate (RootCAs and ClientCAs)")
	}
	t.MinVersion = max(t.MinVersion, tls.VersionTLS13)
	if server {
		t.ClientAuth = tls.RequireAndVerifyClientCert
	} else {
		// The peer is named by its instance id, not by the address dialed:
		// the chain is verified in VerifyConnection below instead of
		// against a host name.
		t.InsecureSkipVerify = true
	}
	next := t.VerifyConnection
	t.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the peer presented no certificate")
		}
		if !server {
			if err := verifyChain(cs.PeerCertificates, roots, t.Time); err != nil {
				return err
			}
		}
		if _, err := peerIdentity(cs.PeerCertificates[0], expect); err != nil {
			return err
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
	return t, nil
}

// verifyChain verifies a server's certificate chain against roots.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, now func() time.Time) error {
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if now != nil {
		opts.CurrentTime = now()
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("verify the peer's certificate (%s): %w", certNames(certs[0]), err)
	}
	return nil
}

// peerIdentity returns the instance id a verified certificate names: expect
// if it is the common name or a DNS name, else an error; with no expect, the
// common name, or the first DNS name.
func peerIdentity(cert *x509.Certificate, expect string) (string, error) {
	if expect != "" {
		if cert.Subject.CommonName == expect || slices.Contains(cert.DNSNames, expect) {
			return expect, nil
		}
		return "", fmt.Errorf("%w: the peer's certificate names %s, but the peer must be %q (ExpectPeerID)",
			ErrPeerIdentity, certNames(cert), expect)
	}
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName, nil
	}
	if len(cert.DNSNames) > 0 {
		return cert.DNSNames[0], nil
	}
	return "", fmt.Errorf("%w: the peer's certificate names no instance (no common name, no DNS name)", ErrPeerIdentity)
}

func certNames(cert *x509.Certificate) string {
	return fmt.Sprintf("common name %q, DNS names %q", cert.Subject.CommonName, cert.DNSNames)
}
