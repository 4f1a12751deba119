package oracle_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/liege-db/liege/internal/oracle"
	"github.com/liege-db/liege/journal"
)

func TestCallOutcome(t *testing.T) {
	tx := "A/3"
	empty := ""
	for _, tc := range []struct {
		c    oracle.Call
		want oracle.Outcome
	}{
		{oracle.Call{Status: 200, TxID: &tx}, oracle.OutcomeAcked},
		{oracle.Call{Status: 200}, oracle.OutcomeReadOnly},
		{oracle.Call{Status: 200, TxID: &empty}, oracle.OutcomeReadOnly},
		{oracle.Call{Status: 200, Error: "unexpected EOF"}, oracle.OutcomeMaybe},
		{oracle.Call{Status: 0, Error: "context deadline exceeded"}, oracle.OutcomeMaybe},
		{oracle.Call{Status: 0, TxID: &tx, Error: "connection reset"}, oracle.OutcomeMaybe},
		{oracle.Call{Status: 400, Error: "bad_args"}, oracle.OutcomeFailed},
		{oracle.Call{Status: 422, Error: "procedure_error: no seat"}, oracle.OutcomeFailed},
		{oracle.Call{Status: 500, Error: "internal"}, oracle.OutcomeFailed},
		{oracle.Call{Status: 503, Error: "not_caught_up"}, oracle.OutcomeFailed},
		{oracle.Call{Status: 503, Error: "unavailable: shutting down"}, oracle.OutcomeMaybe},
		{oracle.Call{Status: 502}, oracle.OutcomeMaybe},
	} {
		if got := tc.c.Outcome(); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestReadCallLog(t *testing.T) {
	var log bytes.Buffer
	id := func(s string) *string { return &s }
	for _, c := range []oracle.Call{
		{Site: "A", Proc: "p", SentNs: 1, AnsweredNs: 2, Status: 200, TxID: id("A/1")},
		{Site: "A", Proc: "p", SentNs: 1, AnsweredNs: 2, Status: 200, TxID: id("A/1")}, // a retry answered with the first outcome
		{Site: "B", Proc: "p", SentNs: 3, Status: 0, Error: "killed", IdempotencyKey: "k1"},
		{Site: "B", Proc: "p", SentNs: 3, Status: 0, Error: "killed", IdempotencyKey: "k2"},
		{Site: "B", Proc: "p", SentNs: 3, Status: 0, Error: "killed"},
		{Site: "A", Proc: "p", SentNs: 4, Status: 0, TxID: id("A/2"), Error: "body cut"},
		{Site: "A", Proc: "p", SentNs: 5, Status: 200},
		{Site: "A", Proc: "p", SentNs: 5, Status: 422, Error: "procedure_error"},
	} {
		if err := oracle.WriteCall(&log, &c); err != nil {
			t.Fatal(err)
		}
	}
	text := log.String() + "\n" // blank lines are skipped
	acked, maybe, err := oracle.ReadCallLog(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) != 1 || acked[0].String() != "A/1" || len(maybe) != 1 || maybe[0].String() != "A/2" {
		t.Fatalf("acked %v, maybe %v", acked, maybe)
	}
	l, err := oracle.ParseCallLog(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if l.Unnamed != 3 || l.ReadOnly != 1 || l.Failed != 1 || len(l.Calls) != 8 {
		t.Errorf("log %+v", l)
	}

	// B committed k1 as B/4 (its local record holds the key); k2 is in no
	// journal; the third call has no key.
	b := oracle.Instance{ID: "B", Records: []journal.Record{
		{Pos: 1, Kind: journal.KindOpen, Instance: "B"},
		{Pos: 2, Kind: journal.KindLocal, Origin: "B", OSeq: 4, HLC: 10, IdempotencyKey: "k1"},
	}}
	a := oracle.Instance{ID: "A", Records: []journal.Record{
		{Pos: 1, Kind: journal.KindOpen, Instance: "A"},
		{Pos: 2, Kind: journal.KindLocal, Origin: "A", OSeq: 1, HLC: 5},
		{Pos: 3, Kind: journal.KindLocal, Origin: "A", OSeq: 2, HLC: 6, IdempotencyKey: "k2"}, // A's k2, not B's
		{Pos: 4, Kind: journal.KindPeer, Origin: "B", OSeq: 4, HLC: 10},
	}}
	named, unresolved := l.Resolve(a, b)
	if len(named) != 1 || named[0].String() != "B/4" || unresolved != 2 {
		t.Errorf("Resolve: %v, %d unresolved; want [B/4], 2", named, unresolved)
	}
	// The path A/1, A/2 (maybe), B/4 (named by k1): nothing unexplained.
	b.Records = append(b.Records, journal.Record{Pos: 3, Kind: journal.KindPeer, Origin: "A", OSeq: 1, HLC: 5},
		journal.Record{Pos: 4, Kind: journal.KindPeer, Origin: "A", OSeq: 2, HLC: 6})
	if err := l.CheckCalls(a, b); err != nil {
		t.Errorf("CheckCalls: %v", err)
	}
	// Three more transactions nobody was told of: two unanswered calls
	// can account for two of them, not three.
	for i := uint64(5); i <= 7; i++ {
		a.Records = append(a.Records, journal.Record{Pos: i, Kind: journal.KindLocal, Origin: "A", OSeq: i, HLC: 10 + i})
	}
	err = l.CheckCalls(a, b)
	if v := oracle.AsViolation(err); v == nil || v.Item != 3 || !strings.Contains(v.Msg, "A/5, A/6, A/7") || !strings.Contains(v.Msg, "only 2 calls") {
		t.Errorf("CheckCalls: %v", err)
	}
}

func TestReadCallLogErrors(t *testing.T) {
	for _, text := range []string{
		`{"site":"A","status":200,"txid":"A/x"}`,
		`{"site":"A","status":42}`,
		`{"site":"A","status":200} {"site":"B"}`,
		`not json`,
	} {
		if _, _, err := oracle.ReadCallLog(strings.NewReader(text)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ReadCallLog(%s): %v", text, err)
		}
	}
}
