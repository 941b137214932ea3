package tcp

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// errStream means the quorum byte stream broke a format rule (a negative
// or oversize length, a snapshot without its signature). The connection is
// dropped: after a bad length nothing that follows can be framed.
var errStream = errors.New("tcp: malformed quorum stream")

// checkLen applies jute's sanity rule to a length prefix: -1 is null where
// nullOK, anything else must be in [0, max].
func checkLen(n int32, max int, nullOK bool, what string) error {
	if n == -1 && nullOK {
		return nil
	}
	if n < 0 || int64(n) > int64(max) {
		return fmt.Errorf("%w: %s length %d (limit %d)", errStream, what, n, max)
	}
	return nil
}

// readPacket reads one QuorumPacket{int type; long zxid; buffer data;
// vector<Id> authinfo} from the stream and returns its encoding (a fresh
// slice the caller owns) and type. Packets have no length prefix, so the
// reader walks the fields; maxBuf bounds every length, as jute.maxbuffer
// (plus ZooKeeper's extra allowance) does in Java.
func readPacket(r *bufio.Reader, maxBuf int) ([]byte, int32, error) {
	hdr, err := r.Peek(16)
	if err != nil {
		if len(hdr) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, err
	}
	jr := jute.NewReader(hdr)
	typ := jr.ReadInt()
	jr.ReadLong() // zxid
	dlen := jr.ReadInt()
	if err := checkLen(dlen, maxBuf, true, "packet data"); err != nil {
		return nil, typ, err
	}
	n := 16 + max(int(dlen), 0)
	pkt := make([]byte, n+4, n+4+32)
	if _, err := io.ReadFull(r, pkt); err != nil {
		return nil, typ, unexpected(err)
	}
	count := jute.NewReader(pkt[n:]).ReadInt()
	if count == -1 || count == 0 {
		return pkt, typ, nil
	}
	if count < 0 {
		return nil, typ, fmt.Errorf("%w: authinfo count %d", errStream, count)
	}
	// Each Id is two ustrings. The whole packet stays within 2×maxBuf so a
	// flood of tiny ids cannot pin unbounded memory.
	for i := int32(0); i < 2*count; i++ {
		var lb [4]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return nil, typ, unexpected(err)
		}
		l := jute.NewReader(lb[:]).ReadInt()
		if err := checkLen(l, maxBuf, true, "authinfo string"); err != nil {
			return nil, typ, err
		}
		if len(pkt)+4+max(int(l), 0) > 2*maxBuf {
			return nil, typ, fmt.Errorf("%w: packet over %d bytes", errStream, 2*maxBuf)
		}
		pkt = append(pkt, lb[:]...)
		if l > 0 {
			start := len(pkt)
			pkt = append(pkt, make([]byte, l)...)
			if _, err := io.ReadFull(r, pkt[start:]); err != nil {
				return nil, typ, unexpected(err)
			}
		}
	}
	return pkt, typ, nil
}

// unexpected turns a clean EOF in the middle of a record into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
