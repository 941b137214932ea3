package datatree

// SetLocalConfig sets the data of /zookeeper/config, which an ensemble
// member fills from its own configuration rather than through a txn (as
// ZooKeeper's QuorumPeer does): the membership text `server.N=...` lines
// plus `version=<hex>`. It is outside the digest, changes no zxid, and
// fires no watch. Learners call it again after a SNAP or reload, since the
// leader's copy may differ in formatting.
func (t *Tree) SetLocalConfig(data []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.lookup(ConfigPath)
	if n == nil {
		return
	}
	t.dataSize -= int64(n.dataSize())
	n.setBuf(n.name(), data)
	t.dataSize += int64(n.dataSize())
}
