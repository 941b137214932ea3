package offline

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/file"
)

// snapReader decodes a snapshot stream field by field (spec 7.4), keeping
// the running Adler32 that the seals check. Unlike datatree.ReadSnapshot,
// which builds a tree as fast as it can, it exists to show every record as
// it is in the file; the tree digest is still datatree's.
type snapReader struct {
	br  *bufio.Reader
	sum hash.Hash32
	off int64
	err error
	b   [8]byte
}

func newSnapReader(r io.Reader) *snapReader {
	return &snapReader{br: bufio.NewReaderSize(r, 256<<10), sum: adler32.New()}
}

func (r *snapReader) fill(b []byte, what string) bool {
	if r.err != nil {
		return false
	}
	n, err := io.ReadFull(r.br, b)
	r.sum.Write(b[:n])
	r.off += int64(n)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		r.err = fmt.Errorf("truncated in %s at offset %d", what, r.off)
	case err != nil:
		r.err = err
	}
	return r.err == nil
}

func (r *snapReader) int(what string) int32 {
	if !r.fill(r.b[:4], what) {
		return 0
	}
	return int32(binary.BigEndian.Uint32(r.b[:4]))
}

func (r *snapReader) long(what string) int64 {
	if !r.fill(r.b[:8], what) {
		return 0
	}
	return int64(binary.BigEndian.Uint64(r.b[:8]))
}

// buffer reads a jute buffer and returns its first keep bytes (all of
// them if keep < 0; nil for a null buffer) and its declared length. A
// lying length costs no more memory than the stream really holds.
func (r *snapReader) buffer(what string, keep int) ([]byte, int32) {
	start := r.off
	n := r.int(what + " length")
	if r.err != nil || n == -1 {
		return nil, n
	}
	if n < 0 {
		r.err = fmt.Errorf("negative %s length %d at offset %d", what, n, start)
		return nil, n
	}
	out := []byte{}
	var chunk [32 << 10]byte
	for rem := int(n); rem > 0 && r.err == nil; {
		c := chunk[:min(rem, len(chunk))]
		if !r.fill(c, what) {
			break
		}
		if keep < 0 || len(out) < keep {
			take := len(c)
			if keep >= 0 {
				take = min(take, keep-len(out))
			}
			out = append(out, c[:take]...)
		}
		rem -= len(c)
	}
	return out, n
}

// more reports whether any byte is left.
func (r *snapReader) more() bool {
	if r.err != nil {
		return false
	}
	_, err := r.br.Peek(1)
	return err == nil
}

// seal reads a checksum and its "/" marker and reports whether the
// checksum matches everything read before it.
func (r *snapReader) seal(section string) (stored int64, computed uint32, ok bool) {
	computed = r.sum.Sum32()
	stored = r.long(section + " checksum")
	marker, _ := r.buffer(section+" seal marker", 8)
	if r.err == nil && string(marker) != "/" {
		r.err = fmt.Errorf("%s seal marker is %q, not \"/\" (offset %d)", section, marker, r.off)
	}
	return stored, computed, r.err == nil && uint64(stored) == uint64(computed)
}

// ownerNote explains the special ephemeralOwner values.
func ownerNote(owner int64) string {
	switch {
	case datatree.IsContainer(owner):
		return " (container)"
	case datatree.IsTTL(owner):
		return fmt.Sprintf(" (ttl %dms)", datatree.TTLOf(owner))
	}
	return ""
}

// dumpSnapshot prints a snapshot record by record, then checks its digest
// with the data tree's own loader.
func dumpSnapshot(e *emitter, name string, ra io.ReaderAt, size int64, opts DumpOptions) (bool, error) {
	r := newSnapReader(io.NewSectionReader(ra, 0, size))
	damaged := false
	fail := func() {
		damaged = true
		e.textf("BAD: %v", r.err)
		e.object("error", map[string]any{"offset": r.off, "error": r.err.Error()})
	}
	magic, version, dbid := r.int("file header"), r.int("file header"), r.long("file header")
	e.textf("%s: ZooKeeper snapshot, magic %#x version %d dbid %d, %d bytes", name, uint32(magic), version, dbid, size)
	e.object("header", map[string]any{"file": name, "type": "snapshot", "magic": fmt.Sprintf("%#x", uint32(magic)),
		"version": version, "dbid": dbid, "size": size})
	if r.err == nil && version != 2 {
		r.err = fmt.Errorf("unsupported snapshot version %d", version)
	}

	nsess := r.int("session count")
	if r.err == nil && nsess < 0 {
		r.err = fmt.Errorf("negative session count %d", nsess)
	}
	e.textf("sessions: %d", max(nsess, 0))
	for i := int32(0); i < nsess && r.err == nil; i++ {
		id, to := r.long("session id"), r.int("session timeout")
		if r.err == nil {
			e.textf("  session %s timeout %d", hexInt(id), to)
			e.object("session", map[string]any{"id": hexInt(id).String(), "timeout": to})
		}
	}

	nacl := r.int("ACL count")
	if r.err == nil && nacl < 0 {
		r.err = fmt.Errorf("negative ACL count %d", nacl)
	}
	e.textf("acl cache: %d lists", max(nacl, 0))
	for i := int32(0); i < nacl && r.err == nil; i++ {
		key := r.long("ACL key")
		acl := readACL(r)
		if r.err == nil {
			e.textf("  key %d: %s", key, aclString(acl))
			e.object("acl", map[string]any{"key": key, "acl": aclJSON(acl)})
		}
	}

	nodes := 0
	if r.err == nil {
		e.textf("nodes:")
	}
	for r.err == nil {
		path, _ := r.buffer("node path", -1)
		if r.err != nil || string(path) == "/" {
			break
		}
		data, dlen := r.buffer("node data", opts.DataLimit)
		key := r.long("node ACL key")
		var sp jute.StatPersisted
		sp.Czxid, sp.Mzxid = r.long("stat"), r.long("stat")
		sp.Ctime, sp.Mtime = r.long("stat"), r.long("stat")
		sp.Version, sp.Cversion, sp.Aversion = r.int("stat"), r.int("stat"), r.int("stat")
		sp.EphemeralOwner, sp.Pzxid = r.long("stat"), r.long("stat")
		if r.err != nil {
			break
		}
		nodes++
		shown := string(path)
		if shown == "" {
			shown = "/" // the root is stored with an empty path
		}
		d := dataVal{b: data, n: int(dlen), limit: opts.DataLimit}
		if data == nil {
			d.n = -1
		}
		fields := []field{{"czxid", hexInt(sp.Czxid)}, {"mzxid", hexInt(sp.Mzxid)}, {"pzxid", hexInt(sp.Pzxid)},
			{"ctime", millis(sp.Ctime)}, {"mtime", millis(sp.Mtime)}, {"version", sp.Version},
			{"cversion", sp.Cversion}, {"aversion", sp.Aversion}, {"aclKey", key}}
		e.textf("  %s %s ephemeralOwner=%s%s dataLength=%d data=%s", shown, fieldsText(fields),
			hexInt(sp.EphemeralOwner), ownerNote(sp.EphemeralOwner), max(dlen, 0), d)
		if e.json {
			m := fieldsJSON(fields, map[string]any{"path": shown, "ephemeralOwner": hexInt(sp.EphemeralOwner).String(), "data": d.jsonValue()})
			e.object("node", m)
		}
	}
	if r.err != nil {
		fail()
		return true, nil
	}
	if !sealLine(e, r, "tree") {
		damaged = true
	}
	if r.err != nil {
		fail()
		return true, nil
	}

	hasDigest := r.more()
	var dzxid, digest int64
	if hasDigest {
		dzxid = r.long("digest zxid")
		dver := r.int("digest version")
		if dver < 2 {
			s, _ := r.buffer("digest", 64)
			_, perr := fmt.Sscanf(string(s), "%x", &digest)
			if r.err == nil && len(s) > 0 && perr != nil {
				r.err = fmt.Errorf("digest %q is not hex", s)
			}
		} else {
			digest = r.long("digest")
		}
		if r.err == nil {
			e.textf("digest: zxid %s version %d digest %s", hexInt(dzxid), dver, hexInt(digest))
			e.object("digest", map[string]any{"zxid": hexInt(dzxid).String(), "version": dver, "digest": hexInt(digest).String()})
		}
		if r.err == nil && !sealLine(e, r, "digest") {
			damaged = true
		}
		if r.err != nil {
			fail()
			return true, nil
		}
	}
	var trailing int64
	for r.more() {
		n, _ := r.br.Discard(r.br.Buffered())
		trailing += int64(n)
	}
	e.textf("summary: %d sessions, %d ACL lists, %d nodes, %d trailing bytes", nsess, nacl, nodes, trailing)
	e.object("summary", map[string]any{"sessions": nsess, "acls": nacl, "nodes": nodes, "trailingBytes": trailing})
	if !checkSnapDigest(e, name, ra, size) {
		damaged = true
	}
	return damaged, nil
}

func readACL(r *snapReader) []jute.ACL {
	n := r.int("ACL list length")
	if r.err == nil && n < -1 {
		r.err = fmt.Errorf("negative ACL list length %d at offset %d", n, r.off)
	}
	if n < 0 {
		return nil
	}
	acl := []jute.ACL{}
	for j := int32(0); j < n && r.err == nil; j++ {
		var a jute.ACL
		a.Perms = r.int("ACL perms")
		s, _ := r.buffer("ACL scheme", -1)
		id, _ := r.buffer("ACL id", -1)
		a.ID = jute.Id{Scheme: string(s), ID: string(id)}
		acl = append(acl, a)
	}
	return acl
}

func sealLine(e *emitter, r *snapReader, section string) bool {
	off := r.off
	stored, computed, ok := r.seal(section)
	if r.err != nil {
		return false
	}
	status := "ok"
	if !ok {
		status = fmt.Sprintf("MISMATCH (content sums to %#08x)", computed)
	}
	e.textf("%s checksum @%d: %#08x %s", section, off, stored, status)
	e.object("seal", map[string]any{"section": section, "offset": off, "stored": fmt.Sprintf("%#08x", stored),
		"computed": fmt.Sprintf("%#08x", computed), "ok": ok})
	return ok
}

// checkSnapDigest loads the snapshot with the data tree's own reader and
// compares the digest of its nodes with the trailer. A fuzzy snapshot
// (its trailer's zxid is after the one in its name) legitimately differs:
// only a replay up to the trailer's zxid can check it (zabkit verify does).
func checkSnapDigest(e *emitter, name string, ra io.ReaderAt, size int64) bool {
	tree, _, err := datatree.ReadSnapshot(io.NewSectionReader(ra, 0, size))
	if err != nil {
		e.textf("BAD: the data tree cannot load it: %v", err)
		e.object("treeDigest", map[string]any{"error": err.Error()})
		return false
	}
	got := tree.Digest()
	dzxid, want, has := tree.SnapshotDigest()
	nameZxid, named := file.ParseName(name, file.SnapshotPrefix)
	var verdict string
	ok := true
	switch {
	case !has:
		verdict = "no digest trailer to compare with"
	case dzxid == 0 && want == 0:
		verdict = "the trailer holds the empty digest (nothing processed yet)"
	case got == want:
		verdict = "matches the trailer"
	case named && dzxid > nameZxid:
		verdict = fmt.Sprintf("differs from the trailer: a fuzzy snapshot (txns %s..%s ran during the walk); only a replay can check it",
			hexInt(nameZxid+1), hexInt(dzxid))
	default:
		verdict = "MISMATCH with the trailer"
		ok = false
	}
	e.textf("tree digest of the nodes: %s, %s", hexInt(got), verdict)
	e.object("treeDigest", map[string]any{"digest": hexInt(got).String(), "verdict": verdict, "ok": ok})
	return ok
}
