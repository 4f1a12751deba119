package liege

import "errors"

// ErrOverflow is the procedure error of an integer operation whose result
// does not fit in 64 bits (Tx.Add). The transaction fails and commits
// nothing: a balance never wraps around.
var ErrOverflow = errors.New("integer overflow: the result does not fit in a signed 64-bit integer")

// AddInt64 returns a+b, and false if the sum does not fit in an int64.
// Procedures that compute with amounts use it to refuse overflow instead of
// wrapping around.
func AddInt64(a, b int64) (int64, bool) {
	sum := a + b // wraps; detected below
	if (a > 0 && b > 0 && sum < 0) || (a < 0 && b < 0 && sum >= 0) {
		return 0, false
	}
	return sum, true
}
