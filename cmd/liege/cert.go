package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

const certDescription = `Writes the certificates of the peer link's mutual TLS: a certificate
authority (CA) of your own, and one certificate per instance signed by it.
Both instances of a pair get the same CA file and each its own certificate
and key; an instance accepts a peer only if the peer's certificate chains to
that CA and names the peer's id (--peer-id).

Example, on one machine (then copy each instance's files to its site):

  liege cert ca                 # certs/ca.crt, certs/ca.key
  liege cert instance A         # certs/A.crt, certs/A.key
  liege cert instance B         # certs/B.crt, certs/B.key
  liege serve ... --id A --tls-cert certs/A.crt --tls-key certs/A.key --tls-ca certs/ca.crt

Keys are ECDSA P-256, written with mode 0600; the CA key signs every
instance certificate, so keep it off the instances. Existing files are
never overwritten without --force.`

const (
	caCertFile = "ca.crt"
	caKeyFile  = "ca.key"
)

func certCommand() *cli.Command {
	dirFlag := &cli.StringFlag{Name: "dir", Value: "certs",
		Usage: "the `DIR` to write the files into, created if missing (e.g. --dir /etc/liege/tls)"}
	forceFlag := &cli.BoolFlag{Name: "force", Usage: "overwrite files that already exist"}
	return &cli.Command{
		Name:        "cert",
		Usage:       "write a CA and instance certificates for the peer link's mutual TLS",
		UsageText:   "liege cert ca [--dir DIR]\n   liege cert instance [--dir DIR] ID",
		Description: certDescription,
		Subcommands: []*cli.Command{
			{
				Name:      "ca",
				Usage:     "write a new CA: DIR/ca.crt (give it to every instance) and DIR/ca.key (keep it safe)",
				UsageText: "liege cert ca [--dir DIR] [--days N] [--name NAME] [--force]",
				Flags: []cli.Flag{
					dirFlag,
					&cli.IntFlag{Name: "days", Value: 3650, Usage: "the CA is valid for `N` days from now"},
					&cli.StringFlag{Name: "name", Value: "liege CA", Usage: "the CA's common `NAME` (e.g. --name \"tickets-eu CA\")"},
					forceFlag,
				},
				Action: runCertCA,
			},
			{
				Name:      "instance",
				Usage:     "write DIR/ID.crt and DIR/ID.key: instance ID's certificate, signed by the CA",
				UsageText: "liege cert instance [--dir DIR] [--days N] [--ca-cert FILE --ca-key FILE] [--force] ID",
				Description: "The certificate's common name and DNS name are ID, the instance id given to\n" +
					"liege serve --id (and to the peer's --peer-id); it serves both as the server\n" +
					"and as the client certificate of the link. Flags go before ID.",
				Flags: []cli.Flag{
					dirFlag,
					&cli.IntFlag{Name: "days", Value: 825, Usage: "the certificate is valid for `N` days from now"},
					&cli.StringFlag{Name: "ca-cert", Usage: "the CA certificate `FILE` (default DIR/ca.crt)"},
					&cli.StringFlag{Name: "ca-key", Usage: "the CA key `FILE` (default DIR/ca.key)"},
					forceFlag,
				},
				Action: runCertInstance,
			},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w (see liege cert --help)", err)
		},
	}
}

func runCertCA(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("liege cert ca takes no arguments, got %q (liege cert ca --dir DIR)", c.Args().Slice())
	}
	dir := c.String("dir")
	name := strings.TrimSpace(c.String("name"))
	if name == "" {
		return errors.New("--name must not be empty")
	}
	if err := checkDays(c.Int("days")); err != nil {
		return err
	}
	certPEM, keyPEM, err := newCA(name, time.Now(), c.Int("days"), rand.Reader)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	if err := writePEMFiles(dir, c.Bool("force"), pemFile{certPath, certPEM, 0o644}, pemFile{keyPath, keyPEM, 0o600}); err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s (the CA certificate: give it to every instance as --tls-ca)\n", certPath)
	fmt.Fprintf(w, "wrote %s (the CA key, mode 0600: it signs instance certificates; keep it off the instances)\n", keyPath)
	fmt.Fprintf(w, "next: liege cert instance %sID for each instance\n", dirArg(c))
	return nil
}

func runCertInstance(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("liege cert instance takes one argument, the instance id, got %q (liege cert instance --dir DIR ID)", c.Args().Slice())
	}
	id := c.Args().First()
	if err := checkInstanceID(id); err != nil {
		return err
	}
	if err := checkDays(c.Int("days")); err != nil {
		return err
	}
	dir := c.String("dir")
	caCertPath, caKeyPath := c.String("ca-cert"), c.String("ca-key")
	if caCertPath == "" {
		caCertPath = filepath.Join(dir, caCertFile)
	}
	if caKeyPath == "" {
		caKeyPath = filepath.Join(dir, caKeyFile)
	}
	ca, caKey, err := loadCA(caCertPath, caKeyPath)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := newInstanceCert(id, ca, caKey, time.Now(), c.Int("days"), rand.Reader)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key")
	if err := writePEMFiles(dir, c.Bool("force"), pemFile{certPath, certPEM, 0o644}, pemFile{keyPath, keyPEM, 0o600}); err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s (instance %s's certificate, signed by %s)\n", certPath, id, caCertPath)
	fmt.Fprintf(w, "wrote %s (its key, mode 0600)\n", keyPath)
	fmt.Fprintf(w, "serve it with: liege serve --id %s --tls-cert %s --tls-key %s --tls-ca %s ...\n", id, certPath, keyPath, caCertPath)
	fmt.Fprintf(w, "(its peer runs with --peer-id %s and the same --tls-ca)\n", id)
	return nil
}

// dirArg is the --dir flag to repeat in a hint, empty for the default.
func dirArg(c *cli.Context) string {
	if !c.IsSet("dir") {
		return ""
	}
	return "--dir " + c.String("dir") + " "
}

func checkDays(days int) error {
	if days < 1 || days > 100*365 {
		return fmt.Errorf("--days must be between 1 and %d, not %d", 100*365, days)
	}
	return nil
}

// checkInstanceID refuses an id that cannot be both a file name and a DNS
// name in a certificate.
func checkInstanceID(id string) error {
	if id == "" || len(id) > 63 {
		return fmt.Errorf("instance id %q: want 1 to 63 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("instance id %q: only letters, digits, '-', '_' and '.' can name a certificate (it is also the file name)", id)
		}
	}
	if id[0] == '-' || id[0] == '.' {
		return fmt.Errorf("instance id %q must not start with %q", id, id[0])
	}
	return nil
}

// newCA returns a self-signed CA certificate and its key, both PEM, valid
// from an hour before now (for clocks a little behind) for days.
func newCA(name string, now time.Time, days int, rnd io.Reader) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, nil, fmt.Errorf("generate the CA key: %w", err)
	}
	serial, err := newSerial(rnd)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs instance certificates only
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create the CA certificate: %w", err)
	}
	return encodePair(der, key)
}

// newInstanceCert returns instance id's certificate, signed by ca, and its
// key, both PEM: the common name and the DNS name are id (what the link
// checks against --peer-id), and it is good for both ends of a TLS
// connection, since an instance both accepts and dials its peer.
func newInstanceCert(id string, ca *x509.Certificate, caKey crypto.Signer, now time.Time, days int, rnd io.Reader) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, nil, fmt.Errorf("generate the key of %s: %w", id, err)
	}
	serial, err := newSerial(rnd)
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.AddDate(0, 0, days)
	if notAfter.After(ca.NotAfter) {
		return nil, nil, fmt.Errorf("the CA expires %s, before the %d days asked for; ask for fewer --days or make a new CA",
			ca.NotAfter.UTC().Format(time.DateOnly), days)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id},
		DNSNames:     []string{id},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rnd, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign the certificate of %s: %w", id, err)
	}
	return encodePair(der, key)
}

func newSerial(rnd io.Reader) (*big.Int, error) {
	serial, err := rand.Int(rnd, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("draw a serial number: %w", err)
	}
	return serial, nil
}

func encodePair(der []byte, key *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// loadCA reads a CA certificate and its key written by liege cert ca (or
// any PEM CA with a PKCS#8, EC or PKCS#1 key), and checks they belong
// together and can sign.
func loadCA(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	const hint = "; make one with liege cert ca, or give --ca-cert and --ca-key"
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read the CA certificate: %w%s", err, hint)
	}
	blk, _ := pem.Decode(cb)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("%s holds no PEM CERTIFICATE block", certPath)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse the CA certificate %s: %w", certPath, err)
	}
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, fmt.Errorf("%s (%q) is not a CA certificate: it cannot sign others", certPath, ca.Subject.CommonName)
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read the CA key: %w%s", err, hint)
	}
	kblk, _ := pem.Decode(kb)
	if kblk == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM block", keyPath)
	}
	var key any
	switch kblk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(kblk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kblk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kblk.Bytes)
	default:
		return nil, nil, fmt.Errorf("%s holds a %q block, not a private key", keyPath, kblk.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse the CA key %s: %w", keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("the CA key %s (%T) cannot sign", keyPath, key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("the CA key %s does not belong to the CA certificate %s", keyPath, certPath)
	}
	return ca, signer, nil
}

// pemFile is a file to write.
type pemFile struct {
	path string
	data []byte
	perm fs.FileMode
}

// writePEMFiles writes files into dir, refusing to overwrite any unless
// force: it checks them all first, so that a refusal writes none of them.
func writePEMFiles(dir string, force bool, files ...pemFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	if !force {
		for _, f := range files {
			if _, err := os.Lstat(f.path); err == nil {
				return fmt.Errorf("%s already exists; remove it or pass --force to overwrite it (nothing was written)", f.path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	for _, f := range files {
		if err := writeFileAtomic(f.path, f.data, f.perm, force); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, created with perm, so that a key is never readable by others,
// not even while it is written, and a crash leaves the old file or the new.
// Without replace, a file that appeared at path meanwhile is kept: the new
// one is hard-linked into place, which fails if path exists.
func writeFileAtomic(path string, data []byte, perm fs.FileMode, replace bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	place := os.Link
	if replace {
		place = os.Rename
	}
	if err := place(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; remove it or pass --force to overwrite it", path)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
