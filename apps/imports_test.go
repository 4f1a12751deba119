package apps

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSampleAppsImportNoInternalPackage: the sample applications use the
// root package alone, so an application outside this module (which cannot
// import internal/) can be written exactly like them. Their tests may use
// the module's test harnesses.
func TestSampleAppsImportNoInternalPackage(t *testing.T) {
	files, err := filepath.Glob("*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, "github.com/liege-db/liege/") && strings.Contains(p+"/", "/internal/") {
				t.Errorf("%s imports %s: a sample application must use only the root package liege (add what it needs there)", f, p)
			}
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("checked %d files of the sample apps; the glob found none where they should be", checked)
	}
}
