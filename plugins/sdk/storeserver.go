package sdk

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// storeServer serves one store over the Store service. The host calls it
// with the concurrency ext.Store allows, so it adds no locking of its own
// beyond guarding the store handle.
type storeServer struct {
	pb.UnimplementedStoreServer
	open StoreOpener
	log  *slog.Logger

	mu     sync.RWMutex
	store  Store
	closed bool
}

func newStoreServer(open StoreOpener, log *slog.Logger) *storeServer {
	return &storeServer{open: open, log: log}
}

var errNotOpen = status.Error(codes.FailedPrecondition, "store plugin: Open was not called")

// get returns the open store, or the error to answer with.
func (s *storeServer) get() (Store, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.store == nil {
		if s.closed {
			return nil, wire.StatusError(ext.ErrClosed)
		}
		return nil, errNotOpen
	}
	return s.store, nil
}

func (s *storeServer) Open(ctx context.Context, req *pb.OpenRequest) (*pb.OpenResponse, error) {
	if err := wire.CheckVersion("host", req.GetProtocolVersion()); err != nil {
		return nil, wire.StatusError(err)
	}
	opts, err := wire.FromOptions(req.GetOptionsJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store != nil || s.closed {
		return nil, status.Error(codes.FailedPrecondition, "store plugin: one Open per process")
	}
	st, err := s.open(ctx, StoreRequest{
		DataDir: req.GetDataDir(), DataLogDir: req.GetDataLogDir(), ForceSync: req.GetForceSync(),
		Options: opts, Logger: s.log,
	})
	if err != nil {
		return nil, wire.StatusError(err)
	}
	if st == nil {
		return nil, status.Error(codes.Internal, "store plugin: the opener returned no store")
	}
	s.store = st
	c := st.Capabilities()
	return &pb.OpenResponse{
		ProtocolVersion: ProtocolVersion, DbId: st.DBID(), Format: c.Format, Durable: c.Durable,
		FirstZxid: st.FirstZxid(), LastZxid: st.LastZxid(),
	}, nil
}

func (s *storeServer) Append(ctx context.Context, req *pb.AppendRequest) (*pb.AppendResponse, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	if err := st.Append(ctx, wire.FromEntries(req.GetEntries())); err != nil {
		return nil, wire.StatusError(err)
	}
	return &pb.AppendResponse{LastZxid: st.LastZxid()}, nil
}

func (s *storeServer) Bounds(context.Context, *pb.BoundsRequest) (*pb.BoundsResponse, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	return bounds(st), nil
}

// bounds reads FirstZxid before LastZxid: purging raises the first and
// appending the last, so the pair never shows first > last.
func bounds(st ext.Store) *pb.BoundsResponse {
	first := st.FirstZxid()
	return &pb.BoundsResponse{FirstZxid: first, LastZxid: st.LastZxid()}
}

// ReadLog sends the entries in batches of at most max_batch_bytes of data
// (ChunkBytes when unset or larger), copying each entry out of the
// store's buffer before the next one is read.
func (s *storeServer) ReadLog(req *pb.ReadLogRequest, stream pb.Store_ReadLogServer) error {
	st, err := s.get()
	if err != nil {
		return err
	}
	limit := int(req.GetMaxBatchBytes())
	if limit <= 0 || limit > wire.ChunkBytes {
		limit = wire.ChunkBytes
	}
	var batch []*pb.Entry
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := stream.Send(&pb.EntryBatch{Entries: batch})
		batch, size = nil, 0
		return err
	}
	err = st.ReadLog(stream.Context(), req.GetAfter(), func(e ext.Entry) error {
		if size > 0 && size+len(e.Data) > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, &pb.Entry{Zxid: e.Zxid, Data: append([]byte(nil), e.Data...)})
		size += len(e.Data)
		return nil
	})
	if err == nil {
		err = flush()
	}
	return wire.StatusError(err)
}

func (s *storeServer) TruncateAfter(_ context.Context, req *pb.ZxidRequest) (*pb.BoundsResponse, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	if err := st.TruncateAfter(req.GetZxid()); err != nil {
		return nil, wire.StatusError(err)
	}
	return bounds(st), nil
}

func (s *storeServer) RollLog(context.Context, *pb.Empty) (*pb.Empty, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	return &pb.Empty{}, wire.StatusError(st.RollLog())
}

func (s *storeServer) PurgeBefore(_ context.Context, req *pb.ZxidRequest) (*pb.BoundsResponse, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	if err := st.PurgeBefore(req.GetZxid()); err != nil {
		return nil, wire.StatusError(err)
	}
	return bounds(st), nil
}

// CreateSnapshot writes a snapshot from the stream. Only an explicit
// commit commits; a stream that breaks (the host died, the deadline
// passed) aborts, so a half-sent snapshot never becomes visible.
func (s *storeServer) CreateSnapshot(stream pb.Store_CreateSnapshotServer) error {
	st, err := s.get()
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	begin := first.GetBegin()
	if begin == nil {
		return status.Error(codes.InvalidArgument, "store plugin: a snapshot stream starts with begin")
	}
	w, err := st.CreateSnapshot(begin.GetZxid())
	if err != nil {
		return wire.StatusError(err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = status.Error(codes.InvalidArgument, "store plugin: snapshot stream ended without commit or abort")
			}
			if aerr := w.Abort(); aerr != nil {
				s.log.Warn("aborting a broken snapshot stream", "zxid", begin.GetZxid(), "err", aerr)
			}
			return err
		}
		switch op := msg.GetOp().(type) {
		case *pb.SnapshotWrite_Data:
			if _, err := w.Write(op.Data); err != nil {
				w.Abort()
				return wire.StatusError(err)
			}
		case *pb.SnapshotWrite_Commit:
			if err := w.Commit(); err != nil {
				return wire.StatusError(err)
			}
			return stream.SendAndClose(&pb.Empty{})
		case *pb.SnapshotWrite_Abort:
			if err := w.Abort(); err != nil {
				return wire.StatusError(err)
			}
			return stream.SendAndClose(&pb.Empty{})
		default:
			w.Abort()
			return status.Error(codes.InvalidArgument, "store plugin: unexpected message in a snapshot stream")
		}
	}
}

func (s *storeServer) Snapshots(context.Context, *pb.Empty) (*pb.SnapshotList, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	snaps, err := st.Snapshots()
	if err != nil {
		return nil, wire.StatusError(err)
	}
	out := &pb.SnapshotList{}
	for _, sn := range snaps {
		out.Snapshots = append(out.Snapshots, &pb.SnapshotInfo{Zxid: sn.Zxid, Size: sn.Size, Name: sn.Name})
	}
	return out, nil
}

// OpenSnapshot answers with an empty chunk once the snapshot is open, so
// the host learns ErrNoSnapshot from its first receive, then streams it.
func (s *storeServer) OpenSnapshot(req *pb.OpenSnapshotRequest, stream pb.Store_OpenSnapshotServer) error {
	st, err := s.get()
	if err != nil {
		return err
	}
	r, err := st.OpenSnapshot(req.GetZxid())
	if err != nil {
		return wire.StatusError(err)
	}
	defer r.Close()
	if err := stream.Send(&pb.SnapshotChunk{}); err != nil {
		return err
	}
	limit := int(req.GetMaxChunkBytes())
	if limit <= 0 || limit > wire.ChunkBytes {
		limit = wire.ChunkBytes
	}
	buf := make([]byte, limit)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if serr := stream.Send(&pb.SnapshotChunk{Data: buf[:n]}); serr != nil {
				return serr
			}
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return wire.StatusError(err)
		}
	}
}

func (s *storeServer) LoadMeta(context.Context, *pb.Empty) (*pb.Meta, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	m, err := st.LoadMeta()
	if err != nil {
		return nil, wire.StatusError(err)
	}
	return wire.Meta(m), nil
}

func (s *storeServer) SaveMeta(_ context.Context, m *pb.Meta) (*pb.Empty, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	return &pb.Empty{}, wire.StatusError(st.SaveMeta(wire.FromMeta(m)))
}

func (s *storeServer) Usage(context.Context, *pb.Empty) (*pb.UsageResponse, error) {
	st, err := s.get()
	if err != nil {
		return nil, err
	}
	snap, logb := st.Usage()
	return &pb.UsageResponse{SnapBytes: snap, LogBytes: logb}, nil
}

func (s *storeServer) Close(context.Context, *pb.Empty) (*pb.Empty, error) {
	s.mu.Lock()
	st := s.store
	s.store, s.closed = nil, true
	s.mu.Unlock()
	if st == nil {
		return &pb.Empty{}, nil
	}
	return &pb.Empty{}, wire.StatusError(st.Close())
}

func (s *storeServer) Health(context.Context, *pb.Empty) (*pb.HealthResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &pb.HealthResponse{Open: s.store != nil}, nil
}
