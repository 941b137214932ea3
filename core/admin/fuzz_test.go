package admin

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseWhitelist: any zoo.cfg value parses, srvr is always allowed,
// and every listed non-blank word is allowed.
func FuzzParseWhitelist(f *testing.F) {
	for _, s := range []string{"", "*", "ruok,mntr", " stat , ,isro", "a,*,b", ",,,", "srvr"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, spec string, ro bool) {
		w := ParseWhitelist(spec, ro)
		if !w.Allows("srvr") || (ro && !w.Allows("isro")) {
			t.Fatalf("%q: srvr/isro rule broken", spec)
		}
		for _, c := range strings.Split(spec, ",") {
			if c = strings.TrimSpace(c); c != "" && !w.Allows(c) {
				t.Fatalf("%q: %q not allowed", spec, c)
			}
		}
		_ = w.String()
	})
}

// FuzzParseMember: config member lines never panic the voting view, and
// server and election addresses stay paired.
func FuzzParseMember(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:2888:3888:participant;127.0.0.1:2181",
		"[::1]:2888:3888:observer",
		"a:1:2|b:3:4;0.0.0.0:2181",
		":::", ";", "x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m := parseMember(v)
		if len(m.server) != len(m.election) {
			t.Fatalf("%q: %d server vs %d election addresses", v, len(m.server), len(m.election))
		}
	})
}

// FuzzRespond: whatever follows a word on the wire, Respond either answers
// or reports an error, and stmk echoes the mask it read.
func FuzzRespond(f *testing.F) {
	f.Add("stmk", []byte{0, 0, 0, 0, 0, 0, 1, 50})
	f.Add("ruok", []byte{})
	f.Add("stmk", []byte{1})
	f.Add("mntr", []byte("garbage"))
	f.Fuzz(func(t *testing.T, word string, rest []byte) {
		defer traceMask.Store(306)
		var out bytes.Buffer
		err := Respond(&out, bytes.NewReader(rest), word, refSource(), AllowAll())
		if _, known := Command(word); err == nil && !known {
			t.Fatalf("unknown word %q answered", word)
		}
		if err == nil && out.Len() == 0 && word != "hash" {
			t.Fatalf("%q: empty answer", word)
		}
	})
}
