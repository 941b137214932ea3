package zkraw

import (
	"context"
	"crypto/sha1"
	"encoding/base64"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// Typed helpers for the ops tests use most. Each returns the server's error
// code as a zkerr.Code (compare with errors.Is) and the reply frame, so a
// test can also assert the header zxid.

// OpenACL is world:anyone with every permission.
var OpenACL = jute.OpenACLUnsafe

// DigestID is the digest-scheme id of user:password, as ZooKeeper stores it:
// user:BASE64(SHA1("user:password")).
func DigestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// do runs one call and turns a non-zero header err into an error.
func (c *Conn) do(ctx context.Context, op int32, req, resp jute.Record) (*Frame, error) {
	f, err := c.Call(ctx, op, req)
	if err != nil {
		return f, err
	}
	if f.Header.Err != 0 {
		return f, zkerr.Code(f.Header.Err)
	}
	if resp != nil {
		return f, f.Decode(resp)
	}
	return f, nil
}

// Create creates a node (op 1) and returns the actual path.
func (c *Conn) Create(ctx context.Context, path string, data []byte, acl []jute.ACL, flags int32) (string, error) {
	var resp jute.PathRecord
	_, err := c.do(ctx, jute.OpCreate, &jute.CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags}, &resp)
	return resp.Path, err
}

// Create2 creates a node (op 15, or 19 for a container) and returns path
// and stat.
func (c *Conn) Create2(ctx context.Context, path string, data []byte, acl []jute.ACL, flags int32) (*jute.Create2Response, error) {
	op := jute.OpCreate2
	if flags == jute.FlagContainer {
		op = jute.OpCreateContainer
	}
	var resp jute.Create2Response
	_, err := c.do(ctx, op, &jute.CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags}, &resp)
	return &resp, err
}

// CreateTTL creates a TTL node (op 21).
func (c *Conn) CreateTTL(ctx context.Context, path string, data []byte, acl []jute.ACL, flags int32, ttlMs int64) (*jute.Create2Response, error) {
	var resp jute.Create2Response
	_, err := c.do(ctx, jute.OpCreateTTL, &jute.CreateTTLRequest{Path: path, Data: data, ACL: acl, Flags: flags, TTL: ttlMs}, &resp)
	return &resp, err
}

// Delete deletes a node.
func (c *Conn) Delete(ctx context.Context, path string, version int32) error {
	_, err := c.do(ctx, jute.OpDelete, &jute.PathVersionRequest{Path: path, Version: version}, nil)
	return err
}

// Exists returns the node's stat.
func (c *Conn) Exists(ctx context.Context, path string, watch bool) (*jute.Stat, error) {
	var resp jute.StatResponse
	_, err := c.do(ctx, jute.OpExists, &jute.PathWatchRequest{Path: path, Watch: watch}, &resp)
	return &resp.Stat, err
}

// GetData returns data and stat.
func (c *Conn) GetData(ctx context.Context, path string, watch bool) (*jute.GetDataResponse, error) {
	var resp jute.GetDataResponse
	_, err := c.do(ctx, jute.OpGetData, &jute.PathWatchRequest{Path: path, Watch: watch}, &resp)
	return &resp, err
}

// SetData sets data if the version matches (-1 = any).
func (c *Conn) SetData(ctx context.Context, path string, data []byte, version int32) (*jute.Stat, error) {
	var resp jute.StatResponse
	_, err := c.do(ctx, jute.OpSetData, &jute.SetDataRequest{Path: path, Data: data, Version: version}, &resp)
	return &resp.Stat, err
}

// Children returns children and the node's stat (op 12).
func (c *Conn) Children(ctx context.Context, path string, watch bool) (*jute.Children2Response, error) {
	var resp jute.Children2Response
	_, err := c.do(ctx, jute.OpGetChildren2, &jute.PathWatchRequest{Path: path, Watch: watch}, &resp)
	return &resp, err
}

// GetACL returns the ACL and stat.
func (c *Conn) GetACL(ctx context.Context, path string) (*jute.GetACLResponse, error) {
	var resp jute.GetACLResponse
	_, err := c.do(ctx, jute.OpGetACL, &jute.PathRecord{Path: path}, &resp)
	return &resp, err
}

// SetACL replaces the ACL if the aversion matches (-1 = any).
func (c *Conn) SetACL(ctx context.Context, path string, acl []jute.ACL, version int32) (*jute.Stat, error) {
	var resp jute.StatResponse
	_, err := c.do(ctx, jute.OpSetACL, &jute.SetACLRequest{Path: path, ACL: acl, Version: version}, &resp)
	return &resp.Stat, err
}

// Sync asks the server to catch up with the leader.
func (c *Conn) Sync(ctx context.Context, path string) (string, error) {
	var resp jute.PathRecord
	_, err := c.do(ctx, jute.OpSync, &jute.PathRecord{Path: path}, &resp)
	return resp.Path, err
}

// AddAuth authenticates the connection (op 100, xid -4). A rejected scheme
// makes the server reply AUTHFAILED and close the connection.
func (c *Conn) AddAuth(ctx context.Context, scheme string, auth []byte) error {
	f, err := c.CallXid(ctx, jute.XidAuth, jute.OpAuth, &jute.AuthPacket{Type: 0, Scheme: scheme, Auth: auth})
	if err != nil {
		return err
	}
	if f.Header.Err != 0 {
		return zkerr.Code(f.Header.Err)
	}
	return nil
}

// AddWatch registers a persistent (0) or persistent-recursive (1) watch.
func (c *Conn) AddWatch(ctx context.Context, path string, mode int32) error {
	_, err := c.do(ctx, jute.OpAddWatch, &jute.AddWatchRequest{Path: path, Mode: mode}, nil)
	return err
}

// RemoveWatches removes this connection's watches of a type on path.
func (c *Conn) RemoveWatches(ctx context.Context, path string, watcherType int32) error {
	_, err := c.do(ctx, jute.OpRemoveWatches, &jute.WatchTypeRequest{Path: path, Type: watcherType}, nil)
	return err
}

// GetEphemerals lists the session's ephemerals under a string prefix.
func (c *Conn) GetEphemerals(ctx context.Context, prefix string) ([]string, error) {
	var resp jute.ChildrenResponse
	_, err := c.do(ctx, jute.OpGetEphemerals, &jute.PathRecord{Path: prefix}, &resp)
	return resp.Children, err
}

// GetAllChildrenNumber counts all descendants of path.
func (c *Conn) GetAllChildrenNumber(ctx context.Context, path string) (int32, error) {
	var resp jute.IntRecord
	_, err := c.do(ctx, jute.OpGetAllChildrenNumber, &jute.PathRecord{Path: path}, &resp)
	return resp.Value, err
}

// WhoAmI lists the identities the connection carries.
func (c *Conn) WhoAmI(ctx context.Context) ([]jute.ClientInfo, error) {
	var resp jute.WhoAmIResponse
	_, err := c.do(ctx, jute.OpWhoAmI, nil, &resp)
	return resp.Infos, err
}

// Multi runs a multi (op 14) and returns the per-op results. A failed
// multi still has header err 0; its results are all type -1.
func (c *Conn) Multi(ctx context.Context, ops ...jute.MultiOp) ([]jute.MultiResult, error) {
	var resp jute.MultiResponse
	_, err := c.do(ctx, jute.OpMulti, &jute.MultiRequest{Ops: ops}, &resp)
	return resp.Results, err
}
