#!/usr/bin/python3
"""Kazoo (Python) client checks against a ZooKeeper-protocol server.

Run with Debian's interpreter, which has python3-kazoo 2.8:
    /usr/bin/python3 tests/python/test_kazoo.py --hosts 127.0.0.1:2181

Given several hosts (an ensemble's members), the checks' clients are
spread over them: client i starts on host i mod n. A client then syncs
before reading what a client on another member wrote (Env.catch_up), as
ZooKeeper promises a session only its own writes and what it has synced.

Every check works under its own fresh root path, so the script can run
against a shared server. It prints one line per check and exits non-zero
if any failed. Kazoo's high-level recipes are the point: they combine
sequential ephemerals, watches, and multi the way applications do.
"""

import argparse
import sys
import threading
import time
import traceback
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, LockTimeout, NoAuthError,
                              NodeExistsError, NoNodeError, NotEmptyError)
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import make_digest_acl, make_acl, OPEN_ACL_UNSAFE

TIMEOUT = 20.0
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def wait_for(cond, what, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class Env:
    def __init__(self, hosts):
        self.hosts = hosts.split(",")
        self.ensemble = len(self.hosts) > 1
        self.clients = []
        self.made = 0

    def next_hosts(self):
        """The host list for the next client: rotated so that it starts on
        the next member, in order (kazoo would otherwise pick at random)."""
        i = self.made % len(self.hosts)
        self.made += 1
        return ",".join(self.hosts[i:] + self.hosts[:i])

    def client(self, **kw):
        c = KazooClient(hosts=self.next_hosts(), randomize_hosts=False, timeout=10.0, **kw)
        c.start(timeout=TIMEOUT)
        self.clients.append(c)
        return c

    def catch_up(self, client, path):
        """Before client reads another member's writes: sync its member
        with the leader. Nothing to do on a standalone server."""
        if self.ensemble:
            client.sync(path)

    def close(self):
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass


@check
def crud_and_stat(env, root):
    zk = env.client()
    path = zk.create(root + "/n", b"v0")
    assert path == root + "/n", path
    data, st = zk.get(path)
    assert data == b"v0" and st.version == 0 and st.data_length == 2, (data, st)
    try:
        zk.set(path, b"x", version=3)
        raise AssertionError("set with a wrong version succeeded")
    except BadVersionError:
        pass
    st = zk.set(path, b"v1", version=0)
    assert st.version == 1, st
    zk.create(path + "/k")
    try:
        zk.delete(path)
        raise AssertionError("delete of a non-empty node succeeded")
    except NotEmptyError:
        pass
    try:
        zk.create(path)
        raise AssertionError("duplicate create succeeded")
    except NodeExistsError:
        pass
    zk.delete(path, recursive=True)
    assert zk.exists(path) is None
    try:
        zk.get(path)
        raise AssertionError("get of a deleted node succeeded")
    except NoNodeError:
        pass
    zk.ensure_path(root + "/deep/er/path")
    assert zk.exists(root + "/deep/er/path") is not None
    seq = zk.create(root + "/seq-", sequence=True)
    assert seq == root + "/seq-0000000002", seq
    eph = zk.create(root + "/eph", ephemeral=True)
    assert zk.exists(eph).ephemeralOwner == zk.client_id[0]
    zk.sync(root)


@check
def ephemeral_goes_with_session(env, root):
    a = env.client()
    b = env.client()
    a.create(root + "/e", ephemeral=True)
    gone = threading.Event()

    @b.DataWatch(root + "/e")
    def watch(data, stat, event=None):
        if event is not None and event.type == EventType.DELETED:
            gone.set()

    a.stop()
    assert gone.wait(TIMEOUT), "ephemeral not deleted when its session closed"


@check
def lock(env, root):
    a, b = env.client(), env.client()
    la = a.Lock(root + "/lock", "a")
    lb = b.Lock(root + "/lock", "b")
    assert la.acquire(timeout=TIMEOUT)
    assert not lb.acquire(blocking=False), "second client took a held lock"
    got = threading.Event()

    def take():
        if lb.acquire(timeout=TIMEOUT):
            got.set()

    t = threading.Thread(target=take)
    t.start()
    time.sleep(0.3)
    assert not got.is_set(), "lock acquired while still held"
    env.catch_up(a, root + "/lock")
    assert sorted(la.contenders()) == ["a", "b"], la.contenders()
    la.release()
    t.join(TIMEOUT)
    assert got.is_set(), "waiter never got the lock after release"
    lb.release()
    # Read/write locks share the same machinery with different prefixes.
    r1, r2 = a.ReadLock(root + "/rw"), b.ReadLock(root + "/rw")
    assert r1.acquire(timeout=TIMEOUT) and r2.acquire(timeout=TIMEOUT)
    w = a.WriteLock(root + "/rw")
    try:
        w.acquire(timeout=0.5)
        raise AssertionError("write lock taken while read locks are held")
    except LockTimeout:
        pass
    r1.release()
    r2.release()
    assert w.acquire(timeout=TIMEOUT)
    w.release()


@check
def election(env, root):
    a, b = env.client(), env.client()
    leader = []
    a_in = threading.Event()
    a_release = threading.Event()

    def run_a():
        leader.append("a")
        a_in.set()
        a_release.wait(TIMEOUT)

    ea = a.Election(root + "/elect", "a")
    eb = b.Election(root + "/elect", "b")
    ta = threading.Thread(target=ea.run, args=(run_a,))
    ta.start()
    assert a_in.wait(TIMEOUT)
    b_in = threading.Event()
    tb = threading.Thread(target=eb.run, args=(lambda: (leader.append("b"), b_in.set()),))
    tb.start()
    wait_for(lambda: len(eb.contenders()) == 2, "two contenders")
    assert eb.contenders()[0] == "a", eb.contenders()
    assert not b_in.is_set()
    a_release.set()
    assert b_in.wait(TIMEOUT), "b never became leader"
    ta.join(TIMEOUT)
    tb.join(TIMEOUT)
    assert leader == ["a", "b"], leader


@check
def counter(env, root):
    a, b = env.client(), env.client()
    ca, cb = a.Counter(root + "/count"), b.Counter(root + "/count")
    threads = []
    for c in (ca, cb):
        def bump(c=c):
            for _ in range(25):
                c += 1
        threads.append(threading.Thread(target=bump))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    env.catch_up(a, root + "/count")
    assert ca.value == 50, ca.value
    fc = a.Counter(root + "/fcount", default=0.0)
    fc += 2.5
    fc -= 1.0
    assert fc.value == 1.5, fc.value


@check
def barriers(env, root):
    a, b = env.client(), env.client()
    bar = a.Barrier(root + "/barrier")
    bar.create()
    env.catch_up(b, root + "/barrier")
    passed = threading.Event()
    t = threading.Thread(target=lambda: b.Barrier(root + "/barrier").wait(TIMEOUT) and passed.set())
    t.start()
    time.sleep(0.3)
    assert not passed.is_set(), "passed a raised barrier"
    bar.remove()
    t.join(TIMEOUT)
    assert passed.is_set(), "barrier removal did not release the waiter"

    entered = []

    def member(client, name):
        d = client.DoubleBarrier(root + "/double", 2, identifier=name)
        d.enter()
        entered.append(name)
        d.leave()

    ts = [threading.Thread(target=member, args=(c, n)) for c, n in ((a, "x"), (b, "y"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(TIMEOUT)
    assert sorted(entered) == ["x", "y"], entered


@check
def queues(env, root):
    a, b = env.client(), env.client()
    q = a.Queue(root + "/q")
    for i in range(5):
        q.put(("item%d" % i).encode(), priority=100 - i)
    assert len(q) == 5
    env.catch_up(b, root + "/q")
    got = [b.Queue(root + "/q").get() for _ in range(5)]
    assert got == [b"item4", b"item3", b"item2", b"item1", b"item0"], got
    env.catch_up(a, root + "/q")
    assert q.get() is None
    lq = a.LockingQueue(root + "/lq")
    lq.put(b"one")
    lq.put_all([b"two", b"three"])
    other = b.LockingQueue(root + "/lq")
    assert other.get(TIMEOUT) == b"one"
    assert other.consume()
    assert other.get(TIMEOUT) == b"two"
    assert other.release()  # back to the queue
    assert lq.get(TIMEOUT) == b"two"
    assert lq.consume()
    assert len(lq) == 1


@check
def transactions(env, root):
    zk = env.client()
    zk.create(root + "/t")
    tx = zk.transaction()
    tx.create(root + "/t/a", b"1")
    tx.set_data(root + "/t", b"parent")
    tx.check(root + "/t", 1)
    results = tx.commit()
    assert results[0] == root + "/t/a", results
    assert zk.get(root + "/t")[0] == b"parent"
    tx = zk.transaction()
    tx.delete(root + "/t/a")
    tx.check(root + "/t", 99)
    results = tx.commit()
    assert isinstance(results[1], BadVersionError), results
    assert zk.exists(root + "/t/a") is not None, "aborted transaction deleted a node"


@check
def watches(env, root):
    a, b = env.client(), env.client()
    a.create(root + "/w", b"0")
    env.catch_up(b, root + "/w")
    seen = []
    kids = []

    @b.DataWatch(root + "/w")
    def dw(data, stat):
        seen.append(data)

    @b.ChildrenWatch(root + "/w")
    def cw(children):
        kids.append(sorted(children))

    wait_for(lambda: seen == [b"0"] and kids == [[]], "initial watch calls")
    a.set(root + "/w", b"1")
    wait_for(lambda: seen[-1:] == [b"1"], "data change")
    a.create(root + "/w/c1")
    a.create(root + "/w/c2")
    wait_for(lambda: kids and kids[-1] == ["c1", "c2"], "children change (got %r)" % kids)
    a.delete(root + "/w/c1")
    wait_for(lambda: kids[-1] == ["c2"], "child delete")
    # Raw one-shot watch with a callback.
    ev = []
    b.exists(root + "/later", watch=ev.append)
    a.create(root + "/later")
    wait_for(lambda: len(ev) == 1, "exists watch")
    assert ev[0].type == EventType.CREATED and ev[0].path == root + "/later", ev


@check
def acls(env, root):
    owner = env.client(auth_data=[("digest", "alice:pw")])
    anon = env.client()
    acl = make_digest_acl("alice", "pw", all=True)
    owner.create(root + "/s", b"secret", acl=[acl])
    env.catch_up(anon, root + "/s")
    try:
        anon.get(root + "/s")
        raise AssertionError("anonymous read of a digest-protected node")
    except NoAuthError:
        pass
    assert owner.get(root + "/s")[0] == b"secret"
    acls, st = owner.get_acls(root + "/s")
    assert acls[0].id.scheme == "digest" and acls[0].id.id.startswith("alice:"), acls
    anon.add_auth("digest", "alice:pw")
    assert anon.get(root + "/s")[0] == b"secret"
    ro = make_acl("world", "anyone", read=True)
    owner.create(root + "/ro", b"r", acl=[ro])
    try:
        owner.set(root + "/ro", b"w")
        raise AssertionError("write to a read-only node")
    except NoAuthError:
        pass
    owner.set_acls(root + "/s", OPEN_ACL_UNSAFE)
    assert env.client().get(root + "/s")[0] == b"secret"


@check
def four_letter_words_and_version(env, root):
    zk = env.client()
    assert zk.command(b"ruok") == "imok"
    srvr = zk.command(b"srvr")
    if env.ensemble:
        assert "Mode: leader\n" in srvr or "Mode: follower\n" in srvr, srvr
    else:
        assert "Mode: standalone" in srvr, srvr
    ver = zk.server_version()
    assert ver[:2] == (3, 8), ver


@check
def session_state_listener(env, root):
    states = []
    zk = KazooClient(hosts=env.next_hosts(), randomize_hosts=False, timeout=10.0)
    zk.add_listener(states.append)
    zk.start(timeout=TIMEOUT)
    env.clients.append(zk)
    zk.stop()
    assert states[0] == KazooState.CONNECTED and states[-1] == KazooState.LOST, states


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--only", default="", help="comma-separated check names")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    base = "/kazoo-" + uuid.uuid4().hex[:12]
    setup = KazooClient(hosts=args.hosts, timeout=10.0)
    setup.start(timeout=TIMEOUT)
    setup.create(base)
    failed = 0
    ran = 0
    for fn in CHECKS:
        if only and fn.__name__ not in only:
            continue
        root = base + "/" + fn.__name__
        setup.create(root)
        env = Env(args.hosts)
        start = time.time()
        try:
            fn(env, root)
            print("PASS %s (%.2fs)" % (fn.__name__, time.time() - start), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % fn.__name__, flush=True)
            traceback.print_exc()
        finally:
            env.close()
        ran += 1
    setup.stop()
    setup.close()
    print("%d passed, %d failed" % (ran - failed, failed))
    if ran == 0:
        print("no checks ran")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
