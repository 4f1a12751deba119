package link

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testCluster = "c1"

// testCtx returns a context that ends with the test, or after 10 s.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var quiet = slog.New(slog.DiscardHandler)

func hello(from string) *Frame {
	return &Frame{Kind: KindHello, Cluster: testCluster, From: from, Epoch: 1,
		Version: ProtocolVersion, Role: RoleVassal, Watermark: 7, WallClock: 1_700_000_000_000_000_000}
}

func heartbeat(from string, wm uint64) *Frame {
	return &Frame{Kind: KindHeartbeat, Cluster: testCluster, From: from, Watermark: wm}
}

func txn(from string, prev uint64, size int) *Frame {
	rec := make([]byte, size)
	for i := range rec {
		rec[i] = byte(i*7 + int(prev))
	}
	return &Frame{Kind: KindTxn, Cluster: testCluster, From: from, Epoch: 2, Prev: prev, Record: rec}
}

// sample returns one frame of every kind, the i-th of a stream from from.
func sample(from string, i int) *Frame {
	switch i % 7 {
	case 0:
		return txn(from, uint64(i), 400)
	case 1:
		return heartbeat(from, uint64(i))
	case 2:
		return &Frame{Kind: KindResend, Cluster: testCluster, From: from, Watermark: uint64(i)}
	case 3:
		return &Frame{Kind: KindRollbackCommand, Cluster: testCluster, From: from, Subject: fmt.Sprintf("B/%d", i+1), Watermark: uint64(i)}
	case 4:
		return &Frame{Kind: KindRollbackAnswer, Cluster: testCluster, From: from, Epoch: 3, Subject: fmt.Sprintf("B/%d", i+1)}
	case 5:
		return &Frame{Kind: KindReconLog, Cluster: testCluster, From: from, Records: [][]byte{{1, 2, 3}, make([]byte, 300)}}
	default:
		return &Frame{Kind: KindAck, Cluster: testCluster, From: from, Watermark: uint64(i)}
	}
}

// logSink is a slog.Handler that hands each record, as a line, to a
// channel, so a test can wait for a logged reason.
type logSink chan string

func newLogSink() (*slog.Logger, logSink) {
	s := make(logSink, 64)
	return slog.New(s), s
}

func (s logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s logSink) WithGroup(string) slog.Handler            { return s }
func (s logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	select {
	case s <- b.String():
	default:
	}
	return nil
}

// wait returns the first logged line that contains every part.
func (s logSink) wait(t *testing.T, parts ...string) string {
	t.Helper()
	ctx := testCtx(t)
	for {
		select {
		case line := <-s:
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return line
			}
			t.Logf("log: %s", line)
		case <-ctx.Done():
			t.Fatalf("no log line containing %q", parts)
		}
	}
}

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for instance id, usable as server
// and client.
func (ca *testCA) issue(t testing.TB, id string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id},
		DNSNames:     []string{id},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// tlsFiles writes id's certificate and key (signed by ca) and the CA that
// id trusts (trust) to files, and loads them with TLSConfig.
func tlsFiles(t testing.TB, ca *testCA, id string, trust *testCA, server bool) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM := ca.issue(t, id)
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	for name, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, caFile: trust.pem} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := TLSConfig(certFile, keyFile, caFile, server)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
