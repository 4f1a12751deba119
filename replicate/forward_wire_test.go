package replicate

import (
	"testing"

	"github.com/liege-db/liege/journal"
)

// wireAnswerV2 is wireAnswer as protocol version 2 first shipped it,
// before TooLarge, Size and Limit.
type wireAnswerV2 struct {
	//lint:ignore U1000 the codec reads its tag
	_struct struct{} `codec:",toarray"`
	ID      uint64
	TxID    string
	HLC     uint64
	Result  []byte
	Err     string
	Refused bool
}

// TestWireAnswerTrailingFields: the fields added to the forward answer do
// not need a protocol version change. A peer with the older answer reads
// the newer one (skipping the trailing fields), and the newer reads the
// older (TooLarge false).
func TestWireAnswerTrailingFields(t *testing.T) {
	b, err := journal.Marshal(wireAnswer{ID: 7, TxID: "A:3", HLC: 9, Err: "too large", TooLarge: true, Size: 70000, Limit: 65536})
	if err != nil {
		t.Fatal(err)
	}
	var old wireAnswerV2
	if err := journal.Unmarshal(b, &old); err != nil {
		t.Fatalf("an older peer reads the newer answer: %v", err)
	}
	if old.ID != 7 || old.TxID != "A:3" || old.HLC != 9 || old.Err != "too large" || old.Refused {
		t.Fatalf("an older peer read %+v", old)
	}
	b, err = journal.Marshal(wireAnswerV2{ID: 8, Err: "boom", Refused: true})
	if err != nil {
		t.Fatal(err)
	}
	var w wireAnswer
	if err := journal.Unmarshal(b, &w); err != nil {
		t.Fatalf("the newer reads an older peer's answer: %v", err)
	}
	if w.ID != 8 || w.Err != "boom" || !w.Refused || w.TooLarge || w.Size != 0 || w.Limit != 0 {
		t.Fatalf("the newer read an older answer as %+v", w)
	}
}
