package httpapi_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/httpapi"
)

// The answers of docs/http-api.md, as documented, decode into the shared
// types without unknown fields and encode back to the same bytes: the
// types are the wire format the documentation shows.
func TestDocumentedAnswersRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		into any
	}{
		{"call answer", `{"txid": "A/18", "hlc": 117655400119730185, "hlc_time": "2026-11-21T16:18:02.123Z+3",
		  "pos": 42, "read_only": false, "result": "ok", "token": "A:18,B:4"}`, &httpapi.CallAnswer{}},
		{"read-only call answer", `{"txid": null, "hlc": 1, "hlc_time": "x", "pos": 0, "read_only": true, "result": {"found": true, "value": [1, "a"]}, "token": ""}`, &httpapi.CallAnswer{}},
		{"call request", `{"args": {"key": "alice", "delta": 5}, "min_token": "A:17", "timeout_ms": 2000}`, &httpapi.CallRequest{}},
		{"key answer", `{"key": ["kv", "alice"], "key_hex": "1e6b7600011e616c6963650001", "found": true, "value": 105,
		  "version": {"hlc": 117655400119730185, "origin": "A"}, "token": "A:18"}`, &httpapi.KeyAnswer{}},
		{"absent key answer", `{"key": ["kv", "x"], "key_hex": "00", "found": false, "value": null, "version": null, "token": "A:18"}`, &httpapi.KeyAnswer{}},
		{"keys answer", `{"keys": [{"key": ["kv", "alice"], "key_hex": "1e6b7600011e616c6963650001", "value": 105, "version": {"hlc": 1, "origin": "A"}}],
		  "truncated": false, "next_cursor": null, "token": "A:18"}`, &httpapi.KeysAnswer{}},
		{"txn answer", `{"txid": "A/17", "state": "committed", "pos": 41, "kind": "local", "proc": "transfer",
		  "result": "ok", "subject": null, "lost_file": null}`, &httpapi.TxnAnswer{}},
		{"status", `{"id": "A", "role": "liege", "app": "kv", "epoch": 0, "last_pos": 42, "durable_pos": 42,
		  "oseq": 18, "peer_watermark": 0, "watermarks": {"A": 18}, "window": 0,
		  "lag": {"transactions": 0, "ms": 0}, "keys": 7, "uptime_s": 12.5,
		  "link": {"connected": true, "peer": "B", "peer_role": "vassal", "peer_epoch": 3,
		           "lag_in": 0, "lag_out": 0, "recon_pending": 0, "reconnects": 1, "idle": true},
		  "routes": [{"proc": "set", "route": "auto", "conflict_rate": 0.25, "forwarding": true, "prefixes": 3, "prefixes_forwarding": 1},
		             {"proc": "get", "route": "liege", "conflict_rate": 0, "forwarding": false, "available": true}],
		  "build": {"module": "v1.2.0", "revision": "3f1c2a9e0d", "modified": false, "go": "go1.26.8",
		            "journal_format": 1, "protocol": 1}}`, &httpapi.Status{}},
		{"lone status", `{"id": "A", "role": "liege", "app": "kv", "epoch": 0, "last_pos": 0, "durable_pos": 0,
		  "oseq": 0, "peer_watermark": 0, "watermarks": {}, "window": 0, "lag": {"transactions": 0, "ms": 0},
		  "keys": 0, "uptime_s": 0.5, "routes": [], "build": {"module": "(devel)", "revision": "", "modified": true, "go": "go1.26.8",
		  "journal_format": 1, "protocol": 1}}`, &httpapi.Status{}},
		{"link discarding", `{"connected": false, "peer": "B", "peer_role": "vassal", "peer_epoch": 3, "lag_in": 2, "lag_out": 1,
		  "discarding": "B/4", "recon_pending": 1, "reconnects": 2, "refused": "protocol 2, want 1", "idle": false}`, &httpapi.Link{}},
		{"error", `{"error": {"code": "unknown_procedure", "message": "unknown procedure \"bye\": this instance serves app kv with add, append, delete, get, set, transfer"}}`, &httpapi.ErrorBody{}},
		{"role request", `{"role": "liege", "force": true}`, &httpapi.RoleRequest{}},
		{"role answer", `{"role": "liege", "reconciled": 0}`, &httpapi.RoleAnswer{}},
		{"quiesce request", `{"on": true}`, &httpapi.QuiesceRequest{}},
		{"quiesce answer", `{"quiesced": false}`, &httpapi.QuiesceAnswer{}},
		{"health", `{"status": "ok"}`, &httpapi.Health{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dec := json.NewDecoder(strings.NewReader(c.doc))
			dec.DisallowUnknownFields()
			if err := dec.Decode(c.into); err != nil {
				t.Fatalf("the documented JSON does not decode into %T: %v", c.into, err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, []byte(c.doc)); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			enc := json.NewEncoder(&got)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(c.into); err != nil {
				t.Fatal(err)
			}
			if g := bytes.TrimSpace(got.Bytes()); !bytes.Equal(g, want.Bytes()) {
				t.Errorf("%T encodes differently from the documented JSON:\n got %s\nwant %s", c.into, g, want.Bytes())
			}
		})
	}
}

func TestEveryCodeIsListed(t *testing.T) {
	listed := slices.Sorted(slices.Values(httpapi.Codes))
	var declared []string
	for _, v := range declaredCodes(t, parseDir(t, ".")) {
		declared = append(declared, v)
	}
	slices.Sort(declared)
	if !slices.Equal(listed, declared) {
		t.Fatalf("Codes lists %v, the Code constants are %v", listed, declared)
	}
}

// TestNoDuplicateShapes keeps internal/httpapi the only home of the HTTP
// shapes: neither the client, its test stub (client/clienttest) nor the
// server may declare a struct (named
// or anonymous, anywhere in their code) whose JSON field names are two or
// more of those of a shared struct, nor an error code as a string literal.
// Use the shared type (the client aliases those its users name).
func TestNoDuplicateShapes(t *testing.T) {
	shared := map[string][]string{} // type name -> its json names
	for _, f := range parseDir(t, ".") {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, spec := range g.Specs {
				ts := spec.(*ast.TypeSpec)
				if st, ok := ts.Type.(*ast.StructType); ok {
					shared[ts.Name.Name] = jsonNames(st)
				}
			}
		}
	}
	if len(shared) < 10 {
		t.Fatalf("found only %d shared structs in internal/httpapi: the test does not read the package", len(shared))
	}
	codes := map[string]bool{}
	for _, c := range httpapi.Codes {
		codes[c] = true
	}
	for _, dir := range []string{"../../client", "../../client/clienttest", "../server"} {
		fset := token.NewFileSet()
		files := parseDirFset(t, fset, dir)
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.StructType:
					names := jsonNames(n)
					for typ, want := range shared {
						if common := overlap(names, want); len(common) >= 2 && len(common) == len(names) {
							t.Errorf("%s: a struct with the JSON fields %v of httpapi.%s: use httpapi.%s instead of a copy",
								fset.Position(n.Pos()), names, typ, typ)
						}
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING {
						if s, err := strconv.Unquote(n.Value); err == nil && codes[s] && isConstSpec(f, n) {
							t.Errorf("%s: error code %q declared as a literal: use httpapi.Code...", fset.Position(n.Pos()), s)
						}
					}
				}
				return true
			})
		}
	}
}

// The detector itself finds a copy: a test of the test.
func TestNoDuplicateShapesSeesACopy(t *testing.T) {
	src := `package x
func f() { var a struct {
	TxID *string ` + "`json:\"txid\"`" + `
	Token string ` + "`json:\"token\"`" + `
}; _ = a }`
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		if st, ok := n.(*ast.StructType); ok {
			found = jsonNames(st)
		}
		return true
	})
	want := jsonNames(structOf(t, "CallAnswer"))
	if c := overlap(found, want); len(c) != 2 || len(c) != len(found) {
		t.Fatalf("a copy of two CallAnswer fields overlaps in %v", c)
	}
}

func structOf(t *testing.T, name string) *ast.StructType {
	for _, f := range parseDir(t, ".") {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, spec := range g.Specs {
					if ts := spec.(*ast.TypeSpec); ts.Name.Name == name {
						return ts.Type.(*ast.StructType)
					}
				}
			}
		}
	}
	t.Fatalf("no type %s in internal/httpapi", name)
	return nil
}

func isConstSpec(f *ast.File, lit *ast.BasicLit) bool {
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		g, ok := n.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			return !found
		}
		ast.Inspect(g, func(m ast.Node) bool {
			if m == lit {
				found = true
			}
			return !found
		})
		return false
	})
	return found
}

func declaredCodes(t *testing.T, files map[string]*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						out[n.Name] = s
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no Code constants found in internal/httpapi")
	}
	return out
}

func jsonNames(st *ast.StructType) []string {
	var out []string
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		tag, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func overlap(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func parseDir(t *testing.T, dir string) map[string]*ast.File {
	return parseDirFset(t, token.NewFileSet(), dir)
}

// parseDirFset parses the non-test Go files of dir.
func parseDirFset(t *testing.T, fset *token.FileSet, dir string) map[string]*ast.File {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ast.File{}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = f
	}
	return out
}
