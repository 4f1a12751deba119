package inject

import (
	"os"
	"testing"
)

// TestProgressDevNullIsNotATerminal checks the progress display's
// terminal check on /dev/null, a character device that is no terminal:
// the display must print plain lines there, not redraw one with \r.
func TestProgressDevNullIsNotATerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if (&Progress{}).terminal(null) {
		t.Errorf("the progress display takes %s for a terminal", os.DevNull)
	}
}
