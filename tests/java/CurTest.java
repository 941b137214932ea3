import org.apache.curator.framework.*;
import org.apache.curator.framework.recipes.locks.*;
import org.apache.curator.framework.recipes.leader.*;
import org.apache.curator.framework.recipes.cache.*;
import org.apache.curator.framework.recipes.atomic.*;
import org.apache.curator.retry.*;
import org.apache.zookeeper.*;
import java.util.concurrent.*;
// Apache Curator 5.4 recipes against a ZooKeeper-protocol server.
// Usage: java -cp <curator, zookeeper, guava, slf4j jars> CurTest.java host:port /root
// Prints "CURATOR OK" and exits 0 when every step behaved.
public class CurTest {
  public static void main(String[] a) throws Exception {
    String r = a[1];
    CuratorFramework c = CuratorFrameworkFactory.newClient(a[0], new ExponentialBackoffRetry(100, 3));
    c.start(); c.blockUntilConnected(10, TimeUnit.SECONDS);
    c.create().creatingParentsIfNeeded().forPath(r + "/a/b/c", "x".getBytes());
    System.out.println("children " + c.getChildren().forPath(r + "/a"));
    InterProcessMutex m = new InterProcessMutex(c, r + "/lock");
    if (!m.acquire(5, TimeUnit.SECONDS)) throw new RuntimeException("lock");
    m.release();
    DistributedAtomicLong n = new DistributedAtomicLong(c, r + "/n", new RetryNTimes(3, 10));
    System.out.println("counter " + n.increment().postValue() + " " + n.increment().postValue());
    CountDownLatch seen = new CountDownLatch(1);
    CuratorCache cache = CuratorCache.build(c, r + "/watched");
    cache.listenable().addListener((type, o, nn) -> { if (nn != null && new String(nn.getData()).equals("v2")) seen.countDown(); });
    cache.start();
    c.create().forPath(r + "/watched", "v1".getBytes());
    c.setData().forPath(r + "/watched", "v2".getBytes());
    if (!seen.await(5, TimeUnit.SECONDS)) throw new RuntimeException("cache did not see v2");
    LeaderLatch l = new LeaderLatch(c, r + "/leader"); l.start();
    if (!l.await(5, TimeUnit.SECONDS)) throw new RuntimeException("leader");
    l.close(); cache.close();
    c.transaction().forOperations(c.transactionOp().create().forPath(r + "/t1"), c.transactionOp().check().forPath(r + "/t1"));
    c.create().withTtl(60000).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(r + "/ttl");
    c.create().withMode(CreateMode.CONTAINER).forPath(r + "/box");
    c.close();
    System.out.println("CURATOR OK");
  }
}
