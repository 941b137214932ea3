package fle

import (
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

func ensemble3() []ext.Member {
	return []ext.Member{
		{ID: 3, Weight: 1, Spec: "127.0.0.1:2890:3890:participant;0.0.0.0:2183"},
		{ID: 1, Weight: 1, Spec: "127.0.0.1:2888:3888:participant;0.0.0.0:2181"},
		{ID: 2, Weight: 1, Spec: "127.0.0.1:2889:3889:participant;0.0.0.0:2182"},
	}
}

func TestConfigText(t *testing.T) {
	want := "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n" +
		"server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\n" +
		"server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\n" +
		"version=0"
	if got := string(ConfigText(ensemble3())); got != want {
		t.Fatalf("ConfigText:\n%s\nwant:\n%s", got, want)
	}
	partial := ensemble3()
	partial[1].Spec = ""
	if got := ConfigText(partial); got != nil {
		t.Fatalf("a membership with an unknown spec must give an empty config, got %q", got)
	}
}

func TestEncodeGolden(t *testing.T) {
	n := Notification{State: ext.Following, Leader: 3, Zxid: 0x100000002, ElectionEpoch: 2, PeerEpoch: 1, Config: []byte("version=0")}
	got := hex.EncodeToString(n.Encode())
	want := strings.Join([]string{
		"00000001",         // state FOLLOWING
		"0000000000000003", // leader
		"0000000100000002", // zxid
		"0000000000000002", // electionEpoch (round)
		"0000000000000001", // peerEpoch
		"00000002",         // version
		"00000009",         // config length
		hex.EncodeToString([]byte("version=0")),
	}, "")
	if got != want {
		t.Fatalf("Encode:\n got %s\nwant %s", got, want)
	}
	// A 3-server config as Java sends it: 44 + len(config) bytes.
	full := Notification{Config: ConfigText(ensemble3())}.Encode()
	if len(full) != 44+len(ConfigText(ensemble3())) {
		t.Fatalf("len = %d", len(full))
	}
}

func TestDecodeForms(t *testing.T) {
	hdr := func(state uint32, leader, zxid, round uint64) []byte {
		b := hexBytes(t, "%08x%016x%016x%016x", state, leader, zxid, round)
		return b
	}
	// 28 bytes: before peerEpoch existed; the epoch comes from the zxid.
	n, err := Decode(hdr(0, 2, 0x500000007, 3))
	want := Notification{State: ext.Looking, Leader: 2, Zxid: 0x500000007, ElectionEpoch: 3, PeerEpoch: 5}
	if err != nil || !reflect.DeepEqual(n, want) {
		t.Fatalf("28-byte form: %+v, %v", n, err)
	}
	// 40 bytes: peerEpoch and a version that receivers do not read.
	b40 := append(hdr(2, 2, 0x500000007, 3), hexBytes(t, "%016x%08x", 9, 1)...)
	n, err = Decode(b40)
	want = Notification{State: ext.Leading, Leader: 2, Zxid: 0x500000007, ElectionEpoch: 3, PeerEpoch: 9}
	if err != nil || !reflect.DeepEqual(n, want) {
		t.Fatalf("40-byte form: %+v, %v", n, err)
	}
	// Version 1 with trailing bytes: no config.
	n, err = Decode(append(b40[:36:36], hexBytes(t, "%08x%08x", 1, 0xffff)...))
	want.Version = 1
	if err != nil || !reflect.DeepEqual(n, want) {
		t.Fatalf("version 1: %+v, %v", n, err)
	}
	// Version 2 round trip, trailing bytes ignored; unknown state kept.
	v2 := Notification{State: 7, Leader: -5, Zxid: -1, ElectionEpoch: 1 << 40, PeerEpoch: 3, Version: 2, Config: []byte("server.1=x")}
	n, err = Decode(append(v2.Encode(), 0xAA, 0xBB))
	if err != nil || !reflect.DeepEqual(n, v2) {
		t.Fatalf("version 2: %+v, %v", n, err)
	}

	for name, b := range map[string][]byte{
		"empty":                 nil,
		"27 bytes":              make([]byte, 27),
		"cut in peerEpoch":      make([]byte, 30),
		"cut in version":        make([]byte, 39),
		"cut in config length":  append(hdr(0, 1, 1, 1), hexBytes(t, "%016x%08x%04x", 1, 2, 0)...),
		"config longer than":    append(hdr(0, 1, 1, 1), hexBytes(t, "%016x%08x%08x", 1, 2, 5)...),
		"negative config":       append(hdr(0, 1, 1, 1), hexBytes(t, "%016x%08x%08x", 1, 2, 0xffffffff)...),
		"config cut by a byte":  Notification{Config: []byte("abc")}.Encode()[:46],
		"huge config, no bytes": append(hdr(0, 1, 1, 1), hexBytes(t, "%016x%08x%08x", 1, 2, 0x7fffffff)...),
	} {
		if _, err := Decode(b); !errors.Is(err, ext.ErrBadNotification) {
			t.Errorf("%s: err = %v, want ErrBadNotification", name, err)
		}
	}
}

func hexBytes(t *testing.T, format string, args ...any) []byte {
	t.Helper()
	b, err := hex.DecodeString(fmt.Sprintf(format, args...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVoteRecord(t *testing.T) {
	v := ext.Vote{Leader: 3, Zxid: -1, ElectionEpoch: 9, PeerEpoch: 1 << 33}
	st, got, err := DecodeVote(EncodeVote(ext.Observing, v))
	if err != nil || st != ext.Observing || got != v {
		t.Fatalf("round trip: %v %+v %v", st, got, err)
	}
	bad := EncodeVote(ext.Leading, v)
	bad[4] = 9 // state 9
	for _, b := range [][]byte{nil, bad, EncodeVote(ext.Leading, v)[:36], append([]byte{2}, EncodeVote(ext.Leading, v)[1:]...)} {
		if _, _, err := DecodeVote(b); !errors.Is(err, ErrBadVoteRecord) {
			t.Errorf("DecodeVote(%x) = %v", b, err)
		}
	}
}

// FuzzDecode: no input panics; whatever decodes re-encodes to a message
// that decodes to the same vote (as version 2).
func FuzzDecode(f *testing.F) {
	for _, n := range []Notification{
		{State: ext.Looking, Leader: 1, Zxid: 0x100000001, ElectionEpoch: 1, PeerEpoch: 1},
		{State: ext.Leading, Leader: 3, ElectionEpoch: 2, PeerEpoch: 2, Config: ConfigText(ensemble3())},
	} {
		f.Add(n.Encode())
		f.Add(n.Encode()[:28])
		f.Add(n.Encode()[:40])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ext.ErrBadNotification) {
				t.Fatalf("error %v does not wrap ErrBadNotification", err)
			}
			return
		}
		again, err := Decode(n.Encode())
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		n.Version = CurrentVersion
		if !reflect.DeepEqual(again, n) {
			t.Fatalf("round trip: %+v != %+v", again, n)
		}
	})
}
