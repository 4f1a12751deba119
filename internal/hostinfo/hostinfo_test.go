package hostinfo

import (
	"strings"
	"testing"
)

func TestParseTHP(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise [never]":   "never",
		"always madvise never":     "",
		"":                         "",
		"[] x":                     "",
	} {
		if got := parseTHP(in); got != want {
			t.Errorf("parseTHP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMachineString(t *testing.T) {
	m := Machine{OS: "linux", Arch: "amd64", CPUs: 2, GOMAXPROCS: 2, THP: "madvise"}
	if got, want := m.String(), "linux/amd64, 2 CPUs (GOMAXPROCS 2), transparent huge pages: madvise (the Go heap gets 4 KiB pages)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	m.THP = "always"
	if got := m.String(); strings.Contains(got, "4 KiB") || !strings.HasSuffix(got, "transparent huge pages: always") {
		t.Errorf("String() with always = %q", got)
	}
	m.THP = ""
	if got := m.String(); strings.Contains(got, "huge") {
		t.Errorf("String() without a mode = %q, want no word of huge pages", got)
	}
}
