package link

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlaintextMustBeAskedFor(t *testing.T) {
	const msg = "refusing a plaintext link: pass TLS settings or ask for plaintext"
	if _, err := ListenTCP("127.0.0.1:0", Config{}); !errors.Is(err, ErrPlaintext) || err.Error() != msg {
		t.Fatalf("ListenTCP without TLS: got %v", err)
	}
	if _, err := DialTCP("127.0.0.1:1", Config{}); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("DialTCP without TLS: got %v", err)
	}
	ca := newTestCA(t, "ca")
	if _, err := DialTCP("127.0.0.1:1", Config{TLS: tlsFiles(t, ca, "A", ca, false), Plaintext: true}); err == nil {
		t.Fatal("DialTCP took both TLS and Plaintext")
	}
}

func TestTLSSettingsChecked(t *testing.T) {
	ca := newTestCA(t, "ca")
	good := tlsFiles(t, ca, "A", ca, false)
	noCA := good.Clone()
	noCA.RootCAs, noCA.ClientCAs = nil, nil
	noCert := good.Clone()
	noCert.Certificates = nil
	for name, cfg := range map[string]*tls.Config{"no CA": noCA, "no certificate": noCert} {
		if _, err := DialTCP("127.0.0.1:1", Config{TLS: cfg}); err == nil {
			t.Errorf("%s: DialTCP took it", name)
		}
		if _, err := ListenTCP("127.0.0.1:0", Config{TLS: cfg}); err == nil {
			t.Errorf("%s: ListenTCP took it", name)
		}
	}

	dir := t.TempDir()
	certPEM, keyPEM := ca.issue(t, "A")
	files := map[string][]byte{"cert": certPEM, "key": keyPEM, "ca": ca.pem, "junk": []byte("not PEM")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	if _, err := TLSConfig(p("cert"), p("key"), p("junk"), true); err == nil || !strings.Contains(err.Error(), p("junk")) {
		t.Errorf("CA file without a certificate: got %v", err)
	}
	if _, err := TLSConfig(p("cert"), p("key"), p("missing"), true); err == nil {
		t.Error("missing CA file taken")
	}
	if _, err := TLSConfig(p("cert"), p("junk"), p("ca"), true); err == nil || !strings.Contains(err.Error(), p("junk")) {
		t.Errorf("bad key file: got %v", err)
	}
}

// tlsCase runs a TLS dial from a (configured by dialer) to a listener
// (configured by listener), exchanging Hellos if both sides accept.
type tlsCase struct {
	listener, dialer Config
	log              logSink
}

func newTLSCase(t *testing.T, serverCA, serverTrust, clientCA, clientTrust *testCA, serverID, clientID string) *tlsCase {
	log, sink := newLogSink()
	return &tlsCase{
		listener: Config{TLS: tlsFiles(t, serverCA, serverID, serverTrust, true), Logger: log},
		dialer:   Config{TLS: tlsFiles(t, clientCA, clientID, clientTrust, false), Logger: quiet},
		log:      sink,
	}
}

// dial connects and returns the dialer's error: from Dial, or (when the
// listener refuses the dialer's certificate, which TLS 1.3 reports after the
// dialer's handshake) from its first Recv.
func (c *tlsCase) dial(t *testing.T) error {
	t.Helper()
	l, err := ListenTCP("127.0.0.1:0", c.listener)
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the test has read the log: a handshake that Close cuts
	// short is not logged.
	t.Cleanup(func() { _ = l.Close() })
	d, err := DialTCP(l.Addr(), c.dialer)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.Dial(testCtx(t))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	f, err := conn.Recv(testCtx(t))
	if err == nil {
		t.Fatalf("a refused dialer received %+v", f)
	}
	return err
}

func TestTLSRefusesOtherCA(t *testing.T) {
	ca, rogue := newTestCA(t, "ca"), newTestCA(t, "rogue")

	t.Run("listener's certificate", func(t *testing.T) {
		c := newTLSCase(t, rogue, ca, ca, ca, "B", "A")
		err := c.dial(t)
		if err == nil || !strings.Contains(err.Error(), "verify the peer's certificate") || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("dial to a listener with a rogue certificate: got %v", err)
		}
	})

	t.Run("dialer's certificate", func(t *testing.T) {
		// Go's client keeps back a certificate that no CA the listener
		// names has signed...
		c := newTLSCase(t, ca, ca, rogue, ca, "B", "A")
		if err := c.dial(t); err == nil {
			t.Fatal("dialer with a rogue certificate connected")
		}
		c.log.wait(t, "refused a connection", "client didn't provide a certificate")
	})

	t.Run("dialer's certificate, presented anyway", func(t *testing.T) {
		// ...which a hostile client need not.
		c := newTLSCase(t, ca, ca, rogue, ca, "B", "A")
		cert := c.dialer.TLS.Certificates[0]
		c.dialer.TLS.Certificates = nil
		c.dialer.TLS.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		if err := c.dial(t); err == nil {
			t.Fatal("dialer with a rogue certificate connected")
		}
		c.log.wait(t, "refused a connection", "unknown authority")
	})
}

func TestTLSExpectPeerID(t *testing.T) {
	ca := newTestCA(t, "ca")

	t.Run("dialer expects another listener", func(t *testing.T) {
		c := newTLSCase(t, ca, ca, ca, ca, "B", "A")
		c.dialer.ExpectPeerID = "C"
		err := c.dial(t)
		if !errors.Is(err, ErrPeerIdentity) || !strings.Contains(err.Error(), `"B"`) || !strings.Contains(err.Error(), `"C"`) {
			t.Fatalf("got %v, want ErrPeerIdentity naming B and C", err)
		}
	})

	t.Run("listener expects another dialer", func(t *testing.T) {
		c := newTLSCase(t, ca, ca, ca, ca, "B", "X")
		c.listener.ExpectPeerID = "A"
		if err := c.dial(t); err == nil {
			t.Fatal("dialer X connected to a listener expecting A")
		}
		c.log.wait(t, "refused a connection", ErrPeerIdentity.Error(), `"X"`, `"A"`)
	})

	t.Run("matching ids", func(t *testing.T) {
		c := newTLSCase(t, ca, ca, ca, ca, "B", "A")
		c.listener.ExpectPeerID, c.dialer.ExpectPeerID = "A", "B"
		l, err := ListenTCP("127.0.0.1:0", c.listener)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = l.Close() }()
		d, err := DialTCP(l.Addr(), c.dialer)
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.Dial(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = a.Close() }()
		b, err := l.Accept(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Close() }()
		if a.PeerID() != "B" || b.PeerID() != "A" {
			t.Fatalf("PeerIDs from certificates: %q, %q", a.PeerID(), b.PeerID())
		}
		shake(t, a, b)
	})
}

func TestTLSListenerRefusesPlaintext(t *testing.T) {
	ca := newTestCA(t, "ca")
	log, sink := newLogSink()
	l, err := ListenTCP("127.0.0.1:0", Config{TLS: tlsFiles(t, ca, "B", ca, true), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	d, err := DialTCP(l.Addr(), Config{Plaintext: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Dial(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	if err := a.Send(testCtx(t), hello("A")); err != nil {
		t.Fatal(err)
	}
	sink.wait(t, "refused a connection", "tls")
	if f, err := a.Recv(testCtx(t)); err == nil {
		t.Fatalf("a plaintext dialer received %+v", f)
	}
}

// A context that ends while a Send's write completes: watch's abort closes
// the connection behind the successful Send, and the next Send with that
// context must say the context ended (the conformance suite's
// CancelUnblocksSend saw net.ErrClosed under load, from this interleaving).
func TestSendAfterAbortReportsTheContext(t *testing.T) {
	a, b := connect(t, transports()["tcp"])
	shake(t, a, b)
	ctx, cancel := context.WithCancel(testCtx(t))
	if err := a.Send(ctx, heartbeat("A", 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	a.(*tcpConn).abort() // what context.AfterFunc runs once ctx ends
	if err := a.Send(ctx, heartbeat("A", 2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("send with the ended context after abort: got %v, want context.Canceled", err)
	}
	if err := a.Send(testCtx(t), heartbeat("A", 3)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send with a live context after abort: got %v, want net.ErrClosed", err)
	}
}
