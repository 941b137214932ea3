package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrServerSpec is wrapped by every ParseServerSpec error.
var ErrServerSpec = errors.New("bad server spec")

// ParseServerSpec parses the value of a `server.N` line:
//
//	host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]
//
// IPv6 hosts are bracketed ([::1]:2888:3888). ZooKeeper's multiAddress form
// (several `|`-separated addresses) is not supported and is rejected rather
// than half-understood.
func ParseServerSpec(id int64, value string) (ServerSpec, error) {
	s := ServerSpec{ID: id, Role: Participant}
	fail := func(format string, args ...any) (ServerSpec, error) {
		return ServerSpec{}, fmt.Errorf("%w %q: %s", ErrServerSpec, value, fmt.Sprintf(format, args...))
	}
	value = strings.TrimSpace(value)
	if strings.Contains(value, "|") {
		return fail("multiple addresses (multiAddress) are not supported")
	}
	server, client, hasClient := strings.Cut(value, ";")
	if strings.Contains(client, ";") {
		return fail("more than one ';'")
	}
	parts, err := splitHostPorts(strings.TrimSpace(server))
	if err != nil {
		return fail("%v", err)
	}
	if len(parts) < 3 || len(parts) > 4 {
		return fail("want host:quorumPort:electionPort[:role]")
	}
	s.Host = parts[0]
	if s.QuorumPort, err = parsePort(parts[1]); err != nil {
		return fail("quorum port: %v", err)
	}
	if s.ElectionPort, err = parsePort(parts[2]); err != nil {
		return fail("election port: %v", err)
	}
	if len(parts) == 4 {
		switch Role(strings.ToLower(parts[3])) {
		case Participant:
		case Observer:
			s.Role = Observer
		default:
			return fail("role %q is neither participant nor observer", parts[3])
		}
	}
	if hasClient {
		cp, err := splitHostPorts(strings.TrimSpace(client))
		if err != nil {
			return fail("client address: %v", err)
		}
		switch len(cp) {
		case 1:
		case 2:
			s.ClientHost = cp[0]
		default:
			return fail("client address %q: want [host:]port", client)
		}
		if s.ClientPort, err = parsePort(cp[len(cp)-1]); err != nil {
			return fail("client port: %v", err)
		}
	}
	if err := s.check(); err != nil {
		return fail("%v", err)
	}
	return s, nil
}

// check verifies what a parsed or hand-built spec must satisfy.
func (s ServerSpec) check() error {
	switch {
	case s.ID < 0:
		return fmt.Errorf("server id %d is negative", s.ID)
	case !validHost(s.Host):
		return fmt.Errorf("bad host %q", s.Host)
	case s.ClientHost != "" && !validHost(s.ClientHost):
		return fmt.Errorf("bad client host %q", s.ClientHost)
	case s.QuorumPort <= 0 || s.QuorumPort > 65535:
		return fmt.Errorf("quorum port %d out of range", s.QuorumPort)
	case s.ElectionPort <= 0 || s.ElectionPort > 65535:
		return fmt.Errorf("election port %d out of range", s.ElectionPort)
	case s.QuorumPort == s.ElectionPort:
		return fmt.Errorf("quorum and election ports must differ (both %d)", s.QuorumPort)
	case s.Role != Participant && s.Role != Observer:
		return fmt.Errorf("role %q is neither participant nor observer", s.Role)
	case s.ClientPort < 0 || s.ClientPort > 65535:
		return fmt.Errorf("client port %d out of range", s.ClientPort)
	}
	return nil
}

// String renders the spec the way ZooKeeper writes membership lines (in
// dynamic config files and /zookeeper/config): role always present, client
// host 0.0.0.0 when the line named only a port.
func (s ServerSpec) String() string {
	var b strings.Builder
	b.WriteString(bracket(s.Host))
	fmt.Fprintf(&b, ":%d:%d:%s", s.QuorumPort, s.ElectionPort, s.Role)
	if s.ClientPort != 0 {
		host := s.ClientHost
		if host == "" {
			host = "0.0.0.0"
		}
		fmt.Fprintf(&b, ";%s:%d", bracket(host), s.ClientPort)
	}
	return b.String()
}

// QuorumAddr is host:quorumPort.
func (s ServerSpec) QuorumAddr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.QuorumPort))
}

// ElectionAddr is host:electionPort.
func (s ServerSpec) ElectionAddr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.ElectionPort))
}

// validHost rejects empty hosts and characters that cannot appear in a
// hostname or IP literal but would change how the line is split.
func validHost(h string) bool {
	return h != "" && !strings.ContainsAny(h, " \t\r\n[];|/=#\\")
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// splitHostPorts splits "host:p1:p2..." where host may be a bracketed IPv6
// literal; the brackets are removed.
func splitHostPorts(s string) ([]string, error) {
	if !strings.HasPrefix(s, "[") {
		return strings.Split(s, ":"), nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return nil, errors.New("unterminated '[' in IPv6 host")
	}
	host, rest := s[1:end], s[end+1:]
	if rest == "" {
		return []string{host}, nil
	}
	if rest[0] != ':' {
		return nil, fmt.Errorf("expected ':' after ']', got %q", rest)
	}
	return append([]string{host}, strings.Split(rest[1:], ":")...), nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if p <= 0 || p > 65535 {
		return 0, fmt.Errorf("%d out of range", p)
	}
	return p, nil
}
