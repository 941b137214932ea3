package jute

// ---------------------------------------------------------------------------
// Shared records

// Id names an identity within an auth scheme, e.g. ("digest", "bob:hash").
type Id struct {
	Scheme string
	ID     string
}

func (x *Id) Encode(w *Writer) { w.WriteString(x.Scheme); w.WriteString(x.ID) }
func (x *Id) Decode(r *Reader) { x.Scheme = r.ReadString(); x.ID = r.ReadString() }

// ACL grants Perms to an Id.
type ACL struct {
	Perms int32
	ID    Id
}

func (x *ACL) Encode(w *Writer) { w.WriteInt(x.Perms); x.ID.Encode(w) }
func (x *ACL) Decode(r *Reader) { x.Perms = r.ReadInt(); x.ID.Decode(r) }

// WriteACLs appends a vector<ACL>; nil encodes as -1.
func WriteACLs(w *Writer, acl []ACL) {
	if acl == nil {
		w.WriteInt(-1)
		return
	}
	w.WriteInt(int32(len(acl)))
	for i := range acl {
		acl[i].Encode(w)
	}
}

// ReadACLs reads a vector<ACL>; -1 yields nil.
func ReadACLs(r *Reader) []ACL {
	n := r.readCount("vector<ACL>", 12)
	if n < 0 {
		return nil
	}
	v := make([]ACL, n)
	for i := 0; i < n && r.err == nil; i++ {
		v[i].Decode(r)
	}
	return v
}

// WriteIds appends a vector<Id>; nil encodes as -1.
func WriteIds(w *Writer, ids []Id) {
	if ids == nil {
		w.WriteInt(-1)
		return
	}
	w.WriteInt(int32(len(ids)))
	for i := range ids {
		ids[i].Encode(w)
	}
}

// ReadIds reads a vector<Id>; -1 yields nil.
func ReadIds(r *Reader) []Id {
	n := r.readCount("vector<Id>", 8)
	if n < 0 {
		return nil
	}
	v := make([]Id, n)
	for i := 0; i < n && r.err == nil; i++ {
		v[i].Decode(r)
	}
	return v
}

// Well-known ACLs.
var (
	WorldAnyone   = Id{Scheme: "world", ID: "anyone"}
	OpenACLUnsafe = []ACL{{Perms: PermAll, ID: WorldAnyone}}
	ReadACLUnsafe = []ACL{{Perms: PermRead, ID: WorldAnyone}}
	CreatorAllACL = []ACL{{Perms: PermAll, ID: Id{Scheme: "auth", ID: ""}}}
)

// Stat is the metadata of a znode as clients see it.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

func (x *Stat) Encode(w *Writer) {
	w.WriteLong(x.Czxid)
	w.WriteLong(x.Mzxid)
	w.WriteLong(x.Ctime)
	w.WriteLong(x.Mtime)
	w.WriteInt(x.Version)
	w.WriteInt(x.Cversion)
	w.WriteInt(x.Aversion)
	w.WriteLong(x.EphemeralOwner)
	w.WriteInt(x.DataLength)
	w.WriteInt(x.NumChildren)
	w.WriteLong(x.Pzxid)
}

func (x *Stat) Decode(r *Reader) {
	x.Czxid = r.ReadLong()
	x.Mzxid = r.ReadLong()
	x.Ctime = r.ReadLong()
	x.Mtime = r.ReadLong()
	x.Version = r.ReadInt()
	x.Cversion = r.ReadInt()
	x.Aversion = r.ReadInt()
	x.EphemeralOwner = r.ReadLong()
	x.DataLength = r.ReadInt()
	x.NumChildren = r.ReadInt()
	x.Pzxid = r.ReadLong()
}

// StatPersisted is the stat stored in snapshots (no computed fields).
type StatPersisted struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	Pzxid          int64
}

func (x *StatPersisted) Encode(w *Writer) {
	w.WriteLong(x.Czxid)
	w.WriteLong(x.Mzxid)
	w.WriteLong(x.Ctime)
	w.WriteLong(x.Mtime)
	w.WriteInt(x.Version)
	w.WriteInt(x.Cversion)
	w.WriteInt(x.Aversion)
	w.WriteLong(x.EphemeralOwner)
	w.WriteLong(x.Pzxid)
}

func (x *StatPersisted) Decode(r *Reader) {
	x.Czxid = r.ReadLong()
	x.Mzxid = r.ReadLong()
	x.Ctime = r.ReadLong()
	x.Mtime = r.ReadLong()
	x.Version = r.ReadInt()
	x.Cversion = r.ReadInt()
	x.Aversion = r.ReadInt()
	x.EphemeralOwner = r.ReadLong()
	x.Pzxid = r.ReadLong()
}

// ---------------------------------------------------------------------------
// Client protocol: handshake and headers

// ConnectRequest is the client's first frame. ReadOnly is appended outside
// the jute schema; HasReadOnly records whether the client sent it ("old
// clients" do not, and then the response omits it too).
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

func (x *ConnectRequest) Encode(w *Writer) {
	w.WriteInt(x.ProtocolVersion)
	w.WriteLong(x.LastZxidSeen)
	w.WriteInt(x.TimeOut)
	w.WriteLong(x.SessionID)
	w.WriteBuffer(x.Passwd)
	if x.HasReadOnly {
		w.WriteBool(x.ReadOnly)
	}
}

func (x *ConnectRequest) Decode(r *Reader) {
	x.ProtocolVersion = r.ReadInt()
	x.LastZxidSeen = r.ReadLong()
	x.TimeOut = r.ReadInt()
	x.SessionID = r.ReadLong()
	x.Passwd = r.ReadBuffer()
	x.HasReadOnly = r.err == nil && r.Remaining() > 0
	if x.HasReadOnly {
		x.ReadOnly = r.ReadBool()
	}
}

// ConnectResponse is the server's first frame. ReadOnly is sent only when
// SendReadOnly is set (the request carried the byte).
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	SendReadOnly    bool
}

func (x *ConnectResponse) Encode(w *Writer) {
	w.WriteInt(x.ProtocolVersion)
	w.WriteInt(x.TimeOut)
	w.WriteLong(x.SessionID)
	w.WriteBuffer(x.Passwd)
	if x.SendReadOnly {
		w.WriteBool(x.ReadOnly)
	}
}

func (x *ConnectResponse) Decode(r *Reader) {
	x.ProtocolVersion = r.ReadInt()
	x.TimeOut = r.ReadInt()
	x.SessionID = r.ReadLong()
	x.Passwd = r.ReadBuffer()
	x.SendReadOnly = r.err == nil && r.Remaining() > 0
	if x.SendReadOnly {
		x.ReadOnly = r.ReadBool()
	}
}

// RequestHeader precedes every request after the handshake.
type RequestHeader struct {
	Xid  int32
	Type int32
}

func (x *RequestHeader) Encode(w *Writer) { w.WriteInt(x.Xid); w.WriteInt(x.Type) }
func (x *RequestHeader) Decode(r *Reader) { x.Xid = r.ReadInt(); x.Type = r.ReadInt() }

// ReplyHeader precedes every reply and notification.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  int32
}

func (x *ReplyHeader) Encode(w *Writer) { w.WriteInt(x.Xid); w.WriteLong(x.Zxid); w.WriteInt(x.Err) }
func (x *ReplyHeader) Decode(r *Reader) {
	x.Xid = r.ReadInt()
	x.Zxid = r.ReadLong()
	x.Err = r.ReadInt()
}

// ---------------------------------------------------------------------------
// Client requests and responses

// PathRecord is any record that is a single path: GetACLRequest,
// SyncRequest/Response, CreateResponse, GetAllChildrenNumberRequest,
// GetEphemeralsRequest (prefixPath).
type PathRecord struct{ Path string }

func (x *PathRecord) Encode(w *Writer) { w.WriteString(x.Path) }
func (x *PathRecord) Decode(r *Reader) { x.Path = r.ReadString() }

// PathWatchRequest is exists, getData, getChildren and getChildren2.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

func (x *PathWatchRequest) Encode(w *Writer) { w.WriteString(x.Path); w.WriteBool(x.Watch) }
func (x *PathWatchRequest) Decode(r *Reader) { x.Path = r.ReadString(); x.Watch = r.ReadBool() }

// PathVersionRequest is delete and check.
type PathVersionRequest struct {
	Path    string
	Version int32
}

func (x *PathVersionRequest) Encode(w *Writer) { w.WriteString(x.Path); w.WriteInt(x.Version) }
func (x *PathVersionRequest) Decode(r *Reader) { x.Path = r.ReadString(); x.Version = r.ReadInt() }

// CreateRequest is create, create2 and createContainer.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
}

func (x *CreateRequest) Encode(w *Writer) {
	w.WriteString(x.Path)
	w.WriteBuffer(x.Data)
	WriteACLs(w, x.ACL)
	w.WriteInt(x.Flags)
}

func (x *CreateRequest) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.Data = r.ReadBuffer()
	x.ACL = ReadACLs(r)
	x.Flags = r.ReadInt()
}

// CreateTTLRequest is createTTL.
type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64
}

func (x *CreateTTLRequest) Encode(w *Writer) {
	w.WriteString(x.Path)
	w.WriteBuffer(x.Data)
	WriteACLs(w, x.ACL)
	w.WriteInt(x.Flags)
	w.WriteLong(x.TTL)
}

func (x *CreateTTLRequest) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.Data = r.ReadBuffer()
	x.ACL = ReadACLs(r)
	x.Flags = r.ReadInt()
	x.TTL = r.ReadLong()
}

// Create2Response carries the actual path and the new node's stat.
type Create2Response struct {
	Path string
	Stat Stat
}

func (x *Create2Response) Encode(w *Writer) { w.WriteString(x.Path); x.Stat.Encode(w) }
func (x *Create2Response) Decode(r *Reader) { x.Path = r.ReadString(); x.Stat.Decode(r) }

// StatResponse is ExistsResponse, SetDataResponse and SetACLResponse.
type StatResponse struct{ Stat Stat }

func (x *StatResponse) Encode(w *Writer) { x.Stat.Encode(w) }
func (x *StatResponse) Decode(r *Reader) { x.Stat.Decode(r) }

// GetDataResponse is getData's (and reconfig's) reply.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

func (x *GetDataResponse) Encode(w *Writer) { w.WriteBuffer(x.Data); x.Stat.Encode(w) }
func (x *GetDataResponse) Decode(r *Reader) { x.Data = r.ReadBuffer(); x.Stat.Decode(r) }

// SetDataRequest is setData.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

func (x *SetDataRequest) Encode(w *Writer) {
	w.WriteString(x.Path)
	w.WriteBuffer(x.Data)
	w.WriteInt(x.Version)
}

func (x *SetDataRequest) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.Data = r.ReadBuffer()
	x.Version = r.ReadInt()
}

// GetACLResponse is getACL's reply.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

func (x *GetACLResponse) Encode(w *Writer) { WriteACLs(w, x.ACL); x.Stat.Encode(w) }
func (x *GetACLResponse) Decode(r *Reader) { x.ACL = ReadACLs(r); x.Stat.Decode(r) }

// SetACLRequest is setACL.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (x *SetACLRequest) Encode(w *Writer) {
	w.WriteString(x.Path)
	WriteACLs(w, x.ACL)
	w.WriteInt(x.Version)
}

func (x *SetACLRequest) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.ACL = ReadACLs(r)
	x.Version = r.ReadInt()
}

// ChildrenResponse is getChildren's reply (and GetEphemeralsResponse).
type ChildrenResponse struct{ Children []string }

func (x *ChildrenResponse) Encode(w *Writer) { w.WriteStrings(x.Children) }
func (x *ChildrenResponse) Decode(r *Reader) { x.Children = r.ReadStrings() }

// Children2Response is getChildren2's reply.
type Children2Response struct {
	Children []string
	Stat     Stat
}

func (x *Children2Response) Encode(w *Writer) { w.WriteStrings(x.Children); x.Stat.Encode(w) }
func (x *Children2Response) Decode(r *Reader) { x.Children = r.ReadStrings(); x.Stat.Decode(r) }

// WatchTypeRequest is checkWatches and removeWatches.
type WatchTypeRequest struct {
	Path string
	Type int32
}

func (x *WatchTypeRequest) Encode(w *Writer) { w.WriteString(x.Path); w.WriteInt(x.Type) }
func (x *WatchTypeRequest) Decode(r *Reader) { x.Path = r.ReadString(); x.Type = r.ReadInt() }

// AddWatchRequest is addWatch.
type AddWatchRequest struct {
	Path string
	Mode int32
}

func (x *AddWatchRequest) Encode(w *Writer) { w.WriteString(x.Path); w.WriteInt(x.Mode) }
func (x *AddWatchRequest) Decode(r *Reader) { x.Path = r.ReadString(); x.Mode = r.ReadInt() }

// IntRecord is a single int: ErrorResponse, GetAllChildrenNumberResponse,
// ErrorTxn, CreateSessionTxn.
type IntRecord struct{ Value int32 }

func (x *IntRecord) Encode(w *Writer) { w.WriteInt(x.Value) }
func (x *IntRecord) Decode(r *Reader) { x.Value = r.ReadInt() }

// ReconfigRequest is reconfig.
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

func (x *ReconfigRequest) Encode(w *Writer) {
	w.WriteString(x.JoiningServers)
	w.WriteString(x.LeavingServers)
	w.WriteString(x.NewMembers)
	w.WriteLong(x.CurConfigID)
}

func (x *ReconfigRequest) Decode(r *Reader) {
	x.JoiningServers = r.ReadString()
	x.LeavingServers = r.ReadString()
	x.NewMembers = r.ReadString()
	x.CurConfigID = r.ReadLong()
}

// AuthPacket is addAuth (op 100, xid -4).
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

func (x *AuthPacket) Encode(w *Writer) {
	w.WriteInt(x.Type)
	w.WriteString(x.Scheme)
	w.WriteBuffer(x.Auth)
}

func (x *AuthPacket) Decode(r *Reader) {
	x.Type = r.ReadInt()
	x.Scheme = r.ReadString()
	x.Auth = r.ReadBuffer()
}

// SetWatches is op 101 (Persistent fields unused) and SetWatches2 is op 105.
// Decode reads the persistent vectors only when Version2 is set.
type SetWatches struct {
	RelativeZxid        int64
	Data                []string
	Exist               []string
	Child               []string
	Persistent          []string
	PersistentRecursive []string
	Version2            bool
}

func (x *SetWatches) Encode(w *Writer) {
	w.WriteLong(x.RelativeZxid)
	w.WriteStrings(x.Data)
	w.WriteStrings(x.Exist)
	w.WriteStrings(x.Child)
	if x.Version2 {
		w.WriteStrings(x.Persistent)
		w.WriteStrings(x.PersistentRecursive)
	}
}

func (x *SetWatches) Decode(r *Reader) {
	x.RelativeZxid = r.ReadLong()
	x.Data = r.ReadStrings()
	x.Exist = r.ReadStrings()
	x.Child = r.ReadStrings()
	if x.Version2 {
		x.Persistent = r.ReadStrings()
		x.PersistentRecursive = r.ReadStrings()
	}
}

// BufferRecord is a single buffer: GetSASLRequest and SetSASLResponse.
type BufferRecord struct{ Data []byte }

func (x *BufferRecord) Encode(w *Writer) { w.WriteBuffer(x.Data) }
func (x *BufferRecord) Decode(r *Reader) { x.Data = r.ReadBuffer() }

// ClientInfo is one identity in whoAmI's reply.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// WhoAmIResponse is whoAmI's reply.
type WhoAmIResponse struct{ Infos []ClientInfo }

func (x *WhoAmIResponse) Encode(w *Writer) {
	w.WriteInt(int32(len(x.Infos)))
	for _, c := range x.Infos {
		w.WriteString(c.AuthScheme)
		w.WriteString(c.User)
	}
}

func (x *WhoAmIResponse) Decode(r *Reader) {
	n := r.readCount("vector<ClientInfo>", 8)
	if n < 0 {
		x.Infos = nil
		return
	}
	x.Infos = make([]ClientInfo, n)
	for i := 0; i < n && r.err == nil; i++ {
		x.Infos[i].AuthScheme = r.ReadString()
		x.Infos[i].User = r.ReadString()
	}
}

// WatcherEvent is the body of a notification (xid -1).
type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

func (x *WatcherEvent) Encode(w *Writer) {
	w.WriteInt(x.Type)
	w.WriteInt(x.State)
	w.WriteString(x.Path)
}
func (x *WatcherEvent) Decode(r *Reader) {
	x.Type = r.ReadInt()
	x.State = r.ReadInt()
	x.Path = r.ReadString()
}

// ---------------------------------------------------------------------------
// Txn records (log entries, PROPOSAL payloads)

// TxnHeader precedes every txn in the log and in proposals.
type TxnHeader struct {
	ClientID int64
	Cxid     int32
	Zxid     int64
	Time     int64
	Type     int32
}

// TxnHeaderSize is the encoded size of a TxnHeader.
const TxnHeaderSize = 32

func (x *TxnHeader) Encode(w *Writer) {
	w.WriteLong(x.ClientID)
	w.WriteInt(x.Cxid)
	w.WriteLong(x.Zxid)
	w.WriteLong(x.Time)
	w.WriteInt(x.Type)
}

func (x *TxnHeader) Decode(r *Reader) {
	x.ClientID = r.ReadLong()
	x.Cxid = r.ReadInt()
	x.Zxid = r.ReadLong()
	x.Time = r.ReadLong()
	x.Type = r.ReadInt()
}

// CreateTxn is the txn of create and create2.
type CreateTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	Ephemeral      bool
	ParentCVersion int32
}

func (x *CreateTxn) Encode(w *Writer) {
	w.WriteString(x.Path)
	w.WriteBuffer(x.Data)
	WriteACLs(w, x.ACL)
	w.WriteBool(x.Ephemeral)
	w.WriteInt(x.ParentCVersion)
}

// Decode accepts the legacy CreateTxnV0 (no parentCVersion), which it reads
// as ParentCVersion -1.
func (x *CreateTxn) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.Data = r.ReadBuffer()
	x.ACL = ReadACLs(r)
	x.Ephemeral = r.ReadBool()
	if r.err == nil && r.Remaining() < 4 {
		x.ParentCVersion = -1
		return
	}
	x.ParentCVersion = r.ReadInt()
}

// CreateContainerTxn is the txn of createContainer.
type CreateContainerTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	ParentCVersion int32
}

func (x *CreateContainerTxn) Encode(w *Writer) {
	w.WriteString(x.Path)
	w.WriteBuffer(x.Data)
	WriteACLs(w, x.ACL)
	w.WriteInt(x.ParentCVersion)
}

func (x *CreateContainerTxn) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.Data = r.ReadBuffer()
	x.ACL = ReadACLs(r)
	x.ParentCVersion = r.ReadInt()
}

// CreateTTLTxn is the txn of createTTL.
type CreateTTLTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	ParentCVersion int32
	TTL            int64
}

func (x *CreateTTLTxn) Encode(w *Writer) {
	w.WriteString(x.Path)
	w.WriteBuffer(x.Data)
	WriteACLs(w, x.ACL)
	w.WriteInt(x.ParentCVersion)
	w.WriteLong(x.TTL)
}

func (x *CreateTTLTxn) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.Data = r.ReadBuffer()
	x.ACL = ReadACLs(r)
	x.ParentCVersion = r.ReadInt()
	x.TTL = r.ReadLong()
}

// SetDataTxn is the txn of setData (and reconfig).
type SetDataTxn struct {
	Path    string
	Data    []byte
	Version int32
}

func (x *SetDataTxn) Encode(w *Writer) {
	w.WriteString(x.Path)
	w.WriteBuffer(x.Data)
	w.WriteInt(x.Version)
}
func (x *SetDataTxn) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.Data = r.ReadBuffer()
	x.Version = r.ReadInt()
}

// SetACLTxn is the txn of setACL.
type SetACLTxn struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (x *SetACLTxn) Encode(w *Writer) {
	w.WriteString(x.Path)
	WriteACLs(w, x.ACL)
	w.WriteInt(x.Version)
}
func (x *SetACLTxn) Decode(r *Reader) {
	x.Path = r.ReadString()
	x.ACL = ReadACLs(r)
	x.Version = r.ReadInt()
}

// CloseSessionTxn lists the ephemerals a session close deletes. Older logs
// have an empty body; Decode then leaves Paths nil and Present false.
type CloseSessionTxn struct {
	Paths   []string
	Present bool
}

func (x *CloseSessionTxn) Encode(w *Writer) {
	if x.Present || x.Paths != nil {
		w.WriteStrings(x.Paths)
	}
}

func (x *CloseSessionTxn) Decode(r *Reader) {
	if r.Remaining() == 0 {
		return
	}
	x.Present = true
	x.Paths = r.ReadStrings()
}

// SubTxn is one element of a MultiTxn.
type SubTxn struct {
	Type int32
	Data []byte
}

// MultiTxn is the txn of multi: one header, one zxid, many sub-txns.
type MultiTxn struct{ Txns []SubTxn }

func (x *MultiTxn) Encode(w *Writer) {
	w.WriteInt(int32(len(x.Txns)))
	for _, t := range x.Txns {
		w.WriteInt(t.Type)
		w.WriteBuffer(t.Data)
	}
}

func (x *MultiTxn) Decode(r *Reader) {
	n := r.readCount("vector<Txn>", 8)
	if n < 0 {
		x.Txns = nil
		return
	}
	x.Txns = make([]SubTxn, n)
	for i := 0; i < n && r.err == nil; i++ {
		x.Txns[i].Type = r.ReadInt()
		x.Txns[i].Data = r.ReadBuffer()
	}
}

// TxnDigest trails a txn when digests are enabled (never after an error txn).
type TxnDigest struct {
	Version    int32
	TreeDigest int64
}

func (x *TxnDigest) Encode(w *Writer) { w.WriteInt(x.Version); w.WriteLong(x.TreeDigest) }
func (x *TxnDigest) Decode(r *Reader) { x.Version = r.ReadInt(); x.TreeDigest = r.ReadLong() }

// DigestVersion is the digest format ZooKeeper 3.8 writes.
const DigestVersion = 2

// FileHeader starts a txn log ("ZKLG") or snapshot ("ZKSN") file.
type FileHeader struct {
	Magic   int32
	Version int32
	DBID    int64
}

func (x *FileHeader) Encode(w *Writer) {
	w.WriteInt(x.Magic)
	w.WriteInt(x.Version)
	w.WriteLong(x.DBID)
}
func (x *FileHeader) Decode(r *Reader) {
	x.Magic = r.ReadInt()
	x.Version = r.ReadInt()
	x.DBID = r.ReadLong()
}

// File magics.
const (
	TxnLogMagic   int32 = 0x5A4B4C47 // "ZKLG"
	SnapshotMagic int32 = 0x5A4B534E // "ZKSN"
)

// ---------------------------------------------------------------------------
// Quorum protocol

// QuorumPacket is the unit of the learner protocol.
type QuorumPacket struct {
	Type     int32
	Zxid     int64
	Data     []byte
	AuthInfo []Id
}

func (x *QuorumPacket) Encode(w *Writer) {
	w.WriteInt(x.Type)
	w.WriteLong(x.Zxid)
	w.WriteBuffer(x.Data)
	WriteIds(w, x.AuthInfo)
}

func (x *QuorumPacket) Decode(r *Reader) {
	x.Type = r.ReadInt()
	x.Zxid = r.ReadLong()
	x.Data = r.ReadBuffer()
	x.AuthInfo = ReadIds(r)
}

// LearnerInfo is the body of FOLLOWERINFO / OBSERVERINFO.
type LearnerInfo struct {
	ServerID        int64
	ProtocolVersion int32
	ConfigVersion   int64
}

func (x *LearnerInfo) Encode(w *Writer) {
	w.WriteLong(x.ServerID)
	w.WriteInt(x.ProtocolVersion)
	w.WriteLong(x.ConfigVersion)
}

func (x *LearnerInfo) Decode(r *Reader) {
	x.ServerID = r.ReadLong()
	x.ProtocolVersion = r.ReadInt()
	x.ConfigVersion = r.ReadLong()
}
