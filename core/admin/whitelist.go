package admin

import (
	"sort"
	"strings"
)

// Whitelist decides which four-letter words run. It mirrors zoo.cfg's
// 4lw.commands.whitelist: ZooKeeper turned the words off by default after
// they were found to leak too much (ZOOKEEPER-2693), but always keeps srvr
// (zkServer.sh status needs it) and isro when read-only mode is enabled
// (clients probe it). The zero value allows srvr only. The HTTP admin
// endpoint does not consult it, as in ZooKeeper 3.8.
type Whitelist struct {
	all  bool
	cmds map[string]bool
}

// ParseWhitelist reads a 4lw.commands.whitelist value: comma-separated
// words, blanks ignored, "*" for every known word. readOnlyEnabled is
// zoo.cfg's readonlymode.enabled.
func ParseWhitelist(spec string, readOnlyEnabled bool) Whitelist {
	w := Whitelist{cmds: map[string]bool{"srvr": true}}
	for _, c := range strings.Split(spec, ",") {
		c = strings.TrimSpace(c)
		if c == "*" {
			w.all = true
			break
		}
		if c != "" {
			w.cmds[c] = true
		}
	}
	if readOnlyEnabled {
		w.cmds["isro"] = true
	}
	return w
}

// AllowAll is the whitelist "*".
func AllowAll() Whitelist { return Whitelist{all: true} }

// Allows reports whether the four-letter word may run.
func (w Whitelist) Allows(word string) bool {
	if word == "srvr" || w.all {
		return true
	}
	return w.cmds[word]
}

// String lists the enabled words, for logs.
func (w Whitelist) String() string {
	if w.all {
		return "*"
	}
	out := []string{"srvr"}
	for c := range w.cmds {
		if c != "srvr" {
			out = append(out, c)
		}
	}
	sort.Strings(out[1:])
	return strings.Join(out, ",")
}
