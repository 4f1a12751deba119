package client

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/liege-db/liege/internal/httpapi"
)

// marshalBody writes the bytes json.Marshal writes, for args made as
// CallWith makes them (json.Marshal of the caller's value).
func FuzzMarshalBodyIsJSONMarshal(f *testing.F) {
	f.Add("set", "3f2a", "A:1,B:2", `{"key":"a","value":"x"}`, "v", int64(250), true, uint8(3))
	f.Add("", "", "", "", "", int64(0), false, uint8(0))
	f.Add("s\u00e9t", "k\"", "A:1<", ` { "a" : [1, 2] } `, "<&>\u2028", int64(-1), true, uint8(1))
	f.Fuzz(func(t *testing.T, proc, key, tok, raw, str string, ms int64, timeout bool, calls uint8) {
		var args []json.RawMessage
		for _, v := range []any{nil, str, map[string]any{"s": str, "n": ms}, []any{str, ms, true, nil}, json.RawMessage(raw)} {
			a, err := json.Marshal(v)
			if err != nil {
				continue // raw is not JSON: CallWith refuses it before
			}
			args = append(args, a)
		}
		var tms *int64
		if timeout {
			tms = &ms
		}
		for i, a := range append(args, nil) {
			one := &httpapi.CallRequest{Args: a, MinToken: tok, TimeoutMS: tms}
			compare(t, one)
			batch := &httpapi.BatchRequest{MinToken: tok, TimeoutMS: tms}
			if calls > 0 || i > 0 {
				batch.Calls = []httpapi.BatchCall{}
			}
			for j := range int(calls % 8) {
				c := httpapi.BatchCall{Proc: proc, Args: args[(i+j)%len(args)], IdempotencyKey: key}
				if j%3 == 1 {
					c.IdempotencyKey, c.Args = "", nil
				}
				batch.Calls = append(batch.Calls, c)
			}
			compare(t, batch)
		}
	})
}

func compare(t *testing.T, v any) {
	t.Helper()
	got, err := marshalBody(v)
	if err != nil {
		t.Fatalf("marshalBody(%+v): %v", v, err)
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", v, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("marshalBody wrote\n%s\njson.Marshal\n%s", got, want)
	}
}

// The plain path is taken for the bodies the client sends every day.
func TestMarshalBodyAppendsPlainBodies(t *testing.T) {
	ms := int64(5000)
	if _, ok := appendBatchRequest(nil, &httpapi.BatchRequest{
		Calls:    []httpapi.BatchCall{{Proc: "set", Args: json.RawMessage(`{"key":"a"}`), IdempotencyKey: newIdempotencyKey()}},
		MinToken: "A:17,B:4", TimeoutMS: &ms}); !ok {
		t.Fatal("a plain batch went through json.Marshal")
	}
	if _, ok := appendCallRequest(nil, &httpapi.CallRequest{Args: json.RawMessage(`[1]`), MinToken: "A:17"}); !ok {
		t.Fatal("a plain call went through json.Marshal")
	}
	if _, ok := appendCallRequest(nil, &httpapi.CallRequest{MinToken: "A<1"}); ok {
		t.Fatal("a token json.Marshal escapes was appended as it is")
	}
}

// go test ./client -run '^$' -bench MarshalBatch -benchmem: a batch of 64
// kv sets as the batching client sends it, appended and by json.Marshal.
func BenchmarkMarshalBatch(b *testing.B) {
	ms := int64(5000)
	req := &httpapi.BatchRequest{MinToken: "A:123456", TimeoutMS: &ms}
	for i := range 64 {
		a, _ := json.Marshal(map[string]string{"key": "bench-" + string(rune('a'+i%26)), "value": string(bytes.Repeat([]byte("v"), 100))})
		req.Calls = append(req.Calls, httpapi.BatchCall{Proc: "set", Args: a, IdempotencyKey: newIdempotencyKey()})
	}
	for _, c := range []struct {
		name string
		f    func(any) ([]byte, error)
	}{{"append", marshalBody}, {"json.Marshal", json.Marshal}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.f(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
