package auth

import (
	"errors"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

func TestDigestMatchesZooKeeper(t *testing.T) {
	// Value checked against a live ZooKeeper 3.8 (spec 3.5).
	if got := Digest("bob:secret"); got != "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=" {
		t.Fatalf("Digest = %q", got)
	}
}

func TestCheck(t *testing.T) {
	c := &Config{SuperDigest: Digest("super:pw")}
	bob := jute.Id{Scheme: "digest", ID: Digest("bob:secret")}
	acl := []jute.ACL{{Perms: jute.PermRead, ID: bob}, {Perms: jute.PermAll, ID: jute.Id{Scheme: "ip", ID: "10.0.0.0/8"}}}
	cases := []struct {
		ids  []jute.Id
		perm int32
		ok   bool
	}{
		{[]jute.Id{bob}, jute.PermRead, true},
		{[]jute.Id{bob}, jute.PermWrite, false},
		{[]jute.Id{{Scheme: "ip", ID: "10.1.2.3"}}, jute.PermWrite, true},
		{[]jute.Id{{Scheme: "ip", ID: "11.1.2.3"}}, jute.PermWrite, false},
		{[]jute.Id{SuperID}, jute.PermAdmin, true},
		{nil, jute.PermRead, false},
	}
	for i, tc := range cases {
		err := c.Check(acl, tc.ids, tc.perm)
		if (err == nil) != tc.ok {
			t.Errorf("case %d: err=%v want ok=%v", i, err, tc.ok)
		}
		if err != nil && !errors.Is(err, zkerr.NoAuth) {
			t.Errorf("case %d: %v is not NoAuth", i, err)
		}
	}
	if err := c.Check(jute.OpenACLUnsafe, nil, jute.PermAll); err != nil {
		t.Fatal(err)
	}
	ids, err := c.Authenticate("digest", []byte("super:pw"))
	if err != nil || len(ids) != 2 || ids[1] != SuperID {
		t.Fatalf("super auth: %v %v", ids, err)
	}
	if _, err := c.Authenticate("kerberos", nil); !errors.Is(err, zkerr.AuthFailed) {
		t.Fatalf("unknown scheme: %v", err)
	}
}

func TestFixupACL(t *testing.T) {
	bob := jute.Id{Scheme: "digest", ID: Digest("bob:secret")}
	ip := jute.Id{Scheme: "ip", ID: "127.0.0.1"}
	got, err := FixupACL(jute.CreatorAllACL, []jute.Id{ip, bob})
	if err != nil || len(got) != 1 || got[0].ID != bob {
		t.Fatalf("auth expansion: %v %v", got, err)
	}
	for _, bad := range [][]jute.ACL{
		nil,
		jute.CreatorAllACL, // nothing authenticated
		{{Perms: 1, ID: jute.Id{Scheme: "digest", ID: "nocolon"}}},
		{{Perms: 1, ID: jute.Id{Scheme: "ip", ID: "300.1.1.1"}}},
		{{Perms: 1, ID: jute.Id{Scheme: "world", ID: "someone"}}},
		{{Perms: 1, ID: jute.Id{Scheme: "nosuch", ID: "x"}}},
	} {
		if _, err := FixupACL(bad, []jute.Id{ip}); !errors.Is(err, zkerr.InvalidACL) {
			t.Errorf("FixupACL(%v) = %v, want InvalidACL", bad, err)
		}
	}
}
