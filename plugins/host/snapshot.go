package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// CreateSnapshot opens a snapshot stream: the data goes to the plugin in
// chunks of wire.ChunkBytes as it is written, so a snapshot is never held
// whole in either process.
func (s *Store) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	sess, err := s.current()
	if err != nil {
		return nil, err
	}
	ctx, cancel := sess.callCtx(context.Background(), 0)
	w := &snapWriter{s: s, sess: sess, cancel: cancel, arm: sess.watchdog(s.cfg.RPCTimeout, "snapshot write")}
	disarm := w.arm()
	stream, err := sess.rpc.CreateSnapshot(ctx)
	if err == nil {
		err = stream.Send(&pb.SnapshotWrite{Op: &pb.SnapshotWrite_Begin{Begin: &pb.SnapshotBegin{Zxid: zxid}}})
	}
	disarm()
	if err != nil {
		cancel()
		return nil, w.finishErr(err)
	}
	w.stream = stream
	return w, nil
}

type snapWriter struct {
	s      *Store
	sess   *session
	stream pb.Store_CreateSnapshotClient
	cancel context.CancelFunc
	arm    func() func()

	mu   sync.Mutex
	buf  []byte
	done bool
}

var errSnapDone = errors.New("store plugin: snapshot already committed or aborted")

func (w *snapWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, errSnapDone
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, wire.ChunkBytes)
		}
		k := min(len(p), wire.ChunkBytes-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == wire.ChunkBytes {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush sends the buffered chunk; a new buffer follows, since gRPC may
// still hold the one it was given.
func (w *snapWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	disarm := w.arm()
	err := w.stream.Send(&pb.SnapshotWrite{Op: &pb.SnapshotWrite_Data{Data: w.buf}})
	disarm()
	w.buf = nil
	if err != nil {
		return w.end(err)
	}
	return nil
}

// end finishes the stream after an error: the plugin aborts a stream that
// breaks, so nothing becomes visible.
func (w *snapWriter) end(err error) error {
	w.done = true
	if errors.Is(err, io.EOF) { // the plugin refused: its status says why
		_, err = w.stream.CloseAndRecv()
	}
	w.cancel()
	return w.finishErr(err)
}

// finishErr maps a stream error. The node treats a failed snapshot as a
// failed store (it stops acknowledging and reopens), so the session fails
// with it, as for any failed write.
func (w *snapWriter) finishErr(err error) error {
	return w.s.settle(w.sess, context.Background(), err, true)
}

func (w *snapWriter) Commit() error {
	return w.finish(&pb.SnapshotWrite{Op: &pb.SnapshotWrite_Commit{Commit: true}})
}
func (w *snapWriter) Abort() error {
	return w.finish(&pb.SnapshotWrite{Op: &pb.SnapshotWrite_Abort{Abort: true}})
}

func (w *snapWriter) finish(last *pb.SnapshotWrite) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errSnapDone
	}
	if _, commit := last.GetOp().(*pb.SnapshotWrite_Commit); commit {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.done = true
	disarm := w.arm()
	err := w.stream.Send(last)
	if err == nil || errors.Is(err, io.EOF) {
		_, err = w.stream.CloseAndRecv()
	}
	disarm()
	w.cancel()
	if err != nil {
		return fmt.Errorf("store plugin: snapshot: %w", w.finishErr(err))
	}
	return nil
}

// OpenSnapshot opens a snapshot stream; the plugin's first (empty) chunk
// says it is open, so ErrNoSnapshot comes from here, not from Read.
func (s *Store) OpenSnapshot(zxid int64) (io.ReadCloser, error) {
	sess, err := s.current()
	if err != nil {
		return nil, err
	}
	ctx, cancel := sess.callCtx(context.Background(), 0)
	r := &snapReader{s: s, sess: sess, cancel: cancel, arm: sess.watchdog(s.cfg.RPCTimeout, "snapshot read")}
	disarm := r.arm()
	stream, err := sess.rpc.OpenSnapshot(ctx, &pb.OpenSnapshotRequest{Zxid: zxid, MaxChunkBytes: wire.ChunkBytes})
	if err == nil {
		_, err = stream.Recv()
	}
	disarm()
	if err != nil {
		cancel()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("store plugin: snapshot %#x: stream ended before it opened", zxid)
		}
		return nil, s.settle(sess, context.Background(), err, false)
	}
	r.stream = stream
	return r, nil
}

type snapReader struct {
	s      *Store
	sess   *session
	stream pb.Store_OpenSnapshotClient
	cancel context.CancelFunc
	arm    func() func()
	buf    []byte
	err    error
}

func (r *snapReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		disarm := r.arm()
		chunk, err := r.stream.Recv()
		disarm()
		switch {
		case errors.Is(err, io.EOF):
			r.err = io.EOF
		case err != nil:
			r.err = r.s.settle(r.sess, context.Background(), err, false)
		default:
			r.buf = chunk.GetData()
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *snapReader) Close() error {
	r.cancel()
	if r.err == nil {
		r.err = errors.New("store plugin: snapshot reader closed")
	}
	return nil
}
