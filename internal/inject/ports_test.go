package inject

import "testing"

// TestFreePorts: the ports of one run are distinct.
func TestFreePorts(t *testing.T) {
	for range 50 {
		ps, err := freePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		if ps[0] == ps[1] || ps[0] == ps[2] || ps[1] == ps[2] {
			t.Fatalf("freePorts(3) = %v: want three distinct ports", ps)
		}
	}
}
