package jute

import (
	"errors"
	"fmt"
)

// ErrBadMultiOp means a multi or multiRead carried an op type that is not
// allowed there.
var ErrBadMultiOp = errors.New("jute: op not allowed in multi")

// MultiHeader precedes each op and result of multi/multiRead; Done marks the
// end of the list.
type MultiHeader struct {
	Type int32
	Done bool
	Err  int32
}

func (x *MultiHeader) Encode(w *Writer) { w.WriteInt(x.Type); w.WriteBool(x.Done); w.WriteInt(x.Err) }
func (x *MultiHeader) Decode(r *Reader) {
	x.Type = r.ReadInt()
	x.Done = r.ReadBool()
	x.Err = r.ReadInt()
}

// MultiOp is one operation of a multi or multiRead request. Record is one of
// *CreateRequest (create, create2, createContainer), *CreateTTLRequest,
// *PathVersionRequest (delete, check), *SetDataRequest, or
// *PathWatchRequest (getChildren, getData in multiRead).
type MultiOp struct {
	Type   int32
	Record Record
}

// MultiRequest is the body of multi (14) and multiRead (22).
type MultiRequest struct{ Ops []MultiOp }

// NewMultiOpRecord returns an empty request record for a multi op type, or
// nil if the type cannot appear in a multi or multiRead.
func NewMultiOpRecord(op int32) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateTTLRequest{}
	case OpDelete, OpCheck:
		return &PathVersionRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpGetChildren, OpGetData:
		return &PathWatchRequest{}
	}
	return nil
}

func (x *MultiRequest) Encode(w *Writer) {
	for _, op := range x.Ops {
		h := MultiHeader{Type: op.Type, Done: false, Err: -1}
		h.Encode(w)
		op.Record.Encode(w)
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(w)
}

func (x *MultiRequest) Decode(r *Reader) {
	x.Ops = x.Ops[:0]
	for r.err == nil {
		var h MultiHeader
		h.Decode(r)
		if r.err != nil || h.Done {
			return
		}
		rec := NewMultiOpRecord(h.Type)
		if rec == nil {
			r.Fail(fmt.Errorf("%w: type %d", ErrBadMultiOp, h.Type))
			return
		}
		rec.Decode(r)
		x.Ops = append(x.Ops, MultiOp{Type: h.Type, Record: rec})
	}
}

// MultiResult is one result of a multi or multiRead. For Type -1 (error)
// Record is nil and Err carries the code; the body is then ErrorResponse.
type MultiResult struct {
	Type   int32
	Err    int32
	Record Record
}

// MultiResponse is the reply of multi and multiRead.
type MultiResponse struct{ Results []MultiResult }

func (x *MultiResponse) Encode(w *Writer) {
	for _, res := range x.Results {
		h := MultiHeader{Type: res.Type, Done: false, Err: res.Err}
		h.Encode(w)
		if res.Type == OpError {
			w.WriteInt(res.Err)
		} else if res.Record != nil {
			res.Record.Encode(w)
		}
	}
	end := MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(w)
}

func (x *MultiResponse) Decode(r *Reader) {
	x.Results = x.Results[:0]
	for r.err == nil {
		var h MultiHeader
		h.Decode(r)
		if r.err != nil || h.Done {
			return
		}
		res := MultiResult{Type: h.Type, Err: h.Err}
		switch h.Type {
		case OpCreate:
			res.Record = &PathRecord{}
		case OpCreate2, OpCreateContainer, OpCreateTTL:
			res.Record = &Create2Response{}
		case OpDelete, OpCheck:
		case OpSetData:
			res.Record = &StatResponse{}
		case OpGetChildren:
			res.Record = &ChildrenResponse{}
		case OpGetData:
			res.Record = &GetDataResponse{}
		case OpError:
			res.Err = r.ReadInt()
		default:
			r.Fail(fmt.Errorf("%w: result type %d", ErrBadMultiOp, h.Type))
			return
		}
		if res.Record != nil {
			res.Record.Decode(r)
		}
		x.Results = append(x.Results, res)
	}
}

// NewTxnRecord returns an empty txn record for a txn type, or nil for an
// unknown type. Used when decoding log entries, proposals and sub-txns.
func NewTxnRecord(txnType int32) Record {
	switch txnType {
	case OpCreate, OpCreate2:
		return &CreateTxn{}
	case OpCreateContainer:
		return &CreateContainerTxn{}
	case OpCreateTTL:
		return &CreateTTLTxn{}
	case OpDelete, OpDeleteContainer:
		return &PathRecord{}
	case OpSetData, OpReconfig:
		return &SetDataTxn{}
	case OpSetACL:
		return &SetACLTxn{}
	case OpCheck:
		return &PathVersionRequest{}
	case OpError, OpCreateSession:
		return &IntRecord{}
	case OpCloseSession:
		return &CloseSessionTxn{}
	case OpMulti:
		return &MultiTxn{}
	}
	return nil
}

// ErrUnknownTxn means a txn type has no record.
var ErrUnknownTxn = errors.New("jute: unknown txn type")

// Txn is a decoded log entry: header, record and optional digest.
type Txn struct {
	Header    TxnHeader
	Record    Record
	Digest    TxnDigest
	HasDigest bool
}

// DecodeTxn decodes TxnHeader + record [+ TxnDigest] from b. The record
// aliases b.
func DecodeTxn(b []byte) (*Txn, error) {
	r := NewReader(b)
	t := &Txn{}
	t.Header.Decode(r)
	if r.err != nil {
		return nil, r.err
	}
	t.Record = NewTxnRecord(t.Header.Type)
	if t.Record == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownTxn, t.Header.Type)
	}
	if t.Header.Type == OpCloseSession && r.Remaining() == 12 {
		// An empty legacy CloseSessionTxn followed by a digest: leave the
		// body empty rather than misreading the digest as paths.
	} else {
		t.Record.Decode(r)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.Remaining() >= 12 {
		t.Digest.Decode(r)
		t.HasDigest = r.err == nil
	}
	return t, r.err
}

// EncodeTxn encodes header + record [+ digest] into buf.
func EncodeTxn(buf []byte, hdr *TxnHeader, rec Record, digest *TxnDigest) []byte {
	w := &Writer{buf: buf}
	hdr.Encode(w)
	if rec != nil {
		rec.Encode(w)
	}
	if digest != nil {
		digest.Encode(w)
	}
	return w.buf
}
