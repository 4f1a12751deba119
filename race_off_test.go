//go:build !race

package liege_test

const raceOn = false
