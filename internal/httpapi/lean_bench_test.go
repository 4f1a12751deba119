package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// go test ./internal/httpapi -run '^$' -bench Lean -benchmem: the bodies
// of a batch of 64 kv sets, as the Go client and the server write them.
func BenchmarkLean(b *testing.B) {
	var req, ans strings.Builder
	req.WriteString(`{"calls":[`)
	ans.WriteString(`{"results":[`)
	for i := range 64 {
		if i > 0 {
			req.WriteByte(',')
			ans.WriteByte(',')
		}
		fmt.Fprintf(&req, `{"proc":"set","args":{"key":"bench-%d","value":"v=%s"},"idempotency_key":"%032x"}`, i, strings.Repeat("x", 98), i)
		fmt.Fprintf(&ans, `{"status":200,"txid":"A/%d","hlc":117655400119730185,"hlc_time":"2026-11-21T16:18:02.123Z+3","pos":%d,"read_only":false,"result":"ok","token":"A:123456"}`, i, i)
	}
	req.WriteString(`],"min_token":"A:123400","timeout_ms":5000}`)
	ans.WriteString(`],"token":"A:123456"}`)
	reqBody, ansBody := []byte(req.String()), []byte(ans.String())
	b.Run("BatchRequest", func(b *testing.B) {
		b.SetBytes(int64(len(reqBody)))
		for b.Loop() {
			if _, ok := LeanBatchRequest(reqBody); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("BatchAnswer", func(b *testing.B) {
		b.SetBytes(int64(len(ansBody)))
		for b.Loop() {
			if _, ok := LeanBatchAnswer(ansBody); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("BatchRequest/json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(reqBody)))
		for b.Loop() {
			if !json.Valid(reqBody) {
				b.Fatal("invalid")
			}
		}
	})
}
