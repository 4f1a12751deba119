//go:build race

package liege_test

// raceOn: the race detector slows the engine several times over (the
// soak's child is a race build too), so the soak runs its short size.
const raceOn = true
