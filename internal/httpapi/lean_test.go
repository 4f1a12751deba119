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
	for _, b := range invalidJSON {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
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
	for _, b := range invalidJSON {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
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

// invalidJSON are bodies shaped like those the lean decoders take, but
// not JSON: each decoder must refuse them (encoding/json then says what
// is wrong).
var invalidJSON = []string{
	`{"calls":[{"proc":"a"} {"proc":"b"}]}`,
	`{"calls":[{"proc":"a",}]}`,
	`{"calls":[{"proc":"a"},]}`,
	`{"calls":[],}`,
	`{,"calls":[]}`,
	`{"calls":[] "min_token":"A:1"}`,
	`{"timeout_ms": 01, "calls":[]}`,
	`{"timeout_ms": -, "calls":[]}`,
	`{"calls":[{"proc":"a","args":[1,]}]}`,
	`{"calls":[{"proc":"a","args":[,1]}]}`,
	`{"calls":[{"proc":"a","args":{"a" 1}}]}`,
	`{"calls":[{"proc":"a","args":{"a":1,}}]}`,
	`{"calls":[{"proc":"a","args":{a:1}}]}`,
	`{"calls":[{"proc":"a","args":tru}]}`,
	`{"calls":[{"proc":"a","args":nul}]}`,
	`{"calls":[{"proc":"a","args":truex}]}`,
	`{"calls":[{"proc":"a","args":"\x"}]}`,
	`{"calls":[{"proc":"a","args":"\u12G4"}]}`,
	"{\"calls\":[{\"proc\":\"a\",\"args\":\"a\tb\"}]}",
	`{"calls":[{"proc":"a","args":1.}]}`,
	`{"calls":[{"proc":"a","args":.5}]}`,
	`{"calls":[{"proc":"a","args":-01}]}`,
	`{"calls":[{"proc":"a","args":1e}]}`,
	`{"calls":[{"proc":"a","args":+1}]}`,
	`{"calls":[{"proc":"a","args":[1 2]}]}`,
	`{"calls":[{"proc":"a","args":{"a":[}]}]}`,
	`{"calls":[{"proc":"a","args":"open}]}`,
	`{"calls":[{"proc":"a"}]} x`,
	`{"calls":[{"proc":"a"}]`,
	`{"args": {"a":1}, "min_token": "A:1",}`,
	`{"args": [1,,2]}`,
	`{"args": {} {}}`,
	`{"timeout_ms": 1 2}`,
	`{"results":[{"status":200,"pos":01}],"token":""}`,
	`{"results":[{"status":200 "pos":1}],"token":""}`,
	`{"results":[{"status":200,"result":[}],"token":""}`,
	`{"txid":"A/1","hlc":1,"hlc_time":"x","pos":1,"read_only":false,"result":"ok","token":"A:1",}`,
	`{"txid":"A/1" "hlc":1}`,
	`{"s": "a" "i": 1}`,
	`{"i": 00}`,
	`{"f": -Inf}`,
	`{"f": 1.5.5}`,
	`{"B": tru}`,
	`{"s":"a",}`,
}

// Every lean decoder refuses what is not JSON, and its raw-value reader
// takes exactly what json.Valid takes.
func TestLeanRefusesInvalidJSON(t *testing.T) {
	for _, b := range invalidJSON {
		if json.Valid([]byte(b)) {
			t.Fatalf("corpus body %s is valid JSON", b)
		}
		if _, ok := LeanBatchRequest([]byte(b)); ok {
			t.Errorf("LeanBatchRequest took %s", b)
		}
		if _, ok := LeanCallRequest([]byte(b)); ok {
			t.Errorf("LeanCallRequest took %s", b)
		}
		if _, ok := LeanBatchAnswer([]byte(b)); ok {
			t.Errorf("LeanBatchAnswer took %s", b)
		}
		if _, ok := LeanCallAnswer([]byte(b)); ok {
			t.Errorf("LeanCallAnswer took %s", b)
		}
		var a fuzzArgs
		if LeanArgs([]byte(b), &a) {
			t.Errorf("LeanArgs took %s", b)
		}
		if _, ok := LeanObjectKeys([]byte(b)); ok {
			t.Errorf("LeanObjectKeys took %s", b)
		}
		if leanValid([]byte(b)) {
			t.Errorf("the lexer's value reader took %s", b)
		}
	}
}

// leanValid reports whether the lexer reads b as one JSON value.
func leanValid(b []byte) bool {
	l := lexer{b: b}
	return l.value() != nil && l.end()
}

// The lexer's value reader and json.Valid agree (up to the lexer's
// nesting bound, beyond which it leaves the value to encoding/json).
func FuzzLeanValue(f *testing.F) {
	for _, c := range leanCorpus {
		f.Add([]byte(c.body))
	}
	for _, c := range leanAnswerCorpus {
		f.Add([]byte(c.body))
	}
	for _, b := range invalidJSON {
		f.Add([]byte(b))
	}
	for _, b := range []string{`"\u00e9\n\/"`, `-0.5e+7`, `0`, `[]`, ` { } `, `[[[[]]]]`, `1E-2`, `"\ud800"`, "\"\xff\""} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := leanValid(b), json.Valid(b)
		if got && !want {
			t.Fatalf("the lexer took %q, which json.Valid refuses", b)
		}
		if want && !got && len(b) <= maxDepth {
			t.Fatalf("the lexer refused %q, which json.Valid takes", b)
		}
	})
}

var leanCallCorpus = []struct {
	body string
	lean bool
}{
	{`{"args":{"key":"a","value":"x"},"min_token":"A:1,B:2","timeout_ms":250}`, true},
	{` { "args" : [1, {"a": "}]"}, "\"x\""] } `, true},
	{`{"args": null, "timeout_ms": null}`, true},
	{`{"args": -1.5e3}`, true},
	{`{}`, true},
	{`{"timeout_ms": -5}`, true},
	{`{"Args": {}}`, false},
	{`{"args": 1, "args": 2}`, false},
	{`{"min_token": null}`, false},
	{`{"min_token": "\u0041:1"}`, false},
	{`{"timeout_ms": 1.5}`, false},
	{`{"timeout_ms": 99999999999999999999}`, false},
	{`{"other": 1}`, false},
	{`[]`, false},
	{`null`, false},
}

func TestLeanCallRequestDecodesAsEncodingJSON(t *testing.T) {
	for _, c := range leanCallCorpus {
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("corpus body %s is not valid JSON", c.body)
		}
		got, ok := LeanCallRequest([]byte(c.body))
		if ok != c.lean {
			t.Errorf("LeanCallRequest(%s) took it: %v, want %v", c.body, ok, c.lean)
			continue
		}
		if ok {
			checkLeanCallAgainstStd(t, []byte(c.body), got)
		}
	}
}

func checkLeanCallAgainstStd(t *testing.T, body []byte, got *CallRequest) {
	t.Helper()
	var want CallRequest
	if err := decodeStrict(body, &want); err != nil {
		t.Errorf("LeanCallRequest took %s, which encoding/json refuses: %v", body, err)
		return
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("%s:\nLeanCallRequest %#v\nencoding/json   %#v", body, *got, want)
	}
}

func FuzzLeanCallRequest(f *testing.F) {
	for _, c := range leanCallCorpus {
		f.Add([]byte(c.body))
	}
	for _, b := range invalidJSON {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, ok := LeanCallRequest(body); ok {
			checkLeanCallAgainstStd(t, body, got)
		}
	})
}

var leanCallAnswerCorpus = []struct {
	body string
	lean bool
}{
	{`{"txid":"A/18","hlc":117655400119730185,"hlc_time":"2026-11-21T16:18:02.123Z+3","pos":42,"read_only":false,"result":"ok","token":"A:19"}`, true},
	{`{"txid": null, "hlc": 1, "hlc_time": "x", "pos": 0, "read_only": true, "result": {"found": true, "value": [1, "a\"b"]}, "token": ""}`, true},
	{`{"result": null}`, true},
	{`{}`, true},
	{`{"status": 200}`, false},
	{`{"hlc": -1}`, false},
	{`{"pos": 1, "pos": 2}`, false},
	{`{"read_only": null}`, false},
	{`{"extra": 1}`, false},
	{`{"Token": "A:1"}`, false},
	{`{"error": {"code": "x", "message": "y"}}`, false},
}

func TestLeanCallAnswerDecodesAsEncodingJSON(t *testing.T) {
	for _, c := range leanCallAnswerCorpus {
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("corpus body %s is not valid JSON", c.body)
		}
		got, ok := LeanCallAnswer([]byte(c.body))
		if ok != c.lean {
			t.Errorf("LeanCallAnswer(%s) took it: %v, want %v", c.body, ok, c.lean)
			continue
		}
		if ok {
			checkLeanCallAnswerAgainstStd(t, []byte(c.body), got)
		}
	}
}

func checkLeanCallAnswerAgainstStd(t *testing.T, body []byte, got *CallAnswer) {
	t.Helper()
	var want CallAnswer
	if err := json.Unmarshal(body, &want); err != nil {
		t.Errorf("LeanCallAnswer took %s, which encoding/json refuses: %v", body, err)
		return
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("%s:\nLeanCallAnswer %#v\nencoding/json  %#v", body, *got, want)
	}
}

func FuzzLeanCallAnswer(f *testing.F) {
	for _, c := range leanCallAnswerCorpus {
		f.Add([]byte(c.body))
	}
	for _, b := range invalidJSON {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, ok := LeanCallAnswer(body); ok {
			checkLeanCallAnswerAgainstStd(t, body, got)
		}
	})
}
