package node

import (
	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/config"
)

// fail is the pipeline's Fatal hook: the store failed, the pipeline has
// dropped what was in flight and refuses further writes. The pipeline has
// logged the cause (one ERROR). With storeFailure=exit Run returns
// ErrStoreFailure; with readonly the node stays up as ZooKeeper's
// read-only server would: reads are served, writes and sync get
// NOTREADONLY, re-attaching sessions keep working, new sessions are only
// for clients that accept read-only mode, nothing expires (that would need
// a txn), and mntr, isro and /metrics say so until a restart recovers the
// store's valid prefix.
func (n *Node) fail(err error) {
	if n.ens != nil {
		// A member with a failed store leaves its role at once: a leader
		// must not go on pinging with a disk it cannot trust.
		n.ens.post(evStoreFault{err})
	}
	if n.cfg.StoreFailure == config.StoreFailureExit {
		n.fatalOnce.Do(func() { n.fatalCh <- err })
		return
	}
	n.log.Warn("serving reads only until restarted: writes get NOTREADONLY, new sessions need a read-only client",
		"storeFailure", n.cfg.StoreFailure)
}

// StoreFailure is why the store failed, nil while it is healthy.
func (n *Node) StoreFailure() error {
	if n.proc == nil {
		return nil
	}
	return n.proc.Failure()
}

// storeExtra are the zabkit lines mntr and the monitor JSON append to
// ZooKeeper's keys (mntr adds the zk_ prefix): zabkit_store_failed is
// always there, so a check can alert on it; zabkit_store_failure names the
// cause once there is one.
func (n *Node) storeExtra(st *admin.ServerStats) {
	err := n.StoreFailure()
	if err == nil {
		st.Extra = append(st.Extra, admin.KV{Key: "zabkit_store_failed", Value: int64(0)})
		return
	}
	st.Mode = admin.ModeReadOnly
	st.Extra = append(st.Extra,
		admin.KV{Key: "zabkit_store_failed", Value: int64(1)},
		admin.KV{Key: "zabkit_store_failure", Value: err.Error()})
}
