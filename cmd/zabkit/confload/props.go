package confload

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Property is one key=value entry of a Java properties file (zoo.cfg).
type Property struct {
	Key, Value string
	Line       int // 1-based line where the entry starts
}

// ErrProperties is wrapped by every ParseProperties error.
var ErrProperties = errors.New("bad properties file")

// ParseProperties reads the Java properties format that ZooKeeper loads
// zoo.cfg with (java.util.Properties.load), then trims keys and values as
// ZooKeeper does:
//
//   - lines whose first non-blank character is '#' or '!' are comments;
//   - a line ending in an odd number of backslashes continues on the next
//     line, whose leading blanks are dropped;
//   - the key ends at the first unescaped '=', ':' or blank; blanks and one
//     '=' or ':' separate it from the value;
//   - escapes \t \n \r \f \uXXXX are decoded, any other \c means c.
//
// Unlike Java, the input is read as UTF-8 rather than ISO-8859-1. Entries
// come back in file order, duplicates included (Java keeps the last one).
func ParseProperties(data string) ([]Property, error) {
	var out []Property
	lines := splitLines(data)
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := trimLeftBlank(lines[i])
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines.
		var logical strings.Builder
		for {
			cont := trailingBackslashes(line)%2 == 1
			if !cont {
				logical.WriteString(line)
				break
			}
			logical.WriteString(line[:len(line)-1])
			if i+1 >= len(lines) {
				break
			}
			i++
			line = trimLeftBlank(lines[i])
		}
		key, value, err := splitProperty(logical.String())
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrProperties, start, err)
		}
		out = append(out, Property{Key: javaTrim(key), Value: javaTrim(value), Line: start})
	}
	return out, nil
}

// splitLines splits on \n, \r and \r\n, as Java's LineReader does.
func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return lines
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftBlank(s string) string {
	for len(s) > 0 && isBlank(s[0]) {
		s = s[1:]
	}
	return s
}

func trailingBackslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

func splitProperty(l string) (key, value string, err error) {
	end := len(l)
	for i := 0; i < len(l); i++ {
		if l[i] == '\\' {
			i++
			continue
		}
		if l[i] == '=' || l[i] == ':' || isBlank(l[i]) {
			end = i
			break
		}
	}
	rest := l[end:]
	rest = trimLeftBlank(rest)
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = trimLeftBlank(rest[1:])
	}
	if key, err = unescape(l[:end]); err != nil {
		return "", "", err
	}
	if value, err = unescape(rest); err != nil {
		return "", "", err
	}
	return key, value, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			if c != '\\' {
				b.WriteByte(c)
			}
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) {
				return "", errors.New(`malformed \uxxxx escape`)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", errors.New(`malformed \uxxxx escape`)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// javaTrim is String.trim: it drops leading and trailing chars <= ' '.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
