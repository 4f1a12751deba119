//go:build race

package sim

// raceOn: the race detector slows the simulator about tenfold, so the
// tests run their short sizes under it. The full sizes (2,000 seeds of 300
// steps, each --break mode) run without it as well: cmd/liege's
// TestInjectSim runs them on a liege binary built without -race.
const raceOn = true
