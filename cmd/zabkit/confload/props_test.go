package confload

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseProperties(t *testing.T) {
	in := "# comment\r\n" +
		"  ! also a comment \\\n" +
		"tickTime=2000\n" +
		"\n" +
		"dataDir = /var/lib/zk  \n" +
		"clientPort:2181\n" +
		"initLimit 10\n" +
		"server.1=zk1:2888:3888;\\\n" +
		"     2181\n" +
		"weird\\ key\\=x = a\\tb\\u0041\\\\\n" +
		"empty\n" +
		"4lw.commands.whitelist=srvr, ruok\r" +
		"last=\\\n"
	got, err := ParseProperties(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Property{
		{"tickTime", "2000", 3},
		{"dataDir", "/var/lib/zk", 5},
		{"clientPort", "2181", 6},
		{"initLimit", "10", 7},
		{"server.1", "zk1:2888:3888;2181", 8},
		{"weird key=x", "a\tbA\\", 10},
		{"empty", "", 11},
		{"4lw.commands.whitelist", "srvr, ruok", 12},
		{"last", "", 13},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if _, err := ParseProperties("a=\\u12"); !errors.Is(err, ErrProperties) {
		t.Fatalf("bad \\u escape: %v", err)
	}
}

// escapeProp writes s so that ParseProperties reads it back unchanged.
func escapeProp(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\' || r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteString(`\` + string(r))
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{
		"tickTime=2000\ndataDir=/tmp/zk\n",
		"a b\\\n c\n#x\n!y\n",
		"server.1=h:1:2:observer;3\r\nk:v\rk2 = \\u0041",
		"\\", "=\\u", "a=\\uzzzz", "\\\n\\\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		props, err := ParseProperties(in)
		if err != nil {
			if !errors.Is(err, ErrProperties) {
				t.Fatalf("error %v does not wrap ErrProperties", err)
			}
			return
		}
		// What we parsed, written back escaped, parses to the same thing
		// (keys and values are already trimmed, so trimming is stable).
		var b strings.Builder
		for _, p := range props {
			if !utf8.ValidString(p.Key) || !utf8.ValidString(p.Value) {
				return // invalid UTF-8 does not survive re-encoding byte-exact
			}
			fmt.Fprintf(&b, "%s=%s\n", escapeProp(p.Key, true), escapeProp(p.Value, false))
		}
		again, err := ParseProperties(b.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if len(again) != len(props) {
			t.Fatalf("re-parse of %q: %d entries, want %d", b.String(), len(again), len(props))
		}
		for i := range props {
			if again[i].Key != props[i].Key || again[i].Value != props[i].Value {
				t.Fatalf("entry %d: %q=%q became %q=%q", i, props[i].Key, props[i].Value, again[i].Key, again[i].Value)
			}
		}
	})
}
