package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readCert parses the PEM certificate at path.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func TestCertCommandWritesCAAndInstance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out, _ := mustRun(t, "", "cert", "ca", "--dir", dir)
	for _, want := range []string{"wrote " + filepath.Join(dir, "ca.crt"), "wrote " + filepath.Join(dir, "ca.key")} {
		if !strings.Contains(out, want) {
			t.Errorf("liege cert ca printed no %q:\n%s", want, out)
		}
	}
	out, _ = mustRun(t, "", "cert", "instance", "--dir", dir, "--days", "30", "B-1")
	crt, key, ca := filepath.Join(dir, "B-1.crt"), filepath.Join(dir, "B-1.key"), filepath.Join(dir, "ca.crt")
	if want := "liege serve --id B-1 --tls-cert " + crt + " --tls-key " + key + " --tls-ca " + ca; !strings.Contains(out, want) {
		t.Errorf("liege cert instance printed no %q:\n%s", want, out)
	}

	for path, perm := range map[string]os.FileMode{
		filepath.Join(dir, "ca.key"): 0o600, key: 0o600, ca: 0o644, crt: 0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), perm)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Errorf("%s holds %d files, want 4 (no temporary files left): %v", dir, len(ents), ents)
	}

	caCert, inst := readCert(t, ca), readCert(t, crt)
	if !caCert.IsCA || caCert.Subject.CommonName != "liege CA" {
		t.Errorf("CA: IsCA %v, common name %q", caCert.IsCA, caCert.Subject.CommonName)
	}
	if inst.Subject.CommonName != "B-1" || len(inst.DNSNames) != 1 || inst.DNSNames[0] != "B-1" {
		t.Errorf("instance certificate names CN %q, DNS %q; want B-1 for both", inst.Subject.CommonName, inst.DNSNames)
	}
	if d := time.Until(inst.NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("--days 30 gave a certificate valid until %v", inst.NotAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	// The link verifies the listener's certificate as a server's and the
	// dialer's as a client's: one certificate must pass both.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := inst.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("verify for usage %v: %v", usage, err)
		}
	}
}

func TestCertCommandRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "", "cert", "ca", "--dir", dir)
	mustRun(t, "", "cert", "instance", "--dir", dir, "A")
	before, err := os.ReadFile(filepath.Join(dir, "A.key"))
	if err != nil {
		t.Fatal(err)
	}
	wantFail(t, "", []string{"cert", "ca", "--dir", dir}, "ca.crt already exists", "--force")
	wantFail(t, "", []string{"cert", "instance", "--dir", dir, "A"}, "A.crt already exists", "--force")
	// Only the key left: still refused, and the certificate is not written.
	if err := os.Remove(filepath.Join(dir, "A.crt")); err != nil {
		t.Fatal(err)
	}
	wantFail(t, "", []string{"cert", "instance", "--dir", dir, "A"}, "A.key already exists", "nothing was written")
	if _, err := os.Stat(filepath.Join(dir, "A.crt")); err == nil {
		t.Error("a refused liege cert instance wrote A.crt")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "A.key")); string(after) != string(before) {
		t.Error("a refused liege cert instance changed A.key")
	}

	mustRun(t, "", "cert", "instance", "--dir", dir, "--force", "A")
	if after, _ := os.ReadFile(filepath.Join(dir, "A.key")); string(after) == string(before) {
		t.Error("--force did not write a new A.key")
	}
	if readCert(t, filepath.Join(dir, "A.crt")).Subject.CommonName != "A" {
		t.Error("--force wrote no certificate for A")
	}
}

func TestCertCommandRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	wantFail(t, "", []string{"cert", "instance", "--dir", dir, "A"}, "read the CA certificate", "liege cert ca")
	mustRun(t, "", "cert", "ca", "--dir", dir, "--days", "10")
	other := t.TempDir()
	mustRun(t, "", "cert", "ca", "--dir", other)
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--dir", dir}, []string{"takes one argument"}},
		{[]string{"--dir", dir, "a/b"}, []string{`instance id "a/b"`}},
		{[]string{"--dir", dir, "-x"}, []string{`instance id "-x"`, "must not start with"}},
		{[]string{"--dir", dir, ".A"}, []string{"must not start with"}},
		{[]string{"--dir", dir, "--days", "0", "A"}, []string{"--days must be between 1"}},
		{[]string{"--dir", dir, "--days", "20", "A"}, []string{"the CA expires", "fewer --days"}},
		{[]string{"--dir", dir, "--ca-key", filepath.Join(other, "ca.key"), "A"}, []string{"does not belong to the CA certificate"}},
		{[]string{"--dir", dir, "--ca-cert", filepath.Join(dir, "ca.key"), "A"}, []string{"no PEM CERTIFICATE"}},
	} {
		wantFail(t, "", append([]string{"cert", "instance"}, tc.args...), tc.wants...)
	}
	// Flags may follow the id, as in every liege command.
	mustRun(t, "", "cert", "instance", "--dir", dir, "B", "--days", "3")
	if c := readCert(t, filepath.Join(dir, "B.crt")); c.NotAfter.Sub(c.NotBefore) > 4*24*time.Hour {
		t.Errorf("cert instance B --days 3 wrote a certificate valid from %v to %v", c.NotBefore, c.NotAfter)
	}
	// A certificate that is not a CA cannot sign.
	mustRun(t, "", "cert", "instance", "--dir", dir, "--days", "5", "X")
	wantFail(t, "", []string{"cert", "instance", "--dir", dir, "--ca-cert", filepath.Join(dir, "X.crt"),
		"--ca-key", filepath.Join(dir, "X.key"), "Y"}, "is not a CA certificate")
}

// tlsPairArgs sets up (without starting) a liege A listening for its peer
// and a vassal B dialing it over mutual TLS: each with the certificate
// CERT.crt and key CERT.key (as liege cert writes them) and its CA file.
func tlsPairArgs(t *testing.T, certA, certB, caA, caB string) (a, b *pairProc) {
	t.Helper()
	peerAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	tls := func(cert, ca string) []string {
		return []string{"--tls-cert", cert + ".crt", "--tls-key", cert + ".key", "--tls-ca", ca}
	}
	a = &pairProc{dir: filepath.Join(t.TempDir(), "A")}
	b = &pairProc{dir: filepath.Join(t.TempDir(), "B")}
	a.args = append([]string{"--dir", a.dir, "--id", "A", "--app", "kv", "--role", "liege", "--peer-id", "B",
		"--listen-peer", peerAddr}, tls(certA, caA)...)
	b.args = append([]string{"--dir", b.dir, "--id", "B", "--app", "kv", "--role", "vassal", "--peer-id", "A",
		"--peer", peerAddr}, tls(certB, caB)...)
	return a, b
}

// TestCertPairReplicatesOverTLS runs a liege and a vassal as liege serve
// processes on certificates written by liege cert, commits on both and
// checks that each transaction reached the other side.
func TestCertPairReplicatesOverTLS(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "", "cert", "ca", "--dir", dir)
	mustRun(t, "", "cert", "instance", "--dir", dir, "A")
	mustRun(t, "", "cert", "instance", "--dir", dir, "B")
	ca := filepath.Join(dir, "ca.crt")
	a, b := tlsPairArgs(t, filepath.Join(dir, "A"), filepath.Join(dir, "B"), ca, ca)
	a.start(t)
	b.start(t)
	callSet(a.s, "from-a", "1")
	callSet(b.s, "from-b", "2")
	waitIdle(t, a, b)
	for _, p := range []*pairProc{a, b} {
		if got := keyValue(p.s, "from-a"); got != "1" {
			t.Errorf("%s: from-a = %v, want 1 (committed on A)", p.dir, got)
		}
		if got := keyValue(p.s, "from-b"); got != "2" {
			t.Errorf("%s: from-b = %v, want 2 (committed on B)", p.dir, got)
		}
	}
	for _, p := range []*pairProc{a, b} {
		if !strings.Contains(p.s.output.String(), "tls=true") {
			t.Errorf("%s did not log a TLS link:\n%s", p.dir, p.s.output)
		}
		if err := p.s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.s.wait(60 * time.Second); code != 0 {
			t.Fatalf("liege serve %s exited %d", p.dir, code)
		}
	}
}

// TestCertPairRefusesWrongPeer starts a vassal whose certificate is for
// another instance id, then one whose certificate comes from another CA,
// and checks the liege refuses each at the TLS handshake, saying why, and
// never connects.
func TestCertPairRefusesWrongPeer(t *testing.T) {
	dir, otherCA, namedCA := t.TempDir(), t.TempDir(), t.TempDir()
	mustRun(t, "", "cert", "ca", "--dir", dir)
	mustRun(t, "", "cert", "instance", "--dir", dir, "A")
	mustRun(t, "", "cert", "instance", "--dir", dir, "C")
	// Another CA of the same (default) name, as when each site ran liege
	// cert ca, and one of another name.
	mustRun(t, "", "cert", "ca", "--dir", otherCA)
	mustRun(t, "", "cert", "instance", "--dir", otherCA, "B")
	mustRun(t, "", "cert", "ca", "--dir", namedCA, "--name", "other CA")
	mustRun(t, "", "cert", "instance", "--dir", namedCA, "B")
	ca := filepath.Join(dir, "ca.crt")
	for _, tc := range []struct {
		name, certB, caB string
		want             string
	}{
		{"certificate for C", filepath.Join(dir, "C"), ca, `peer identity mismatch: the peer's certificate names common name \"C\", DNS names [\"C\"], but the peer must be \"B\"`},
		{"certificate from another CA", filepath.Join(otherCA, "B"), ca, "certificate signed by unknown authority"},
		// The client offers no certificate the listener's CA did not sign.
		{"certificate from another CA of another name", filepath.Join(namedCA, "B"), ca, "client didn't provide a certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tlsPairArgs(t, filepath.Join(dir, "A"), tc.certB, ca, tc.caB)
			a.start(t)
			b.start(t)
			// The text log quotes the error, escaping its quotes.
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(a.s.output.String(), tc.want) {
				if time.Now().After(deadline) {
					t.Fatalf("the liege did not log %q within 20s:\n%s", tc.want, a.s.output)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(a.s.output.String(), "link: refused a connection") {
				t.Errorf("the liege's refusal is not a refused connection:\n%s", a.s.output)
			}
			for _, p := range []*pairProc{a, b} {
				if l := statusLink(p.s); l == nil || l["connected"] != false {
					t.Errorf("%s: link %v after a refused handshake, want connected false", p.dir, l)
				}
			}
		})
	}
}
