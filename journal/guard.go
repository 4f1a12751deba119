package journal

import "path/filepath"

// OpenFileLogGuarded is OpenFileLog for a caller that knows more than the
// journal about which records were acknowledged (DESIGN.md section 3: start-up
// refuses damaged acknowledged records before changing any file). Before a
// torn tail is cut, guard is called with it; if guard returns an error, the
// open returns that error and the journal's files are left as they were.
func OpenFileLogGuarded(instanceDir string, segmentSize int, guard func(*TailDamage) error) (Log, error) {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	return openWALGuarded(filepath.Join(instanceDir, WalDir), segmentSize, guard)
}
