// Package watch keeps ZooKeeper watches: which connection wants to hear
// about which path, in which mode, and who gets which event when the tree
// changes.
//
// A data tree owns two Managers, one for data watches (getData, exists,
// NodeCreated/NodeDeleted/NodeDataChanged) and one for child watches
// (getChildren, NodeChildrenChanged), exactly as Apache ZooKeeper does; the
// split matters for removeWatches and for the "one mode per (path, watcher,
// manager)" rule. A Manager has its own mutex because reads register
// watches concurrently under the tree's read lock.
package watch

import (
	"sort"
	"strings"
	"sync"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// Watcher is a client connection as seen by the watch manager.
//
// Notify must not block: it is called while the data tree's lock is held,
// which is what guarantees that a client sees a change's event before the
// reply to any later read. Implementations enqueue the event.
//
// A Watcher is used as a map key, so its dynamic type must be comparable;
// use a pointer. Two distinct connections must be distinct values even if
// they belong to the same session.
type Watcher interface {
	// WatcherID is the session id shown by the wchc/wchp four-letter words.
	WatcherID() int64
	Notify(ev *jute.WatcherEvent)
}

// ACLWatcher is implemented by watchers that filter events by the node's
// ACL, as ZooKeeper 3.8.4 does (an event is delivered only to connections
// with READ on the node, or on the parent for NodeChildrenChanged). When a
// Watcher implements it, NotifyACL is called instead of Notify, with the ACL
// the event is subject to. A one-shot watch is consumed either way.
type ACLWatcher interface {
	Watcher
	NotifyACL(ev *jute.WatcherEvent, acl []jute.ACL)
}

// Mode is how a watch behaves when it fires.
type Mode uint8

const (
	// Standard watches fire once and are removed (getData, exists,
	// getChildren).
	Standard Mode = iota
	// Persistent watches fire like a data plus child watch on their path and
	// are never removed by firing (addWatch mode 0).
	Persistent
	// PersistentRecursive watches fire NodeCreated, NodeDeleted and
	// NodeDataChanged for their path and every descendant, never
	// NodeChildrenChanged, and are never removed by firing (addWatch mode 1).
	PersistentRecursive
)

// ModeFromAddWatch maps an addWatch request mode to a Mode; ok is false for
// an unknown mode.
func ModeFromAddWatch(mode int32) (m Mode, ok bool) {
	switch mode {
	case jute.AddWatchPersistent:
		return Persistent, true
	case jute.AddWatchPersistentRecursive:
		return PersistentRecursive, true
	}
	return Standard, false
}

func (m Mode) String() string {
	switch m {
	case Standard:
		return "STANDARD"
	case Persistent:
		return "PERSISTENT"
	case PersistentRecursive:
		return "PERSISTENT_RECURSIVE"
	}
	return "UNKNOWN"
}

// Set is the set of watchers one trigger notified. Pass it as the suppress
// argument of a second trigger so that a watcher gets at most one event per
// change (delete notifies data and child watches of the same path). The
// zero value is an empty set.
type Set struct {
	// Most triggers notify zero or one watcher; keep those allocation-free
	// apart from the slice itself.
	list []Watcher
}

// Len is the number of watchers in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// Contains reports whether w is in the set.
func (s *Set) Contains(w Watcher) bool {
	if s == nil {
		return false
	}
	for _, x := range s.list {
		if x == w {
			return true
		}
	}
	return false
}

// addUnique appends w to list unless present. Triggers with many watchers
// use the index map to stay linear.
func addUnique(list []Watcher, w Watcher, index map[Watcher]struct{}) []Watcher {
	if index != nil {
		if _, ok := index[w]; ok {
			return list
		}
		index[w] = struct{}{}
		return append(list, w)
	}
	for _, x := range list {
		if x == w {
			return list
		}
	}
	return append(list, w)
}

// Manager keeps the watches of one kind (data or child). The zero value is
// not usable; call NewManager.
type Manager struct {
	mu sync.Mutex
	// byPath maps a path to the watchers on it and their mode.
	byPath map[string]map[Watcher]Mode
	// byWatcher is the reverse index that makes RemoveWatcher proportional
	// to the connection's own watches.
	byWatcher map[Watcher]map[string]struct{}
	// total is the number of (path, watcher) pairs.
	total int
	// recursive counts PersistentRecursive pairs; while it is zero a
	// trigger never walks the ancestors of a path.
	recursive int
}

// NewManager returns an empty Manager.
func NewManager() *Manager {
	return &Manager{
		byPath:    make(map[string]map[Watcher]Mode),
		byWatcher: make(map[Watcher]map[string]struct{}),
	}
}

// Add registers w on path in mode, replacing any mode w already had there:
// ZooKeeper keeps one mode per (path, watcher, manager), so an addWatch
// converts an earlier one-shot watch and a later one-shot registration
// converts a persistent watch back (3.8 behaviour). It reports whether the
// pair is new.
func (m *Manager) Add(path string, w Watcher, mode Mode) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := m.byPath[path]
	if ws == nil {
		ws = make(map[Watcher]Mode, 1)
		m.byPath[path] = ws
	}
	old, existed := ws[w]
	ws[w] = mode
	if existed {
		if old == PersistentRecursive {
			m.recursive--
		}
	} else {
		m.total++
		ps := m.byWatcher[w]
		if ps == nil {
			ps = make(map[string]struct{})
			m.byWatcher[w] = ps
		}
		ps[path] = struct{}{}
	}
	if mode == PersistentRecursive {
		m.recursive++
	}
	return !existed
}

// removeLocked drops the pair (path, w) from byPath and the counters; the
// caller maintains byWatcher.
func (m *Manager) removeLocked(path string, ws map[Watcher]Mode, w Watcher) {
	mode, ok := ws[w]
	if !ok {
		return
	}
	delete(ws, w)
	if len(ws) == 0 {
		delete(m.byPath, path)
	}
	m.total--
	if mode == PersistentRecursive {
		m.recursive--
	}
}

// Remove drops w's watch on path, whatever its mode (removeWatches removes
// persistent watches too). It reports whether there was one.
func (m *Manager) Remove(path string, w Watcher) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := m.byPath[path]
	if _, ok := ws[w]; !ok {
		return false
	}
	m.removeLocked(path, ws, w)
	ps := m.byWatcher[w]
	delete(ps, path)
	if len(ps) == 0 {
		delete(m.byWatcher, w)
	}
	return true
}

// Contains reports whether w has a watch (of any mode) on path.
//
// ZooKeeper 3.8's containsWatcher answers true when any connection watches
// the path; we answer for w only, which is what checkWatches means.
func (m *Manager) Contains(path string, w Watcher) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.byPath[path][w]
	return ok
}

// Watched reports whether any watcher has a watch on exactly path.
func (m *Manager) Watched(path string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byPath[path]) > 0
}

// ModeOf returns w's mode on path and whether it has a watch there.
func (m *Manager) ModeOf(path string, w Watcher) (Mode, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mode, ok := m.byPath[path][w]
	return mode, ok
}

// RemoveWatcher drops every watch of w, in time proportional to the number
// of w's watches.
func (m *Manager) RemoveWatcher(w Watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.byWatcher[w]
	for p := range ps {
		m.removeLocked(p, m.byPath[p], w)
	}
	delete(m.byWatcher, w)
}

// Trigger fires the watches that event typ on path concerns and returns the
// watchers it notified (nil when none). Standard watches on path are
// removed; persistent ones stay. Recursive watches on path or any ancestor
// fire for every type except NodeChildrenChanged. A watcher in suppress is
// not notified (but its one-shot watch is still consumed, as in ZooKeeper).
// acl is handed to ACLWatchers.
//
// Notify is called after the manager's own lock is released, so a Watcher
// may call back into the manager.
func (m *Manager) Trigger(path string, typ int32, acl []jute.ACL, suppress *Set) *Set {
	var fired []Watcher
	var index map[Watcher]struct{}
	m.mu.Lock()
	if ws := m.byPath[path]; ws != nil {
		if len(ws) > 8 {
			index = make(map[Watcher]struct{}, len(ws))
		}
		for w, mode := range ws {
			switch mode {
			case PersistentRecursive:
				if typ == jute.EventNodeChildrenChanged {
					continue
				}
			case Standard:
				delete(ws, w)
				m.total--
				if ps := m.byWatcher[w]; ps != nil {
					delete(ps, path)
					if len(ps) == 0 {
						delete(m.byWatcher, w)
					}
				}
			}
			fired = addUnique(fired, w, index)
		}
		if len(ws) == 0 {
			delete(m.byPath, path)
		}
	}
	if m.recursive > 0 && typ != jute.EventNodeChildrenChanged {
		for p := parentOf(path); p != ""; p = parentOf(p) {
			for w, mode := range m.byPath[p] {
				if mode == PersistentRecursive {
					if index == nil && len(fired) > 8 {
						index = make(map[Watcher]struct{}, 2*len(fired))
						for _, x := range fired {
							index[x] = struct{}{}
						}
					}
					fired = addUnique(fired, w, index)
				}
			}
		}
	}
	m.mu.Unlock()
	if len(fired) == 0 {
		return nil
	}
	ev := &jute.WatcherEvent{Type: typ, State: jute.StateSyncConnected, Path: path}
	for _, w := range fired {
		if suppress.Contains(w) {
			continue
		}
		if aw, ok := w.(ACLWatcher); ok {
			aw.NotifyACL(ev, acl)
		} else {
			w.Notify(ev)
		}
	}
	return &Set{list: fired}
}

// parentOf returns the parent of a canonical path, "/" for a top-level
// node, and "" for "/" itself (ending the ancestor walk).
func parentOf(p string) string {
	if p == "/" || p == "" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Count is the number of (path, watcher) pairs.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// RecursiveCount is the number of PersistentRecursive pairs.
func (m *Manager) RecursiveCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recursive
}

// Summary is what the wchs four-letter word prints.
type Summary struct {
	Watchers int // connections with at least one watch
	Paths    int // watched paths
	Total    int // (path, watcher) pairs
}

// Summary returns the counts behind wchs.
func (m *Manager) Summary() Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Summary{Watchers: len(m.byWatcher), Paths: len(m.byPath), Total: m.total}
}

// ByWatcher returns, for wchc, each watcher id with its watched paths
// (sorted). Watchers sharing an id are merged.
func (m *Manager) ByWatcher() map[int64][]string {
	m.mu.Lock()
	out := make(map[int64][]string, len(m.byWatcher))
	for w, ps := range m.byWatcher {
		id := w.WatcherID()
		for p := range ps {
			out[id] = append(out[id], p)
		}
	}
	m.mu.Unlock()
	for id, ps := range out {
		sort.Strings(ps)
		out[id] = dedupSorted(ps)
	}
	return out
}

// ByPath returns, for wchp, each watched path with the ids of its watchers
// (sorted, deduplicated).
func (m *Manager) ByPath() map[string][]int64 {
	m.mu.Lock()
	out := make(map[string][]int64, len(m.byPath))
	for p, ws := range m.byPath {
		ids := make([]int64, 0, len(ws))
		for w := range ws {
			ids = append(ids, w.WatcherID())
		}
		out[p] = ids
	}
	m.mu.Unlock()
	for p, ids := range out {
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		out[p] = dedupSortedInts(ids)
	}
	return out
}

func dedupSorted(s []string) []string {
	if len(s) < 2 {
		return s
	}
	j := 1
	for i := 1; i < len(s); i++ {
		if s[i] != s[j-1] {
			s[j] = s[i]
			j++
		}
	}
	return s[:j]
}

func dedupSortedInts(s []int64) []int64 {
	if len(s) < 2 {
		return s
	}
	j := 1
	for i := 1; i < len(s); i++ {
		if s[i] != s[j-1] {
			s[j] = s[i]
			j++
		}
	}
	return s[:j]
}
