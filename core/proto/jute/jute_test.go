package jute

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

func TestConnectRequestReadOnlyByte(t *testing.T) {
	req := ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}
	b := Marshal(&req)
	if len(b) != 45 {
		t.Fatalf("Java's ConnectRequest is 45 bytes, got %d", len(b))
	}
	var back ConnectRequest
	if err := Unmarshal(b, &back); err != nil || !back.HasReadOnly {
		t.Fatalf("decode: %v %+v", err, back)
	}
	var old ConnectRequest
	if err := Unmarshal(b[:44], &old); err != nil || old.HasReadOnly {
		t.Fatalf("old client without the byte: %v %+v", err, old)
	}
	resp := ConnectResponse{TimeOut: 4000, SessionID: 1, Passwd: make([]byte, 16), SendReadOnly: true}
	if n := len(Marshal(&resp)); n != 37 {
		t.Fatalf("ConnectResponse with readOnly is 37 bytes, got %d", n)
	}
	resp.SendReadOnly = false
	if n := len(Marshal(&resp)); n != 36 {
		t.Fatalf("ConnectResponse without readOnly is 36 bytes, got %d", n)
	}
}

func TestEmptyMultiReply(t *testing.T) {
	got := hex.EncodeToString(Marshal(&MultiResponse{}))
	if got != "ffffffff01ffffffff" {
		t.Fatalf("empty multi reply = %s", got)
	}
}

func TestMultiRoundTrip(t *testing.T) {
	req := MultiRequest{Ops: []MultiOp{
		{Type: OpCreate, Record: &CreateRequest{Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe}},
		{Type: OpCheck, Record: &PathVersionRequest{Path: "/a", Version: 3}},
		{Type: OpSetData, Record: &SetDataRequest{Path: "/a", Data: nil, Version: -1}},
		{Type: OpDelete, Record: &PathVersionRequest{Path: "/a", Version: -1}},
	}}
	var back MultiRequest
	if err := UnmarshalExact(Marshal(&req), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(req, back) {
		t.Fatalf("round trip:\n%+v\n%+v", req, back)
	}
	bad := AppendRecords(nil, &MultiHeader{Type: OpPing}, &MultiHeader{Type: -1, Done: true, Err: -1})
	if err := Unmarshal(bad, &MultiRequest{}); !errors.Is(err, ErrBadMultiOp) {
		t.Fatalf("ping in multi: %v", err)
	}
}

func TestTxnRoundTrip(t *testing.T) {
	hdr := TxnHeader{ClientID: 7, Cxid: 3, Zxid: 0x100000001, Time: 12345, Type: OpCreate}
	rec := &CreateTxn{Path: "/x", Data: []byte("d"), ACL: OpenACLUnsafe, Ephemeral: true, ParentCVersion: 4}
	for _, dig := range []*TxnDigest{nil, {Version: 2, TreeDigest: -5}} {
		b := EncodeTxn(nil, &hdr, rec, dig)
		txn, err := DecodeTxn(b)
		if err != nil {
			t.Fatal(err)
		}
		if txn.Header != hdr || !reflect.DeepEqual(txn.Record, rec) || txn.HasDigest != (dig != nil) {
			t.Fatalf("round trip with digest %v: %+v", dig, txn)
		}
	}
	cs := EncodeTxn(nil, &TxnHeader{Type: OpCloseSession}, &CloseSessionTxn{Paths: []string{"/e"}, Present: true}, &TxnDigest{Version: 2})
	txn, err := DecodeTxn(cs)
	if err != nil || txn.Record.(*CloseSessionTxn).Paths[0] != "/e" || !txn.HasDigest {
		t.Fatalf("closeSession: %v %+v", err, txn)
	}
}

func TestHostileLengths(t *testing.T) {
	cases := map[string][]byte{
		"negative length": {0xff, 0xff, 0xff, 0xfe},
		"huge length":     {0x7f, 0xff, 0xff, 0xff},
		"truncated":       {0, 0, 0, 5, 'a'},
		"min int":         {0x80, 0, 0, 0},
		"empty":           {},
	}
	for name, b := range cases {
		r := NewReader(b)
		_ = r.ReadBuffer()
		if !errors.Is(r.Err(), ErrBadLength) && !errors.Is(r.Err(), ErrShort) {
			t.Errorf("%s: buffer read gave %v", name, r.Err())
		}
		r = NewReader(b)
		_ = r.ReadStrings()
		if !errors.Is(r.Err(), ErrBadLength) && !errors.Is(r.Err(), ErrShort) {
			t.Errorf("%s: vector read gave %v", name, r.Err())
		}
	}
	if err := Unmarshal([]byte{0, 0, 0, 1}, &Stat{}); !errors.Is(err, ErrShort) {
		t.Fatalf("short stat: %v", err)
	}
}

// FuzzDecoders feeds arbitrary bytes to every decoder a peer or a disk can
// reach. A panic or an unbounded allocation is a bug; errors are expected.
func FuzzDecoders(f *testing.F) {
	f.Add(Marshal(&ConnectRequest{Passwd: make([]byte, 16), HasReadOnly: true}))
	f.Add(Marshal(&MultiRequest{Ops: []MultiOp{{Type: OpCreate, Record: &CreateRequest{Path: "/a", ACL: OpenACLUnsafe}}}}))
	f.Add(EncodeTxn(nil, &TxnHeader{Type: OpMulti}, &MultiTxn{Txns: []SubTxn{{Type: OpDelete, Data: Marshal(&PathRecord{Path: "/a"})}}}, nil))
	f.Add(Marshal(&QuorumPacket{Type: PktProposal, Data: []byte{1, 2}}))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs := []Record{
			&ConnectRequest{}, &ConnectResponse{}, &RequestHeader{}, &ReplyHeader{},
			&CreateRequest{}, &CreateTTLRequest{}, &SetDataRequest{}, &SetACLRequest{},
			&MultiRequest{}, &MultiResponse{}, &SetWatches{}, &SetWatches{Version2: true},
			&AuthPacket{}, &ReconfigRequest{}, &WhoAmIResponse{}, &GetACLResponse{},
			&Children2Response{}, &QuorumPacket{}, &LearnerInfo{}, &MultiTxn{}, &CloseSessionTxn{},
			&CreateTxn{}, &CreateTTLTxn{}, &CreateContainerTxn{}, &SetACLTxn{}, &FileHeader{},
		}
		for _, rec := range recs {
			if err := Unmarshal(b, rec); err == nil {
				// Whatever decoded must re-encode without panicking.
				_ = Marshal(rec)
			}
		}
		_, _ = DecodeTxn(b)
	})
}
