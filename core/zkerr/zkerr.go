// Package zkerr defines ZooKeeper's error codes as Go errors, so the code a
// client sees travels through the server as an ordinary error and is
// compared with errors.Is.
package zkerr

import (
	"errors"
	"fmt"
)

// Code is a ZooKeeper error code as carried in ReplyHeader.err.
type Code int32

// Error codes of Apache ZooKeeper 3.8 (there is no -126).
const (
	OK                       Code = 0
	SystemError              Code = -1
	RuntimeInconsistency     Code = -2
	DataInconsistency        Code = -3
	ConnectionLoss           Code = -4
	MarshallingError         Code = -5
	Unimplemented            Code = -6
	OperationTimeout         Code = -7
	BadArguments             Code = -8
	UnknownSession           Code = -12
	NewConfigNoQuorum        Code = -13
	ReconfigInProgress       Code = -14
	APIError                 Code = -100
	NoNode                   Code = -101
	NoAuth                   Code = -102
	BadVersion               Code = -103
	NoChildrenForEphemerals  Code = -108
	NodeExists               Code = -110
	NotEmpty                 Code = -111
	SessionExpired           Code = -112
	InvalidCallback          Code = -113
	InvalidACL               Code = -114
	AuthFailed               Code = -115
	SessionMoved             Code = -118
	NotReadOnly              Code = -119
	EphemeralOnLocalSession  Code = -120
	NoWatcher                Code = -121
	RequestTimeout           Code = -122
	ReconfigDisabled         Code = -123
	SessionClosedRequireSASL Code = -124
	QuotaExceeded            Code = -125
	ThrottledOp              Code = -127
)

var names = map[Code]string{
	OK: "OK", SystemError: "SYSTEMERROR", RuntimeInconsistency: "RUNTIMEINCONSISTENCY",
	DataInconsistency: "DATAINCONSISTENCY", ConnectionLoss: "CONNECTIONLOSS",
	MarshallingError: "MARSHALLINGERROR", Unimplemented: "UNIMPLEMENTED",
	OperationTimeout: "OPERATIONTIMEOUT", BadArguments: "BADARGUMENTS",
	UnknownSession: "UNKNOWNSESSION", NewConfigNoQuorum: "NEWCONFIGNOQUORUM",
	ReconfigInProgress: "RECONFIGINPROGRESS", APIError: "APIERROR", NoNode: "NONODE",
	NoAuth: "NOAUTH", BadVersion: "BADVERSION", NoChildrenForEphemerals: "NOCHILDRENFOREPHEMERALS",
	NodeExists: "NODEEXISTS", NotEmpty: "NOTEMPTY", SessionExpired: "SESSIONEXPIRED",
	InvalidCallback: "INVALIDCALLBACK", InvalidACL: "INVALIDACL", AuthFailed: "AUTHFAILED",
	SessionMoved: "SESSIONMOVED", NotReadOnly: "NOTREADONLY",
	EphemeralOnLocalSession: "EPHEMERALONLOCALSESSION", NoWatcher: "NOWATCHER",
	RequestTimeout: "REQUESTTIMEOUT", ReconfigDisabled: "RECONFIGDISABLED",
	SessionClosedRequireSASL: "SESSIONCLOSEDREQUIRESASLAUTH", QuotaExceeded: "QUOTAEXCEEDED",
	ThrottledOp: "THROTTLEDOP",
}

// String is ZooKeeper's name for the code.
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("ERROR(%d)", int32(c))
}

// Error makes a Code usable as an error.
func (c Code) Error() string { return "zookeeper: " + c.String() }

// Of extracts the ZooKeeper code from err: OK for nil, the wrapped Code if
// there is one, SystemError otherwise.
func Of(err error) Code {
	if err == nil {
		return OK
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return SystemError
}

// Wrap attaches a code to a more detailed message; errors.Is(err, code) holds.
func Wrap(c Code, format string, args ...any) error {
	return fmt.Errorf("%w: %s", c, fmt.Sprintf(format, args...))
}
