// Package offline holds zabkit's offline tools, which work on a stopped
// node's durable state rather than on a running server:
//
//   - dump prints a txn log or snapshot file (Apache ZooKeeper's or
//     zabkit's) in readable or JSON form;
//   - verify checks a data directory: framing, checksums, zxid continuity,
//     snapshot digests, epochs, and a replay that compares the tree digest
//     with the digests ZooKeeper writes into its log;
//   - convert copies a node's state from one store module to another.
//
// Each command is a function of its arguments and output streams, so the
// cmd-level tests drive exactly what the binary runs.
package offline

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// field is one named value of a record, kept in order for text output.
type field struct {
	k string
	v any // string, int32, int64, bool, hexInt, dataVal, []jute.ACL, []string, []subTxn
}

// hexInt prints as 0x… (zxids, sessions, digests).
type hexInt int64

func (h hexInt) String() string { return "0x" + strconv.FormatUint(uint64(h), 16) }

// dataVal is a data buffer, possibly cut to a preview.
type dataVal struct {
	b     []byte // what is shown
	n     int    // full length; -1 for a null buffer
	limit int    // preview length; <0 means everything
}

func newData(b []byte, limit int) dataVal {
	n := len(b)
	if b == nil {
		n = -1
	}
	return dataVal{b: b, n: n, limit: limit}
}

func (d dataVal) shown() ([]byte, bool) {
	if d.limit >= 0 && len(d.b) > d.limit {
		return d.b[:d.limit], true
	}
	return d.b, d.n > len(d.b)
}

// printable reports whether b reads as text: valid UTF-8 without control
// characters other than tab and newline.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if (r < ' ' && r != '\t' && r != '\n') || r == 0x7f {
			return false
		}
	}
	return true
}

func (d dataVal) String() string {
	if d.n < 0 {
		return "null"
	}
	b, cut := d.shown()
	var s string
	if printable(b) {
		s = strconv.Quote(string(b))
	} else {
		s = "0x" + hex.EncodeToString(b)
	}
	if cut {
		s += fmt.Sprintf("…(%d bytes)", d.n)
	}
	return s
}

// jsonValue is the machine-readable form: text or hex, with the length
// and whether it was cut.
func (d dataVal) jsonValue() map[string]any {
	m := map[string]any{"length": d.n}
	if d.n < 0 {
		return m
	}
	b, cut := d.shown()
	if printable(b) {
		m["text"] = string(b)
	} else {
		m["hex"] = hex.EncodeToString(b)
	}
	if cut {
		m["truncated"] = true
	}
	return m
}

// perms spells ACL permissions the way zkCli's getAcl does.
func perms(p int32) string {
	var b strings.Builder
	for _, pl := range []struct {
		bit int32
		c   byte
	}{{jute.PermCreate, 'c'}, {jute.PermDelete, 'd'}, {jute.PermRead, 'r'}, {jute.PermWrite, 'w'}, {jute.PermAdmin, 'a'}} {
		if p&pl.bit != 0 {
			b.WriteByte(pl.c)
		}
	}
	if rest := p &^ jute.PermAll; rest != 0 {
		fmt.Fprintf(&b, "+%#x", rest)
	}
	return b.String()
}

func aclString(acl []jute.ACL) string {
	if acl == nil {
		return "null"
	}
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = a.ID.Scheme + ":" + a.ID.ID + ":" + perms(a.Perms)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func aclJSON(acl []jute.ACL) any {
	if acl == nil {
		return nil
	}
	out := make([]map[string]any, len(acl))
	for i, a := range acl {
		out[i] = map[string]any{"scheme": a.ID.Scheme, "id": a.ID.ID, "perms": perms(a.Perms)}
	}
	return out
}

// millis is a ZooKeeper timestamp (ms since the epoch); it prints in UTC.
type millis int64

func (m millis) String() string {
	return time.UnixMilli(int64(m)).UTC().Format("2006-01-02T15:04:05.000Z")
}

// txnTypeNames are ZooKeeper's names for txn types (Request.op2String),
// the ones LogFormatter and TxnLogToolkit print.
var txnTypeNames = map[int32]string{
	jute.OpCreate: "create", jute.OpCreate2: "create2", jute.OpCreateContainer: "createContainer",
	jute.OpCreateTTL: "createTTL", jute.OpDelete: "delete", jute.OpDeleteContainer: "deleteContainer",
	jute.OpSetData: "setData", jute.OpReconfig: "reconfig", jute.OpSetACL: "setACL",
	jute.OpCheck: "check", jute.OpMulti: "multi", jute.OpError: "error",
	jute.OpCreateSession: "createSession", jute.OpCloseSession: "closeSession",
}

func txnTypeName(t int32) string {
	if n, ok := txnTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", t)
}

// subTxn is one decoded element of a multi.
type subTxn struct {
	typ    int32
	fields []field
}

// recordFields lists a txn record's fields. limit bounds data previews.
func recordFields(typ int32, rec jute.Record, limit int) []field {
	switch x := rec.(type) {
	case *jute.CreateTxn:
		return []field{{"path", x.Path}, {"data", newData(x.Data, limit)}, {"acl", x.ACL},
			{"ephemeral", x.Ephemeral}, {"parentCVersion", x.ParentCVersion}}
	case *jute.CreateContainerTxn:
		return []field{{"path", x.Path}, {"data", newData(x.Data, limit)}, {"acl", x.ACL}, {"parentCVersion", x.ParentCVersion}}
	case *jute.CreateTTLTxn:
		return []field{{"path", x.Path}, {"data", newData(x.Data, limit)}, {"acl", x.ACL},
			{"parentCVersion", x.ParentCVersion}, {"ttl", x.TTL}}
	case *jute.PathRecord:
		return []field{{"path", x.Path}}
	case *jute.SetDataTxn:
		return []field{{"path", x.Path}, {"data", newData(x.Data, limit)}, {"version", x.Version}}
	case *jute.SetACLTxn:
		return []field{{"path", x.Path}, {"acl", x.ACL}, {"version", x.Version}}
	case *jute.PathVersionRequest:
		return []field{{"path", x.Path}, {"version", x.Version}}
	case *jute.IntRecord:
		if typ == jute.OpError {
			return []field{{"err", fmt.Sprintf("%d(%s)", x.Value, zkerr.Code(x.Value).String())}}
		}
		return []field{{"timeout", x.Value}}
	case *jute.CloseSessionTxn:
		if !x.Present {
			return nil
		}
		return []field{{"paths", x.Paths}}
	case *jute.MultiTxn:
		subs := make([]subTxn, len(x.Txns))
		for i, st := range x.Txns {
			subs[i] = subTxn{typ: st.Type, fields: subFields(st, limit)}
		}
		return []field{{"ops", subs}}
	}
	return nil
}

// subFields decodes one multi element; what cannot be decoded is shown
// as raw bytes with the reason.
func subFields(st jute.SubTxn, limit int) []field {
	rec := jute.NewTxnRecord(st.Type)
	if rec == nil {
		return []field{{"raw", newData(st.Data, limit)}}
	}
	if err := jute.Unmarshal(st.Data, rec); err != nil {
		return []field{{"undecodable", err.Error()}, {"raw", newData(st.Data, limit)}}
	}
	return recordFields(st.Type, rec, limit)
}

// fieldsText renders fields as k=v pairs.
func fieldsText(fs []field) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.k)
		b.WriteByte('=')
		switch v := f.v.(type) {
		case string:
			// Quote only what would not read back as one token.
			if v != "" && !strings.ContainsAny(v, " \t\n\"=") && printable([]byte(v)) {
				b.WriteString(v)
			} else {
				b.WriteString(strconv.Quote(v))
			}
		case []jute.ACL:
			b.WriteString(aclString(v))
		case []string:
			b.WriteString("[" + strings.Join(v, ",") + "]")
		case []subTxn:
			fmt.Fprintf(&b, "%d", len(v)) // subLines lists them
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// subLines renders a multi's operations, one indented line each.
func subLines(fs []field) string {
	var b strings.Builder
	for _, f := range fs {
		subs, ok := f.v.([]subTxn)
		if !ok {
			continue
		}
		for j, st := range subs {
			fmt.Fprintf(&b, "\n    [%d] %s", j, txnTypeName(st.typ))
			if len(st.fields) > 0 {
				b.WriteString(" " + fieldsText(st.fields))
			}
		}
	}
	return b.String()
}

// fieldsJSON renders fields as a JSON object's members.
func fieldsJSON(fs []field, into map[string]any) map[string]any {
	if into == nil {
		into = map[string]any{}
	}
	for _, f := range fs {
		switch v := f.v.(type) {
		case dataVal:
			into[f.k] = v.jsonValue()
		case hexInt, millis:
			into[f.k] = fmt.Sprint(v)
		case []jute.ACL:
			into[f.k] = aclJSON(v)
		case []subTxn:
			ops := make([]map[string]any, len(v))
			for i, st := range v {
				ops[i] = fieldsJSON(st.fields, map[string]any{"type": txnTypeName(st.typ)})
			}
			into[f.k] = ops
		default:
			into[f.k] = v
		}
	}
	return into
}

// znodes is the number of znodes in tree. Stats reports ZooKeeper's node
// count, which counts the root twice (under "" and "/").
func znodes(tree *datatree.Tree) int { return tree.Stats().NodeCount - 1 }
