package tty

import (
	"bytes"
	"os"
	"testing"
)

func TestNotTerminals(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, s := range map[string]any{os.DevNull: null, "a pipe": r, "a file": file, "a buffer": &bytes.Buffer{}, "nil": nil} {
		if IsTerminal(s) {
			t.Errorf("%s is taken for a terminal", name)
		}
	}
}
