package admin

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"sync/atomic"
)

// notServing is ZooKeeper's notice for commands that need a running server.
const notServing = "This ZooKeeper instance is not currently serving requests"

// Cmd is one operations command. Most have both a four-letter word
// (answered on the client port) and an HTTP name under /commands; a few
// exist only over HTTP.
type Cmd struct {
	// Name is the primary HTTP name, e.g. "server_stats".
	Name string
	// Names is Name followed by its aliases, e.g. "srvr".
	Names []string
	// Word is the four-letter word, "" for HTTP-only commands.
	Word string
	// ArgBytes is how many bytes follow the word on the wire (stmk's
	// 8-byte trace mask); read them only when the word is whitelisted.
	ArgBytes int
	// ServerRequired commands answer with an error while the server is not
	// serving (HTTP; the text forms print the notice instead).
	ServerRequired bool

	text func(src Source, arg []byte) []byte
	json func(src Source, q url.Values) object
}

var (
	byName   = map[string]*Cmd{}
	byWord   = map[int32]string{}
	primary  []string
	commands = []*Cmd{
		{Names: []string{"connection_stat_reset", "crst"}, Word: "crst", ServerRequired: true, text: crstText, json: crstJSON},
		{Names: []string{"configuration", "conf", "config"}, Word: "conf", ServerRequired: true, text: confText, json: confJSON},
		{Names: []string{"connections", "cons"}, Word: "cons", ServerRequired: true, text: consText, json: consJSON},
		{Names: []string{"hash"}, Word: "hash", ServerRequired: true, text: hashText, json: hashJSON},
		{Names: []string{"dirs"}, Word: "dirs", ServerRequired: true, text: dirsText, json: dirsJSON},
		{Names: []string{"dump"}, Word: "dump", ServerRequired: true, text: dumpText, json: dumpJSON},
		{Names: []string{"environment", "env", "envi"}, Word: "envi", text: enviText, json: enviJSON},
		{Names: []string{"get_trace_mask", "gtmk"}, Word: "gtmk", text: gtmkText, json: gtmkJSON},
		{Names: []string{"initial_configuration", "icfg"}, ServerRequired: true, json: icfgJSON},
		{Names: []string{"is_read_only", "isro"}, Word: "isro", ServerRequired: true, text: isroText, json: isroJSON},
		{Names: []string{"last_snapshot", "lsnp"}, ServerRequired: true, json: lsnpJSON},
		{Names: []string{"leader", "lead"}, ServerRequired: true, json: leaderJSON},
		{Names: []string{"monitor", "mntr"}, Word: "mntr", text: mntrText, json: mntrJSON},
		{Names: []string{"observer_connection_stat_reset", "orst"}, ServerRequired: true, json: emptyJSON},
		{Names: []string{"ruok"}, Word: "ruok", ServerRequired: true, text: ruokText, json: emptyJSON},
		{Names: []string{"set_trace_mask", "stmk"}, Word: "stmk", ArgBytes: 8, text: stmkText, json: stmkJSON},
		{Names: []string{"server_stats", "srvr"}, Word: "srvr", ServerRequired: true, text: srvrText, json: srvrJSON},
		{Names: []string{"stats", "stat"}, Word: "stat", ServerRequired: true, text: statText, json: statJSON},
		{Names: []string{"stat_reset", "srst"}, Word: "srst", ServerRequired: true, text: srstText, json: srstJSON},
		{Names: []string{"observers", "obsr"}, ServerRequired: true, json: observersJSON},
		{Names: []string{"system_properties", "sysp"}, json: syspJSON},
		{Names: []string{"voting_view"}, ServerRequired: true, json: votingViewJSON},
		{Names: []string{"watches", "wchc"}, Word: "wchc", ServerRequired: true, text: wchcText, json: wchcJSON},
		{Names: []string{"watches_by_path", "wchp"}, Word: "wchp", ServerRequired: true, text: wchpText, json: wchpJSON},
		{Names: []string{"watch_summary", "wchs"}, Word: "wchs", ServerRequired: true, text: wchsText, json: wchsJSON},
		{Names: []string{"zabstate"}, json: zabstateJSON},
	}
)

func init() {
	for _, c := range commands {
		c.Name = c.Names[0]
		primary = append(primary, c.Name)
		for _, n := range c.Names {
			if _, dup := byName[n]; dup {
				panic("admin: duplicate command name " + n)
			}
			byName[n] = c
		}
		if c.Word != "" {
			byWord[wordInt(c.Word)] = c.Word
		}
	}
	sort.Strings(primary)
}

func wordInt(w string) int32 {
	return int32(uint32(w[0])<<24 | uint32(w[1])<<16 | uint32(w[2])<<8 | uint32(w[3]))
}

// Command resolves a primary name, an alias or a four-letter word.
func Command(name string) (c *Cmd, ok bool) {
	c, ok = byName[name]
	return c, ok
}

// Commands returns the primary names, sorted.
func Commands() []string { return append([]string(nil), primary...) }

// FourLetterWords returns every word the client port recognises, sorted.
func FourLetterWords() []string {
	var out []string
	for _, w := range byWord {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// IsFourLetterWord reports whether the first four bytes a fresh client
// connection sent (read as a big-endian int32, i.e. where the length of a
// ConnectRequest would be) are a known four-letter word, and which one.
// Call it only before the handshake: afterwards those bytes are lengths.
//
// ZooKeeper also knows the telnet interrupt sequence 0xfff4fffd, on which
// it simply closes the connection; it is not reported here because a
// negative length closes the connection anyway.
func IsFourLetterWord(firstFourBytes int32) (string, bool) {
	w, ok := byWord[firstFourBytes]
	return w, ok
}

// Run renders the text answer of a four-letter word (or a name that
// resolves to one) for a command that takes no argument bytes. It returns
// nil for an unknown name or an HTTP-only command. A word the whitelist
// blocks yields ZooKeeper's refusal line.
func Run(name string, src Source, wl Whitelist) []byte {
	c, ok := Command(name)
	if !ok || c.text == nil {
		return nil
	}
	return c.Text(src, wl, nil)
}

// Text renders the four-letter-word answer with the given argument bytes
// (only stmk uses them; missing bytes read as zero).
func (c *Cmd) Text(src Source, wl Whitelist, arg []byte) []byte {
	if c.text == nil {
		return nil
	}
	if !wl.Allows(c.Word) {
		return []byte(c.Word + " is not executed because it is not in the whitelist.\n")
	}
	return c.text(src, arg)
}

// ErrNotFourLetterWord is returned by Respond for a word it does not know.
var ErrNotFourLetterWord = errors.New("admin: not a four-letter word")

// Respond answers a four-letter word on a client connection: it reads the
// command's argument bytes from r when the word is allowed, writes the
// answer to w, and returns. The caller closes the connection afterwards, as
// ZooKeeper does; clients such as nc read until EOF.
func Respond(w io.Writer, r io.Reader, word string, src Source, wl Whitelist) error {
	c, ok := Command(word)
	if !ok || c.Word != word {
		return fmt.Errorf("%w: %q", ErrNotFourLetterWord, word)
	}
	var arg []byte
	if c.ArgBytes > 0 && wl.Allows(word) {
		arg = make([]byte, c.ArgBytes)
		if _, err := io.ReadFull(r, arg); err != nil {
			return fmt.Errorf("admin: reading %s argument: %w", word, err)
		}
	}
	if _, err := w.Write(c.Text(src, wl, arg)); err != nil {
		return fmt.Errorf("admin: writing %s answer: %w", word, err)
	}
	return nil
}

// traceMask is ZooKeeper's ZooTrace text mask. zabkit has no trace levels;
// the value is kept only so gtmk/stmk behave as clients expect. 306 is
// ZooKeeper's default.
var traceMask atomic.Int64

func init() { traceMask.Store(306) }
