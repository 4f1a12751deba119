package journaljson

import (
	"bufio"
	"encoding/json"
	"io"
	"testing"
)

// BenchmarkFromRecordEncode is journalctl inspect --json's work per record.
func BenchmarkFromRecordEncode(b *testing.B) {
	recs := fixtureRecords()
	w := bufio.NewWriter(io.Discard)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	b.ReportAllocs()
	for b.Loop() {
		for i := range recs {
			d, err := FromRecord(&recs[i])
			if err != nil {
				b.Fatal(err)
			}
			if err := enc.Encode(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}
