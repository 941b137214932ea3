package link

import (
	"errors"
	"fmt"

	"github.com/zabkit/zabkit/core/ext"
)

// Members splits a member list into this server's own entry (nil if it is
// not listed) and the other members by id. Ids must be unique. Start
// requires self to be listed, since its addresses are where the transport
// listens; SetPeers does not (a reconfig may remove this server).
func Members(self int64, peers []ext.PeerAddr) (me *ext.PeerAddr, others map[int64]ext.PeerAddr, err error) {
	others = make(map[int64]ext.PeerAddr, len(peers))
	for i, p := range peers {
		if p.ID == self {
			if me != nil {
				return nil, nil, fmt.Errorf("transport: server %d listed twice", self)
			}
			me = &peers[i]
			continue
		}
		if _, dup := others[p.ID]; dup {
			return nil, nil, fmt.Errorf("transport: server %d listed twice", p.ID)
		}
		others[p.ID] = p
	}
	return me, others, nil
}

// ErrNotListed is wrapped by Start when this server is not among the peers.
var ErrNotListed = errors.New("transport: this server is not among the peers")
