// Package auth implements ZooKeeper's built-in authentication schemes
// (world, digest, ip, auth, super) and ACL checks.
package auth

import (
	"crypto/sha1"
	"encoding/base64"
	"net"
	"strconv"
	"strings"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// SuperID is the identity that bypasses every ACL check.
var SuperID = jute.Id{Scheme: "super", ID: ""}

// Digest returns the digest-scheme id for "user:password":
// user:BASE64(SHA1("user:password")).
func Digest(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Config holds server-wide auth settings.
type Config struct {
	// SuperDigest is "super:<base64 sha1>"; whoever authenticates with
	// digest super:<password> that hashes to it gets SuperID.
	SuperDigest string
	// SkipACL disables all ACL checks (zookeeper.skipACL=yes).
	SkipACL bool
}

// Authenticate handles an AuthPacket: it returns the ids to add to the
// connection, or AuthFailed for an unknown scheme or bad credentials.
func (c *Config) Authenticate(scheme string, credential []byte) ([]jute.Id, error) {
	switch scheme {
	case "digest":
		cred := string(credential)
		id := Digest(cred)
		ids := []jute.Id{{Scheme: "digest", ID: id}}
		if c.SuperDigest != "" && id == c.SuperDigest {
			ids = append(ids, SuperID)
		}
		return ids, nil
	}
	return nil, zkerr.AuthFailed
}

// Check returns nil if ids may perform perm on a node with acl, else
// zkerr.NoAuth.
func (c *Config) Check(acl []jute.ACL, ids []jute.Id, perm int32) error {
	if c.SkipACL || len(acl) == 0 {
		return nil
	}
	for _, id := range ids {
		if id.Scheme == "super" {
			return nil
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return nil
		}
		for _, id := range ids {
			if id.Scheme == a.ID.Scheme && matches(id.Scheme, id.ID, a.ID.ID) {
				return nil
			}
		}
	}
	return zkerr.NoAuth
}

func matches(scheme, have, aclID string) bool {
	if scheme == "ip" {
		return ipMatches(have, aclID)
	}
	return have == aclID
}

// ipMatches reports whether address addr falls in aclID ("a.b.c.d[/bits]").
func ipMatches(addr, aclID string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	network, bitsStr, hasBits := strings.Cut(aclID, "/")
	want := net.ParseIP(network)
	if want == nil {
		return false
	}
	if v4 := want.To4(); v4 != nil {
		want = v4
		ip = ip.To4()
		if ip == nil {
			return false
		}
	}
	bits := len(want) * 8
	if hasBits {
		n, err := strconv.Atoi(bitsStr)
		if err != nil || n < 0 || n > bits {
			return false
		}
		bits = n
	}
	mask := net.CIDRMask(bits, len(want)*8)
	return ip.Mask(mask).Equal(want.Mask(mask))
}

// validID reports whether an ACL id is well formed for its scheme.
func validID(id jute.Id) bool {
	switch id.Scheme {
	case "world":
		return id.ID == "anyone"
	case "digest":
		user, hash, ok := strings.Cut(id.ID, ":")
		return ok && user != "" && !strings.Contains(hash, ":")
	case "ip":
		network, bits, hasBits := strings.Cut(id.ID, "/")
		ip := net.ParseIP(network)
		if ip == nil {
			return false
		}
		if hasBits {
			n, err := strconv.Atoi(bits)
			max := 128
			if ip.To4() != nil {
				max = 32
			}
			return err == nil && n >= 0 && n <= max
		}
		return true
	case "x509", "sasl":
		return id.ID != ""
	case "super":
		return true
	}
	return false
}

// FixupACL validates an ACL list for create/setACL and expands the "auth"
// scheme into the connection's authenticated (non-ip) ids. It returns
// InvalidACL for an empty or malformed list, or for "auth" with nothing
// authenticated.
func FixupACL(acl []jute.ACL, ids []jute.Id) ([]jute.ACL, error) {
	if len(acl) == 0 {
		return nil, zkerr.InvalidACL
	}
	out := make([]jute.ACL, 0, len(acl))
	for _, a := range acl {
		if a.ID.Scheme == "auth" {
			added := false
			for _, id := range ids {
				if id.Scheme == "ip" || id.Scheme == "super" || id.Scheme == "world" {
					continue
				}
				out = appendUnique(out, jute.ACL{Perms: a.Perms, ID: id})
				added = true
			}
			if !added {
				return nil, zkerr.InvalidACL
			}
			continue
		}
		if !validID(a.ID) {
			return nil, zkerr.InvalidACL
		}
		out = appendUnique(out, a)
	}
	return out, nil
}

func appendUnique(acl []jute.ACL, a jute.ACL) []jute.ACL {
	for _, x := range acl {
		if x == a {
			return acl
		}
	}
	return append(acl, a)
}

// RedactDigests replaces digest hashes with "x", as getACL shows them to a
// caller without ADMIN permission.
func RedactDigests(acl []jute.ACL) []jute.ACL {
	out := make([]jute.ACL, len(acl))
	for i, a := range acl {
		if a.ID.Scheme == "digest" {
			user, _, _ := strings.Cut(a.ID.ID, ":")
			a.ID.ID = user + ":x"
		}
		out[i] = a
	}
	return out
}
