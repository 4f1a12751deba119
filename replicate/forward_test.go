package replicate

import (
	"fmt"
	"strings"

	"github.com/cockroachdb/datadriven"
	"github.com/liege-db/liege/journal"
	"github.com/liege-db/liege/replicate/link"
)

// The scenario harness's side of call forwarding (forward.go): the script
// command "forward", the fake liege running forwarded calls with an
// idempotency index, and the printing.

// forward runs "forward X id=N key=K set=.. read=..": the vassal X
// forwards a call whose args are the commit spec.
func (h *harness) forward(t tester, d *datadriven.TestData) {
	in := h.get(d.CmdArgs[0].Key)
	c := ForwardCall{Proc: "op"}
	var spec []string
	for _, a := range d.CmdArgs[1:] {
		switch a.Key {
		case "id":
			c.ID = uint64(atoi(t, a.Vals[0]))
		case "key":
			c.Key = a.Vals[0]
		case "set", "add", "del", "read":
			spec = append(spec, a.Key+"="+strings.Join(a.Vals, ","))
		default:
			t.Fatalf("forward: unknown argument %q", a.Key)
		}
	}
	c.Args = []byte(strings.Join(spec, " "))
	if err := in.node.Forward(c); err != nil {
		h.printf("%s: forward %d: %v\n", in.id, c.ID, err)
	}
	in.process()
}

// opOfSpec parses a forwarded call's args ("set=a,b read=c").
func opOfSpec(args []byte) txnOp {
	var o txnOp
	for _, f := range strings.Fields(string(args)) {
		k, v, _ := strings.Cut(f, "=")
		o.keys(k, strings.Split(v, ","))
	}
	return o
}

// forwarded runs the liege's forwarded calls after Advance: each commits
// once per idempotency key, then ForwardDone.
func (in *fakeInst) forwarded(rd *Ready) []func() {
	var after []func()
	for _, c := range rd.Forwarded {
		after = append(after, func() {
			if in.idem == nil {
				in.idem = map[string]ForwardAnswer{}
			}
			a, ok := in.idem[c.Key]
			if ok {
				in.h.printf("%s: forwarded call %d key %s: first outcome %v\n", in.id, c.ID, c.Key, a.TxID)
			} else {
				r := in.commit(opOfSpec(c.Args), journal.KindLocal, journal.TxID{})
				if r == nil {
					a = ForwardAnswer{Refused: true, Err: "quiesced"}
				} else {
					a = ForwardAnswer{TxID: r.TxID(), HLC: r.HLC, Result: []byte("ok")}
					in.idem[c.Key] = a
				}
			}
			a.ID = c.ID
			if in.node != nil {
				in.node.ForwardDone(a)
				in.process()
			}
		})
	}
	for _, a := range rd.ForwardAnswers {
		if !a.TxID.IsZero() && !a.Timeout && a.Err == "" {
			in.committed = append(in.committed, a.TxID) // acknowledged to its client
		}
	}
	return after
}

func (in *fakeInst) printForwards(rd *Ready) {
	for _, c := range rd.Forwarded {
		in.h.printf("%s: run forwarded call %d (%s) key %s\n", in.id, c.ID, c.Args, c.Key)
	}
	for _, a := range rd.ForwardAnswers {
		in.h.printf("%s: answer forwarded call %d: %s (watermark %d)\n", in.id, a.ID, answerString(a), in.node.watermark)
	}
}

func answerString(a ForwardAnswer) string {
	switch {
	case a.Timeout && a.TxID.IsZero():
		return "timed out, outcome unknown: retry with key " + a.Key
	case a.Timeout:
		return fmt.Sprintf("timed out, ask about %v", a.TxID)
	case a.Refused:
		return "refused: " + a.Err
	case a.Err != "":
		return "error: " + a.Err
	}
	return fmt.Sprintf("%v %s", a.TxID, a.Result)
}

func forwardString(f *link.Frame) string {
	if f.Kind == link.KindForward {
		var w wireCall
		if err := journal.Unmarshal(f.Record, &w); err != nil {
			return " (undecodable)"
		}
		return fmt.Sprintf(" call %d %s key %s", w.ID, w.Proc, w.Key)
	}
	var w wireAnswer
	if err := journal.Unmarshal(f.Record, &w); err != nil {
		return " (undecodable)"
	}
	s := fmt.Sprintf(" call %d", w.ID)
	if w.TxID != "" {
		s += " " + w.TxID
	}
	if w.Refused {
		s += " refused"
	}
	if w.Err != "" {
		s += " error " + w.Err
	}
	return s
}
