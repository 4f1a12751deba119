package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
)

var leanCorpus = []struct {
	body string
	lean bool // LeanBatchRequest takes it
}{
	{`{"calls":[{"proc":"set","args":{"key":"a","value":"x"},"idempotency_key":"k1"}],"min_token":"A:1,B:2","timeout_ms":250}`, true},
	{` { "calls" : [ { "proc" : "set" , "args" : [1, {"a": "}]"}, "\"x\""] } , {"args": null, "proc": "get"}, {}, {"proc": "x", "args": -1.5e3} ] } `, true},
	{`{"calls": [{"proc": "a", "args": "s,]}\\"}, {"proc": "b", "args": true}, {"proc": "c", "args": {}}]}`, true},
	{`{"calls": []}`, true},
	{`{"calls": null, "timeout_ms": null}`, true},
	{`{}`, true},
	{`{"timeout_ms": -5, "calls": [{"proc": "p"}]}`, true},
	// Left to encoding/json: its decoding or its error.
	{`{"Calls": [{"proc": "set"}]}`, false},
	{`{"calls": [{"PROC": "set"}]}`, false},
	{`{"calls": [{"proc": "s\u0065t"}]}`, false},
	{`{"calls": [{"proc": "sét"}]}`, false},
	{`{"calls": [{"proc": null}]}`, false},
	{`{"calls": [{"proc": "a"}], "calls": [{"proc": "b"}]}`, false},
	{`{"calls": [{"proc": "a", "proc": "b"}]}`, false},
	{`{"calls": [{"proc": "a"}], "timeout_ms": 1.5}`, false},
	{`{"calls": [{"proc": "a"}], "timeout_ms": 1e3}`, false},
	{`{"calls": [{"proc": "a"}], "timeout_ms": 99999999999999999999}`, false},
	{`{"calls": [{"proc": "a"}], "timeout_ms": "5"}`, false},
	{`{"calls": [{"proc": "a"}], "other": 1}`, false},
	{`{"calls": {"proc": "a"}}`, false},
	{`{"calls": [1]}`, false},
	{`{"calls": [{"proc": "a", "args": 1, "x": 2}]}`, false},
	{`[]`, false},
	{`{"min_token": 5}`, false},
}

// Where LeanBatchRequest takes a body, it decodes it exactly as decodeStrict
// does; the bodies it leaves are those with something unusual.
func TestLeanBatchDecodesAsEncodingJSON(t *testing.T) {
	for _, c := range leanCorpus {
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("corpus body %s is not valid JSON", c.body)
		}
		got, ok := LeanBatchRequest([]byte(c.body))
		if ok != c.lean {
			t.Errorf("LeanBatchRequest(%s) took it: %v, want %v", c.body, ok, c.lean)
			continue
		}
		if ok {
			checkLeanAgainstStd(t, []byte(c.body), got)
		}
	}
}

func checkLeanAgainstStd(t *testing.T, body []byte, got *BatchRequest) {
	t.Helper()
	var want BatchRequest
	if err := decodeStrict(body, &want); err != nil {
		t.Errorf("LeanBatchRequest took %s, which encoding/json refuses: %v", body, err)
		return
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("%s:\nLeanBatchRequest    %#v\nencoding/json %#v", body, *got, want)
	}
}

func FuzzLeanBatch(f *testing.F) {
	for _, c := range leanCorpus {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		if got, ok := LeanBatchRequest(body); ok {
			checkLeanAgainstStd(t, body, got)
		}
	})
}

// decodeStrict is the server's decoding: one value, unknown fields refused.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the value")
	}
	return nil
}

var leanAnswerCorpus = []struct {
	body string
	lean bool
}{
	{`{"results":[{"status":200,"txid":"A/18","hlc":117655400119730185,"hlc_time":"2026-11-21T16:18:02.123Z+3","pos":42,"read_only":false,"result":"ok","token":"A:19"}],"token":"A:19"}`, true},
	{`{"results": [{"status": 200, "txid": null, "hlc": 1, "hlc_time": "x", "pos": 0, "read_only": true, "result": {"found": true, "value": [1, "a\"b"]}, "token": ""},
	  {"status": 200, "result": null}, {"status": 503}, {}], "token": "A:1,B:2"}`, true},
	{`{"results": [], "token": ""}`, true},
	{`{"results": null}`, true},
	{`{}`, true},
	{`{"results": [{"status": 404, "error": {"code": "unknown_procedure", "message": "unknown procedure \"x\""}}], "token": "A:1"}`, false},
	{`{"results": [{"status": 200, "hlc": -1}]}`, false},
	{`{"results": [{"status": 200, "hlc": 1.5}]}`, false},
	{`{"results": [{"status": 200, "pos": 1, "pos": 2}]}`, false},
	{`{"results": [{"status": 200, "read_only": null}]}`, false},
	{`{"results": [{"status": 200, "extra": 1}]}`, false},
	{`{"results": [{"status": 2.5}]}`, false},
	{`{"results": [], "token": "A:1", "more": 1}`, false},
	{`{"Results": []}`, false},
}

func TestLeanBatchAnswerDecodesAsEncodingJSON(t *testing.T) {
	for _, c := range leanAnswerCorpus {
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("corpus body %s is not valid JSON", c.body)
		}
		got, ok := LeanBatchAnswer([]byte(c.body))
		if ok != c.lean {
			t.Errorf("LeanBatchAnswer(%s) took it: %v, want %v", c.body, ok, c.lean)
			continue
		}
		if ok {
			checkLeanAnswerAgainstStd(t, []byte(c.body), got)
		}
	}
}

func checkLeanAnswerAgainstStd(t *testing.T, body []byte, got *BatchAnswer) {
	t.Helper()
	var want BatchAnswer
	if err := json.Unmarshal(body, &want); err != nil {
		t.Errorf("LeanBatchAnswer took %s, which encoding/json refuses: %v", body, err)
		return
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("%s:\nLeanBatchAnswer %#v\nencoding/json   %#v", body, *got, want)
	}
}

func FuzzLeanBatchAnswer(f *testing.F) {
	for _, c := range leanAnswerCorpus {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		if got, ok := LeanBatchAnswer(body); ok {
			checkLeanAnswerAgainstStd(t, body, got)
		}
	})
}

type fuzzArgs struct {
	S  string  `json:"s"`
	I  int64   `json:"i"`
	I8 int8    `json:"i8"`
	U  uint32  `json:"u"`
	F  float64 `json:"f"`
	F4 float32 `json:"f4"`
	B  bool
}

// Where LeanArgs decodes valid JSON, encoding/json decodes it the same
// way, with no unknown field; where it does not, it leaves the value zero.
func FuzzLeanArgs(f *testing.F) {
	for _, s := range []string{`{"s": "a", "i": -5, "i8": 127, "u": 7, "f": 1.5e3, "f4": 0.1, "B": true}`, `{}`, `{"i8": 128}`,
		`{"u": -1}`, `{"s": "\u00e9"}`, `{"S": "x"}`, `{"f": 1e400}`, `{"i": 1.0}`, `{"b": true}`, `{"s": null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var got, want fuzzArgs
		ok := LeanArgs(b, &got)
		if !ok {
			if got != (fuzzArgs{}) {
				t.Fatalf("LeanArgs refused %s but left %+v", b, got)
			}
			return
		}
		if err := decodeStrict(b, &want); err != nil {
			t.Fatalf("LeanArgs took %s, which encoding/json refuses: %v", b, err)
		}
		if got != want {
			t.Fatalf("%s: LeanArgs %+v, encoding/json %+v", b, got, want)
		}
	})
}
