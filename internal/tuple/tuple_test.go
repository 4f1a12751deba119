package tuple

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// compareTuples is the reference order, written without the encoding:
// element by element, integers before strings, integers numerically,
// strings bytewise, a proper prefix first.
func compareTuples(a, b Tuple) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareElems(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func compareElems(x, y any) int {
	xs, xIsString := x.(string)
	ys, yIsString := y.(string)
	switch {
	case xIsString && yIsString:
		return strings.Compare(xs, ys)
	case xIsString:
		return 1
	case yIsString:
		return -1
	default:
		return cmp.Compare(x.(int64), y.(int64))
	}
}

func sign(c int) int { return cmp.Compare(c, 0) }

// extends reports whether t has p as a prefix, element-wise.
func extends(t, p Tuple) bool {
	if len(p) > len(t) {
		return false
	}
	for i := range p {
		if compareElems(t[i], p[i]) != 0 {
			return false
		}
	}
	return true
}

func equalTuples(a, b Tuple) bool {
	return len(a) == len(b) && compareTuples(a, b) == 0 && sameTypes(a, b)
}

func sameTypes(a, b Tuple) bool {
	for i := range a {
		_, as := a[i].(string)
		_, bs := b[i].(string)
		if as != bs {
			return false
		}
	}
	return true
}

var (
	interestingInts = []int64{
		0, 1, -1, 2, -2, 127, -127, 128, -128, 255, -255, 256, -256, 257, -257,
		65535, -65535, 65536, -65536, 1<<32 - 1, -(1<<32 - 1), 1 << 32, -(1 << 32),
		1<<56 - 1, -(1<<56 - 1), 1 << 56, -(1 << 56),
		math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1,
	}
	interestingStrings = []string{
		"", "\x00", "\xff", "\x00\xff", "\xff\x00", "\x00\x00", "a", "a\x00", "a\x00b",
		"a\xff", "ab", "b", "seat", "gala",
	}
	// A small alphabet makes shared prefixes and equal elements common.
	byteGen = rapid.SampledFrom([]byte{0x00, 0x01, 0xfe, 0xff, 'a', 'b'})

	stringGen = rapid.OneOf(
		rapid.SampledFrom(interestingStrings),
		rapid.Map(rapid.SliceOfN(byteGen, 0, 6), func(b []byte) string { return string(b) }),
		rapid.Map(rapid.SliceOfN(rapid.Byte(), 0, 10), func(b []byte) string { return string(b) }),
	)
	intGen = rapid.OneOf(
		rapid.SampledFrom(interestingInts),
		rapid.Int64Range(-300, 300),
		rapid.Int64(),
		rapid.Map(rapid.IntRange(0, 63), func(n int) int64 { return 1 << n }),
		rapid.Map(rapid.IntRange(0, 63), func(n int) int64 { return -(1 << n) }),
	)
	elemGen  = rapid.OneOf(stringGen.AsAny(), intGen.AsAny())
	tupleGen = rapid.Map(rapid.SliceOfN(elemGen, 0, 5), func(e []any) Tuple { return Tuple(e) })
)

func TestPackProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		a := tupleGen.Draw(rt, "a")
		// b shares a prefix of a often, so that comparisons reach deep
		// elements and the prefix-range check sees near misses.
		shared := rapid.IntRange(0, len(a)).Draw(rt, "shared")
		b := append(Tuple{}, a[:shared]...)
		b = append(b, tupleGen.Draw(rt, "bTail")...)

		ka, kb := Pack(a...), Pack(b...)

		// Order.
		if got, want := sign(bytes.Compare(ka, kb)), sign(compareTuples(a, b)); got != want {
			rt.Fatalf("bytes.Compare(Pack(%v), Pack(%v)) = %d, tuple order says %d\n%x\n%x", a, b, got, want, ka, kb)
		}

		// Round trip.
		for _, c := range []struct {
			tup Tuple
			key []byte
		}{{a, ka}, {b, kb}} {
			got, err := Unpack(c.key)
			if err != nil {
				rt.Fatalf("Unpack(Pack(%v)) = %v", c.tup, err)
			}
			if !equalTuples(got, c.tup) {
				rt.Fatalf("Unpack(Pack(%v)) = %v", c.tup, got)
			}
			if s := Format(c.key); s != c.tup.String() || strings.HasPrefix(s, "raw") {
				rt.Fatalf("Format(Pack(%v)) = %s, want %s", c.tup, s, c.tup.String())
			}
		}

		// Prefix bounds.
		p := a[:rapid.IntRange(0, len(a)).Draw(rt, "prefixLen")]
		kp := Pack(p...)
		end := PrefixEnd(kp)
		if !bytes.HasPrefix(ka, kp) {
			rt.Fatalf("Pack(%v) = %x lacks the prefix Pack(%v) = %x", a, ka, p, kp)
		}
		if !inRange(ka, kp, end) {
			rt.Fatalf("Pack(%v) = %x outside [%x, %x)", a, ka, kp, end)
		}
		if got, want := inRange(kb, kp, end), extends(b, p); got != want {
			rt.Fatalf("Pack(%v) = %x in [Pack(%v), PrefixEnd) = [%x, %x) is %v, but extends = %v", b, kb, p, kp, end, got, want)
		}
		if got, want := bytes.HasPrefix(kb, kp), extends(b, p); got != want {
			rt.Fatalf("Pack(%v) has byte prefix Pack(%v) is %v, but extends = %v", b, p, got, want)
		}
	})
}

// inRange reports whether lo <= k < hi, where a nil hi is unbounded.
func inRange(k, lo, hi []byte) bool {
	return bytes.Compare(lo, k) <= 0 && (hi == nil || bytes.Compare(k, hi) < 0)
}

func TestOrderExamples(t *testing.T) {
	ordered := []Tuple{
		{},
		{int64(math.MinInt64)},
		{int64(math.MinInt64 + 1)},
		{int64(-257)},
		{int64(-256)},
		{int64(-256), "x"},
		{int64(-255)},
		{int64(-2)},
		{int64(-1)},
		{int64(0)},
		{int64(1)},
		{int64(255)},
		{int64(256)},
		{int64(math.MaxInt64)},
		{""},
		{"", int64(0)},
		{"", ""},
		{"\x00"},
		{"\x00", int64(0)},
		{"\x00\x00"},
		{"\x00\xff"},
		{"\x01"},
		{"seat"},
		{"seat", "gala"},
		{"seat", "gala", int64(-100)},
		{"seat", "gala", int64(12)},
		{"seat", "gala", int64(100)},
		{"seat", "gala", ""},
		{"seat", "galas"},
		{"seat", "gb"},
		{"seat\x00"},
		{"seats"},
		{"\xff"},
	}
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1], ordered[i]
		if compareTuples(a, b) >= 0 {
			t.Fatalf("bad test table: %v is not before %v", a, b)
		}
		if ka, kb := Pack(a...), Pack(b...); bytes.Compare(ka, kb) >= 0 {
			t.Errorf("Pack(%v) = %x is not before Pack(%v) = %x", a, ka, b, kb)
		}
	}
}

func TestEncodingExamples(t *testing.T) {
	tests := []struct {
		elems []any
		hex   string
	}{
		{[]any{}, ""},
		{[]any{0}, "14"},
		{[]any{1}, "1501"},
		{[]any{255}, "15ff"},
		{[]any{256}, "160100"},
		{[]any{-1}, "13fe"},
		{[]any{-255}, "1300"},
		{[]any{-256}, "12feff"},
		{[]any{int64(math.MaxInt64)}, "1c7fffffffffffffff"},
		{[]any{int64(math.MinInt64)}, "0c7fffffffffffffff"},
		{[]any{int64(math.MinInt64 + 1)}, "0c8000000000000000"},
		{[]any{""}, "1e0001"},
		{[]any{"a\x00b"}, "1e6100ff620001"},
		{[]any{"\xff"}, "1eff0001"},
		{[]any{"seat", "gala", 12}, "1e736561740001" + "1e67616c610001" + "150c"},
		// Every accepted Go type encodes like the int64 or string it holds.
		{[]any{[]byte("a\x00")}, "1e6100ff0001"},
		{[]any{int8(-1), int16(-1), int32(-1), int64(-1)}, "13fe13fe13fe13fe"},
		{[]any{uint8(255), uint16(255), uint32(255), uint(255), uint64(255)}, "15ff15ff15ff15ff15ff"},
		{[]any{uint64(math.MaxInt64)}, "1c7fffffffffffffff"},
	}
	for _, tc := range tests {
		want, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := Pack(tc.elems...); !bytes.Equal(got, want) {
			t.Errorf("Pack(%v) = %x, want %x", Tuple(tc.elems), got, want)
		}
		if got := Append([]byte("pre"), tc.elems...); !bytes.Equal(got, append([]byte("pre"), want...)) {
			t.Errorf("Append(pre, %v) = %x, want pre+%x", Tuple(tc.elems), got, want)
		}
	}
	if got, want := AppendInt(nil, -256), Pack(-256); !bytes.Equal(got, want) {
		t.Errorf("AppendInt(nil, -256) = %x, want %x", got, want)
	}
	if got, want := AppendString(nil, "a\x00"), Pack("a\x00"); !bytes.Equal(got, want) {
		t.Errorf("AppendString(nil, \"a\\x00\") = %x, want %x", got, want)
	}
	if got, want := (Tuple{"seat", int64(1)}).Pack(), Pack("seat", 1); !bytes.Equal(got, want) {
		t.Errorf("Tuple.Pack = %x, want %x", got, want)
	}
}

func TestPackPanics(t *testing.T) {
	tests := []struct {
		elems []any
		want  string
	}{
		{[]any{"a", 1.5}, "element 1 has unsupported type float64"},
		{[]any{nil}, "element 0 has unsupported type <nil>"},
		{[]any{true}, "element 0 has unsupported type bool"},
		{[]any{Tuple{}}, "element 0 has unsupported type tuple.Tuple"},
		{[]any{uint64(math.MaxInt64 + 1)}, "element 0: 9223372036854775808 does not fit in int64"},
		{[]any{1, uint(math.MaxUint)}, "element 1: 18446744073709551615 does not fit in int64"},
	}
	for _, tc := range tests {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("Pack(%#v) panicked with %#v, want a message containing %q", tc.elems, r, tc.want)
				}
			}()
			Pack(tc.elems...)
		}()
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 64)
	s, n := "seat\x00gala", int64(-123456)
	allocs := testing.AllocsPerRun(100, func() {
		buf = Append(buf[:0], s, n, 7)
		buf = AppendString(buf, s)
		buf = AppendInt(buf, n)
	})
	if allocs != 0 {
		t.Errorf("Append into a buffer with capacity: %v allocations per run, want 0", allocs)
	}
}

func TestUnpackRejectsNonCanonical(t *testing.T) {
	tests := []struct {
		name   string
		hex    string
		offset int
		reason string
	}{
		{"positive with leading zero", "1500", 1, "not minimally encoded"},
		{"two-byte positive that fits in one", "1600ff", 1, "not minimally encoded"},
		{"negative with leading 0xff", "13ff", 1, "not minimally encoded"},
		{"two-byte negative that fits in one", "12ff00", 1, "not minimally encoded"},
		{"positive beyond MaxInt64", "1c8000000000000000", 0, "overflows int64"},
		{"negative beyond MinInt64", "0c7ffffffffffffffe", 0, "overflows int64"},
		{"truncated integer", "1601", 0, "want 2 magnitude byte(s), have 1"},
		{"truncated integer after another element", "1413", 1, "want 1 magnitude byte(s), have 0"},
		{"unterminated string", "1e61", 0, "no 0x00 0x01 terminator"},
		{"string ending in an escape", "1e6100ff", 0, "no 0x00 0x01 terminator"},
		{"empty unterminated string", "1e", 0, "no 0x00 0x01 terminator"},
		{"string ending in a lone 0x00", "1e6100", 2, "lone 0x00"},
		{"bad escape", "1e6100fe01", 2, "bad escape 0x00 0xfe"},
		{"FoundationDB string terminator", "1e610014", 2, "bad escape 0x00 0x14"},
		{"FoundationDB string code", "02610001", 0, "unknown type code 0x02"},
		{"reserved big positive", "1d", 0, "unknown type code 0x1d"},
		{"reserved big negative", "0b", 0, "unknown type code 0x0b"},
		{"trailing garbage after integer", "14ff", 1, "unknown type code 0xff"},
		{"trailing garbage after string", "1e610001ff", 4, "unknown type code 0xff"},
		{"trailing zero after string", "1e61000100", 4, "unknown type code 0x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			tup, err := Unpack(key)
			if err == nil {
				t.Fatalf("Unpack(%x) = %v, want an error", key, tup)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Unpack(%x) error %v is a %T, want *DecodeError", key, err, err)
			}
			if de.Offset != tc.offset || !strings.Contains(de.Reason, tc.reason) {
				t.Errorf("Unpack(%x) = offset %d %q, want offset %d containing %q", key, de.Offset, de.Reason, tc.offset, tc.reason)
			}
			if msg := err.Error(); !strings.Contains(msg, "byte ") {
				t.Errorf("error %q does not name the byte offset", msg)
			}
			if got := Format(key); got != "raw(0x"+tc.hex+")" {
				t.Errorf("Format(%x) = %s, want raw(0x%s)", key, got, tc.hex)
			}
		})
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "nil"},
		{"ff", "nil"},
		{"ffff", "nil"},
		{"00", "01"},
		{"15ff", "16"},
		{"1e61ffff", "1e62"},
		{"1e736561740001", "1e736561740002"},
	}
	for _, tc := range tests {
		in, _ := hex.DecodeString(tc.in)
		orig := bytes.Clone(in)
		got := PrefixEnd(in)
		gotHex := "nil"
		if got != nil {
			gotHex = hex.EncodeToString(got)
		}
		if gotHex != tc.want {
			t.Errorf("PrefixEnd(%s) = %s, want %s", tc.in, gotHex, tc.want)
		}
		if !bytes.Equal(in, orig) {
			t.Errorf("PrefixEnd(%s) modified its argument to %x", tc.in, in)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		key  []byte
		want string
	}{
		{nil, "()"},
		{Pack("seat", "gala", 12), `("seat", "gala", 12)`},
		{Pack(-5), `(-5)`},
		{Pack(int64(math.MinInt64), ""), `(-9223372036854775808, "")`},
		{Pack("a\x00\xff\"é"), `("a\x00\xff\"é")`},
		{[]byte{0x02, 0xff}, "raw(0x02ff)"},
		{append(Pack("seat"), 0x1e), "raw(0x1e7365617400011e)"},
	}
	for _, tc := range tests {
		if got := Format(tc.key); got != tc.want {
			t.Errorf("Format(%x) = %s, want %s", tc.key, got, tc.want)
		}
	}
	if got, want := (Tuple{"x", 1, uint8(2), []byte("y"), 2.5}).String(), `("x", 1, 2, "y", !(float64=2.5))`; got != want {
		t.Errorf("Tuple.String() = %s, want %s", got, want)
	}
}

func TestParseJSON(t *testing.T) {
	valid := []struct {
		in   string
		want []byte
	}{
		{`["seat","gala",12]`, Pack("seat", "gala", 12)},
		{` [ "seat" , -9223372036854775808 , 9223372036854775807 ] `, Pack("seat", int64(math.MinInt64), int64(math.MaxInt64))},
		{`[]`, Pack()},
		{`["a\u0000b", "é", -0, 0]`, Pack("a\x00b", "é", 0, 0)},
	}
	for _, tc := range valid {
		got, err := ParseJSON([]byte(tc.in))
		if err != nil {
			t.Errorf("ParseJSON(%s) = %v", tc.in, err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("ParseJSON(%s) = %x, want %x", tc.in, got, tc.want)
		}
	}

	invalid := []struct{ in, want string }{
		{`["seat","gala",1.5]`, "element 2: 1.5 is not an integer"},
		{`[1e3]`, "element 0: 1e3 is not an integer literal"},
		{`[1.0]`, "element 0: 1.0 is not an integer literal"},
		{`[9223372036854775808]`, "element 0: 9223372036854775808 does not fit in a 64-bit signed integer"},
		{`[-9223372036854775809]`, "element 0: -9223372036854775809 does not fit"},
		{`["a", true]`, "element 1: true is not a string or integer"},
		{`["a", null]`, "element 1: null is not a string or integer"},
		{`[{"a":1}]`, "element 0: an object is not a string or integer"},
		{`[[1]]`, "element 0: an array is not a string or integer"},
		{`{"a":1}`, "must be a JSON array"},
		{`"seat"`, `must be a JSON array like ["seat", 12], got the string "seat"`},
		{`12`, "got the number 12"},
		{`null`, "got null"},
		{``, "unexpected end of input"},
		{`["a"`, "unexpected end of input"},
		{`["a",]`, "element 1: invalid JSON"},
		{`["a"] x`, "invalid JSON"},
		{`["a"] []`, "unexpected data after the JSON array"},
	}
	for _, tc := range invalid {
		got, err := ParseJSON([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseJSON(%s) = %x, want an error containing %q", tc.in, got, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseJSON(%s) error = %q, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestToJSONArrayRoundTrip(t *testing.T) {
	key := Pack("seat", "gala", 12, int64(math.MinInt64), "", int64(math.MaxInt64))
	arr, err := ToJSONArray(key)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range arr {
		switch e.(type) {
		case string, int64:
		default:
			t.Errorf("element %d is a %T, want string or int64", i, e)
		}
	}
	data, err := json.Marshal(arr)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["seat","gala",12,-9223372036854775808,"",9223372036854775807]`; string(data) != want {
		t.Errorf("json.Marshal(ToJSONArray(key)) = %s, want %s", data, want)
	}
	back, err := ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, key) {
		t.Errorf("ParseJSON(%s) = %x, want %x", data, back, key)
	}
	if _, err := ToJSONArray([]byte{0x02}); err == nil {
		t.Error("ToJSONArray of an invalid key succeeded")
	}
}

func FuzzUnpack(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		Pack("seat", "gala", 12),
		Pack("", "\x00", "\xff", "\x00\xff"),
		Pack(0, 1, -1, 255, -255, 256, -256),
		Pack(int64(math.MaxInt64), int64(math.MinInt64)),
		{0x15, 0x00},
		{0x13, 0xff},
		{0x1c, 0x80, 0, 0, 0, 0, 0, 0, 0},
		{0x0c, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe},
		{0x1e, 'a', 0x00, 0xff},
		{0x1e, 'a', 0x00, 0xfe, 0x01},
		{0x1e, 0x00, 0xff, 0x00, 0x01, 0x14},
		{0x1e, 'a', 0x00},
		{0x02, 'a', 0x00},
		{0x14, 0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		tup, err := Unpack(key)
		_ = Format(key)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Unpack(%x) error %v is a %T, want *DecodeError", key, err, err)
			}
			if de.Offset < 0 || de.Offset >= len(key) {
				t.Fatalf("Unpack(%x) error offset %d outside the key", key, de.Offset)
			}
			return
		}
		if again := Pack(tup...); !bytes.Equal(again, key) {
			t.Fatalf("Unpack(%x) = %v, which packs to %x", key, tup, again)
		}
		if len(tup) > len(key) {
			t.Fatalf("Unpack(%x) returned %d elements from %d bytes", key, len(tup), len(key))
		}
		strBytes := 0
		for i, e := range tup {
			switch e := e.(type) {
			case string:
				strBytes += len(e)
			case int64:
			default:
				t.Fatalf("Unpack(%x) element %d is a %T", key, i, e)
			}
		}
		if strBytes > len(key) {
			t.Fatalf("Unpack(%x) returned %d string bytes from %d bytes", key, strBytes, len(key))
		}
	})
}

func BenchmarkPack3(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Pack("seat", "gala", 12)
	}
}

func BenchmarkAppend3(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = Append(buf[:0], "seat", "gala", 12)
	}
}

func BenchmarkUnpack(b *testing.B) {
	key := Pack("seat", "gala", 12)
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		if _, err := Unpack(key); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPackAllocatesOnlyTheKey checks that Pack's elements do not escape: a
// key built from run-time values (K("seat", event, n) in a procedure)
// costs the key's one allocation, not a box per element besides.
func TestPackAllocatesOnlyTheKey(t *testing.T) {
	events := []string{"gala", "opera"}
	i := 0
	var sink []byte
	allocs := testing.AllocsPerRun(100, func() {
		i++
		sink = Pack("seat", events[i%len(events)], int64(1000+i))
	})
	if allocs != 1 {
		t.Errorf("Pack of run-time values allocates %v times, want 1 (the key)", allocs)
	}
	if len(sink) == 0 {
		t.Fatal("empty key")
	}
}
