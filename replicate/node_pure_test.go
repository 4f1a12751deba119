package replicate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// The core stays pure (issue 11): its files import no engine, no I/O
// package and no clock reader, and start no goroutine.
func TestNodeIsPure(t *testing.T) {
	allowed := map[string]bool{
		"errors": true, "fmt": true, "sort": true, "time": true, // time: Duration only, checked below
		"encoding/binary":                          true, // ownpack.go's varints
		"github.com/liege-db/liege/detect":         true,
		"github.com/liege-db/liege/journal":        true,
		"github.com/liege-db/liege/replicate/link": true,
	}
	fset := token.NewFileSet()
	for _, name := range []string{"node.go", "ready.go", "cases.go", "doc.go", "ownslab.go", "ownpack.go"} {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %s: the core imports only %v", name, p, allowed)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: a goroutine at %v", name, fset.Position(x.Pos()))
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "time" && x.Sel.Name != "Duration" && x.Sel.Name != "Millisecond" && x.Sel.Name != "Second" {
					t.Errorf("%s: time.%s at %v: the core counts ticks and reads no clock", name, x.Sel.Name, fset.Position(x.Pos()))
				}
			}
			return true
		})
	}
}
