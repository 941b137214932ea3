// SyncSnapInterop checks zabkit's SNAP sync payload against Apache
// ZooKeeper's own code (run by interop_sync_test.go with the Debian jar):
//
//   java -cp zookeeper.jar SyncSnapInterop.java SNAPDIR PAYLOAD OUTDIR
//
// 1. It loads the newest snapshot file in SNAPDIR (written by zabkit) with
//    FileSnap and writes OUTDIR/leader.payload the way a 3.8 leader sends
//    it: SerializeUtils.serializeSnapshot, then the "BenWasHere" signature.
// 2. It reads PAYLOAD (written by zabkit's WriteSyncSnapshot) the way a
//    3.8 learner does: SerializeUtils.deserializeSnapshot, then the
//    signature, and requires the stream to end right there. It writes that
//    tree back as OUTDIR/learner.payload.
//
// For each tree it prints "<name> digest <hex> nodes <n> sessions <n>".
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.HashMap;
import java.util.Map;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.persistence.FileSnap;
import org.apache.zookeeper.server.util.SerializeUtils;

public class SyncSnapInterop {
    public static void main(String[] args) throws Exception {
        DataTree fromFile = new DataTree();
        Map<Long, Integer> fileSessions = new HashMap<>();
        if (new FileSnap(new File(args[0])).deserialize(fromFile, fileSessions) == -1) {
            throw new IOException("no valid snapshot in " + args[0]);
        }
        send(fromFile, fileSessions, new File(args[2], "leader.payload"));
        report("file", fromFile, fileSessions);

        DataTree fromPayload = new DataTree();
        Map<Long, Integer> payloadSessions = new HashMap<>();
        try (InputStream in = new BufferedInputStream(new FileInputStream(args[1]))) {
            BinaryInputArchive ia = BinaryInputArchive.getArchive(in);
            SerializeUtils.deserializeSnapshot(fromPayload, ia, payloadSessions);
            String signature = ia.readString("signature");
            if (!"BenWasHere".equals(signature)) {
                throw new IOException("signature " + signature);
            }
            if (in.read() != -1) {
                throw new IOException("bytes after the signature");
            }
        }
        send(fromPayload, payloadSessions, new File(args[2], "learner.payload"));
        report("payload", fromPayload, payloadSessions);
    }

    static void send(DataTree dt, Map<Long, Integer> sessions, File out) throws IOException {
        try (OutputStream os = new BufferedOutputStream(new FileOutputStream(out))) {
            BinaryOutputArchive oa = BinaryOutputArchive.getArchive(os);
            SerializeUtils.serializeSnapshot(dt, oa, sessions);
            oa.writeString("BenWasHere", "signature");
        }
    }

    static void report(String name, DataTree dt, Map<Long, Integer> sessions) {
        System.out.println(name + " digest " + Long.toHexString(dt.getTreeDigest())
            + " nodes " + dt.getNodeCount() + " sessions " + sessions.size());
    }
}
